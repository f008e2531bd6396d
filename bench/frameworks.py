"""The framework comparison, as data: the same app (``bench/apps/fw_*.py``) written for each
framework, each served by its natural server, one process, access logs off, uvloop.

aster's framework runs on ``aster run``; FastAPI, Litestar and BlackSheep on uvicorn with
httptools and uvloop.  A scenario a framework cannot express faithfully is listed in its
``unsupported`` with the reason, and its cell stays empty rather than measuring something
else under the same name.
"""

from __future__ import annotations

from collections.abc import Mapping

from .servers import SERVERS, Contender

FRAMEWORK_BASELINE = "aster"

#: Each framework's natural server: the one fact every framework-level suite shares.
FRAMEWORK_SERVERS = {
    "aster": "aster",
    "fastapi": "uvicorn",
    "litestar": "uvicorn",
    "blacksheep": "uvicorn",
}


def framework_apps(
    prefix: str, unsupported: Mapping[str, Mapping[str, str]] | None = None
) -> dict[str, Contender]:
    """``bench/apps/<prefix>_<framework>.py`` for each framework, on its natural server."""
    return {
        name: Contender(
            name,
            SERVERS[server],
            f"bench.apps.{prefix}_{name}:app",
            framework=name,
            unsupported=dict((unsupported or {}).get(name, {})),
        )
        for name, server in FRAMEWORK_SERVERS.items()
    }


def pick(contenders: Mapping[str, Contender], names: list[str]) -> list[Contender]:
    """The named contenders, in the order given; an unknown name is an error."""
    unknown = [n for n in names if n not in contenders]
    if unknown:
        raise ValueError(
            f"unknown framework(s): {', '.join(unknown)} (known: {', '.join(contenders)})"
        )
    return [contenders[n] for n in names]


FRAMEWORKS = framework_apps(
    "fw",
    unsupported={
        "blacksheep": {
            "sync": "BlackSheep calls a plain `def` handler on the event loop thread; "
            "it has no threadpool dispatch for handlers, so there is no equivalent.",
            "dependency": "BlackSheep's dependency injection (rodi) resolves services by "
            "type from a container; a dependency cannot declare request parameters "
            "(`q`, `limit`) the way FastAPI's and Litestar's dependencies do.",
        }
    },
)


def framework_contenders(names: list[str]) -> list[Contender]:
    return pick(FRAMEWORKS, names)
