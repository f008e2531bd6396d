"""Native telemetry, ``FastAPI(telemetry={...})``: spans, metrics and logs of one app.

Recorded with the SDK's in-memory exporter, reader and log exporter, through providers
passed to the app (the global ones are set once per process, so the tests that need them
run in a subprocess). Over a real ``aster run`` with OTLP export: tests/test_telemetry_server.py.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from typing import Annotated, Any

import pytest
from opentelemetry import trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider, LogRecordProcessor
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from pydantic import BaseModel

from aster import (
    BackgroundTasks,
    Depends,
    FastAPI,
    HTTPException,
    Response,
    _telemetry_hooks,
    routing,
)
from aster.middleware.errors import ServerErrorMiddleware
from aster.responses import PlainTextResponse
from aster.routing import APIRouter
from aster.telemetry import TelemetryData, get_telemetry_data
from aster.telemetry._asgi import ExceptionTelemetryMiddleware, NativeTelemetry
from aster.testclient import TestClient
from aster.websockets import WebSocket, WebSocketDisconnect

ROOT = __file__.rsplit("/tests/", 1)[0]


class Recorded:
    """The app's settings and what its providers recorded."""

    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        self.tracer_provider = TracerProvider(shutdown_on_exit=False)
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader], shutdown_on_exit=False)
        self.logs = InMemoryLogRecordExporter()
        self.logger_provider = LoggerProvider(shutdown_on_exit=False)
        self.logger_provider.add_log_record_processor(SimpleLogRecordProcessor(self.logs))
        self.config: dict[str, Any] = {
            "tracer_provider": self.tracer_provider,
            "meter_provider": self.meter_provider,
            "logger_provider": self.logger_provider,
        }

    def server_spans(self) -> list[ReadableSpan]:
        return [s for s in self.spans.get_finished_spans() if s.kind == SpanKind.SERVER]

    def names(self) -> list[str]:
        return [s.name for s in self.spans.get_finished_spans()]

    def points(self, name: str = "http.server.request.duration") -> list[Any]:
        data = self.reader.get_metrics_data()
        if data is None:
            return []
        return [
            point
            for resource in data.resource_metrics
            for scope in resource.scope_metrics
            for metric in scope.metrics
            if metric.name == name
            for point in metric.data.data_points
        ]

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()
        self.logger_provider.shutdown()


@pytest.fixture(autouse=True)
def plain_hot_path_afterwards() -> Iterator[None]:
    """A recorded request switches the process to the traced handlers; the rest of the
    suite runs the plain ones again."""
    yield
    _telemetry_hooks.active = False


@pytest.fixture
def recorded() -> Iterator[Recorded]:
    recorded = Recorded()
    yield recorded
    recorded.shutdown()


def dependency() -> str:
    return "private value"


def test_server_span_metrics_and_operation_spans(recorded: Recorded) -> None:
    app = FastAPI(telemetry=recorded.config)
    seen = []

    @app.get("/items/{item_id}")
    async def read_item(item_id: int, value: Annotated[str, Depends(dependency)]) -> dict:
        seen.append(trace.get_current_span().get_span_context())
        return {"item_id": item_id}

    parent_trace, parent_span = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
    response = TestClient(app).get(
        "/items/7?page=2&sig=secret-signature",
        headers={"traceparent": f"00-{parent_trace}-{parent_span}-01"},
    )
    assert response.status_code == 200
    assert response.json() == {"item_id": 7}
    (server,) = recorded.server_spans()
    assert server.name == "GET /items/{item_id}"
    assert server.context.trace_id == int(parent_trace, 16)
    assert server.parent is not None and server.parent.span_id == int(parent_span, 16)
    assert server.status.status_code == StatusCode.UNSET
    attributes = dict(server.attributes or {})
    assert attributes["http.route"] == "/items/{item_id}"
    assert attributes["http.request.method"] == "GET"
    assert attributes["http.response.status_code"] == 200
    assert attributes["url.path"] == "/items/7"
    assert attributes["url.query"] == "page=2&sig=REDACTED"
    assert attributes["url.scheme"] == "http"
    assert attributes["server.address"] == "testserver"
    assert attributes["server.port"] == 80
    assert "secret-signature" not in repr(attributes)
    children = [s for s in recorded.spans.get_finished_spans() if s is not server]
    assert sorted(s.name for s in children) == [
        "fastapi.dependencies",
        "fastapi.endpoint",
        "fastapi.serialization",
    ]
    assert all(
        s.parent is not None and s.parent.span_id == server.context.span_id for s in children
    )
    endpoint = next(s for s in children if s.name == "fastapi.endpoint")
    assert endpoint.context == seen[0]
    assert endpoint.attributes == {"code.function.name": f"{__name__}.{read_item.__qualname__}"}
    assert "private value" not in repr([s.attributes for s in children])
    (point,) = recorded.points()
    assert point.count == 1
    assert point.attributes == {
        "url.scheme": "http",
        "http.request.method": "GET",
        "network.protocol.version": "1.1",
        "http.route": "/items/{item_id}",
        "http.response.status_code": 200,
    }
    (active,) = recorded.points("http.server.active_requests")
    assert active.value == 0
    assert not trace.get_current_span().get_span_context().is_valid  # nothing leaked


