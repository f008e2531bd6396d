"""An app built from aster's responses and middleware only (no router), for socket tests.

``app`` is ``ServerErrorMiddleware -> BaseHTTPMiddleware -> ExceptionMiddleware
-> endpoints``; ``plain_app`` is the same without the ``BaseHTTPMiddleware``.
Both print every ASGI message type they hand the server (``APP: sent <type>``)
so tests can see, for instance, that ``http.response.pathsend`` was used.

Experiments are keyed by ``?id=``; what happened is kept in ``RESULTS[id]``
and read back through ``/status?id=..&wait=<key>``.

- ``/stream``: a streamed body: ``first``, then (after ``/release``) ``second``.
- ``/idle``: sends one event, then waits forever; records ``closed`` when
  the generator is closed (the client went away).
- ``/sync-stream``: a sync generator; records the thread it ran in.
- ``/background``: answers ``done``; its background task waits for
  ``/release`` and then records ``finished``.
- ``/ctx``: the endpoint sets a ContextVar; the middleware reports it in ``x-ctx``.
- ``/echo``: the middleware reads the JSON body; the endpoint answers it back.
- ``/file``: a ``FileResponse`` of a 300 KiB file (``?range`` forwarded as-is).
- ``/boom``: raises ``RuntimeError``.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import os
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import parse_qs

from aster.background import BackgroundTask
from aster.middleware.base import BaseHTTPMiddleware
from aster.middleware.errors import ServerErrorMiddleware
from aster.middleware.exceptions import ExceptionMiddleware
from aster.requests import Request
from aster.responses import FileResponse, JSONResponse, PlainTextResponse, StreamingResponse

RESULTS: dict[str, dict[str, Any]] = {}
RELEASE: dict[str, asyncio.Event] = {}
VAR: contextvars.ContextVar[str] = contextvars.ContextVar("VAR", default="unset")

FILE_DATA = bytes(range(256)) * 1200  # 300 KiB
#: Removed when the server process exits (a bare mkdtemp() left one behind per run).
_FILE_DIR = tempfile.TemporaryDirectory(prefix="aster-fw-")
FILE_PATH = os.path.join(_FILE_DIR.name, "data.bin")
with open(FILE_PATH, "wb") as fh:
    fh.write(FILE_DATA)


def _event(key: str) -> asyncio.Event:
    return RELEASE.setdefault(key, asyncio.Event())


async def endpoints(scope: dict[str, Any], receive: Any, send: Any) -> None:
    request = Request(scope, receive, send)
    query = {k: v[0] for k, v in parse_qs(scope["query_string"].decode()).items()}
    key = query.get("id", "")
    record = RESULTS.setdefault(key, {})
    path = scope["path"]
    response: Any
    if path == "/stream":

        async def stream() -> AsyncIterator[str]:
            yield "first\n"
            await _event(key).wait()
            yield "second\n"

        response = StreamingResponse(stream(), media_type="text/plain")
    elif path == "/idle":

        async def idle() -> AsyncIterator[bytes]:
            try:
                yield b"data: hello\n\n"
                await asyncio.Event().wait()
            finally:
                record["closed"] = True
                print(f"APP: idle generator closed {key}", flush=True)

        response = StreamingResponse(idle(), media_type="text/event-stream")
    elif path == "/sync-stream":

        def numbers() -> Iterator[str]:
            record["thread"] = threading.current_thread().name
            yield from ("1", "2", "3")

        response = StreamingResponse(numbers())
    elif path == "/background":

        async def later() -> None:
            record["started"] = True
            await _event(key).wait()
            record["finished"] = True

        response = PlainTextResponse("done", background=BackgroundTask(later))
    elif path == "/release":
        _event(key).set()
        response = PlainTextResponse("released")
    elif path == "/ctx":
        VAR.set(f"endpoint-{key}")
        response = PlainTextResponse("ctx")
    elif path == "/echo":
        response = JSONResponse({"endpoint": await request.json()})
    elif path == "/file":
        response = FileResponse(FILE_PATH)
    elif path == "/boom":
        raise RuntimeError("boom")
    elif path == "/status":
        wanted = query.get("wait")
        for _ in range(1000):
            if not wanted or wanted in record:
                break
            await asyncio.sleep(0.01)
        response = JSONResponse(record)
    else:
        response = PlainTextResponse("not found", status_code=404)
    await response(scope, receive, send)


class Middleware(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: Any) -> Any:
        seen = None
        if request.url.path == "/echo":
            seen = await request.json()
        response = await call_next(request)
        response.headers["x-ctx"] = VAR.get()
        if seen is not None:
            response.headers["x-middleware-saw"] = json.dumps(seen)
        return response


def traced(inner: Any) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await inner(scope, receive, send)

        async def tracing_send(message: dict[str, Any]) -> None:
            print(f"APP: sent {message['type']}", flush=True)
            await send(message)

        await inner(scope, receive, tracing_send)

    return app


async def _lifespan_or(inner: Any, scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await inner(scope, receive, send)


_stack = traced(ServerErrorMiddleware(Middleware(ExceptionMiddleware(endpoints))))
_plain_stack = traced(ServerErrorMiddleware(ExceptionMiddleware(endpoints)))


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await _lifespan_or(_stack, scope, receive, send)


async def plain_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await _lifespan_or(_plain_stack, scope, receive, send)
