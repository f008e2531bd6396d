"""The framework-suite app on Litestar (served by uvicorn): ``fw_fastapi`` in Litestar's idiom.

Differences that are the framework's idiom, not the app's: the body parameter is
``data``, dependencies are ``Provide``d by name, sync handlers ask for the threadpool
with ``sync_to_thread=True``, and POST handlers default to 201, so ``/items`` asks for 200.
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar, MediaType, get, post
from litestar.di import Provide
from litestar.middleware import DefineMiddleware

from bench.apps.fw_shared import HELLO, MESSAGE, MIDDLEWARE_HEADERS, AddHeader, Item, sync_payload


@get("/plaintext", media_type=MediaType.TEXT)
async def plaintext() -> str:
    return HELLO


@get("/json")
async def json_message() -> dict[str, Any]:
    return MESSAGE


@get("/items/{item_id:int}")
async def read_item(item_id: int, q: str | None = None, limit: int = 10) -> dict[str, Any]:
    return {"item_id": item_id, "q": q, "limit": limit}


@post("/items", status_code=200)
async def create_item(data: Item) -> Item:
    return data


@get("/sync", sync_to_thread=True)
def sync_endpoint() -> dict[str, Any]:
    return sync_payload()


async def common_params(q: str | None = None, limit: int = 10) -> dict[str, Any]:
    return {"q": q, "limit": limit}


@get("/dependency", dependencies={"commons": Provide(common_params)})
async def with_dependency(commons: dict[str, Any]) -> dict[str, Any]:
    return commons


async def dep_c() -> int:
    return 1


async def dep_b(c: int) -> int:
    return c + 1


async def dep_a(b: int) -> int:
    return b + 1


@get("/deps3", dependencies={"c": Provide(dep_c), "b": Provide(dep_b), "a": Provide(dep_a)})
async def deps3(a: int) -> dict[str, Any]:
    return {"depth": a}


app = Litestar(
    route_handlers=[
        plaintext,
        json_message,
        read_item,
        create_item,
        sync_endpoint,
        with_dependency,
        deps3,
    ]
)


@get("/json")
async def json_behind_middleware() -> dict[str, Any]:
    return MESSAGE


# The first in the list is the outermost.
middleware_app = Litestar(
    route_handlers=[json_behind_middleware],
    middleware=[DefineMiddleware(AddHeader, name=name) for name in MIDDLEWARE_HEADERS],
)
