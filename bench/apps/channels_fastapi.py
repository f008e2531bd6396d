"""The channels-suite chat on FastAPI and encode/broadcaster (served by uvicorn).

broadcaster's Redis backend (``redis://``: Redis pub/sub through ``redis.asyncio``),
as its README uses it with FastAPI: a ``Broadcast`` connected in the lifespan, and per
WebSocket a ``broadcast.subscribe()`` whose events are forwarded as text.  One
addition, without which it delivers nothing here: see :func:`lifespan`.  broadcaster
has no per-subscriber bound or drop policy (each subscriber is an unbounded
``asyncio.Queue``), so ``/stats`` reports nothing dropped and the backlog it holds.

This must import the real ``fastapi`` package, never aster's compat aliases.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import fastapi
from broadcaster import Broadcast
from broadcaster._base import Subscriber
from fastapi import FastAPI, WebSocket, WebSocketDisconnect

from bench.apps.channels_shared import CHANNEL, KEEPALIVE_CHANNEL, process_figures, redis_url

if hasattr(fastapi, "__aster_version__"):  # aster.compat.install() aliases ``fastapi``
    raise RuntimeError("the channels bench must run the real FastAPI, not aster.compat's alias")

broadcast = Broadcast(redis_url())


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # broadcast.subscribe(KEEPALIVE_CHANNEL): a subscription held for the app's life, to a
    # channel nobody publishes to.  Without it, broadcaster 0.3.1 on redis-py >= 5 never
    # delivers: its first subscribe wakes the backend's listener before redis-py has
    # registered the channel, the listener finds ``pubsub.subscribed`` false, leaves
    # ``listen()`` and waits for a wake-up that only the first subscriber of a channel
    # gives.  (aster's Redis backend holds such a channel of its own.)
    async with broadcast, broadcast.subscribe(KEEPALIVE_CHANNEL):
        yield


app = FastAPI(lifespan=lifespan)


async def forward(websocket: WebSocket, subscriber: Subscriber) -> None:
    async for event in subscriber:  # type: ignore[union-attr]
        await websocket.send_text(event.message)


@app.websocket("/ws")
async def chat(websocket: WebSocket) -> None:
    await websocket.accept()
    async with broadcast.subscribe(CHANNEL) as subscriber:
        sender = asyncio.create_task(forward(websocket, subscriber))
        try:
            async for _ in websocket.iter_text():  # ends when the client leaves
                pass
        except WebSocketDisconnect:
            pass
        finally:
            sender.cancel()


@app.get("/stats")
async def stats() -> dict:
    queues = [q for qs in broadcast._subscribers.values() for q in qs]
    return {
        **process_figures(),
        "library": "broadcaster",
        "channels": {
            "dropped": {},  # broadcaster never drops: its queues are unbounded
            "subscribers": len(queues),
            "queued": sum(q.qsize() for q in queues),
        },
    }
