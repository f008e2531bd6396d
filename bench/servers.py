"""The servers under comparison, as data: how to launch each, and whether it is installed.

A :class:`Contender` is one column of the results: a server running a given app.  The
raw-ASGI comparison pairs every server with the same app; framework comparisons (FastAPI
on uvicorn vs the aster framework on aster, ...) add contenders with other apps, not code.

All servers run one process, with access logs off and the same event loop (uvloop), so
the comparison is of the servers and not of their defaults.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from .tls import TlsFiles

RAW_APP = "bench.apps.raw_asgi:app"

ArgvBuilder = Callable[[str, str, int], list[str]]
"""(app as ``module:attr``, host, port) -> the command line."""

TlsFlags = Callable[[TlsFiles], list[str]]
"""The options that make a server serve TLS with the given certificate and key."""


@dataclass(frozen=True)
class Server:
    """One ASGI server: its launch command and the module that says it is installed.

    ``requires`` are further modules it needs for what it is asked to do here (uvicorn's
    HTTP/2 needs ``zttp``); ``tls_flags`` how to give it a certificate, if it can.
    """

    name: str
    module: str
    distribution: str
    argv: ArgvBuilder
    requires: tuple[str, ...] = ()
    tls_flags: TlsFlags | None = None

    def available(self) -> bool:
        return all(importlib.util.find_spec(m) is not None for m in (self.module, *self.requires))

    def command(self, app: str, host: str, port: int, tls: TlsFiles | None = None) -> list[str]:
        """The command line serving ``app``; with ``tls``, serving it over TLS."""
        argv = self.argv(app, host, port)
        if tls is None:
            return argv
        if self.tls_flags is None:
            raise ValueError(f"{self.name} has no TLS options here")
        return [*argv, *self.tls_flags(tls)]

    def version(self) -> str | None:
        return distribution_version(self.distribution)


def distribution_version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


@dataclass(frozen=True)
class Contender:
    """A server serving an app: what a column of the results table measures.

    ``framework`` is the package (import and distribution name) the app is written for
    (``None`` for the raw ASGI app); it must be installed too.  ``apps`` are further apps
    it serves, by the name a scenario's ``app`` gives (the ``http2`` suite's "framework"
    rows).  ``unsupported`` maps a scenario the contender cannot serve faithfully to the
    reason: that cell is left empty, with the reason as a note.  ``processes`` separate
    server processes are started side by side, each on its own port, and the load is
    given every one (the ``channels`` suite: fan-out across processes through Redis).
    """

    name: str
    server: Server
    app: str = RAW_APP
    framework: str | None = None
    unsupported: Mapping[str, str] = field(default_factory=dict, compare=False)
    apps: Mapping[str, str] = field(default_factory=dict, compare=False)
    processes: int = 1

    def available(self) -> bool:
        if not self.server.available():
            return False
        return self.framework is None or importlib.util.find_spec(self.framework) is not None

    def framework_version(self) -> str | None:
        return distribution_version(self.framework) if self.framework else None

    def app_for(self, name: str | None) -> str:
        """``module:attr`` of the app to serve: the default one, one of :attr:`apps`, or
        another attribute of the default one's module."""
        if not name:
            return self.app
        return self.apps.get(name) or f"{self.app.partition(':')[0]}:{name}"

    def describe(self) -> str:
        apps = " and ".join([self.app, *self.apps.values()])
        times = f" × {self.processes} processes" if self.processes > 1 else ""
        return f"{self.name}: {apps} on {self.server.name}{times}"


def aster_tls(tls: TlsFiles) -> list[str]:
    return ["--ssl-certfile", str(tls.cert), "--ssl-keyfile", str(tls.key)]


def _aster(app: str, host: str, port: int) -> list[str]:
    return [
        sys.executable, "-m", "aster", "run", app,
        "--host", host, "--port", str(port),
        "--loop", "uvloop", "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip


def _uvicorn(app: str, host: str, port: int) -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", app,
        "--host", host, "--port", str(port),
        "--http", "httptools", "--loop", "uvloop", "--workers", "1",
        "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip


def _granian(app: str, host: str, port: int) -> list[str]:
    # Granian always serves from a worker process forked by a supervisor; with one
    # worker and one runtime thread that is still a single serving process.
    return [
        sys.executable, "-m", "granian", "--interface", "asgi",
        "--host", host, "--port", str(port),
        "--workers", "1", "--runtime-threads", "1", "--loop", "uvloop",
        "--no-access-log", "--log-level", "warning", app,
    ]  # fmt: skip


SERVERS: dict[str, Server] = {
    s.name: s
    for s in (
        Server("aster", "aster.server", "aster", _aster, tls_flags=aster_tls),
        Server("uvicorn", "uvicorn", "uvicorn", _uvicorn),
        Server("granian", "granian", "granian", _granian),
    )
}

BASELINE = "aster"
"""The contender every other one is compared against (the ratio columns)."""


def raw_contenders(names: list[str]) -> list[Contender]:
    """Contenders for the raw-ASGI comparison: each named server on :data:`RAW_APP`."""
    unknown = [n for n in names if n not in SERVERS]
    if unknown:
        raise ValueError(f"unknown server(s): {', '.join(unknown)} (known: {', '.join(SERVERS)})")
    return [Contender(n, SERVERS[n]) for n in names]
