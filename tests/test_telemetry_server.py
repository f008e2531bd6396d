"""Native telemetry over a real ``aster run``: spans, metrics and logs exported over OTLP/HTTP.

The app (tests/apps/fw_telemetry.py) uses the global providers; ``aster run`` gets
``FASTAPI_OTEL_AUTO_CONFIGURE=true`` and an ``OTEL_EXPORTER_OTLP_ENDPOINT`` pointing at a
collector this test runs on loopback. Export is batched with a long delay, so everything
arrives when the server's lifespan shutdown flushes it (SIGTERM). Requests come over
HTTP/1.1 (httpx, a raw socket with a malformed traceparent), HTTP/2 (h2c prior knowledge)
and a WebSocket.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status
from websockets.sync.client import connect

from tests.support import serve

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


class Collector(ThreadingHTTPServer):
    """An OTLP/HTTP receiver: keeps each POST's path and body, answers 200."""

    def __init__(self) -> None:
        self.received: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with collector.lock:
                    collector.received.append((self.path, body))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    def server_bind(self) -> None:  # no reverse DNS lookup of the bound address
        socket.socket.bind(self.socket, self.server_address)
        self.server_address = self.socket.getsockname()
        self.server_name, self.server_port = "127.0.0.1", self.server_address[1]

    def bodies(self, path: str) -> list[bytes]:
        with self.lock:
            return [body for received_path, body in self.received if received_path == path]


@pytest.fixture
def collector() -> Iterator[Collector]:
    server = Collector()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(10)


def attributes(item: Any) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for pair in item.attributes:
        kind = pair.value.WhichOneof("value")
        values[pair.key] = getattr(pair.value, kind) if kind else None
    return values


def exported_spans(collector: Collector) -> list[Any]:
    return [
        span
        for body in collector.bodies("/v1/traces")
        for resource in ExportTraceServiceRequest.FromString(body).resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    ]


def test_spans_metrics_and_logs_are_exported_over_otlp(collector: Collector) -> None:
    env = {
        "FASTAPI_OTEL_AUTO_CONFIGURE": "true",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{collector.server_port}",
        "OTEL_SERVICE_NAME": "aster-telemetry-test",
        "OTEL_BSP_SCHEDULE_DELAY": "60000",
        "OTEL_BLRP_SCHEDULE_DELAY": "60000",
        "OTEL_METRIC_EXPORT_INTERVAL": "60000",
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")} | env
    with serve("tests.apps.fw_telemetry:app", env=env) as running:
        headers = {"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"}
        with httpx.Client(base_url=running.url, timeout=20) as client:
            response = client.get("/items/7?sig=secret&page=1", headers=headers)
            assert response.status_code == 200
            assert response.json() == {"item_id": 7}
            assert client.get("/fail").status_code == 500
            assert client.get("/unavailable").status_code == 503
        with httpx.Client(base_url=running.url, http1=False, http2=True, timeout=20) as h2:
            response = h2.get("/items/8")
            assert response.http_version == "HTTP/2"
            assert response.json() == {"item_id": 8}
        # A malformed traceparent is ignored: the request is served, in a trace of its own.
        with socket.create_connection(("127.0.0.1", running.port), timeout=20) as raw:
            raw.sendall(
                b"GET /items/9 HTTP/1.1\r\nHost: localhost\r\ntraceparent: 00-zz-yy-01\r\n"
                b"Connection: close\r\n\r\n"
            )
            reply = b""
            while chunk := raw.recv(65536):
                reply += chunk
        assert reply.startswith(b"HTTP/1.1 200 OK\r\n")
        assert reply.endswith(b'{"item_id":9}')
        with connect(f"ws://127.0.0.1:{running.port}/echo/lobby", open_timeout=20) as websocket:
            websocket.send("private message")
            assert websocket.recv(timeout=20) == "private message"
        assert not collector.received  # batched: nothing is sent before the flush
        running.signal(signal.SIGTERM)
        assert running.wait(30) == 0, running.log()

    spans = exported_spans(collector)
    servers = {span.name: span for span in spans if span.kind == Span.SPAN_KIND_SERVER}
    assert sorted(servers) == [
        "GET /fail",
        "GET /items/{item_id}",
        "GET /unavailable",
        "WS /echo/{room}",
    ]
    items = [span for span in spans if span.name == "GET /items/{item_id}"]
    assert len(items) == 3
    by_path = {attributes(span)["url.path"]: span for span in items}
    first = by_path["/items/7"]
    assert first.trace_id.hex() == TRACE_ID
    assert first.parent_span_id.hex() == PARENT_ID
    first_attributes = attributes(first)
    assert first_attributes["http.route"] == "/items/{item_id}"
    assert first_attributes["http.response.status_code"] == 200
    assert first_attributes["network.protocol.version"] == "1.1"
    assert first_attributes["url.query"] == "sig=REDACTED&page=1"
    assert first_attributes["server.address"] == "127.0.0.1"
    assert first_attributes["server.port"] == running.port
    assert attributes(by_path["/items/8"])["network.protocol.version"] == "2"
    assert by_path["/items/9"].parent_span_id == b""
    assert by_path["/items/9"].trace_id.hex() != TRACE_ID
    children = [s for s in spans if s.trace_id == first.trace_id and s is not first]
    assert sorted(s.name for s in children) == [
        "fastapi.background_task",
        "fastapi.dependencies",
        "fastapi.endpoint",
        "fastapi.serialization",
    ]
    assert all(s.parent_span_id == first.span_id for s in children)
    task = next(s for s in children if s.name == "fastapi.background_task")
    assert task.start_time_unix_nano >= first.end_time_unix_nano
    failed = servers["GET /fail"]
    assert failed.status.code == Status.STATUS_CODE_ERROR
    assert attributes(failed)["error.type"] == "ValueError"
    assert attributes(servers["GET /unavailable"])["error.type"] == "503"
    websocket_span = attributes(servers["WS /echo/{room}"])
    assert websocket_span["network.protocol.name"] == "websocket"
    assert "private message" not in repr(spans)

    (metrics_body, *_) = collector.bodies("/v1/metrics")
    resource_metrics = ExportMetricsServiceRequest.FromString(metrics_body).resource_metrics
    assert attributes(resource_metrics[0].resource)["service.name"] == "aster-telemetry-test"
    durations = {
        (attributes(point)["http.route"], attributes(point)["network.protocol.version"]): point
        for resource in resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == "http.server.request.duration"
        for point in metric.histogram.data_points
    }
    assert durations[("/items/{item_id}", "1.1")].count == 2
    assert durations[("/items/{item_id}", "2")].count == 1
    assert durations[("/fail", "1.1")].count == 1

    records = [
        record
        for body in collector.bodies("/v1/logs")
        for resource in ExportLogsServiceRequest.FromString(body).resource_logs
        for scope in resource.scope_logs
        for record in scope.log_records
    ]
    (record,) = records  # the 503 was an answer, not an unhandled exception
    logged = attributes(record)
    assert record.event_name == "http.server.request.exception"
    assert logged["exception.type"] == "ValueError"
    assert logged["exception.message"] == "exported failure"
    assert logged["http.route"] == "/fail"
    assert record.trace_id == failed.trace_id
    assert record.span_id == failed.span_id
