"""The ``tfb`` suite: TechEmpower's six test types on each framework, against PostgreSQL.

One app per framework (``bench/apps/tfb_*.py``, the database code shared in
``tfb_shared``), each served as in the framework suite: aster on ``aster run``, FastAPI,
Litestar and BlackSheep on uvicorn with httptools and uvloop, one process each, every
app with an asyncpg pool of the same size (``TFB_POOL_SIZE``, default 16).

The whole run shares one throwaway PostgreSQL (:func:`database`): started before the
preflight, loaded with TechEmpower's schema (:mod:`bench.tfb_db`), pinned to the load
generator's CPUs so the server under test keeps its own core, and reached by every
server through the libpq variables the suite puts in the environment it inherits.

Before the rounds each server is started once and held to TechEmpower's rules by
:mod:`bench.tfb_verify` (:func:`preflight`); one that fails is not measured, and why is
printed and noted in the report.  Before every measurement the test type being measured
is verified again on the fresh server (the ``tfb`` tool's request), then wrk loads it
at the scenario's own connection count (64 or 256).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from . import tfb_db, wrk
from .frameworks import framework_apps, pick
from .postgres import Cluster, bin_dir
from .report import Target
from .runner import TOOLS, ServerFailed, Settings, Tool, http1_request, serving
from .scenarios import LUA_DIR, Check, Scenario, VerificationError, exact, json_equals
from .servers import Contender, distribution_version
from .tfb_verify import Verdict, kind_of, verify, verify_path

TFB_BASELINE = "aster"
POOL_SIZE = os.environ.get("TFB_POOL_SIZE", "16")
CONNECTIONS = (64, 256)
PIPELINE = 16
QUERIES = 20

TFB_CONTENDERS = framework_apps("tfb")


def tfb_contenders(names: list[str]) -> list[Contender]:
    return pick(TFB_CONTENDERS, names)


# -- scenarios ------------------------------------------------------------------------------


def _rows(expected: int) -> Check:
    """A quick look at the body before each run (the verifier has checked the rest)."""

    def check(status: int, sent: bytes, got: bytes) -> str | None:
        if status != 200:
            return f"status {status}: {got[:200]!r}"
        try:
            value = json.loads(got)
        except ValueError:
            return f"body {got[:100]!r} is not JSON"
        if expected == 0:
            value = [value]
        elif not isinstance(value, list) or len(value) != expected:
            return f"expected an array of {expected} rows: {got[:100]!r}"
        if not all(isinstance(v, dict) and set(v) == {"id", "randomNumber"} for v in value):
            return f"rows are not {{id, randomNumber}} objects: {got[:100]!r}"
        return None

    return check


def _fortunes(status: int, sent: bytes, got: bytes) -> str | None:
    if status != 200:
        return f"status {status}: {got[:200]!r}"
    if got.count(b"<tr>") != 14 or b"&lt;script&gt;" not in got:
        return f"not the 13 escaped fortunes: {got[:100]!r}"
    return None


@dataclass(frozen=True)
class _Test:
    name: str
    what: str
    path: str
    check: Check
    media_type: str
    pipeline: int = 1


_JSON = "application/json"
_HELLO = b"Hello, World!"
_TESTS = (
    _Test("json", 'GET /json -> {"message": "Hello, World!"}', "/json",
          json_equals({"message": _HELLO.decode()}), _JSON),
    _Test("plaintext", 'GET /plaintext -> "Hello, World!"', "/plaintext", exact(_HELLO),
          "text/plain"),
    _Test("pipelined", f"GET /plaintext, {PIPELINE} requests pipelined per write",
          "/plaintext", exact(_HELLO), "text/plain", PIPELINE),
    _Test("cached", f"GET /cached-queries?count={QUERIES}: rows from the in-process cache",
          f"/cached-queries?count={QUERIES}", _rows(QUERIES), _JSON),
    _Test("db", "GET /db: one random row, one query", "/db", _rows(0), _JSON),
    _Test("fortunes", "GET /fortunes: 12 rows + 1, sorted, escaped, Jinja2 template",
          "/fortunes", _fortunes, "text/html"),
    _Test("queries", f"GET /queries?queries={QUERIES}: {QUERIES} rows, one query each",
          f"/queries?queries={QUERIES}", _rows(QUERIES), _JSON),
    _Test("updates", f"GET /updates?queries={QUERIES}: {QUERIES} reads, one batched write",
          f"/updates?queries={QUERIES}", _rows(QUERIES), _JSON),
)  # fmt: skip
"""In the report's order, which pairs tests of like throughput on each chart row."""


def _scenario(test: _Test, connections: int) -> Scenario:
    env = {"TFB_CONNECTIONS": str(connections)}
    if test.pipeline > 1:
        env["BENCH_PIPELINE"] = str(test.pipeline)
    return Scenario(
        f"{test.name}_c{connections}",
        f"{test.what}; wrk -c{connections}",
        "GET",
        test.path,
        test.check,
        lua=LUA_DIR / "pipeline.lua" if test.pipeline > 1 else None,
        env=env,
        tool="tfb",
        media_type=test.media_type,
        headers=("server", "date"),
    )


