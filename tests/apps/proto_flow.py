"""A raw ASGI app for flow control, disconnects and slow requests.

Each experiment is named by ``?id=...`` so tests sharing one server don't mix;
what the app saw is kept in ``RESULTS[id]`` and read back through ``/status``.

- ``/flow/in``: wait until ``/flow/release`` (same id) is called, then read
  the whole body and answer its length and sha256.
- ``/flow/out``: try to send ``chunks`` (default 32) bodies of 1 MiB; record
  how many ``send()`` calls returned within the first second.
- ``/disconnect/stream``: read the body, start a streamed response, then wait
  in ``receive()`` and record what it returns.
- ``/disconnect/wait``: read the body, then wait in ``receive()`` without
  responding (a long poll), and record what it returns.
- ``/status``: ``RESULTS[id]`` as JSON; with ``&wait=<key>`` it first waits
  (up to 10 s) until that key is recorded.
- ``/sleep?s=<seconds>``: answer "slept" after that long.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from typing import Any
from urllib.parse import parse_qs

MIB = 1 << 20
RESULTS: dict[str, dict[str, Any]] = {}
RELEASE: dict[str, asyncio.Event] = {}


def _query(scope: dict[str, Any]) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(scope["query_string"].decode()).items()}


async def _reply(send: Any, body: bytes, status: int = 200) -> None:
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": body})


async def _read_body(receive: Any, record: dict[str, Any]) -> bytes:
    chunks = []
    while True:
        message = await receive()
        record.setdefault("messages", []).append(message["type"])
        if message["type"] != "http.request":
            return b"".join(chunks)
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return  # no lifespan support: the server carries on without it
    query = _query(scope)
    key = query.get("id", "")
    record = RESULTS.setdefault(key, {})
    path = scope["path"]
    if path == "/flow/in":
        record["phase"] = "waiting for release"
        await RELEASE.setdefault(key, asyncio.Event()).wait()
        body = await _read_body(receive, record)
        digest = {"length": len(body), "sha256": hashlib.sha256(body).hexdigest()}
        await _reply(send, json.dumps(digest).encode())
    elif path == "/flow/release":
        RELEASE.setdefault(key, asyncio.Event()).set()
        await _reply(send, b"released")
    elif path == "/flow/out":
        await _flow_out(send, record, int(query.get("chunks", "32")))
    elif path == "/disconnect/stream":
        await _read_body(receive, record)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"started\n", "more_body": True})
        record["phase"] = "streaming"
        message = await receive()
        record.setdefault("messages", []).append(message["type"])
        try:
            await send({"type": "http.response.body", "body": b"late\n", "more_body": True})
        except OSError as exc:
            record["send_after_disconnect"] = type(exc).__name__
        else:
            record["send_after_disconnect"] = "no error"
        record["done"] = True
    elif path == "/disconnect/wait":
        await _read_body(receive, record)
        record["phase"] = "waiting"
        message = await receive()
        record.setdefault("messages", []).append(message["type"])
        record["done"] = True
    elif path == "/status":
        wait_for = query.get("wait")
        deadline = time.monotonic() + 10
        while wait_for and wait_for not in record and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        await _reply(send, json.dumps(record).encode())
    elif path == "/sleep":
        await asyncio.sleep(float(query.get("s", "1")))
        await _reply(send, b"slept")
    else:
        await _reply(send, b"not found", status=404)


async def _flow_out(send: Any, record: dict[str, Any], chunks: int) -> None:
    sent = 0
    loop = asyncio.get_running_loop()
    loop.call_later(1.0, lambda: record.setdefault("first_second", sent))
    await send({"type": "http.response.start", "status": 200, "headers": []})
    for i in range(chunks):
        await send(
            {"type": "http.response.body", "body": b"%c" % (97 + i % 26) * MIB, "more_body": True}
        )
        sent += 1
    await send({"type": "http.response.body", "body": b""})
    record["sent"] = sent
