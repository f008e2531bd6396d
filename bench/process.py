"""Child processes for the benchmark: spawning, CPU pinning and guaranteed clean-up.

Every child runs in its own session (process group), so one ``killpg`` also reaches the
workers a server forks (granian runs its app in a child even with one worker).  Every
live child is registered, and :func:`stop_all` runs at exit and on SIGTERM/SIGHUP, so
neither an error nor Ctrl-C leaves a server holding a port or a CPU.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

_live: set[subprocess.Popen[bytes]] = set()


@dataclass(frozen=True)
class CpuPlan:
    """Which CPUs the server and the load generator may use; ``None`` means unpinned.

    Pinning keeps the two from competing for one core, which otherwise adds noise that
    depends on the scheduler's mood rather than on the server: on a 2-core machine the
    server gets CPU 0 and wrk CPU 1.  Each server runs as a single process, so one core
    is all it can use anyway, and every server is measured under the same constraint.
    """

    server: frozenset[int] | None = None
    load: frozenset[int] | None = None

    @property
    def pinned(self) -> bool:
        return self.server is not None


def plan_cpus(pin: bool) -> tuple[CpuPlan, str | None]:
    """The CPU plan, plus a warning when pinning was asked for but cannot be done."""
    if not pin:
        return CpuPlan(), None
    if not hasattr(os, "sched_getaffinity"):
        return CpuPlan(), "CPU pinning unavailable on this platform; running unpinned"
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return CpuPlan(), f"only {len(cpus)} CPU available; running unpinned"
    return CpuPlan(server=frozenset(cpus[:1]), load=frozenset(cpus[1:])), None


def _pin_prefix(cpus: Iterable[int] | None) -> list[str]:
    """A ``taskset`` prefix, so the child is pinned before its first instruction runs."""
    if cpus is None or not shutil.which("taskset"):
        return []
    return ["taskset", "-c", ",".join(str(c) for c in sorted(cpus))]


def spawn(
    argv: list[str],
    *,
    cpus: Iterable[int] | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    stdout: IO[bytes] | int | None = None,
    stderr: IO[bytes] | int | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in a new session, pinned to ``cpus`` when given, and register it."""
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.Popen(
        _pin_prefix(cpus) + argv,
        env=full_env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=stderr,
        start_new_session=True,
    )
    _live.add(proc)
    if cpus is not None and not shutil.which("taskset") and hasattr(os, "sched_setaffinity"):
        try:  # no taskset: pin after the fact; threads started later inherit it
            os.sched_setaffinity(proc.pid, set(cpus))
        except OSError:
            pass
    return proc


def _killpg(proc: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop(proc: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
    """SIGTERM the child (graceful), SIGKILL its whole group on timeout or a second Ctrl-C.

    Whatever happens, anything left in the child's process group is killed at the end,
    so forked workers cannot outlive their parent.
    """
    try:
        if proc.poll() is None:
            try:
                proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                _killpg(proc, signal.SIGKILL)
                proc.wait(timeout)
    except KeyboardInterrupt:
        _killpg(proc, signal.SIGKILL)
        proc.wait()
        raise
    finally:
        _killpg(proc, signal.SIGKILL)
        _live.discard(proc)


def stop_all() -> None:
    """Kill every registered child at once: the last line of defence, no grace period."""
    for proc in list(_live):
        _killpg(proc, signal.SIGKILL)
        try:
            proc.wait(2.0)
        except subprocess.TimeoutExpired:
            pass
        _live.discard(proc)


def _on_signal(signum: int, frame: object) -> None:
    stop_all()
    # Exit through the normal path (finally blocks, atexit) with the shell's convention.
    sys.exit(128 + signum)


def install_cleanup() -> None:
    """Make termination signals clean up children; Ctrl-C already unwinds via finally."""
    atexit.register(stop_all)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_signal)
