"""The ``http2`` suite: aster, granian, uvicorn and hypercorn over HTTP/2, loaded by h2load.

Every server runs one process on uvloop with access logs off, as in the other suites,
and speaks HTTP/2 the way its documentation says to switch it on:

- aster: ``aster run``; cleartext HTTP/2 (prior knowledge) is on by default on the same
  port as HTTP/1.1, and TLS offers ALPN ``h2``;
- granian: ``--http 2`` (HTTP/2 only), TLS with ``--ssl-certificate``/``--ssl-keyfile``;
- uvicorn: ``--http zttp --http2`` (experimental since 0.54; needs the ``zttp`` package,
  which needs Python >= 3.11), TLS with ``--ssl-certfile``/``--ssl-keyfile``.  zttp
  0.0.35 ends a connection after 4096 requests (GOAWAY ENHANCE_YOUR_CALM, "flood"), and
  h2load does not reconnect: a run that passes 4096 requests on a connection is invalid;
- hypercorn: h2c with prior knowledge is always on; TLS with ``--certfile``/``--keyfile``;
  ``bench/hypercorn.toml`` lifts its limit of 1000 requests per connection, which
  would otherwise cut h2load's streams mid-run.

Two apps: the raw ASGI app of the servers suite (``plaintext_*`` rows, the servers'
numbers) and the framework suite's JSON route (``json_*`` rows): aster's framework on
aster against FastAPI on each peer, the one app written for both (``fw_aster`` is
``fw_fastapi`` with other imports).  h2c rows use HTTP/2 with prior knowledge, TLS rows
a certificate minted for the run (:mod:`bench.tls`).

Before the rounds each server is started once and sent the HTTP/2 preface
(:func:`preflight`): one that does not answer with SETTINGS (aster before it spoke
HTTP/2 answered ``505``) is reported as not supporting the suite instead of failing
every run.
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
from pathlib import Path

from . import h2_client
from .report import Target
from .runner import ServerFailed, Settings, serving
from .scenarios import HELLO, JSON, Scenario, exact, json_equals
from .servers import RAW_APP, SERVERS, Contender, Server, aster_tls
from .tls import TlsFiles

FRAMEWORK_APPS = {"aster": "bench.apps.fw_aster:app"}
"""The framework rows' app for each server: aster's own framework on aster..."""
PEER_FRAMEWORK_APP = "bench.apps.fw_fastapi:app"
"""...and FastAPI on every peer."""


def _granian_h2(app: str, host: str, port: int) -> list[str]:
    *options, app_arg = SERVERS["granian"].argv(app, host, port)
    return [*options, "--http", "2", app_arg]


def _granian_tls(tls: TlsFiles) -> list[str]:
    return ["--ssl-certificate", str(tls.cert), "--ssl-keyfile", str(tls.key)]


def _uvicorn_h2(app: str, host: str, port: int) -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", app,
        "--host", host, "--port", str(port),
        "--http", "zttp", "--http2", "--loop", "uvloop", "--workers", "1",
        "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip


def _uvicorn_tls(tls: TlsFiles) -> list[str]:
    return ["--ssl-certfile", str(tls.cert), "--ssl-keyfile", str(tls.key)]


HYPERCORN_CONFIG = Path(__file__).with_name("hypercorn.toml")
"""No limit of requests per connection (hypercorn's default closes it after 1000)."""


def _hypercorn(app: str, host: str, port: int) -> list[str]:
    # No access log unless one is asked for; one worker process under its supervisor.
    # No grace period on SIGTERM: stopping it after a run would otherwise wait 3 s.
    return [
        sys.executable, "-m", "hypercorn", app, "--config", str(HYPERCORN_CONFIG),
        "--bind", f"{host}:{port}", "--worker-class", "uvloop", "--workers", "1",
        "--log-level", "warning", "--graceful-timeout", "0",
    ]  # fmt: skip


def _hypercorn_tls(tls: TlsFiles) -> list[str]:
    return ["--certfile", str(tls.cert), "--keyfile", str(tls.key)]


H2_SERVERS: dict[str, Server] = {
    s.name: s
    for s in (
        Server("aster", "aster.server", "aster", SERVERS["aster"].argv, tls_flags=aster_tls),
        Server("granian", "granian", "granian", _granian_h2, tls_flags=_granian_tls),
        Server(
            "uvicorn", "uvicorn", "uvicorn", _uvicorn_h2, requires=("zttp",), tls_flags=_uvicorn_tls
        ),
        Server("hypercorn", "hypercorn", "hypercorn", _hypercorn, tls_flags=_hypercorn_tls),
    )
}


def h2_contenders(names: list[str]) -> list[Contender]:
    """The named servers that have an HTTP/2 contender (others are left out, silently)."""
    return [
        Contender(
            n,
            H2_SERVERS[n],
            RAW_APP,
            apps={"framework": FRAMEWORK_APPS.get(n, PEER_FRAMEWORK_APP)},
        )
        for n in names
        if n in H2_SERVERS
    ]


def _scenario(
    name: str, what: str, tls: bool, clients: int, streams: int, framework: bool
) -> Scenario:
    transport = "TLS (ALPN h2)" if tls else "h2c (prior knowledge)"
    return Scenario(
        name,
        f"{what}; {transport}, h2load -c{clients} -m{streams}",
        "GET",
        "/json" if framework else "/",
        json_equals({"message": HELLO}) if framework else exact(b"Hello, world!"),
        tool="h2load",
        env={"clients": str(clients), "streams": str(streams)},
        media_type=JSON if framework else "text/plain",
        app="framework" if framework else None,
        tls=tls,
    )


_PLAIN = 'raw ASGI, GET / -> 13-byte text/plain "Hello, world!"'
_JSON = 'framework, GET /json -> {"message": "Hello, World!"} (aster on aster, FastAPI on peers)'

H2_SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        _scenario("plaintext_c16m16", _PLAIN, False, 16, 16, framework=False),
        _scenario("plaintext_c64m1", _PLAIN, False, 64, 1, framework=False),
        _scenario("plaintext_tls", _PLAIN, True, 16, 16, framework=False),
        _scenario("json_c16m16", _JSON, False, 16, 16, framework=True),
        _scenario("json_c64m1", _JSON, False, 64, 1, framework=True),
        _scenario("json_tls", _JSON, True, 16, 16, framework=True),
    )
}