def test_sync_endpoint_span_starts_in_the_worker_thread(recorded: Recorded) -> None:
    app = FastAPI(telemetry=recorded.config)
    threads = {}

    @app.get("/")
    def endpoint() -> str:
        threads["endpoint"] = threading.get_ident()
        threads["span"] = trace.get_current_span().get_span_context()
        return "ok"

    assert TestClient(app).get("/").json() == "ok"
    span = next(s for s in recorded.spans.get_finished_spans() if s.name == "fastapi.endpoint")
    assert span.context == threads["span"]
    assert threads["endpoint"] != threading.get_ident()


@pytest.mark.parametrize(
    ("path", "status", "route", "error_type"),
    [
        ("/ok", 200, "/ok", None),
        ("/missing", 404, None, None),
        ("/valid/no", 422, "/valid/{value}", None),
        ("/fail", 500, "/fail", "ValueError"),
        ("/unavailable", 503, "/unavailable", "503"),
        ("/ok/", 307, "/ok", None),
    ],
)
def test_statuses(
    recorded: Recorded, path: str, status: int, route: str | None, error_type: str | None
) -> None:
    app = FastAPI(telemetry=recorded.config)

    @app.get("/ok")
    def ok() -> str:
        return "ok"

    @app.get("/valid/{value}")
    def valid(value: int) -> int:
        return value

    @app.get("/fail")
    def fail() -> None:
        raise ValueError("private failure")

    @app.get("/unavailable")
    def unavailable() -> None:
        raise HTTPException(503, "down")

    client = TestClient(app, raise_server_exceptions=False)
    assert client.get(path, follow_redirects=False).status_code == status
    (span,) = recorded.server_spans()
    assert span.attributes is not None
    assert span.attributes["http.response.status_code"] == status
    assert span.attributes.get("http.route") == route
    assert span.attributes.get("error.type") == error_type
    assert (span.status.status_code == StatusCode.ERROR) == (error_type is not None)
    assert span.events == ()  # exceptions are logged, not span events
    (point,) = recorded.points()
    assert point.attributes.get("error.type") == error_type


def test_unhandled_exception_is_logged_once_with_its_trace(recorded: Recorded) -> None:
    app = FastAPI(telemetry=recorded.config)
    failure = ValueError("the endpoint failed")

    @app.get("/items/{item_id}")
    async def endpoint(item_id: int) -> None:
        raise failure

    assert TestClient(app, raise_server_exceptions=False).get("/items/1").status_code == 500
    (record,) = recorded.logs.get_finished_logs()
    log = record.log_record
    (server,) = recorded.server_spans()
    assert log.event_name == "http.server.request.exception"
    assert log.body == "Unhandled exception in FastAPI request"
    assert log.severity_number == SeverityNumber.ERROR
    assert log.exception is failure
    assert log.trace_id == server.context.trace_id
    assert log.span_id == server.context.span_id
    assert log.attributes is not None
    assert log.attributes["http.route"] == "/items/{item_id}"
    assert log.attributes["exception.type"] == "ValueError"
    assert log.attributes["exception.message"] == "the endpoint failed"
    assert server.attributes is not None and server.attributes["error.type"] == "ValueError"
    failed = {s.name for s in recorded.spans.get_finished_spans() if s.status.is_ok is False}
    assert failed == {"GET /items/{item_id}", "fastapi.endpoint"}


