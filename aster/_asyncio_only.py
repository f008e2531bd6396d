"""aster's framework runs on asyncio (uvloop by default), never on trio: the one refusal.

Starlette and FastAPI run on either through anyio; aster has no anyio layer, and the
portability would cost every request.  Where someone can ask for trio (the
TestClient's ``backend``, an app called from a trio event loop) the answer is this
error, which says what to do instead.  The server's ``--loop trio`` has its own
(``aster.server.config``): the server imports nothing from the framework.
"""

from __future__ import annotations

import asyncio

__all__ = ["ASYNCIO_ONLY", "require_asyncio_loop"]

#: What to do instead of trio, for every refusal.
ASYNCIO_ONLY = (
    "aster is asyncio native (uvloop by default) and does not run on trio: run the app "
    "on asyncio or uvloop (aster run, uvicorn, or hypercorn's asyncio/uvloop workers); "
    "for trio, use hypercorn --worker-class trio with a framework that supports it"
)


def require_asyncio_loop(what: str) -> None:
    """Raise a RuntimeError that says so, unless an asyncio event loop is running."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        raise RuntimeError(
            f"{what} was called without a running asyncio event loop (from trio?): " + ASYNCIO_ONLY
        ) from None
