"""The comparisons ``python -m bench`` can run, as data: who is compared, on what.

- ``servers``: aster, uvicorn and granian serving one raw ASGI app, so the numbers are
  the servers'.  Writes ``latest.{md,json,png}`` (its historical name).
- ``framework``: the same application written for aster, FastAPI, Litestar and
  BlackSheep, each on its natural server.  Writes ``framework.{md,json,png}``.
- ``websocket``: aster and uvicorn (``--ws websockets-sansio``) on one raw ASGI echo app,
  loaded by ``bench.ws_load`` instead of wrk.  Writes ``websocket.{md,json,png}``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .frameworks import FRAMEWORK_BASELINE, FRAMEWORKS
from .scenarios import FRAMEWORK_SCENARIOS, SERVER_SCENARIOS, Scenario
from .servers import BASELINE, SERVERS, Contender, raw_contenders
from .ws_suite import WS_SCENARIOS, WS_SERVERS, ws_contenders


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
    """The load generator its scenarios use (``"ws"``: :mod:`bench.ws_load`)."""


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
    )
}
