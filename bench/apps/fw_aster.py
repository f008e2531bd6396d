"""The framework-suite app on aster (served by ``aster run``): the baseline.

It is ``fw_fastapi`` with ``fastapi`` -> ``aster`` in the imports and nothing else changed
(``tests/test_bench_smoke.py`` checks that), so the two measure the same code.
"""

from __future__ import annotations

from typing import Annotated

from aster import Depends, FastAPI
from aster.responses import PlainTextResponse
from bench.apps.fw_shared import HELLO, MESSAGE, MIDDLEWARE_HEADERS, AddHeader, Item, sync_payload

app = FastAPI()


@app.get("/plaintext")
async def plaintext():
    return PlainTextResponse(HELLO)


@app.get("/json")
async def json_message():
    return MESSAGE


@app.get("/items/{item_id}")
async def read_item(item_id: int, q: str | None = None, limit: int = 10):
    return {"item_id": item_id, "q": q, "limit": limit}


@app.post("/items", response_model=Item)
async def create_item(item: Item):
    return item


@app.get("/sync")
def sync_endpoint():
    return sync_payload()


async def common_params(q: str | None = None, limit: int = 10):
    return {"q": q, "limit": limit}


@app.get("/dependency")
async def with_dependency(commons: Annotated[dict, Depends(common_params)]):
    return commons


async def dep_c():
    return 1


async def dep_b(c: Annotated[int, Depends(dep_c)]):
    return c + 1


async def dep_a(b: Annotated[int, Depends(dep_b)]):
    return b + 1


@app.get("/deps3")
async def deps3(a: Annotated[int, Depends(dep_a)]):
    return {"depth": a}


middleware_app = FastAPI()
middleware_app.add_api_route("/json", json_message)
for _name in reversed(MIDDLEWARE_HEADERS):  # the last added runs first: x-mw-1 is outermost
    middleware_app.add_middleware(AddHeader, name=_name)
