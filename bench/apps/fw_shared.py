"""What every framework app of the framework suite shares: the data, the model, the middleware.

Nothing here imports a web framework, so ``fw_fastapi`` really runs FastAPI and
``fw_aster`` really runs aster; each app module only adds its framework's routing.

The routes (``bench/scenarios.py`` checks every answer before measuring):

- ``GET /plaintext``                     -> ``text/plain`` "Hello, World!"
- ``GET /json``                          -> ``{"message": "Hello, World!"}``
- ``GET /items/{item_id}?q=&limit=``     -> ``{"item_id": 42, "q": "hello", "limit": 5}``
- ``POST /items`` (JSON :class:`Item`)   -> the validated item (``response_model=Item``)
- ``GET /sync``  (plain ``def``)         -> ``{"message": ..., "worker_thread": true}``
- ``GET /dependency?q=&limit=``          -> what ``common_params`` read: ``{"q":..,"limit":..}``
- ``GET /deps3``                         -> ``{"depth": 3}`` from the chain a <- b <- c
- ``middleware_app``: ``GET /json`` behind three :class:`AddHeader` middlewares
"""

from __future__ import annotations

import sys
import threading
from typing import Any

from pydantic import BaseModel

# fw_fastapi imports ``fastapi`` before this module: it must be the real package, not
# aster's compat alias (aster.compat.install() would make ``fastapi`` resolve to aster).
if hasattr(sys.modules.get("fastapi"), "__aster_version__") or "aster.compat" in sys.modules:
    raise RuntimeError("the framework bench must run the real FastAPI, not aster.compat's alias")

HELLO = "Hello, World!"
MESSAGE = {"message": HELLO}
MIDDLEWARE_HEADERS = ("x-mw-1", "x-mw-2", "x-mw-3")


class Item(BaseModel):
    name: str
    price: float
    tags: list[str] = []
    description: str | None = None


def sync_payload() -> dict[str, Any]:
    """The ``/sync`` answer; ``worker_thread`` proves the endpoint left the event loop."""
    return {"message": HELLO, "worker_thread": threading.current_thread() is not MAIN_THREAD}


MAIN_THREAD = threading.main_thread()


class AddHeader:
    """A trivial pure-ASGI middleware: adds ``name: value`` to every HTTP response."""

    def __init__(self, app: Any, name: str, value: str = "1") -> None:
        self.app = app
        self.header = (name.encode("latin-1"), value.encode("latin-1"))

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = self.header

        async def send_with_header(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        await self.app(scope, receive, send_with_header)