def test_validation_failure_is_a_warning_and_data_is_readable(recorded: Recorded) -> None:
    observed: list[TelemetryData] = []

    class Observe(LogRecordProcessor):
        def on_emit(self, log_data: Any) -> None:
            data = get_telemetry_data(log_data.log_record.context)
            assert data is not None
            observed.append(TelemetryData(**vars(data)))

        def shutdown(self) -> None:
            pass

        def force_flush(self, timeout_millis: int = 30000) -> bool:
            return True

    recorded.logger_provider.add_log_record_processor(Observe())
    app = FastAPI(telemetry=recorded.config)

    @app.post("/items")
    def create(item: dict[str, int]) -> dict[str, int]:
        return item

    response = TestClient(app).post("/items", json={"amount": "private input"})
    assert response.status_code == 422
    (record,) = recorded.logs.get_finished_logs()
    assert record.log_record.event_name == "fastapi.validation.failed"
    assert record.log_record.severity_number == SeverityNumber.WARN
    assert record.log_record.attributes == {
        "http.route": "/items",
        "fastapi.validation.error_count": 1,
    }
    assert "private input" not in repr(record.log_record.attributes)
    (data,) = observed
    assert data.request is not None and data.request.url.path == "/items"
    assert data.body == {"amount": "private input"}
    assert data.errors is not None and data.errors[0]["type"] == "int_parsing"
    assert get_telemetry_data(record.log_record.context) is None  # cleared after the request
    assert all(s.status.status_code == StatusCode.UNSET for s in recorded.server_spans())


def test_background_tasks_run_in_spans_after_the_server_span_ends(recorded: Recorded) -> None:
    app = FastAPI(telemetry=recorded.config)
    during = []

    def task(number: int) -> None:
        during.append((number, trace.get_current_span().get_span_context()))

    @app.get("/")
    async def endpoint(tasks: BackgroundTasks) -> str:
        tasks.add_task(task, 1)
        tasks.add_task(task, 2)
        return "ok"

    assert TestClient(app).get("/").json() == "ok"
    (server,) = recorded.server_spans()
    spans = [s for s in recorded.spans.get_finished_spans() if s.name == "fastapi.background_task"]
    assert [s.context for s in spans] == [context for _, context in during]
    for span in spans:
        assert span.parent is not None and span.parent.span_id == server.context.span_id
        assert span.start_time is not None and server.end_time is not None
        assert span.start_time >= server.end_time
        assert span.attributes == {"code.function.name": f"{__name__}.{task.__qualname__}"}


def test_mounts_and_root_path_give_the_route_template(recorded: Recorded) -> None:
    parent = FastAPI(telemetry=recorded.config)
    child = FastAPI(telemetry=recorded.config)  # the outer app records; the child does not
    router = APIRouter(prefix="/v1")

    @router.get("/items/{item_id}")
    def endpoint(item_id: int) -> int:
        return item_id

    child.include_router(router)
    parent.mount("/tenants/{tenant}", child)
    response = TestClient(parent, root_path="/proxy").get("/proxy/tenants/acme/v1/items/4")
    assert response.json() == 4
    (span,) = recorded.server_spans()
    assert span.name == "GET /proxy/tenants/{tenant}/v1/items/{item_id}"
    (point,) = recorded.points()
    assert point.attributes["http.route"] == "/proxy/tenants/{tenant}/v1/items/{item_id}"
    assert "acme" not in repr(point.attributes)