TFB_SCENARIOS: dict[str, Scenario] = {
    s.name: s for t in _TESTS for s in (_scenario(t, c) for c in CONNECTIONS)
}

DB_SCENARIOS = tuple(
    s for s in TFB_SCENARIOS if s.split("_c")[0] in ("db", "queries", "fortunes", "updates")
)
TARGETS = (
    Target("fastapi", 2.0, DB_SCENARIOS),
    Target("litestar", 1.0, DB_SCENARIOS),
    Target("blacksheep", 1.0, DB_SCENARIOS),
)
"""aster >= 2x FastAPI on uvicorn on the database tests, and ahead of every other
framework on them, in the same run."""


# -- the run's database ---------------------------------------------------------------------


@dataclass
class _Session:
    """The suite's database while :func:`database` is open, and what the preflight found."""

    db: tfb_db.ClusterDatabase | None = None
    verdicts: dict[str, Verdict] = field(default_factory=dict)


SESSION = _Session()


@contextlib.contextmanager
def database(settings: Settings) -> Iterator[None]:
    """One PostgreSQL for the whole run, with the schema, pinned to the load CPUs; the
    servers started inside find it through the libpq variables set in the environment."""
    with Cluster() as pg:
        tfb_db.load(pg)
        tfb_db.pin(pg, settings.cpus.load)
        env = {**pg.env(), "TFB_POOL_SIZE": POOL_SIZE}
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        SESSION.db, SESSION.verdicts = tfb_db.ClusterDatabase(pg), {}
        try:
            yield
        finally:
            SESSION.db = None
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def _db() -> tfb_db.ClusterDatabase:
    if SESSION.db is None:
        raise VerificationError("the tfb scenarios need the suite's database (tfb_suite.database)")
    return SESSION.db


def preflight(
    contenders: list[Contender], scenarios: list[Scenario], settings: Settings
) -> dict[str, dict[str, str]]:
    """Start each server once and run the whole verifier; a server that fails any rule
    is not measured (every scenario gets the failures as its reason)."""
    unsupported: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory(prefix="aster-bench-tfb-") as tmp:
        for c in contenders:
            try:
                with serving(c, settings, Path(tmp)) as port:
                    verdict = verify(f"http://{settings.host}:{port}", _db())
            except ServerFailed as exc:
                verdict = Verdict([f"the server did not start: {exc}"], 1)
            SESSION.verdicts[c.name] = verdict
            print(f"bench: tfb verifier: {c.name}: {verdict.summary()}", file=sys.stderr)
            if not verdict.passed:
                why = "fails the TechEmpower verifier: " + "; ".join(verdict.failures)
                unsupported[c.name] = {s.name: why for s in scenarios}
    return unsupported


def epilogue() -> list[str]:
    """The verifier's results, for the report."""
    if not SESSION.verdicts:
        return []
    lines = [
        "TechEmpower verifier (bench/tfb_verify.py), before the rounds on each server and "
        "for the measured test before every run:"
    ]
    lines += [f"- {name}: {v.summary()}" for name, v in SESSION.verdicts.items()]
    return lines


def versions() -> dict[str, str | None]:
    try:
        postgres = bin_dir().parent.name
    except RuntimeError:
        postgres = None
    return {
        "asyncpg": distribution_version("asyncpg"),
        "jinja2": distribution_version("jinja2"),
        "postgresql": postgres,
        "pool": POOL_SIZE,
    }


# -- the tool: verify, then wrk at the scenario's connections ------------------------------


def _request(
    host: str, port: int, method: str, path: str, body: bytes, content_type: str, timeout: float
) -> tuple[int, object, bytes]:
    """Before the runner's own look at the answer: the verifier's checks of this test."""
    verdict = verify_path(f"http://{host}:{port}", path, _db())
    if not verdict.passed:
        raise VerificationError(f"{kind_of(path)}: {'; '.join(verdict.failures)}")
    return http1_request(host, port, method, path, body, content_type, timeout)


def _load(scenario: Scenario, url: str, duration: int, settings: Settings) -> wrk.WrkResult:
    _db().vacuum()  # every run starts on the same table (see ClusterDatabase.vacuum)
    result = wrk.run(
        url,
        duration=duration,
        connections=int(scenario.env["TFB_CONNECTIONS"]),
        threads=settings.threads,
        script=scenario.lua,
        env=scenario.env,
        cpus=settings.cpus.load,
    )
    if scenario.lua is not None and "BENCH_PIPELINE" in scenario.env:
        # wrk times a pipelined batch, not a request, and its distribution then comes out as
        # zeros or as the odd batch: no p99 rather than a wrong one.
        result.latency_ms = {}
    return result


TOOLS.setdefault("tfb", Tool(_load, request=lambda tls: _request))  # type: ignore[arg-type]
