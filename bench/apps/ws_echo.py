"""The raw ASGI app both servers run in the WebSocket comparison (``--suite websocket``).

No framework, so the numbers measure the servers' WebSocket code: the handshake, frame
parsing and masking, and the receive/send cycle.

- WebSocket ``/ws``  -> accepted, every message echoed back as it came (text or binary),
  until the client closes
- WebSocket elsewhere -> refused (closed before accept: an HTTP 403)
- HTTP ``GET /``      -> 200 ``text/plain`` "ok" (the bench's readiness probe)
- HTTP ``/ws``        -> 426 Upgrade Required (a plain GET cannot open the socket)
- HTTP elsewhere      -> 404
"""

from __future__ import annotations

from typing import Any

ACCEPT = {"type": "websocket.accept"}
REFUSE = {"type": "websocket.close", "code": 1008}


def _plain(status: int, body: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
    if status == 426:
        headers += [(b"upgrade", b"websocket"), (b"connection", b"Upgrade")]
    return (
        {"type": "http.response.start", "status": status, "headers": headers},
        {"type": "http.response.body", "body": body},
    )


OK = _plain(200, b"ok")
UPGRADE_REQUIRED = _plain(426, b"Upgrade Required")
NOT_FOUND = _plain(404, b"Not Found")


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    kind = scope["type"]
    if kind == "websocket":
        await echo(scope, receive, send)
    elif kind == "http":
        path = scope["path"]
        start, body = OK if path == "/" else UPGRADE_REQUIRED if path == "/ws" else NOT_FOUND
        await send(start)
        await send(body)
    elif kind == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return


async def echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await receive()  # websocket.connect
    if scope["path"] != "/ws":
        await send(REFUSE)
        return
    await send(ACCEPT)
    while True:
        message = await receive()
        if message["type"] != "websocket.receive":
            return  # websocket.disconnect: the server has finished the close handshake
        text = message.get("text")
        if text is not None:
            await send({"type": "websocket.send", "text": text})
        else:
            await send({"type": "websocket.send", "bytes": message.get("bytes")})
