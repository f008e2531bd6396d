"""A raw ASGI app that misbehaves in every way the server must survive, one per path."""

from __future__ import annotations

from typing import Any


async def _start(send: Any, headers: Any = ()) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": list(headers)})


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path == "/ok" or path.startswith("/log/"):
        await _start(send)
        await send({"type": "http.response.body", "body": b"ok"})
    elif path == "/raise-before-start":
        raise ValueError("boom before start")
    elif path == "/raise-after-start":
        await _start(send)
        raise ValueError("boom after start")
    elif path == "/raise-mid-stream":
        await _start(send)
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        raise ValueError("boom mid-stream")
    elif path == "/return-without-response":
        return
    elif path == "/return-mid-stream":
        await _start(send)
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
    elif path == "/too-long":
        await _start(send, [(b"content-length", b"5")])
        await send({"type": "http.response.body", "body": b"hello world"})
    elif path == "/too-long-streamed":
        await _start(send, [(b"content-length", b"10")])
        await send({"type": "http.response.body", "body": b"123456", "more_body": True})
        await send({"type": "http.response.body", "body": b"789012"})
    elif path == "/too-short":
        await _start(send, [(b"content-length", b"10")])
        await send({"type": "http.response.body", "body": b"hello"})
    elif path == "/split-header":
        await _start(send, [(b"x-ok", b"fine"), (b"x-split", b"a\r\nx-injected: yes")])
        await send({"type": "http.response.body", "body": b"split"})
    elif path == "/split-header-streamed":
        await _start(send, [(b"x-split", b"a\nx-injected: yes")])
        await send({"type": "http.response.body", "body": b"split", "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    elif path == "/bad-header-name":
        await _start(send, [(b"x bad:name", b"value")])
        await send({"type": "http.response.body", "body": b"bad name"})
    elif path == "/nul-header-value":
        await _start(send, [(b"x-nul", b"a\x00b")])
        await send({"type": "http.response.body", "body": b"nul"})
    elif path == "/bad-content-length":
        await _start(send, [(b"content-length", b"ten")])
        await send({"type": "http.response.body", "body": b"0123456789"})
    elif path.startswith("/status/"):
        status: Any = path.rsplit("/", 1)[1]
        await send(
            {
                "type": "http.response.start",
                "status": int(status) if status.isdigit() else status,
                "headers": [],
            }
        )
        await send({"type": "http.response.body", "body": b"odd status"})
    else:
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b"not found"})
