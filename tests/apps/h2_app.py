"""A raw ASGI app for the HTTP/2 tests: ``proto_echo``'s routes, plus those below ``/h/``.

- ``/h/hold``: start nothing, read nothing; wait for ``http.disconnect`` (a stream kept open).
- ``/h/stall``: answer "stalled" after 3 s, without reading the body.
- ``/h/trailers``: a body in two messages, then ``grpc-status: 0`` and ``x-sum`` trailers.
- ``/h/big?<n>``: ``n`` bytes of ``abcd...`` in one body message.
- ``/h/chunks?<n>``: ``n`` messages of 16 KiB each.
- ``/h/slow-digest``: read the body one message every 50 ms; answer its length and sha256.
- ``/h/ws``: a WebSocket echo that answers ``http_version`` first.
- ``/h/observe?<tag>``: wait for ``http.disconnect``, then try to send; what ``receive()``
  returned and what ``send()`` raised is kept under ``tag``, and ``/h/observed?<tag>``
  answers it as JSON (404 until then).
- ``/h/stubborn?<s>``: ignore the client for ``s`` seconds (no receive, no send), then return.
- ``/h/block?<s>``: block the event loop for ``s`` seconds (prints ``H2APP: blocking <s>``).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from typing import Any

from tests.apps.proto_echo import app as proto_echo

OBSERVED: dict[str, dict[str, Any]] = {}


async def _observe(tag: str, receive: Any, send: Any) -> None:
    message = await receive()
    while message["type"] != "http.disconnect":
        message = await receive()
    seen: dict[str, Any] = {"received": message["type"]}
    try:
        await send({"type": "http.response.start", "status": 200, "headers": []})
    except Exception as exc:
        seen["send_raised"] = type(exc).__name__
        seen["is_oserror"] = isinstance(exc, OSError)
    OBSERVED[tag] = seen


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    path = scope.get("path", "")
    query = scope.get("query_string", b"").decode()
    if scope["type"] == "websocket":
        await _websocket(scope, receive, send)
    elif scope["type"] != "http" or not path.startswith("/h/"):
        await proto_echo(scope, receive, send)
    elif path == "/h/hold":
        while (await receive())["type"] != "http.disconnect":
            pass
    elif path == "/h/observe":
        await _observe(query, receive, send)
    elif path == "/h/observed":
        seen = OBSERVED.get(query)
        await send({"type": "http.response.start", "status": 200 if seen else 404, "headers": []})
        await send({"type": "http.response.body", "body": json.dumps(seen).encode()})
    elif path == "/h/stubborn":
        await asyncio.sleep(float(query))
    elif path == "/h/block":
        print(f"H2APP: blocking {query}", flush=True)
        time.sleep(float(query))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"unblocked"})
    elif path == "/h/stall":
        await asyncio.sleep(3)  # not reading the body meanwhile
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"stalled"})
    elif path == "/h/trailers":
        await send({"type": "http.response.start", "status": 200, "headers": [], "trailers": True})
        await send({"type": "http.response.body", "body": b"part one, ", "more_body": True})
        await send({"type": "http.response.body", "body": b"part two"})
        await send(
            {
                "type": "http.response.trailers",
                "headers": [(b"grpc-status", b"0"), (b"x-sum", b"18")],
                "more_trailers": False,
            }
        )
    elif path == "/h/big":
        size = int(scope["query_string"] or b"0")
        body = (b"abcdefghijklmnopqrstuvwxyz" * (size // 26 + 1))[:size]
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})
    elif path == "/h/chunks":
        count = int(scope["query_string"] or b"1")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for i in range(count):
            chunk = bytes([97 + i % 26]) * 16384
            await send({"type": "http.response.body", "body": chunk, "more_body": i < count - 1})
    elif path == "/h/slow-digest":
        digest = hashlib.sha256()
        length = messages = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return
            messages += 1
            digest.update(message["body"])
            length += len(message["body"])
            if not message.get("more_body"):
                break
            await asyncio.sleep(0.05)
        body = json.dumps({"length": length, "sha256": digest.hexdigest(), "messages": messages})
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body.encode()})
    else:
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b"no such route"})


async def _websocket(scope: dict[str, Any], receive: Any, send: Any) -> None:
    assert (await receive())["type"] == "websocket.connect"
    if scope["path"] == "/h/ws-deny":
        await send({"type": "websocket.http.response.start", "status": 403, "headers": []})
        await send({"type": "websocket.http.response.body", "body": b"no entry"})
        return
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.send", "text": "http_version=" + scope["http_version"]})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("text") == "close":
            await send({"type": "websocket.close", "code": 4000, "reason": "asked"})
            return
        if message.get("text") is not None:
            await send({"type": "websocket.send", "text": message["text"]})
        else:
            await send({"type": "websocket.send", "bytes": message["bytes"]})
