"""A raw ASGI app for the HTTP/1.1 protocol tests: it reports what the server gave it.

Any path not listed below answers with the request scope as JSON.  The routes
under ``/_/`` exercise request bodies and response framing:

- ``/_/echo``: read the whole body, send it back; ``x-messages`` counts the
  ``http.request`` messages it arrived in.
- ``/_/duplex``: stream each ``http.request`` message straight back as a chunk.
- ``/_/start-then-echo``: like echo, but sends the response start first.
- ``/_/digest``: read the body; answer ``{"messages", "length", "sha256"}``.
- ``/_/calls``: how many times ``/_/echo`` and ``/_/digest`` were called, and
  how many body reads ended in ``http.disconnect``.
- ``/_/stream``: three chunks with ``more_body`` and no content-length.
- ``/_/fixed``: one body message, no content-length.
- ``/_/length``: an app-provided content-length, body sent in two messages.
- ``/_/head``: 100 bytes of text in one message, no content-length.
- ``/_/status/<code>``: that status, trying (wrongly) to send a body.
- ``/_/noread``: answer at once without reading the body.
- ``/_/headers?status=<code>&<name>=<value>...``: answer "abc" with those
  response headers, in one body message (or two, with ``&pieces=2``).
- ``/_/pathsend?<absolute path>``: ``http.response.pathsend`` of that file.
- ``/_/log/...``: a plain 200 "logged", for the access-log tests.
- ``/_/sleep?<seconds>``: answer "slept" after that long.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any
from urllib.parse import parse_qsl, unquote

CALLS = {"echo": 0, "digest": 0, "disconnected": 0}


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


class Disconnected(Exception):
    """The client went away (or the server gave up on the request) mid-body."""


async def _read_body(receive: Any) -> tuple[bytes, int]:
    chunks: list[bytes] = []
    messages = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Disconnected
        messages += 1
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), messages


async def _reply(send: Any, body: bytes, status: int = 200, headers: Any = ()) -> None:
    await send({"type": "http.response.start", "status": status, "headers": list(headers)})
    await send({"type": "http.response.body", "body": body})


async def lifespan(receive: Any, send: Any, state: dict[str, Any]) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            state["greeting"] = "hello from lifespan"
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await lifespan(receive, send, scope["state"])
        return
    assert scope["type"] == "http"
    try:
        await _route(scope, receive, send)
    except Disconnected:
        CALLS["disconnected"] += 1


async def _route(scope: dict[str, Any], receive: Any, send: Any) -> None:
    route = scope["path"][len(scope["root_path"]) :]
    if route == "/_/echo":
        CALLS["echo"] += 1
        body, messages = await _read_body(receive)
        await _reply(send, body, headers=[(b"x-messages", str(messages).encode())])
    elif route == "/_/duplex":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return
            if message.get("body"):
                await send(
                    {"type": "http.response.body", "body": message["body"], "more_body": True}
                )
            if not message.get("more_body"):
                await send({"type": "http.response.body", "body": b""})
                return
    elif route == "/_/start-then-echo":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        body, _ = await _read_body(receive)
        await send({"type": "http.response.body", "body": body})
    elif route == "/_/digest":
        CALLS["digest"] += 1
        body, messages = await _read_body(receive)
        result = {
            "messages": messages,
            "length": len(body),
            "sha256": hashlib.sha256(body).hexdigest(),
        }
        await _reply(send, json.dumps(result).encode())
    elif route == "/_/calls":
        await _reply(send, json.dumps(CALLS).encode())
    elif route == "/_/stream":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for i in range(3):
            await send({"type": "http.response.body", "body": b"chunk%d" % i, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    elif route == "/_/fixed":
        await _reply(send, b"hello, world", headers=[(b"content-type", b"text/plain")])
    elif route == "/_/length":
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"11")]}
        )
        await send({"type": "http.response.body", "body": b"hello", "more_body": True})
        await send({"type": "http.response.body", "body": b" world"})
    elif route == "/_/head":
        await _reply(send, b"h" * 100, headers=[(b"content-type", b"text/plain")])
    elif route.startswith("/_/status/"):
        status = int(route.rsplit("/", 1)[1])
        await _reply(send, b"this body must not be sent", status=status)
    elif route == "/_/headers":
        pairs = parse_qsl(scope["query_string"].decode(), keep_blank_values=True)
        options = dict(pairs)
        status = int(options.pop("status", "200"))
        pieces = int(options.pop("pieces", "1"))
        headers = [(k.encode(), v.encode()) for k, v in pairs if k in options]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        if pieces == 2:
            await send({"type": "http.response.body", "body": b"a", "more_body": True})
            await send({"type": "http.response.body", "body": b"bc"})
        else:
            await send({"type": "http.response.body", "body": b"abc"})
    elif route == "/_/noread":
        await _reply(send, b"not reading that")
    elif route == "/_/pathsend":
        if "http.response.pathsend" not in scope.get("extensions", {}):
            await _reply(send, b"no pathsend extension", status=500)
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.pathsend", "path": unquote(scope["query_string"])})
    elif route.startswith("/_/log/"):
        await _reply(send, b"logged")
    elif route == "/_/sleep":
        await asyncio.sleep(float(scope["query_string"] or b"0"))
        await _reply(send, b"slept")
    else:
        result = _jsonable({k: v for k, v in scope.items() if k != "state"})
        result["state"] = dict(scope["state"])
        # The scope's state is a per-request copy: this must not leak into the next request.
        scope["state"]["mutated-by-request"] = True
        await _reply(
            send, json.dumps(result).encode(), headers=[(b"content-type", b"application/json")]
        )
