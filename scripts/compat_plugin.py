"""pytest plugin for scripts/fastapi_compat.py: record collection and test outcomes as JSON lines.

Loaded with ``-p fastapi_compat_results`` (scripts/ is put on PYTHONPATH); writes to the file
named by ``$FASTAPI_COMPAT_RESULTS``. It depends on nothing but pytest, so it works the same
whether the suite runs on aster or on the real FastAPI. Under pytest-xdist every process writes
its own file (``<name>.<worker>``) and the runner merges them, de-duplicating by node id.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

_stream: Any = None


def _write(record: dict[str, Any]) -> None:
    if _stream is not None:
        _stream.write(json.dumps(record) + "\n")
        _stream.flush()


def pytest_configure(config: pytest.Config) -> None:
    global _stream
    path = os.environ.get("FASTAPI_COMPAT_RESULTS")
    if not path:
        return
    worker = getattr(config, "workerinput", {}).get("workerid")
    if worker:
        path = f"{path}.{worker}"
    _stream = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed in unconfigure


def pytest_unconfigure(config: pytest.Config) -> None:
    global _stream
    if _stream is not None:
        _stream.close()
        _stream = None


def pytest_collection_finish(session: pytest.Session) -> None:
    for item in session.items:  # after -k/-m deselection
        name = getattr(item, "originalname", None) or item.name.split("[")[0]
        _write({"kind": "item", "nodeid": item.nodeid, "function": name})


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
