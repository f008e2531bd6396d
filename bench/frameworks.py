"""The framework comparison, as data: the same app (``bench/apps/fw_*.py``) written for each
framework, each served by its natural server, one process, access logs off, uvloop.

aster's framework runs on ``aster run``; FastAPI, Litestar and BlackSheep on uvicorn with
httptools and uvloop.  A scenario a framework cannot express faithfully is listed in its
``unsupported`` with the reason, and its cell stays empty rather than measuring something
else under the same name.
"""

from __future__ import annotations

from .servers import SERVERS, Contender

FRAMEWORK_BASELINE = "aster"

FRAMEWORKS: dict[str, Contender] = {
    c.name: c
    for c in (
        Contender("aster", SERVERS["aster"], "bench.apps.fw_aster:app", framework="aster"),
        Contender("fastapi", SERVERS["uvicorn"], "bench.apps.fw_fastapi:app", framework="fastapi"),
        Contender(
            "litestar", SERVERS["uvicorn"], "bench.apps.fw_litestar:app", framework="litestar"
        ),
        Contender(
            "blacksheep",
            SERVERS["uvicorn"],
            "bench.apps.fw_blacksheep:app",
            framework="blacksheep",
            unsupported={
                "sync": "BlackSheep calls a plain `def` handler on the event loop thread; "
                "it has no threadpool dispatch for handlers, so there is no equivalent.",
                "dependency": "BlackSheep's dependency injection (rodi) resolves services by "
                "type from a container; a dependency cannot declare request parameters "
                "(`q`, `limit`) the way FastAPI's and Litestar's dependencies do.",
            },
        ),
    )
}


def framework_contenders(names: list[str]) -> list[Contender]:
    unknown = [n for n in names if n not in FRAMEWORKS]
    if unknown:
        raise ValueError(
            f"unknown framework(s): {', '.join(unknown)} (known: {', '.join(FRAMEWORKS)})"
        )
    return [FRAMEWORKS[n] for n in names]