def test_unknown_method_is_other(recorded: Recorded) -> None:
    app = FastAPI(telemetry=recorded.config)
    assert TestClient(app).request("BREW", "/pot").status_code == 404
    (span,) = recorded.server_spans()
    assert span.name == "HTTP"
    assert span.attributes is not None
    assert span.attributes["http.request.method"] == "_OTHER"
    assert span.attributes["http.request.method_original"] == "BREW"
    (point,) = recorded.points()
    assert point.attributes["http.request.method"] == "_OTHER"
    assert "http.request.method_original" not in point.attributes


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("api.example:8443", {"server.address": "api.example", "server.port": 8443}),
        ("[2001:db8::1]", {"server.address": "2001:db8::1", "server.port": 80}),
        ("api.example:not-a-port", {}),
        ("[unclosed", {}),
        ("user:password@api.example", {}),
    ],
)
def test_malformed_host_records_no_server_address(
    recorded: Recorded, host: str, expected: dict[str, Any]
) -> None:
    app = FastAPI(telemetry=recorded.config)

    @app.get("/")
    def endpoint() -> str:
        return "ok"

    assert TestClient(app).get("/", headers={"host": host}).json() == "ok"
    (span,) = recorded.server_spans()
    attributes = dict(span.attributes or {})
    assert {k: v for k, v in attributes.items() if k.startswith("server.")} == expected


def test_invalid_traceparent_starts_a_new_trace(recorded: Recorded) -> None:
    app = FastAPI(telemetry=recorded.config)
    response = TestClient(app).get("/", headers={"traceparent": "00-not-a-valid-parent-01"})
    assert response.status_code == 404
    (span,) = recorded.server_spans()
    assert span.parent is None
    assert span.context.trace_id != 0


def test_exclude_and_disabled_signals(recorded: Recorded) -> None:
    excluded = FastAPI(telemetry={**recorded.config, "exclude": lambda s: s["path"] == "/health"})
    client = TestClient(excluded)
    assert client.get("/health").status_code == 404
    assert recorded.spans.get_finished_spans() == ()
    assert recorded.points() == []
    assert client.get("/other").status_code == 404
    assert len(recorded.server_spans()) == 1
    recorded.spans.clear()
    quiet = FastAPI(telemetry={**recorded.config, "tracing": False, "logs": False})
    assert TestClient(quiet).get("/").status_code == 404
    assert recorded.spans.get_finished_spans() == ()
    assert sum(p.count for p in recorded.points()) == 2  # metrics stayed on


def test_operation_spans_off_keeps_the_server_span(recorded: Recorded) -> None:
    app = FastAPI(telemetry={**recorded.config, "operation_spans": False})

    @app.get("/")
    async def endpoint(tasks: BackgroundTasks) -> str:
        tasks.add_task(lambda: None)
        return "ok"

    assert TestClient(app).get("/").json() == "ok"
    assert recorded.names() == ["GET /"]


def test_websocket_connection_span(recorded: Recorded) -> None:
    app = FastAPI(telemetry=recorded.config)

    @app.websocket("/rooms/{room}")
    async def room(websocket: WebSocket, room: int) -> None:
        data = get_telemetry_data()
        assert data is not None and data.websocket is websocket
        assert data.values is not None and data.values["room"] == room
        await websocket.accept()
        await websocket.send_text(await websocket.receive_text())
        await websocket.close()

    with TestClient(app).websocket_connect("/rooms/3") as websocket:
        websocket.send_text("private message")
        assert websocket.receive_text() == "private message"
    (span,) = recorded.server_spans()
    assert span.name == "WS /rooms/{room}"
    assert span.attributes is not None
    assert span.attributes["network.protocol.name"] == "websocket"
    assert span.attributes["url.scheme"] == "ws"
    assert "http.response.status_code" not in span.attributes
    assert span.status.status_code == StatusCode.UNSET
    assert "private message" not in repr(recorded.spans.get_finished_spans())
    assert recorded.reader.get_metrics_data() is None  # HTTP metrics are for requests


@pytest.mark.parametrize(("code", "failed"), [(1000, False), (1001, False), (1006, True)])
def test_websocket_disconnects(recorded: Recorded, code: int, failed: bool) -> None:
    app = FastAPI(telemetry=recorded.config)

    @app.websocket("/ws")
    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.receive_text()

    with pytest.raises(WebSocketDisconnect):
        with TestClient(app).websocket_connect("/ws") as websocket:
            websocket.close(code=code)
    (span,) = recorded.server_spans()
    assert (span.status.status_code == StatusCode.ERROR) is failed
    assert len(recorded.logs.get_finished_logs()) == int(failed)


