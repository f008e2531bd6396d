"""The framework-suite app on BlackSheep (served by uvicorn): ``fw_fastapi`` in BlackSheep's idiom.

What BlackSheep cannot express faithfully is left out, not imitated (the bench prints
"n/a" with the reason; ``bench/suites.py`` holds the reasons):

- ``sync``: BlackSheep calls a plain ``def`` handler on the event loop thread; it has no
  threadpool dispatch for handlers.
- ``dependency``: BlackSheep's dependency injection (rodi) resolves services by type from
  a container; a dependency cannot declare request parameters (``q``, ``limit``) the way a
  FastAPI/Litestar dependency does.

``deps3`` is expressible: a chain of scoped services resolved per request, by
constructor injection.  BlackSheep has no hook for ASGI middleware (its own middlewares
are ``(request, handler)`` functions), so ``middleware_app`` wraps the application in the
same three pure-ASGI middlewares, which is how ASGI middleware is used with it.
"""

from __future__ import annotations

from blacksheep import Application, FromJSON, Router, json, text

from bench.apps.fw_shared import HELLO, MESSAGE, MIDDLEWARE_HEADERS, AddHeader, Item

route = Router()
app = Application(router=route)


@route.get("/plaintext")
async def plaintext():
    return text(HELLO)


@route.get("/json")
async def json_message():
    return json(MESSAGE)


@route.get("/items/{item_id}")
async def read_item(item_id: int, q: str | None = None, limit: int = 10):
    return json({"item_id": item_id, "q": q, "limit": limit})


@route.post("/items")
async def create_item(item: FromJSON[Item]) -> Item:
    return item.value


class C:
    def __init__(self) -> None:
        self.value = 1


class B:
    def __init__(self, c: C) -> None:
        self.value = c.value + 1


class A:
    def __init__(self, b: B) -> None:
        self.value = b.value + 1


app.services.add_scoped(C)
app.services.add_scoped(B)
app.services.add_scoped(A)


@route.get("/deps3")
async def deps3(a: A):
    return json({"depth": a.value})


_inner_route = Router()
_inner = Application(router=_inner_route)


@_inner_route.get("/json")
async def json_behind_middleware():
    return json(MESSAGE)


middleware_app = _inner
for _name in reversed(MIDDLEWARE_HEADERS):  # wrapped last = outermost: x-mw-1
    middleware_app = AddHeader(middleware_app, name=_name)
