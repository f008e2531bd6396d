"""The channels-suite chat on aster (served by ``aster run``): the baseline.

``aster.channels`` on its Redis pub/sub backend, each subscriber with the default
bounded queue (``max_queue=1000``) and policy (``drop_oldest``), which the bench
counts on ``/stats`` (``channels.stats()["dropped"]``).  ``channels_fastapi`` is the
same chat on FastAPI and encode/broadcaster; the endpoints have the same shape.
"""

from __future__ import annotations

import asyncio

from aster import FastAPI, WebSocket, WebSocketDisconnect
from aster.channels import Channels, Message, RedisPubSubBackend, Subscription
from bench.apps.channels_shared import CHANNEL, missed_text, process_figures, redis_url

channels = Channels(RedisPubSubBackend(redis_url()), max_queue=1000, policy="drop_oldest")
app = FastAPI(lifespan=channels.lifespan)


async def forward(websocket: WebSocket, subscription: Subscription) -> None:
    async for event in subscription:
        if type(event) is Message:
            await websocket.send_text(event.text)
        else:  # Missed: the gap is reported, never silent
            await websocket.send_text(missed_text(event.reason, event.count))


@app.websocket("/ws")
async def chat(websocket: WebSocket) -> None:
    await websocket.accept()
    async with channels.subscribe(CHANNEL) as subscription:
        sender = asyncio.create_task(forward(websocket, subscription))
        try:
            async for _ in websocket.iter_text():  # ends when the client leaves
                pass
        except WebSocketDisconnect:
            pass
        finally:
            sender.cancel()


@app.get("/stats")
async def stats() -> dict:
    return {**process_figures(), "library": "aster.channels", "channels": channels.stats()}