def test_telemetry_data_is_none_outside_a_request(recorded: Recorded) -> None:
    app = FastAPI(telemetry=recorded.config)
    datas = []

    @app.get("/")
    def endpoint() -> str:
        datas.append(get_telemetry_data())
        return "ok"

    TestClient(app).get("/")
    assert datas[0] is not None
    assert get_telemetry_data() is None
    assert routing.get_telemetry_data is get_telemetry_data  # fastapi.routing has it too


class Item(BaseModel):
    name: str
    price: float = 0.0


def parity_app() -> FastAPI:
    app = FastAPI()

    @app.get("/plain")
    async def plain() -> dict[str, Any]:
        return {"a": [1, 2.5, None], "b": "x"}

    @app.get("/model", response_model=Item)
    def model() -> dict[str, Any]:
        return {"name": "n", "price": 2, "extra": "dropped"}

    @app.post("/created", status_code=201)
    async def created(item: Item) -> Item:
        return item

    @app.get("/injected")
    async def injected(response: Response) -> str:
        response.headers["x-injected"] = "1"
        response.status_code = 202
        return "ok"

    @app.get("/response")
    def response() -> Response:
        return PlainTextResponse("raw", headers={"x-raw": "1"})

    @app.get("/empty", status_code=204)
    async def empty() -> None:
        return None

    @app.get("/stream")
    async def stream() -> Any:
        yield {"n": 1}
        yield {"n": 2}

    @app.get("/invalid-response", response_model=int)
    async def invalid_response() -> str:
        return "not an integer"

    @app.get("/http-error")
    async def http_error() -> None:
        raise HTTPException(418, "teapot", headers={"x-error": "1"})

    @app.get("/query/{item_id}")
    def query(item_id: int, q: list[str] | None = None) -> dict[str, Any]:
        return {"item_id": item_id, "q": q}

    return app


PARITY_REQUESTS = [
    ("GET", "/plain", None),
    ("GET", "/model", None),
    ("POST", "/created", {"name": "a", "price": 1}),
    ("POST", "/created", {"name": 1}),
    ("GET", "/injected", None),
    ("GET", "/response", None),
    ("GET", "/empty", None),
    ("GET", "/stream", None),
    ("GET", "/invalid-response", None),
    ("GET", "/http-error", None),
    ("GET", "/query/3?q=a&q=b", None),
    ("GET", "/query/x", None),
]


@pytest.mark.parametrize(("method", "path", "body"), PARITY_REQUESTS)
def test_traced_handler_answers_as_the_plain_one(method: str, path: str, body: Any) -> None:
    """Once telemetry is on anywhere in the process, every handler takes its traced path:
    for a request that is not recorded it must answer exactly as the plain path does."""
    answers = []
    for active in (False, True):
        _telemetry_hooks.active = active
        client = TestClient(parity_app(), raise_server_exceptions=False)
        response = client.request(method, path, json=body)
        answers.append((response.status_code, sorted(response.headers.items()), response.content))
    assert answers[0] == answers[1]
    assert answers[0][0] != 0


