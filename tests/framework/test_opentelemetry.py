"""``OpenTelemetryMiddleware``: one server span per HTTP request, named from the matched route.

Spans are recorded with the SDK's in-memory exporter. Over a real server (spans printed by the
console exporter in the server process): tests/test_starlette_server.py.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import aster
from aster import FastAPI
from aster.applications import Starlette
from aster.middleware import Middleware
from aster.middleware.opentelemetry import OpenTelemetryMiddleware
from aster.requests import Request
from aster.responses import PlainTextResponse
from aster.routing import Host, Mount, Route, Router, WebSocketRoute
from aster.testclient import TestClient
from aster.websockets import WebSocket

from .asgi import call, make_scope


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    yield exporter
    exporter.shutdown()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> Iterator[TracerProvider]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider
    provider.shutdown()


def hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse("hello")


def boom(request: Request) -> PlainTextResponse:
    raise LookupError("boom")


def traced(provider: TracerProvider, routes: list[Any], **options: Any) -> Starlette:
    middleware = Middleware(OpenTelemetryMiddleware, tracer_provider=provider, **options)
    return Starlette(routes=routes, middleware=[middleware])


def only_span(exporter: InMemorySpanExporter) -> ReadableSpan:
    spans = exporter.get_finished_spans()
    assert len(spans) == 1, spans
    return spans[0]


def test_span_named_from_the_route_with_semantic_attributes(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    app = traced(provider, [Route("/users/{name}", hello)])
    response = TestClient(app).get("/users/ada?format=json", headers={"user-agent": "probe/1"})
    assert response.status_code == 200
    span = only_span(exporter)
    assert span.name == "GET /users/{name}"
    assert span.kind is SpanKind.SERVER
    assert span.status.status_code is StatusCode.UNSET
    assert span.instrumentation_scope is not None
    assert span.instrumentation_scope.name == "aster"
    assert span.instrumentation_scope.version == aster.__version__
    assert dict(span.attributes or {}) == {
        "http.request.method": "GET",
        "http.route": "/users/{name}",
        "http.response.status_code": 200,
        "url.path": "/users/ada",
        "url.query": "format=json",
        "url.scheme": "http",
        "server.address": "testserver",
        "server.port": 80,
        "network.protocol.version": "1.1",
        "client.address": "testclient",
        "user_agent.original": "probe/1",
    }


def test_mounted_routes_and_unmatched_mounts(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    client = TestClient(traced(provider, [Mount("/api", Router([Route("/items/{id}", hello)]))]))
    assert client.get("/api/items/1").status_code == 200
    assert only_span(exporter).name == "GET /api/items/{id}"
    exporter.clear()
    assert client.get("/api/nothing").status_code == 404
    span = only_span(exporter)
    assert span.name == "GET /api"
    assert span.attributes is not None and span.attributes["http.route"] == "/api"


def test_no_route_template_keeps_the_bare_method(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    client = TestClient(traced(provider, [Host("testserver", PlainTextResponse("hosted"))]))
    assert client.get("/").text == "hosted"
    span = only_span(exporter)
    assert span.name == "GET"
    assert span.attributes is not None and "http.route" not in span.attributes
    exporter.clear()
    raw = OpenTelemetryMiddleware(PlainTextResponse("raw"), tracer_provider=provider)
    assert TestClient(raw).get("/x").text == "raw"
    assert only_span(exporter).name == "GET"


def test_nested_middlewares_make_one_span(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    inner = traced(provider, [Route("/users/{name}", hello)])
    outer = traced(provider, [Mount("/api", inner)])
    assert TestClient(outer).get("/api/users/ada").status_code == 200
    assert only_span(exporter).name == "GET /api/users/{name}"


@pytest.mark.parametrize(
    ("excluded", "skipped", "traced_path"),
    [
        ([r"/health$"], "/health", "/"),
        (r"/health$, /metrics$", "/metrics", "/"),
        ([r"^http://testserver/health\?full"], "/health?full=1", "/health"),
    ],
)
def test_excluded_urls(
    provider: TracerProvider,
    exporter: InMemorySpanExporter,
    excluded: Any,
    skipped: str,
    traced_path: str,
) -> None:
    routes = [Route("/", hello), Route("/health", hello), Route("/metrics", hello)]
    client = TestClient(traced(provider, routes, excluded_urls=excluded))
    assert client.get(skipped).status_code == 200
    assert exporter.get_finished_spans() == ()
    assert client.get(traced_path).status_code == 200
    assert only_span(exporter).name == f"GET {traced_path}"


def test_server_errors_and_exceptions_are_recorded(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    app = traced(provider, [Route("/boom", boom), Route("/busy", PlainTextResponse("", 503))])
    client = TestClient(app, raise_server_exceptions=False)
    assert client.get("/boom").status_code == 500
    span = only_span(exporter)
    assert span.attributes is not None
    assert span.attributes["error.type"] == "LookupError"
    # The 500 is written by ServerErrorMiddleware, outside the user's middleware.
    assert "http.response.status_code" not in span.attributes
    assert span.status.status_code is StatusCode.ERROR
    assert [event.name for event in span.events] == ["exception"]
    exporter.clear()
    assert client.get("/busy").status_code == 503
    span = only_span(exporter)
    assert span.attributes is not None and span.attributes["error.type"] == "503"
    assert span.status.status_code is StatusCode.ERROR


def test_remote_parent_is_continued(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    trace_id, parent_id = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
    app = traced(provider, [Route("/", hello)])
    TestClient(app).get("/", headers={"traceparent": f"00-{trace_id}-{parent_id}-01"})
    span = only_span(exporter)
    assert span.context is not None and span.parent is not None
    assert span.context.trace_id == int(trace_id, 16)
    assert (span.parent.span_id, span.parent.is_remote) == (int(parent_id, 16), True)


def test_global_provider_and_no_op_provider(
    monkeypatch: pytest.MonkeyPatch, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: provider)
    app = Starlette(routes=[Route("/", hello)], middleware=[Middleware(OpenTelemetryMiddleware)])
    assert TestClient(app).get("/").status_code == 200
    assert only_span(exporter).name == "GET /"
    exporter.clear()
    noop = OpenTelemetryMiddleware(
        PlainTextResponse("x"), tracer_provider=trace.NoOpTracerProvider()
    )
    assert TestClient(noop).get("/").status_code == 200
    assert exporter.get_finished_spans() == ()


def test_fastapi_routes_are_named_too(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    app = FastAPI()
    app.add_middleware(OpenTelemetryMiddleware, tracer_provider=provider)

    @app.get("/items/{item_id}")
    async def read(item_id: int) -> dict[str, int]:
        return {"item_id": item_id}

    assert TestClient(app).get("/items/3").json() == {"item_id": 3}
    assert only_span(exporter).name == "GET /items/{item_id}"


def test_lowercase_method_and_sparse_scope(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    scope = make_scope(method="get", server=("example.com", 8000))
    del scope["client"], scope["http_version"]
    app = OpenTelemetryMiddleware(PlainTextResponse("raw"), tracer_provider=provider)
    asyncio.run(call(app, scope))
    attributes = dict(only_span(exporter).attributes or {})
    assert attributes["http.request.method"] == "GET"
    assert attributes["http.request.method_original"] == "get"
    assert (attributes["server.address"], attributes["server.port"]) == ("example.com", 8000)
    assert "network.protocol.version" not in attributes
    assert "client.address" not in attributes
    assert "starlette.opentelemetry" not in scope  # the marker does not outlive the request


def test_websockets_are_not_traced(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.close()

    with TestClient(traced(provider, [WebSocketRoute("/ws", ws)])).websocket_connect("/ws"):
        pass
    assert exporter.get_finished_spans() == ()


def test_opentelemetry_is_imported_only_with_the_middleware() -> None:
    code = (
        "import sys, aster, aster.middleware, aster.applications\n"
        "assert 'opentelemetry' not in sys.modules\n"
        "import aster.middleware.opentelemetry\n"
        "assert 'opentelemetry' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
