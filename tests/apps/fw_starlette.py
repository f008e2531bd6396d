"""A plain Starlette-style app on the Starlette modules aster adds (tests/test_starlette_server.py).

Middleware, outermost first: OpenTelemetry (spans printed as one log line each), sessions,
authentication (HTTP Basic). Routes: an ``HTTPEndpoint``, session login/logout, ``@requires``
views, ``WebSocketEndpoint``s, a docstring schema, and a WSGI app mounted at ``/legacy``.
"""

from __future__ import annotations

import base64
import binascii
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

from aster.applications import Starlette
from aster.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    BaseUser,
    SimpleUser,
    requires,
)
from aster.endpoints import HTTPEndpoint, WebSocketEndpoint
from aster.exceptions import StarletteDeprecationWarning
from aster.middleware import Middleware
from aster.middleware.authentication import AuthenticationMiddleware
from aster.middleware.opentelemetry import OpenTelemetryMiddleware
from aster.middleware.sessions import SessionMiddleware
from aster.requests import HTTPConnection, Request
from aster.responses import JSONResponse, PlainTextResponse, Response
from aster.routing import Mount, Route, WebSocketRoute
from aster.schemas import SchemaGenerator
from aster.websockets import WebSocket

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from aster.middleware.wsgi import WSGIMiddleware

SECRET = "fw-starlette-secret"


class LineExporter(SpanExporter):
    """Prints each finished span as ``otel-span <name> status=<code>``: the test reads the log."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        for span in spans:
            status = (span.attributes or {}).get("http.response.status_code")
            print(f"otel-span {span.name} status={status}", flush=True)
        return SpanExportResult.SUCCESS


tracer_provider = TracerProvider()
tracer_provider.add_span_processor(SimpleSpanProcessor(LineExporter()))


class BasicAuth(AuthenticationBackend):
    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        header = conn.headers.get("authorization")
        if header is None:
            return None
        try:
            scheme, encoded = header.split()
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError, binascii.Error):
            raise AuthenticationError("Invalid basic auth credentials") from None
        if scheme.lower() != "basic" or password != "secret":
            raise AuthenticationError("Invalid basic auth credentials")
        return AuthCredentials(["authenticated"]), SimpleUser(user)


class Item(HTTPEndpoint):
    async def get(self, request: Request) -> JSONResponse:
        """
        responses:
          200:
            description: One item.
        """
        return JSONResponse({"item_id": request.path_params["item_id"], "method": "get"})

    def put(self, request: Request) -> JSONResponse:
        return JSONResponse({"item_id": request.path_params["item_id"], "method": "put"})


async def login(request: Request) -> JSONResponse:
    form = await request.form()
    request.session["user"] = form["user"]
    return JSONResponse({"logged_in": form["user"]})


async def me(request: Request) -> JSONResponse:
    return JSONResponse({"user": request.session.get("user")})


async def logout(request: Request) -> JSONResponse:
    request.session.clear()
    return JSONResponse({"logged_in": None})


@requires("authenticated")
async def private(request: Request) -> JSONResponse:
    return JSONResponse({"user": request.user.display_name, "scopes": request.auth.scopes})


@requires("authenticated", redirect="me")
def account(request: Request) -> PlainTextResponse:
    return PlainTextResponse(f"account of {request.user.display_name}")


class JsonEcho(WebSocketEndpoint):
    encoding = "json"

    async def on_receive(self, websocket: WebSocket, data: Any) -> None:
        await websocket.send_json({"echo": data, "user": websocket.user.display_name})


class TextOnly(WebSocketEndpoint):
    encoding = "text"

    async def on_receive(self, websocket: WebSocket, data: str) -> None:
        await websocket.send_text(data.upper())


@requires("authenticated")
async def private_ws(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(f"hello {websocket.user.display_name}")
    await websocket.close()


schemas = SchemaGenerator({"openapi": "3.1.0", "info": {"title": "fw_starlette", "version": "1"}})


def schema(request: Request) -> Response:
    return schemas.OpenAPIResponse(request)


def legacy(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
    """A WSGI app: echoes a POST body, or streams three lines."""
    if environ["REQUEST_METHOD"] == "POST":
        body = environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        yield body
        return
    start_response("200 OK", [("Content-Type", "text/plain")])
    for n in range(3):
        yield f"{environ['SCRIPT_NAME']}{environ['PATH_INFO']} line {n}\n".encode()


app = Starlette(
    routes=[
        Route("/items/{item_id:int}", Item),
        Route("/login", login, methods=["POST"]),
        Route("/me", me, name="me"),
        Route("/logout", logout, methods=["POST"]),
        Route("/private", private),
        Route("/account", account),
        Route("/schema", schema, include_in_schema=False),
        WebSocketRoute("/ws/echo", JsonEcho),
        WebSocketRoute("/ws/text", TextOnly),
        WebSocketRoute("/ws/private", private_ws),
        Mount("/legacy", WSGIMiddleware(legacy)),
    ],
    middleware=[
        Middleware(OpenTelemetryMiddleware, tracer_provider=tracer_provider),
        Middleware(SessionMiddleware, secret_key=SECRET, max_age=3600),
        Middleware(AuthenticationMiddleware, backend=BasicAuth()),
    ],
)
