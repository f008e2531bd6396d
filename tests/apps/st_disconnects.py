"""Endless responses for tests/test_disconnects_server.py: what a client that leaves must stop.

Every stream counts what it produced in ``STATE`` (read back through ``/state``) and prints
``APP: <name> closed`` when its generator is closed, so a test sees whether it stopped.

- ``/busy``: a StreamingResponse whose generator never awaits (only ``send`` can stop it);
- ``/upload`` (POST): the same while the request body is left unread;
- ``/file``: a FileResponse of a 32 MiB file (``APP: file closed`` when its file is closed);
- ``/mw/...``: behind a ``BaseHTTPMiddleware``: ``busy`` passed through, ``wrapped`` (dispatch
  re-streams ``body_iterator``), ``replaced`` (dispatch discards the app's endless response
  for its own), and ``stubborn``: a raw ASGI app that ignores the error ``send`` raises and
  keeps sending.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import AsyncIterator
from typing import IO, Any

from aster._fileresponse import FileResponse
from aster._response import JSONResponse, PlainTextResponse, Response
from aster._router import Mount
from aster._routes import Route
from aster._starlette_applications import Starlette
from aster._streaming_response import StreamingResponse
from aster.middleware import Middleware
from aster.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from aster.requests import Request
from aster.types import Receive, Scope, Send

STATE: dict[str, int] = {}

#: Removed when the server process exits (a bare mkdtemp() left one behind per run).
_FILE_DIR = tempfile.TemporaryDirectory(prefix="aster-disconnects-")
FILE_PATH = os.path.join(_FILE_DIR.name, "big.bin")
with open(FILE_PATH, "wb") as fh:
    fh.write(os.urandom(1 << 20) * 32)


def _count(key: str) -> None:
    STATE[key] = STATE.get(key, 0) + 1


async def _busy(name: str) -> AsyncIterator[bytes]:
    """Yields forever without awaiting anything: only the response's ``send`` can stop it."""
    chunk = b"x" * 16384
    try:
        while True:
            yield chunk
            _count(f"{name}_yielded")
    finally:
        _count(f"{name}_closed")
        print(f"APP: {name} closed", flush=True)


async def busy(request: Request) -> Response:
    return StreamingResponse(_busy(request.path_params.get("name", "busy")))


async def upload(request: Request) -> Response:
    return StreamingResponse(_busy("upload"))


class TrackedFile(FileResponse):
    async def _open(self, start: int = 0) -> IO[bytes]:
        file = await super()._open(start)
        close = file.close

        def tracked_close() -> None:
            close()
            _count("file_closed")
            print("APP: file closed", flush=True)

        file.close = tracked_close  # type: ignore[method-assign]
        _count("file_opened")
        return file


async def big_file(request: Request) -> Response:
    return TrackedFile(FILE_PATH)


async def state(request: Request) -> Response:
    return JSONResponse(STATE)


async def stubborn(scope: Scope, receive: Receive, send: Send) -> None:
    """Ignores every error its ``send`` raises and sends again, forever."""
    await send({"type": "http.response.start", "status": 200, "headers": []})
    chunk = b"y" * 16384
    try:
        while True:
            try:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            except OSError:
                _count("stubborn_send_errors")
            _count("stubborn_yielded")
            await asyncio.sleep(0)
    finally:
        _count("stubborn_closed")
        print("APP: stubborn closed", flush=True)


class Dispatch(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        name = request.url.path.rsplit("/", 1)[-1]
        if name == "wrapped":
            iterator: Any = response.body_iterator  # type: ignore[attr-defined]

            async def rewrapped() -> AsyncIterator[bytes]:
                async for chunk in iterator:
                    yield chunk

            return StreamingResponse(rewrapped())
        if name == "replaced":
            return PlainTextResponse("z" * (1 << 20))
        return response


app = Starlette(
    routes=[
        Route("/busy", busy),
        Route("/upload", upload, methods=["POST"]),
        Route("/file", big_file),
        Route("/state", state),
        Mount(
            "/mw",
            routes=[Mount("/stubborn", app=stubborn), Route("/{name}", busy)],
            middleware=[Middleware(Dispatch)],
        ),
    ]
)