H2C_SCENARIOS = tuple(name for name, s in H2_SCENARIOS.items() if not s.tls)

TARGETS = (
    Target("granian", 1.0, H2C_SCENARIOS),
    Target("uvicorn", 1.5, H2C_SCENARIOS),
)
"""Issue 11: aster's h2c throughput >= granian's and >= 1.5x uvicorn's, in the same run."""


def preflight(
    contenders: list[Contender], scenarios: list[Scenario], settings: Settings
) -> dict[str, dict[str, str]]:
    """What each contender cannot serve here, found before the rounds: every scenario if
    its server does not answer the HTTP/2 preface, the framework rows if FastAPI (which
    the peers' framework rows run) is not installed."""
    unsupported: dict[str, dict[str, str]] = {}
    framework_rows = [s.name for s in scenarios if s.app == "framework"]
    no_fastapi = importlib.util.find_spec("fastapi") is None
    with tempfile.TemporaryDirectory(prefix="aster-bench-probe-") as tmp:
        for c in contenders:
            reason = _no_h2(c, settings, Path(tmp))
            if reason:
                unsupported[c.name] = {s.name: reason for s in scenarios}
            elif no_fastapi and c.app_for("framework") == PEER_FRAMEWORK_APP:
                why = "FastAPI is not installed (pip install -e '.[bench]')"
                unsupported[c.name] = dict.fromkeys(framework_rows, why)
    return unsupported


def _no_h2(contender: Contender, settings: Settings, log_dir: Path) -> str | None:
    """Why ``contender`` does not speak HTTP/2 (from its answer to the preface), or None."""
    answers: list[h2_client.ProbeAnswer] = []

    def answered(host: str, port: int) -> bool:
        answer = h2_client.probe(host, port)
        if answer is not None:
            answers.append(answer)
        return answer is not None

    try:
        with serving(contender, settings, log_dir, ready=answered):
            pass
    except ServerFailed:
        return None  # the rounds will report it, with its log
    if answers and not answers[-1].speaks_h2:
        return f"{contender.name} does not speak HTTP/2 with prior knowledge: {answers[-1].detail}"
    return None
