"""The ASGI side of native telemetry: one server span, metrics and log records per request.

:class:`NativeTelemetry` wraps an application call: it extracts the propagated parent,
starts the ``SERVER`` span (named ``METHOD /route`` once the router chose a route),
counts ``http.server.active_requests``, and when the response's last message is sent
records ``http.server.request.duration`` and ends the span, before background tasks run.
Attribute names and values follow OpenTelemetry's HTTP semantic conventions (schema
1.44.0); request and response bodies, headers and path parameters are never recorded.
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager, nullcontext
from time import perf_counter, time_ns
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from opentelemetry import _logs, metrics, propagate, trace
from opentelemetry import context as otel_context
from opentelemetry._logs import SeverityNumber
from opentelemetry.metrics import Histogram, UpDownCounter
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import SpanKind, StatusCode

from .. import __version__
from .. import _telemetry_hooks as hooks
from ..datastructures import Headers
from ..types import ASGIApp, Message, Receive, Scope, Send
from ._api import (
    _HTTP_METHODS,
    _REQUEST_TELEMETRY_KEY,
    _exception_type,
    _normal_websocket_disconnect,
    _RequestTelemetry,
    _unconfigured,
)
from ._config import TelemetryConfig

__all__ = ["ExceptionTelemetryMiddleware", "NativeTelemetry"]

#: The instrumentation scope: FastAPI's name (what dashboards filter on), aster's version.
_SCOPE_NAME = "fastapi"
_SCOPE_VERSION = __version__
_SCHEMA_URL = "https://opentelemetry.io/schemas/1.44.0"
#: The histogram buckets the HTTP semantic conventions advise, in seconds.
_DURATION_BUCKETS = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
)
#: Query parameters the conventions say to redact (matched case-sensitively).
_SENSITIVE_QUERY_PARAMETERS = frozenset(
    {"X-Amz-Signature", "X-Amz-Credential", "X-Amz-Security-Token", "sig", "X-Goog-Signature"}
)
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


class _HeadersGetter(Getter[Headers]):
    """Lets propagators read repeated headers (each value; baggage joined, as it reads one)."""

    def get(self, carrier: Headers, key: str) -> list[str] | None:
        values = carrier.getlist(key)
        if not values:
            return None
        if key.lower() == "baggage":
            return [",".join(values)]
        return values

    def keys(self, carrier: Headers) -> list[str]:
        return carrier.keys()


_HEADERS_GETTER = _HeadersGetter()


def _legacy_otel(stack: Any) -> bool:
    """Whether opentelemetry-instrumentation-fastapi wrapped this app's built stack.

    Then that instrumentation owns the request and native telemetry stays out of its way.
    The built stack is what counts (contrib may have patched an app whose stack it
    could not replace), so walk it.
    """
    seen: set[int] = set()
    while stack is not None and id(stack) not in seen:
        seen.add(id(stack))
        cls = type(stack)
        if (
            cls.__module__ == "opentelemetry.instrumentation.asgi"
            and cls.__name__ == "OpenTelemetryMiddleware"
        ):
            return True
        stack = getattr(stack, "app", None)
    return False


def _exception(*, scope: Scope, exc: BaseException) -> None:
    """Log an exception that nothing handled, once per request, as it passes by."""
    if scope["type"] == "websocket" and _normal_websocket_disconnect(exc):
        return
    record = scope.get(hooks.SCOPE_KEY)
    if not isinstance(record, _RequestTelemetry):
        return
    if any(previous is exc for previous in record._exceptions):
        return
    record._exceptions.append(exc)
    if record.logger is None or not isinstance(exc, Exception):
        return
    websocket = scope["type"] == "websocket"
    record.logger.emit(
        exception=exc,
        event_name="fastapi.websocket.exception" if websocket else "http.server.request.exception",
        timestamp=time_ns(),
        severity_number=SeverityNumber.ERROR,
        severity_text="ERROR",
        body="Unhandled exception in FastAPI WebSocket connection"
        if websocket
        else "Unhandled exception in FastAPI request",
        attributes={"http.route": record.route} if record.route else None,
    )


hooks.exception = _exception


def _server_attributes(scope: Scope) -> dict[str, Any]:
    """``server.address``/``server.port`` from the Host header (HTTP/2's authority too).

    Without one, the listening address; a malformed authority records nothing rather
    than failing the request.
    """
    authority = Headers(scope=scope).get("host")
    if authority is not None:
        try:
            url = urlsplit("//" + authority)
            address, port = url.hostname, url.port
        except ValueError:
            return {}
        if url.username is not None or url.path or url.query or url.fragment:
            return {}
        if port is None:
            port = _DEFAULT_PORTS.get(scope.get("scheme", "http"))
    else:
        address, port = scope.get("server") or (None, None)
    if address is None:
        return {}
    attributes: dict[str, Any] = {"server.address": address}
    if port is not None:
        attributes["server.port"] = port
    return attributes


def _redacted_query(query_string: bytes) -> str:
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    return urlencode(
        [(key, "REDACTED" if key in _SENSITIVE_QUERY_PARAMETERS else value) for key, value in pairs]
    )


def _in_use(explicit: Any, current: Any, noop: type) -> bool:
    """A provider records if it was given, or the global one was set, and is not a no-op."""
    if explicit is None and _unconfigured(current):
        return False
    return not isinstance(current, noop)


class ExceptionTelemetryMiddleware:
    """Observe exceptions on their way out, before an error handler answers them.

    aster's own stack does this in ``ServerErrorMiddleware`` (no extra layer); this
    middleware is for stacks assembled by hand.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except Exception as exc:
            _exception(scope=scope, exc=exc)
            raise


class NativeTelemetry:
    """Records one HTTP request or WebSocket connection around ``app``."""

    def __init__(self, config: TelemetryConfig) -> None:
        self.config = config
        known = os.getenv("OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS", "").strip()
        self._known_methods = (
            frozenset(method.strip() for method in known.split(",") if method.strip())
            if known
            else _HTTP_METHODS
        )
        self._meter_provider: Any = None
        self._duration: Histogram | None = None
        self._active: UpDownCounter | None = None
        self._tracer_provider: Any = None
        self._tracer: trace.Tracer | None = None

    def enabled(self) -> bool:
        """Whether any enabled signal has a provider (given, or set globally by now)."""
        config = self.config
        return bool(
            (
                config["tracing"]
                and (
                    config["tracer_provider"] is not None
                    or not _unconfigured(trace.get_tracer_provider())
                )
            )
            or (
                config["metrics"]
                and (
                    config["meter_provider"] is not None
                    or not _unconfigured(metrics.get_meter_provider())
                )
            )
            or (
                config["logs"]
                and (
                    config["logger_provider"] is not None
                    or not _unconfigured(_logs.get_logger_provider())
                )
            )
        )

    def _instruments(self, provider: Any) -> tuple[Histogram, UpDownCounter]:
        # Created once per provider: the SDK warns about (and ignores) duplicates.
        if provider is not self._meter_provider or self._duration is None:
            meter = provider.get_meter(_SCOPE_NAME, _SCOPE_VERSION, schema_url=_SCHEMA_URL)
            self._duration = meter.create_histogram(
                "http.server.request.duration",
                unit="s",
                description="Duration of HTTP server requests.",
                explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
            )
            self._active = meter.create_up_down_counter(
                "http.server.active_requests",
                unit="{request}",
                description="Number of active HTTP server requests.",
            )
            self._meter_provider = provider
        assert self._active is not None
        return self._duration, self._active

    def _get_tracer(self, provider: Any) -> trace.Tracer:
        # One tracer per provider, so the SDK's per-tracer state (and its warning
        # deduplication) is not rebuilt for every request.
        if provider is not self._tracer_provider or self._tracer is None:
            self._tracer = provider.get_tracer(_SCOPE_NAME, _SCOPE_VERSION, schema_url=_SCHEMA_URL)
            self._tracer_provider = provider
        return self._tracer

    async def _excluded(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        # Mounted apps must not record it either, nor may it inherit the telemetry of an
        # in-process request it was made from.
        scope[hooks.SCOPE_KEY] = None
        token = otel_context.attach(otel_context.set_value(_REQUEST_TELEMETRY_KEY, None))
        try:
            await app(scope, receive, send)
        finally:
            otel_context.detach(token)
            scope.pop(hooks.SCOPE_KEY, None)

    async def __call__(
        self,
        *,
        app: ASGIApp,
        scope: Scope,
        receive: Receive,
        send: Send,
        legacy_otel: bool = False,
    ) -> None:
        config = self.config
        exclude = config["exclude"]
        if exclude is not None and exclude(scope):
            await self._excluded(app, scope, receive, send)
            return
        is_websocket = scope["type"] == "websocket"
        tracer_provider = config["tracer_provider"] or trace.get_tracer_provider()
        tracing = (
            config["tracing"]
            and not legacy_otel
            and _in_use(config["tracer_provider"], tracer_provider, trace.NoOpTracerProvider)
        )
        meter_provider = config["meter_provider"] or metrics.get_meter_provider()
        metering = (
            config["metrics"]
            and not legacy_otel
            and not is_websocket
            and _in_use(config["meter_provider"], meter_provider, metrics.NoOpMeterProvider)
        )
        logger_provider = config["logger_provider"] or _logs.get_logger_provider()
        logging = (
            config["logs"]
            and not legacy_otel
            and _in_use(config["logger_provider"], logger_provider, _logs.NoOpLoggerProvider)
        )
        if not (tracing or metering or logging):
            await app(scope, receive, send)
            return
        hooks.active = True

        original_method = scope.get("method", "")
        method = original_method if original_method in self._known_methods else "_OTHER"
        span_method = "WS" if is_websocket else "HTTP" if method == "_OTHER" else method
        attributes: dict[str, Any] = {
            "url.scheme": scope.get("scheme", "ws" if is_websocket else "http")
        }
        if is_websocket:
            attributes["network.protocol.name"] = "websocket"
        else:
            attributes["http.request.method"] = method
            if scope.get("http_version"):
                attributes["network.protocol.version"] = scope["http_version"]
        active_attributes = {
            key: value for key, value in attributes.items() if key != "network.protocol.version"
        }
        duration = active = None
        if metering:
            duration, active = self._instruments(meter_provider)
            active.add(1, active_attributes)
        started = perf_counter()

        span = tracer = None
        parent_token = None
        if tracing:
            parent = propagate.extract(Headers(scope=scope), getter=_HEADERS_GETTER)
            parent_token = otel_context.attach(parent)
            tracer = self._get_tracer(tracer_provider)
            span_attributes = {**attributes, **_server_attributes(scope)}
            if not is_websocket:
                span_attributes["url.path"] = scope["path"]
                if scope.get("query_string"):
                    span_attributes["url.query"] = _redacted_query(scope["query_string"])
                if original_method != method:
                    span_attributes["http.request.method_original"] = original_method
            span = tracer.start_span(
                span_method, context=parent, kind=SpanKind.SERVER, attributes=span_attributes
            )
        record = _RequestTelemetry(
            span=span,
            span_method=span_method,
            tracer=tracer if config["operation_spans"] else None,
            logger=_logs.get_logger(
                _SCOPE_NAME, _SCOPE_VERSION, config["logger_provider"], schema_url=_SCHEMA_URL
            )
            if logging
            else None,
            _mount_prefix=scope.get("app_root_path", scope.get("root_path", "")).rstrip("/"),
        )
        scope[hooks.SCOPE_KEY] = record
        token = otel_context.attach(otel_context.set_value(_REQUEST_TELEMETRY_KEY, record))
        finished = trailers = disconnected = False

        def finish(error: BaseException | None = None) -> None:
            nonlocal finished
            if finished:
                return
            finished = True
            if record.route is not None:
                attributes["http.route"] = record.route
            if record.status_code is not None:
                attributes["http.response.status_code"] = record.status_code
            # A WebSocket fails only by an exception; a request also by a 5xx or no answer.
            failed = error is not None or (
                not is_websocket and (record.status_code is None or record.status_code >= 500)
            )
            if failed:
                failure = error or (record._exceptions[-1] if record._exceptions else None)
                attributes["error.type"] = (
                    _exception_type(failure)
                    if failure is not None
                    else str(record.status_code or "incomplete_response")
                )
            if span is not None:
                span.set_attributes(attributes)
                if failed:
                    span.set_status(StatusCode.ERROR)
            # Recorded while the span is still current, so exemplars can point at it.
            if duration is not None:
                duration.record(max(0.0, perf_counter() - started), attributes)
            if active is not None:
                active.add(-1, active_attributes)
            if span is not None:
                span.end()

        async def observed_send(message: Message) -> None:
            nonlocal trailers
            kind = message["type"]
            if kind == "http.response.start":
                record.status_code = message["status"]
                trailers = message.get("trailers", False)
            await send(message)
            if (
                (
                    kind == "http.response.body"
                    and not message.get("more_body", False)
                    and not trailers
                )
                or (kind == "http.response.trailers" and not message.get("more_trailers", False))
                or kind == "http.response.pathsend"
            ):
                finish()  # the response is complete: background tasks are not part of it

        async def observed_receive() -> Message:
            nonlocal disconnected
            message = await receive()
            if message["type"] == "http.disconnect":
                disconnected = True
            return message

        current: AbstractContextManager[Any] = (
            trace.use_span(
                span, end_on_exit=False, record_exception=False, set_status_on_exception=False
            )
            if span is not None
            else nullcontext()
        )
        try:
            with current:
                try:
                    if is_websocket:
                        await app(scope, receive, send)
                    else:
                        await app(scope, observed_receive, observed_send)
                except BaseException as exc:
                    _exception(scope=scope, exc=exc)
                    finish(None if is_websocket and _normal_websocket_disconnect(exc) else exc)
                    raise
                finally:
                    if not finished:
                        finish(
                            None
                            if is_websocket
                            else ConnectionError("Client disconnected")
                            if disconnected
                            else RuntimeError("Incomplete ASGI response")
                        )
        finally:
            # Contexts kept by processors must not keep the request's objects alive.
            record.data = None
            record._exceptions.clear()
            otel_context.detach(token)
            scope.pop(hooks.SCOPE_KEY, None)
            if parent_token is not None:
                otel_context.detach(parent_token)
