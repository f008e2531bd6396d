"""A raw ASGI WebSocket app for the server tests; the path picks the behaviour.

- ``/echo``: accept (with ``?subprotocol=`` and an ``x-test`` header if asked), echo
  every text or bytes message; ``close:<code>:<reason>`` makes it close instead.
- ``/scope``: accept, send the scope as JSON, wait for the disconnect.
- ``/deny``: close before accepting (HTTP 403).
- ``/denial``: the ``websocket.http.response`` extension: 418, a header, a two-part body.
- ``/slow?wait=<s>``: accept, wait, then read one message every 10 ms, sending the count.
- ``/events``: accept, then echo, and log the disconnect (``APP: disconnect <code> <reason>``).
- ``/crash``: raise before accepting (500).
- ``/crash-open``: accept, then raise (1011).
- ``/noaccept``: return without accepting (500).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import parse_qs


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] == "http":
        body = json.dumps({"type": "http", "path": scope["path"]}).encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})
        return
    assert (await receive())["type"] == "websocket.connect"
    path = scope["path"][len(scope["root_path"]) :]
    query = parse_qs(scope["query_string"].decode())
    if path == "/deny":
        await send({"type": "websocket.close"})
        return
    if path == "/denial":
        await send(
            {
                "type": "websocket.http.response.start",
                "status": 418,
                "headers": [(b"x-denied", b"yes"), (b"content-type", b"text/plain")],
            }
        )
        await send({"type": "websocket.http.response.body", "body": b"no ", "more_body": True})
        await send({"type": "websocket.http.response.body", "body": b"teapots"})
        return
    if path == "/crash":
        raise RuntimeError("boom before accept")
    if path == "/noaccept":
        return
    accept: dict[str, Any] = {"type": "websocket.accept"}
    if "subprotocol" in query:
        accept["subprotocol"] = query["subprotocol"][0]
        accept["headers"] = [(b"x-test", b"accepted")]
    await send(accept)
    if path == "/crash-open":
        raise RuntimeError("boom after accept")
    if path == "/scope":
        await send({"type": "websocket.send", "text": json.dumps(_jsonable(scope))})
        message = await receive()
        print(f"APP: disconnect {message.get('code')} {message.get('reason')}", flush=True)
        return
    if path == "/slow":
        await asyncio.sleep(float(query.get("wait", ["0"])[0]))
        count = 0
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            count += 1
            await asyncio.sleep(0.01)
            await send({"type": "websocket.send", "text": str(count)})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            print(f"APP: disconnect {message['code']} {message.get('reason')}", flush=True)
            return
        text = message.get("text")
        if text is not None and text.startswith("close:"):
            _, code, reason = text.split(":", 2)
            await send({"type": "websocket.close", "code": int(code), "reason": reason})
            message = await receive()
            print(f"APP: after close {message['type']} {message.get('code')}", flush=True)
            return
        if text is not None:
            await send({"type": "websocket.send", "text": text})
        else:
            await send({"type": "websocket.send", "bytes": message["bytes"]})
