"""A FastAPI-style app served by ``aster run`` in tests/test_framework_server.py.

- ``GET /json``: a plain JSON route.
- ``GET /items/{item_id}``: typed path and query parameters (422 when invalid).
- ``POST /items``: a pydantic model in, the model with a computed total out.
- ``POST /upload``: an UploadFile (and a form field); answers its size and sha256.
- ``GET /sync``: a sync ``def`` endpoint that sleeps ``?seconds=`` in a worker thread.
- ``GET /stream?id=``: streams ``first``, then waits until ``GET /release?id=`` before
  streaming ``second`` and ``third``.
- ``GET /state``: what the lifespan yielded, as seen through ``request.state``.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from pydantic import BaseModel, Field

from aster import FastAPI, Form, Query, Request, UploadFile
from aster.responses import StreamingResponse

RELEASE: dict[str, asyncio.Event] = {}


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
    yield {"pool": {"name": "demo-pool", "size": 4}, "started": time.time()}


app = FastAPI(lifespan=lifespan)


class Item(BaseModel):
    name: str
    price: float = Field(gt=0)
    quantity: int = 1


@app.get("/json")
async def json_route() -> dict[str, Any]:
    return {"hello": "world", "n": [1, 2, 3]}


@app.get("/items/{item_id}")
async def read_item(item_id: int, q: Annotated[str | None, Query(max_length=5)] = None):
    return {"item_id": item_id, "q": q}


@app.post("/items", status_code=201)
async def create_item(item: Item) -> dict[str, Any]:
    return {**item.model_dump(), "total": item.price * item.quantity}


@app.post("/upload")
async def upload(file: UploadFile, label: Annotated[str, Form()] = "") -> dict[str, Any]:
    digest = hashlib.sha256()
    size = 0
    while chunk := await file.read(65536):
        digest.update(chunk)
        size += len(chunk)
    return {
        "filename": file.filename,
        "content_type": file.content_type,
        "size": size,
        "sha256": digest.hexdigest(),
        "label": label,
    }


@app.get("/sync")
def sync_route(seconds: float = 0.0) -> dict[str, Any]:
    time.sleep(seconds)
    return {"thread": threading.current_thread().name}


def _event(key: str) -> asyncio.Event:
    return RELEASE.setdefault(key, asyncio.Event())


@app.get("/stream")
async def stream(id: str) -> StreamingResponse:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"first\n"
        await asyncio.wait_for(_event(id).wait(), 10)
        yield b"second\n"
        yield b"third\n"

    return StreamingResponse(chunks(), media_type="text/plain")


@app.get("/release")
async def release(id: str) -> dict[str, bool]:
    _event(id).set()
    return {"released": True}


@app.get("/state")
async def state(request: Request) -> dict[str, Any]:
    return {"pool": request.state.pool, "started": isinstance(request.state.started, float)}
