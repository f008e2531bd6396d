"""pytest plugin for scripts/compat_run.py: record outcomes, run asyncio only, end hangs, guard.

Loaded with ``-p compat_plugin`` (scripts/ is put on PYTHONPATH). It depends on nothing but
pytest, so it works the same whether a suite runs on aster or on the real FastAPI/Starlette.

* **Records** collection and test outcomes as JSON lines in ``$COMPAT_RESULTS`` (under
  pytest-xdist every process writes its own ``<name>.<worker>``; the runner merges them,
  de-duplicating by node id).
* **asyncio only**: test ids parametrised over anyio's ``anyio_backend`` with a backend other
  than asyncio are deselected and recorded as such (trio is out of aster's scope).
* **Hangs end**: pytest-timeout interrupts a test that overruns. A test still running
  ``$COMPAT_HANG_SECONDS`` after it started (it swallowed the timeout, or waits again in a
  ``finally``) gets :class:`Hung` raised in the main thread, once a second, which unwinds
  every further wait, and fails the test. Only if that does not end it within
  ``$COMPAT_HANG_GRACE`` seconds (15) is it recorded as failed and its worker process ended
  (xdist then reports the crash and replaces the worker).
* **Guard** (``$COMPAT_GUARD`` = aster's package directory): every loaded ``fastapi…`` or
  ``starlette…`` module must be one of aster's, and ``aster.compat`` must not have had to set
  a real one aside. A module of a real FastAPI/Starlette (an installed one, or the sdist's own
  package directory next to its tests) aborts the run.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections.abc import Generator
from typing import Any

import pytest

_stream: Any = None
_lock = threading.Lock()
_running: tuple[str, float] | None = None  # (nodeid, deadline) of the test in progress
#: seconds of interrupting a hung test before its worker is ended
_LAST_RESORT = float(os.environ.get("COMPAT_HANG_GRACE") or 15)
_GUARDED = ("fastapi", "starlette")
_verified: dict[str, int] = {}  # module name -> id() of the module object found to be aster's


def _write(record: dict[str, Any]) -> None:
    with _lock:
        if _stream is not None:
            _stream.write(json.dumps(record) + "\n")
            _stream.flush()


def pytest_configure(config: pytest.Config) -> None:
    global _stream
    path = os.environ.get("COMPAT_RESULTS")
    if path:
        worker = getattr(config, "workerinput", {}).get("workerid")
        if worker:
            path = f"{path}.{worker}"
        _stream = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed in unconfigure
    hang = float(os.environ.get("COMPAT_HANG_SECONDS") or 0)
    if hang and hasattr(config, "workerinput"):  # only where a crash is survivable
        signal.signal(signal.SIGUSR2, _raise_hung)
        main = threading.main_thread().ident
        threading.Thread(
            target=_watchdog, args=(hang, main), name="compat-hang", daemon=True
        ).start()


def pytest_unconfigure(config: pytest.Config) -> None:
    global _stream
    _check_guard("session end", abort=False)
    with _lock:
        if _stream is not None:
            _stream.close()
            _stream = None


# --- asyncio only ------------------------------------------------------------------------


def _backend_of(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    if callspec is None or "anyio_backend" not in callspec.params:
        return None
    backend = callspec.params["anyio_backend"]
    return backend if isinstance(backend, str) else str(backend[0])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    kept, dropped = [], []
    for item in items:
        backend = _backend_of(item)
        (dropped if backend not in (None, "asyncio") else kept).append(item)
    if dropped:
        for item in dropped:
            _write({"kind": "deselected", "nodeid": item.nodeid, "reason": _backend_of(item)})
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def pytest_collection_finish(session: pytest.Session) -> None:
    _check_guard("collection")
    for item in session.items:  # after -k/-m and backend deselection
        name = getattr(item, "originalname", None) or item.name.split("[")[0]
        _write({"kind": "item", "nodeid": item.nodeid, "function": name})


# --- outcomes ----------------------------------------------------------------------------


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.failed or report.skipped:
        _write(
            {
                "kind": "collect",
                "nodeid": report.nodeid,
                "outcome": report.outcome,
                "message": _summary(report),
            }
        )


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _write(
        {
            "kind": "phase",
            "nodeid": report.nodeid,
            "when": report.when,
            "outcome": report.outcome,
            "xfail": hasattr(report, "wasxfail"),
            "message": _summary(report) if report.failed else "",
        }
    )


def _summary(report: Any) -> str:
    """The last line of the failure, e.g. ``ModuleNotFoundError: No module named 'x'``."""
    longrepr = report.longrepr
    if longrepr is None:
        return ""
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None:
        return str(crash.message)[:300]
    if isinstance(longrepr, tuple):  # skips: (path, line, reason)
        return str(longrepr[-1])[:300]
    lines = [line for line in str(longrepr).splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("E ")]
    return (errors or lines or [""])[-1].removeprefix("E ").strip()[:300]


# --- hangs -------------------------------------------------------------------------------


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, None, None]:
    global _running
    hang = float(os.environ.get("COMPAT_HANG_SECONDS") or 0)
    _running = (item.nodeid, time.monotonic() + hang) if hang else None
    try:
        yield
    finally:
        _running = None
        _check_guard(item.nodeid)


_in_phase = False  # inside setup/call/teardown, where pytest reports an exception as a failure


def _phase() -> Generator[None, None, None]:
    global _in_phase
    _in_phase = True
    try:
        yield
    finally:
        _in_phase = False


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    yield from _phase()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    yield from _phase()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    yield from _phase()


class Hung(BaseException):
    """Raised into a test that outlived pytest-timeout; a BaseException so that ``except
    Exception`` in the code under test cannot swallow it."""


def _raise_hung(signum: int, frame: Any) -> None:
    """Runs in the main thread: raise only into a test phase that is still overdue (the
    signal may arrive after the test ended, when raising would break pytest itself)."""
    running = _running
    if _in_phase and running is not None and time.monotonic() >= running[1]:
        raise Hung(f"hung: still running past the timeout ({running[0]})")


def _watchdog(hang: float, main: int | None) -> None:
    while True:
        time.sleep(1.0)
        running = _running
        if running is None or time.monotonic() < running[1]:
            continue
        if main is not None and time.monotonic() < running[1] + _LAST_RESORT:
            signal.pthread_kill(main, signal.SIGUSR2)  # unwinds one wait per second
            continue
        message = f"hung: still running {hang + _LAST_RESORT:.0f}s after it started"
        _write(
            {
                "kind": "phase",
                "nodeid": running[0],
                "when": "call",
                "outcome": "failed",
                "xfail": False,
                "message": message,
            }
        )
        print(f"[compat] {running[0]}: {message}; ending this worker", file=sys.stderr)
        os._exit(3)


# --- the guard ---------------------------------------------------------------------------


def _check_guard(where: str, *, abort: bool = True) -> None:
    aster_dir = os.environ.get("COMPAT_GUARD")
    if not aster_dir:
        return
    aster_dir = os.path.realpath(aster_dir) + os.sep
    compat = sys.modules.get("aster.compat")
    early = compat.set_aside() if compat is not None else []
    if early:  # imported before the aliases were installed, then put aside by install()
        message = f"{', '.join(early)} imported before aster.compat was installed ({where})"
        _write({"kind": "violation", "nodeid": where, "message": message})
        print(f"[compat] the real package was imported: {message}", file=sys.stderr)
        if abort:
            pytest.exit(f"[compat] the real package was imported: {message}", returncode=3)
    # dict.copy() is atomic under the GIL; iterating the live dict is not, and a thread a
    # test left running may be importing.
    for name, module in sys.modules.copy().items():
        if name.partition(".")[0] not in _GUARDED or _verified.get(name) == id(module):
            continue
        file = getattr(module, "__file__", None)
        if not isinstance(file, str) or os.path.realpath(file).startswith(aster_dir):
            _verified[name] = id(module)
        else:
            message = f"{name} was loaded from {file}, not from aster ({where})"
            _write({"kind": "violation", "nodeid": where, "message": message})
            print(f"[compat] the real package was imported: {message}", file=sys.stderr)
            if abort:
                pytest.exit(f"[compat] the real package was imported: {message}", returncode=3)