def _run(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_an_app_that_never_records_never_imports_opentelemetry() -> None:
    """No provider given and nothing imported OpenTelemetry: no gate work, no import, no hook."""
    output = _run(
        """
        import sys
        from aster import BackgroundTasks, FastAPI, _telemetry_hooks
        from aster.testclient import TestClient
        app = FastAPI()
        @app.get("/")
        async def endpoint(tasks: BackgroundTasks):
            tasks.add_task(print, "task ran")
            return "ok"
        with TestClient(app) as client:
            assert client.get("/").json() == "ok"
            assert client.get("/missing").status_code == 404
        print("gate", type(app._telemetry_gate).__name__)
        print("imported", any(m.startswith("opentelemetry") for m in sys.modules))
        print("active", _telemetry_hooks.active)
        """
    )
    assert output.splitlines() == [
        "task ran",
        "gate TelemetryGate",
        "imported False",
        "active False",
    ]


def test_disabled_signals_compile_no_gate() -> None:
    app = FastAPI(telemetry={"tracing": False, "metrics": False, "logs": False})
    assert TestClient(app).get("/").status_code == 404
    assert app._telemetry_gate is None


def test_providers_set_after_startup_are_picked_up() -> None:
    """FastAPI's rule: the global providers are read per request while unconfigured."""
    output = _run(
        """
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        from aster import FastAPI
        from aster.testclient import TestClient
        app = FastAPI()
        client = TestClient(app)
        assert client.get("/").status_code == 404
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        assert client.get("/").status_code == 404
        print([span.name for span in exporter.get_finished_spans()])
        """
    )
    assert output.strip() == "['GET']"


def test_the_gate_follows_a_replaced_global_getter(
    recorded: Recorded, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cheap unset-globals check must not hide a provider a vendor or test installs by
    replacing the API's getter (FastAPI reads the getters on every request)."""
    app = FastAPI()
    client = TestClient(app)
    assert client.get("/").status_code == 404
    assert app._telemetry_gate is not None
    assert app._telemetry_gate.intercepts({"type": "http"}) is False
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: recorded.tracer_provider)
    assert app._telemetry_gate.intercepts({"type": "http"}) is True
    assert client.get("/").status_code == 404
    assert recorded.names() == ["GET"]
    assert app._telemetry_gate.intercepts({"type": "http", "fastapi.telemetry": None}) is False


@pytest.mark.parametrize(
    ("kind", "failed"),
    [("body", False), ("trailers", False), ("pathsend", False), ("incomplete", True)],
)
def test_span_ends_with_the_last_message_of_the_response(
    recorded: Recorded, kind: str, failed: bool
) -> None:
    """A raw ASGI app under NativeTelemetry: trailers end the response, not the body."""
    ended_before_trailers = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if kind == "incomplete":
            return
        await send({"type": "http.response.start", "status": 200, "trailers": kind == "trailers"})
        if kind == "pathsend":
            await send({"type": "http.response.pathsend", "path": "/dev/null"})
            return
        await send({"type": "http.response.body", "body": b"ok"})
        if kind == "trailers":
            ended_before_trailers.append(bool(recorded.server_spans()))
            await send({"type": "http.response.trailers", "headers": []})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        pass

    scope: dict[str, Any] = {"type": "http", "method": "GET", "path": "/", "headers": []}
    config = FastAPI(telemetry=recorded.config)._telemetry
    asyncio.run(NativeTelemetry(config)(app=app, scope=scope, receive=receive, send=send))
    (span,) = recorded.server_spans()
    assert (span.status.status_code == StatusCode.ERROR) is failed
    assert (span.attributes or {}).get("error.type") == ("RuntimeError" if failed else None)
    assert ended_before_trailers == ([False] if kind == "trailers" else [])
    assert "fastapi.telemetry" not in scope
    (active,) = recorded.points("http.server.active_requests")
    assert active.value == 0


def test_exception_middleware_logs_for_hand_built_stacks(recorded: Recorded) -> None:
    app = FastAPI(telemetry=recorded.config)
    failure = RuntimeError("from a hand-built stack")

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        raise failure

    app.mount("/raw", ServerErrorMiddleware(ExceptionTelemetryMiddleware(inner)))
    assert TestClient(app, raise_server_exceptions=False).get("/raw/x").status_code == 500
    records = recorded.logs.get_finished_logs()
    assert [r.log_record.exception for r in records] == [failure]  # once, not per layer
    (span,) = recorded.server_spans()
    assert span.name == "GET /raw/{path}"


def test_error_type_uses_the_name_the_app_imported() -> None:
    """``error.type`` is ``fastapi.exceptions.HTTPException`` for an app written for FastAPI
    (through aster.compat), and aster's own name otherwise."""
    from aster import compat
    from aster._starlette_exceptions import StarletteHTTPException
    from aster.telemetry._api import _exception_type

    assert _exception_type(ValueError()) == "ValueError"
    assert _exception_type(HTTPException(400)) == "aster.exceptions.HTTPException"
    compat.install()
    try:
        assert _exception_type(HTTPException(400)) == "fastapi.exceptions.HTTPException"
        assert _exception_type(StarletteHTTPException(400)) == "starlette.exceptions.HTTPException"
    finally:
        compat.uninstall()
