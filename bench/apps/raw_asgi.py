"""The raw ASGI app every server runs in the raw-ASGI comparison.

No framework on top, so the numbers measure the servers: the protocol code, the
scope/receive/send cycle and the event loop.  One module serves every scenario:

- ``GET /``       -> 200 ``text/plain`` "Hello, world!"
- ``POST /echo``  -> reads the whole body, answers 200 with the same bytes
- anything else   -> 404
"""

from __future__ import annotations

from typing import Any

HELLO = b"Hello, world!"

PLAIN_START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"text/plain"), (b"content-length", b"13")],
}
PLAIN_BODY = {"type": "http.response.body", "body": HELLO}
NOT_FOUND_START = {
    "type": "http.response.start",
    "status": 404,
    "headers": [(b"content-type", b"text/plain"), (b"content-length", b"9")],
}
NOT_FOUND_BODY = {"type": "http.response.body", "body": b"Not Found"}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    kind = scope["type"]
    if kind == "http":
        path = scope["path"]
        if path == "/" and scope["method"] in ("GET", "HEAD"):
            await send(PLAIN_START)
            await send(PLAIN_BODY)
        elif path == "/echo" and scope["method"] == "POST":
            await echo(scope, receive, send)
        else:
            await send(NOT_FOUND_START)
            await send(NOT_FOUND_BODY)
    elif kind == "lifespan":
        await lifespan(receive, send)


async def echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Read the full body first (as a real handler would), then send it back in one piece."""
    message = await receive()
    body = message.get("body", b"")
    if message.get("more_body", False):
        chunks = [body]
        while message.get("more_body", False):
            message = await receive()
            chunks.append(message.get("body", b""))
        body = b"".join(chunks)
    content_type = b"application/octet-stream"
    for name, value in scope["headers"]:
        if name.lower() == b"content-type":
            content_type = value
            break
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
