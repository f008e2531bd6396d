"""Streaming endpoints for the socket-level streaming tests (tests/test_streaming_server.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable, Iterable

from pydantic import BaseModel

from aster import FastAPI, routing
from aster.sse import EventSourceResponse, ServerSentEvent

# Quick keep-alives, so a test sees them without waiting FastAPI's 15 s.
routing._PING_INTERVAL = 0.3

app = FastAPI()
#: What the generators did, read back through /state: a disconnect must show up here.
STATE: dict[str, int] = {"started": 0, "yielded": 0, "closed": 0, "sync_yielded": 0}


class Tick(BaseModel):
    i: int


@app.get("/sse/ticks", response_class=EventSourceResponse)
async def ticks(n: int = 3, interval: float = 0.4) -> AsyncIterable[Tick]:
    for i in range(n):
        if i:
            await asyncio.sleep(interval)
        yield Tick(i=i)


@app.get("/sse/forever", response_class=EventSourceResponse)
async def forever() -> AsyncIterable[ServerSentEvent]:
    STATE["started"] += 1
    try:
        i = 0
        while True:
            yield ServerSentEvent(data={"i": i}, id=str(i), event="tick")
            STATE["yielded"] += 1
            i += 1
            await asyncio.sleep(0.05)
    finally:
        STATE["closed"] += 1


@app.get("/sse/busy", response_class=EventSourceResponse)
async def busy() -> AsyncIterable[str]:
    """Never awaits: only the stream's own checkpoints let a disconnect through."""
    STATE["started"] += 1
    try:
        while True:
            yield "x" * 1000
            STATE["yielded"] += 1
    finally:
        STATE["closed"] += 1


@app.get("/sse/sync-forever", response_class=EventSourceResponse)
def sync_forever() -> Iterable[int]:
    i = 0
    while True:
        time.sleep(0.05)
        yield i
        STATE["sync_yielded"] += 1
        i += 1


@app.get("/sse/quiet", response_class=EventSourceResponse)
async def quiet() -> AsyncIterable[ServerSentEvent]:
    await asyncio.sleep(1.0)
    yield ServerSentEvent(raw_data="done", event="end")


@app.get("/jsonl")
async def jsonl(n: int = 3, interval: float = 0.4) -> AsyncIterable[Tick]:
    for i in range(n):
        if i:
            await asyncio.sleep(interval)
        yield Tick(i=i)


@app.get("/state")
async def state() -> dict[str, int]:
    return STATE
