"""The comparisons ``python -m bench`` can run, as data: who is compared, on what.

- ``servers``: aster, uvicorn and granian serving one raw ASGI app, so the numbers are
  the servers'.  Writes ``latest.{md,json,png}`` (its historical name).
- ``framework``: the same application written for aster, FastAPI, Litestar and
  BlackSheep, each on its natural server.  Writes ``framework.{md,json,png}``.
- ``websocket``: aster and uvicorn (``--ws websockets-sansio``) on one raw ASGI echo app,
  loaded by ``bench.ws_load`` instead of wrk.  Writes ``websocket.{md,json,png}``.
- ``http2``: aster, granian, uvicorn and hypercorn over HTTP/2 (h2c and TLS), loaded by
  h2load, on the raw app and the framework JSON route (``bench/h2_suite.py``).  Writes
  ``http2.{md,json,png}``.
- ``tfb``: TechEmpower's test types (json, plaintext, db, queries, fortunes, updates,
  cached-queries) on aster, FastAPI, Litestar and BlackSheep against a throwaway
  PostgreSQL, each server held to TechEmpower's rules first (``bench/tfb_suite.py``).
  Writes ``tfb.{md,json,png}``.  Not part of ``all``: it needs PostgreSQL and is the
  longest suite.
- ``channels``: one publisher fanned out through Redis pub/sub to 1,000 WebSocket
  subscribers on two server processes, aster.channels on aster against FastAPI and
  encode/broadcaster on uvicorn (``bench/channels_suite.py``).  Writes
  ``channels.{md,json,png}``.  Not part of ``all``: it needs redis-server.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass

from .channels_suite import CHANNELS_BASELINE, CHANNELS_CONTENDERS, CHANNELS_SCENARIOS, redis
from .channels_suite import COLUMNS as CHANNELS_COLUMNS
from .channels_suite import TARGETS as CHANNELS_TARGETS
from .channels_suite import versions as channels_versions
from .frameworks import FRAMEWORK_BASELINE, FRAMEWORKS
from .h2_suite import H2_SCENARIOS, H2_SERVERS, TARGETS, h2_contenders, preflight
from .report import Column, Target
from .runner import Settings
from .scenarios import FRAMEWORK_SCENARIOS, SERVER_SCENARIOS, Scenario
from .servers import BASELINE, SERVERS, Contender, raw_contenders
from .tfb_suite import TARGETS as TFB_TARGETS
from .tfb_suite import TFB_BASELINE, TFB_CONTENDERS, TFB_SCENARIOS, database, epilogue
from .tfb_suite import preflight as tfb_preflight
from .tfb_suite import versions as tfb_versions
from .ws_suite import WS_SCENARIOS, WS_SERVERS, ws_contenders

Preflight = Callable[[list[Contender], list[Scenario], Settings], Mapping[str, Mapping[str, str]]]
"""(contenders, scenarios, settings) -> contender -> scenario -> why it cannot be measured:
what a suite finds out by asking the servers before the rounds."""


@dataclass(frozen=True)
class Suite:
    name: str
    title: str
    stem: str
    """Output file name, without the extension."""
    scenarios: dict[str, Scenario]
    contenders: dict[str, Contender]
    baseline: str
    tool: str = "wrk"
    """The load generator its scenarios use (``"ws"``: :mod:`bench.ws_load`, ``"h2load"``)."""
    preflight: Preflight | None = None
    targets: tuple[Target, ...] = ()
    """Ratios the baseline should reach; each run checks and prints them."""
    chart_per_row: int = 4
    """Scenario groups per row of the chart (each row has its own scale)."""
    setup: Callable[[Settings], AbstractContextManager[object]] | None = None
    """What the preflight and the rounds run inside (the ``tfb`` suite's PostgreSQL)."""
    epilogue: Callable[[], list[str]] | None = None
    """Lines for the end of the report, asked for after the rounds (the verifier's)."""
    versions: Callable[[], Mapping[str, str | None]] | None = None
    """Further versions for the report's header (asyncpg, PostgreSQL)."""
    in_all: bool = True
    """Whether ``--suite all`` runs it."""
    columns: tuple[Column, ...] = ()
    """Further per-contender columns of the table (the channels suite's lost messages)."""


SUITES: dict[str, Suite] = {
    s.name: s
    for s in (
        Suite(
            "servers",
            "Raw ASGI throughput",
            "latest",
            SERVER_SCENARIOS,
            {c.name: c for c in raw_contenders(list(SERVERS))},
            BASELINE,
        ),
        Suite(
            "framework",
            "Framework throughput, the same app on each framework",
            "framework",
            FRAMEWORK_SCENARIOS,
            FRAMEWORKS,
            FRAMEWORK_BASELINE,
        ),
        Suite(
            "websocket",
            "WebSocket echo and connection setup",
            "websocket",
            WS_SCENARIOS,
            {c.name: c for c in ws_contenders(list(WS_SERVERS))},
            BASELINE,
            tool="ws",
        ),
        Suite(
            "http2",
            "HTTP/2 throughput (h2load)",
            "http2",
            H2_SCENARIOS,
            {c.name: c for c in h2_contenders(list(H2_SERVERS))},
            BASELINE,
            tool="h2load",
            preflight=preflight,
            targets=TARGETS,
            chart_per_row=3,  # the raw app's rows, then the framework's
        ),
        Suite(
            "tfb",
            "TechEmpower test types, each framework on PostgreSQL",
            "tfb",
            TFB_SCENARIOS,
            TFB_CONTENDERS,
            TFB_BASELINE,
            tool="tfb",
            preflight=tfb_preflight,
            targets=TFB_TARGETS,
            chart_per_row=4,  # the rows pair tests of like throughput
            setup=database,
            epilogue=epilogue,
            versions=tfb_versions,
            in_all=False,
        ),
        Suite(
            "channels",
            "Fan-out through Redis: 1 publisher, WebSocket subscribers on 2 processes",
            "channels",
            CHANNELS_SCENARIOS,
            CHANNELS_CONTENDERS,
            CHANNELS_BASELINE,
            tool="channels",
            targets=CHANNELS_TARGETS,
            setup=redis,
            versions=channels_versions,
            in_all=False,
            columns=CHANNELS_COLUMNS,
        ),
    )
}
