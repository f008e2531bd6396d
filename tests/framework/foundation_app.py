"""A raw ASGI app over aster.requests, for end-to-end tests through the real server.

It uses no router and no response classes: only ``Request``, the form parsers
and the threadpool, answering with hand-written ASGI messages.
"""

from __future__ import annotations

import hashlib
import json
import threading
from typing import Any

from aster.concurrency import run_in_threadpool
from aster.datastructures import UploadFile
from aster.requests import Request
from aster.types import Receive, Scope, Send


async def _json(send: Send, status: int, data: Any) -> None:
    body = json.dumps(data).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _upload(request: Request) -> dict[str, Any]:
    async with request.form(max_files=2) as form:
        upload = form["file"]
        assert isinstance(upload, UploadFile)
        rolled = upload.file._rolled  # type: ignore[attr-defined]
        digest = hashlib.sha256()
        read = 0
        while chunk := await upload.read(256 * 1024):
            digest.update(chunk)
            read += len(chunk)
        return {
            "filename": upload.filename,
            "content_type": upload.content_type,
            "size": upload.size,
            "read": read,
            "sha256": digest.hexdigest(),
            "rolled_to_disk": rolled,
            "note": form["note"],
        }


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    request = Request(scope, receive, send)
    path = request.url.path
    if path == "/echo":
        await _json(
            send,
            200,
            {
                "method": request.method,
                "url": str(request.url),
                "base_url": str(request.base_url),
                "query": request.query_params.multi_items(),
                "q": request.query_params.get("q"),
                "agent": request.headers.get("user-agent"),
                "x": request.headers.getlist("x-multi"),
                "cookies": request.cookies,
                "client_host": request.client.host if request.client else None,
                "body": (await request.body()).decode(),
            },
        )
    elif path == "/upload":
        try:
            await _json(send, 200, await _upload(request))
        except Exception as exc:  # the framework would answer these; here: report them
            await _json(send, getattr(exc, "status_code", 500), {"error": str(exc)})
    elif path == "/disconnected":
        # No disconnect is pending, and the check must not wait for one (or eat the body).
        first = await request.is_disconnected()
        await _json(send, 200, {"disconnected": first, "body": (await request.body()).decode()})
    elif path == "/thread":
        name = await run_in_threadpool(lambda: threading.current_thread().name)
        await _json(send, 200, {"thread": name})
    else:
        await _json(send, 404, {"detail": "Not Found"})
