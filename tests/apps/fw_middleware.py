"""A FastAPI app with the built-in middlewares, served by ``aster run`` for socket tests.

``app``: ``TrustedHost -> CORS -> @app.middleware("http") -> GZip -> routes``
(last added is outermost).  Allowed hosts: 127.0.0.1, localhost, *.example.com.
CORS allows ``https://app.example`` (credentials, ``X-Token``, exposes ``X-Ctx``).
The ``http`` middleware reports the ContextVar the endpoint set in ``x-ctx``
and, for ``POST /echo``, what it read of the body in ``x-middleware-saw``.

- ``/large`` 4000 bytes of text, ``/small`` a short text, ``/sse`` an event
  stream of three 400-byte events 0.3 s apart (never gzipped, never buffered),
  ``/boom`` raises (a 500 that keeps its CORS headers).
- ``/slow-stream`` three chunks 0.4 s apart (first chunk immediately).
- ``/ctx``: the endpoint sets the ContextVar.
- ``/echo``: answers the JSON body it received.
- ``/background?id=``: answers at once; its task sleeps 1.5 s, then records
  ``finished``; ``/status?id=`` reports it.

``redirect_app``: ``HTTPSRedirectMiddleware`` in front of a single route.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
from collections.abc import AsyncIterator
from typing import Any

from aster import BackgroundTasks, FastAPI, Request
from aster.middleware.cors import CORSMiddleware
from aster.middleware.gzip import GZipMiddleware
from aster.middleware.httpsredirect import HTTPSRedirectMiddleware
from aster.middleware.trustedhost import TrustedHostMiddleware
from aster.responses import PlainTextResponse, Response, StreamingResponse

VAR: contextvars.ContextVar[str] = contextvars.ContextVar("fw_middleware_var", default="unset")
RESULTS: dict[str, dict[str, Any]] = {}
LARGE = "x" * 4000

app = FastAPI()


async def report(request: Request, call_next: Any) -> Response:
    seen = await request.json() if request.url.path == "/echo" else None
    response: Response = await call_next(request)
    response.headers["x-ctx"] = VAR.get()
    if seen is not None:
        response.headers["x-middleware-saw"] = json.dumps(seen)
    return response


app.add_middleware(GZipMiddleware, minimum_size=500)
# Outside GZip: a BaseHTTPMiddleware sends each body as a chunk and an empty final message
# (Starlette's shape), which a GZip outside it would have to treat as a stream.
app.middleware("http")(report)
app.add_middleware(
    CORSMiddleware,
    allow_origins=["https://app.example"],
    allow_methods=["GET", "POST"],
    allow_headers=["X-Token"],
    allow_credentials=True,
    expose_headers=["X-Ctx"],
    max_age=123,
)
app.add_middleware(TrustedHostMiddleware, allowed_hosts=["127.0.0.1", "localhost", "*.example.com"])


@app.get("/large")
async def large() -> PlainTextResponse:
    return PlainTextResponse(LARGE)


@app.get("/small")
async def small() -> PlainTextResponse:
    return PlainTextResponse("tiny")


@app.get("/sse")
async def sse() -> StreamingResponse:
    async def events() -> AsyncIterator[str]:
        for n in range(3):
            if n:
                await asyncio.sleep(0.3)
            yield f"data: {n} {'.' * 400}\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


@app.get("/slow-stream")
async def slow_stream() -> StreamingResponse:
    async def chunks() -> AsyncIterator[str]:
        for n in range(3):
            if n:
                await asyncio.sleep(0.4)
            yield f"chunk {n} {'-' * 600}\n"

    return StreamingResponse(chunks(), media_type="text/plain")


@app.get("/boom")
async def boom() -> None:
    raise RuntimeError("boom")


@app.get("/ctx")
async def ctx() -> dict[str, str]:
    VAR.set("set by the endpoint")
    return {"ok": "yes"}


@app.post("/echo")
async def echo(request: Request) -> Any:
    return {"endpoint": await request.json()}


@app.get("/background")
async def background(id: str, tasks: BackgroundTasks) -> dict[str, str]:
    record = RESULTS.setdefault(id, {"finished": False})

    async def later() -> None:
        await asyncio.sleep(1.5)
        record["finished"] = True

    tasks.add_task(later)
    return {"answered": id}


@app.get("/status")
async def status(id: str) -> dict[str, Any]:
    return RESULTS.get(id, {})


redirect_app = FastAPI()
redirect_app.add_middleware(HTTPSRedirectMiddleware)


@redirect_app.get("/where")
async def where() -> dict[str, str]:
    return {"here": "yes"}
