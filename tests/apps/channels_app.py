"""An app on :mod:`aster.channels` for the socket-level tests (tests/test_channels_server.py).

The environment picks the channels: ``CHANNELS_BACKEND`` (``memory``, the default,
``pubsub`` or ``streams``), ``REDIS_URL``, ``CHANNELS_MAX_QUEUE`` and ``CHANNELS_POLICY``
(every subscription's defaults), ``CHANNELS_TIMEOUT``, ``CHANNELS_PUBLISH_RETRIES``,
``CHANNELS_RETRY_DELAY`` and ``CHANNELS_MAX_RETRY_DELAY`` (the Redis backends' failure
handling), ``CHANNELS_STREAM_MAXLEN``.  ``<names>`` is one channel or several, comma
separated.

- ``WS /ws/<names>?history=&max_queue=&policy=``: accept, subscribe, send ``{"ready": pid}``,
  then every message's text as a text frame and every ``Missed`` as
  ``{"missed": reason, "count": n, "channel": c}`` (test messages never start with ``{``).
  When the subscription ends: close 1008 ``slow consumer`` (``"slow"``) or 1001
  ``shutdown``.  A client that leaves ends the subscription.
- ``GET /sse/<names>?history=&max_queue=&policy=``: the same as Server-Sent Events: an
  ``event: ready`` (``data:`` the pid), each message as ``data: <text>`` (``id:`` its Streams
  id), each ``Missed`` as ``event: missed`` with the JSON notice, and a last ``event:
  closed`` whose data is the reason, before the stream ends.
- ``POST /publish/<channel>``: the body's text; ``{"id": <Streams id or null>}``, or 503
  ``{"error": "channels unavailable", "detail": ...}`` on ``PublishError``.
- ``POST /burst/<channel>?publisher=&start=&count=&size=``: publishes ``count`` messages
  ``<publisher>:<i>:`` padded with ``x`` to ``size`` characters, one after the other
  (yielding to the other tasks between two).
- ``GET /stats``: ``channels.stats()`` and the pid; ``GET /health``: ``{"status": "ok"}``.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterable
from typing import Literal

from aster import FastAPI, Request, WebSocket, WebSocketDisconnect
from aster.channels import (
    Backend,
    Channels,
    MemoryBackend,
    Message,
    Missed,
    PublishError,
    RedisPubSubBackend,
    RedisStreamBackend,
    Subscription,
)
from aster.responses import JSONResponse
from aster.sse import EventSourceResponse, ServerSentEvent

PID = os.getpid()
PolicyName = Literal["drop_oldest", "drop_newest", "disconnect"]


def _backend() -> Backend:
    kind = os.environ.get("CHANNELS_BACKEND", "memory")
    if kind == "memory":
        return MemoryBackend()
    url = os.environ["REDIS_URL"]
    options = {
        "timeout": float(os.environ.get("CHANNELS_TIMEOUT", "2.0")),
        "publish_retries": int(os.environ.get("CHANNELS_PUBLISH_RETRIES", "3")),
        "retry_delay": float(os.environ.get("CHANNELS_RETRY_DELAY", "0.05")),
        "max_retry_delay": float(os.environ.get("CHANNELS_MAX_RETRY_DELAY", "2.0")),
    }
    if kind == "pubsub":
        return RedisPubSubBackend(url, **options)
    if kind == "streams":
        maxlen = int(os.environ.get("CHANNELS_STREAM_MAXLEN", "1000"))
        return RedisStreamBackend(url, maxlen=maxlen, **options)
    raise RuntimeError(f"CHANNELS_BACKEND must be memory, pubsub or streams, not {kind!r}")


channels = Channels(
    _backend(),
    max_queue=int(os.environ.get("CHANNELS_MAX_QUEUE", "1000")),
    policy=os.environ.get("CHANNELS_POLICY", "drop_oldest"),  # type: ignore[arg-type]
)
app = FastAPI(lifespan=channels.lifespan)


def _notice(event: Missed) -> str:
    return json.dumps({"missed": event.reason, "count": event.count, "channel": event.channel})


async def _end_when_the_client_leaves(websocket: WebSocket, sub: Subscription) -> None:
    """The endpoint only sends; this reads, so that a client's close ends the subscription."""
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass
    sub.close("client gone")


@app.websocket("/ws/{names}")
async def ws(
    websocket: WebSocket,
    names: str,
    history: int = 0,
    max_queue: int | None = None,
    policy: PolicyName | None = None,
) -> None:
    await websocket.accept()
    async with channels.subscribe(
        *names.split(","), history=history, max_queue=max_queue, policy=policy
    ) as sub:
        watcher = asyncio.get_running_loop().create_task(
            _end_when_the_client_leaves(websocket, sub)
        )
        try:
            await websocket.send_text(json.dumps({"ready": PID}))
            async for event in sub:
                if type(event) is Message:
                    await websocket.send_text(event.text)
                else:
                    await websocket.send_text(_notice(event))  # type: ignore[arg-type]
        except WebSocketDisconnect:
            return
        finally:
            watcher.cancel()
    if sub.closed_reason == "slow":
        await websocket.close(1008, "slow consumer")
    elif sub.closed_reason == "shutdown":
        await websocket.close(1001, "shutdown")


@app.get("/sse/{names}", response_class=EventSourceResponse)
async def sse(
    names: str,
    history: int = 0,
    max_queue: int | None = None,
    policy: PolicyName | None = None,
) -> AsyncIterable[ServerSentEvent]:
    async with channels.subscribe(
        *names.split(","), history=history, max_queue=max_queue, policy=policy
    ) as sub:
        yield ServerSentEvent(event="ready", raw_data=str(PID))
        async for event in sub:
            if type(event) is Message:
                yield ServerSentEvent(raw_data=event.text, id=event.id)
            else:
                yield ServerSentEvent(event="missed", raw_data=_notice(event))  # type: ignore[arg-type]
    yield ServerSentEvent(event="closed", raw_data=sub.closed_reason)


def _unavailable(exc: PublishError) -> JSONResponse:
    return JSONResponse({"error": "channels unavailable", "detail": str(exc)}, status_code=503)


@app.post("/publish/{channel}")
async def publish(channel: str, request: Request) -> object:
    try:
        message_id = await channels.publish(channel, await request.body())
    except PublishError as exc:
        return _unavailable(exc)
    return {"id": message_id}


@app.post("/burst/{channel}")
async def burst(
    channel: str, publisher: str = "b", start: int = 0, count: int = 1, size: int = 0
) -> object:
    ids = []
    for i in range(start, start + count):
        head = f"{publisher}:{i}:"
        try:
            ids.append(await channels.publish(channel, head + "x" * (size - len(head))))
        except PublishError as exc:
            return _unavailable(exc)
        # Let the subscribers' endpoints run between messages, as they would between
        # requests: the memory backend's publish never waits, and a burst of more than
        # max_queue messages in one go would overflow every subscriber, fast or not.
        await asyncio.sleep(0)
    return {"published": count, "ids": ids}


@app.get("/stats")
async def stats() -> dict[str, object]:
    return {"pid": PID, **channels.stats()}


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}
