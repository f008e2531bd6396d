"""``OpenTelemetryMiddleware``: one OpenTelemetry server span per HTTP request.

What Starlette 1.10 ships under this name (it calls it experimental): the span is named
``"{METHOD} {route}"`` once the router has matched (``GET /users/{username}``, with the mount
prefixes; just the method when no route template is known), carries the HTTP semantic
convention attributes (``http.request.method``, ``url.path``, ``url.query``, ``url.scheme``,
``server.address``/``server.port``, ``client.address``, ``user_agent.original``,
``network.protocol.version``, ``http.response.status_code``, ``http.route``), continues a trace
propagated in the request headers, and records 5xx answers and exceptions as errors
(``error.type``).

Nested instances (a mounted app with its own middleware) create no second span for the same
request: the outermost one marks the scope. With the no-op tracer provider, or for a URL that
matches one of ``excluded_urls``, the request passes through untouched. Only HTTP is traced.

The route comes from ``scope["route"]``, which the router sets to the route it dispatched to.
``opentelemetry-api`` is needed, and imported, only when this module is imported.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

try:
    from opentelemetry import metrics, propagate, trace
    from opentelemetry.trace import SpanKind, Status, StatusCode
except ImportError:  # pragma: no cover - only without the package
    raise ImportError(
        "The `opentelemetry-api` package is required to use `OpenTelemetryMiddleware`."
    ) from None

from .. import __version__
from .._router import Mount
from ..datastructures import URL
from ..types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["OpenTelemetryMiddleware"]

#: Set in the scope while a span is open for it, so nested instances step aside.
_ACTIVE = "starlette.opentelemetry"


def _route_template(scope: Scope) -> str | None:
    """The matched route's path template with the mount prefixes, or None if unknown."""
    route = scope.get("route")
    if isinstance(route, Mount):
        # Matched the mount but nothing in it (or it is a raw app): the mount's own path.
        return scope.get("root_path") or "/"
    path_format = getattr(route, "path_format", None)
    if not isinstance(path_format, str):
        return None
    return scope.get("root_path", "").rstrip("/") + path_format or "/"


def _request_attributes(scope: Scope, url: URL, headers: dict[str, list[str]]) -> dict[str, Any]:
    original_method = scope.get("method", "")
    method = original_method.upper()
    attributes: dict[str, Any] = {
        "http.request.method": method,
        "url.path": scope.get("path", ""),
        "url.scheme": scope.get("scheme", "http"),
    }
    if original_method != method:
        attributes["http.request.method_original"] = original_method
    if url.query:
        attributes["url.query"] = url.query
    if url.hostname is not None:
        attributes["server.address"] = url.hostname
        server = scope.get("server")
        port = url.port if url.port is not None else server[1] if server is not None else None
        if port is not None:
            attributes["server.port"] = port
    if scope.get("http_version"):
        attributes["network.protocol.version"] = scope["http_version"]
    if scope.get("client") is not None:
        attributes["client.address"] = scope["client"][0]
    if headers.get("user-agent"):
        attributes["user_agent.original"] = headers["user-agent"][0]
    return attributes


class OpenTelemetryMiddleware:
    """Trace HTTP requests with ``tracer_provider`` (the global one if not given)."""

    #: The instrumentation scope reported with every span.
    instrumentation_name = "aster"

    def __init__(
        self,
        app: ASGIApp,
        *,
        excluded_urls: str | Sequence[str] = (),
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
    ) -> None:
        self.app = app
        self._meter_provider = meter_provider
        if isinstance(excluded_urls, str):
            excluded_urls = [p.strip() for p in excluded_urls.split(",")] if excluded_urls else ()
        self._excluded_urls = tuple(re.compile(pattern) for pattern in excluded_urls)
        # Resolved now: a global provider configured later is reached through the proxy
        # provider OpenTelemetry hands out until then.
        self._tracer_provider = tracer_provider or trace.get_tracer_provider()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get(_ACTIVE):
            await self.app(scope, receive, send)
            return
        scope[_ACTIVE] = True
        try:
            await self._traced(scope, receive, send)
        finally:
            del scope[_ACTIVE]

    async def _traced(self, scope: Scope, receive: Receive, send: Send) -> None:
        provider = self._tracer_provider
        if isinstance(provider, trace.NoOpTracerProvider):
            await self.app(scope, receive, send)
            return
        url = URL(scope=scope)
        if any(pattern.search(str(url)) for pattern in self._excluded_urls):
            await self.app(scope, receive, send)
            return
        headers: dict[str, list[str]] = {}
        for name, value in scope.get("headers", []):
            headers.setdefault(name.decode("latin-1").lower(), []).append(value.decode("latin-1"))
        attributes = _request_attributes(scope, url, headers)
        method = attributes["http.request.method"]
        tracer = provider.get_tracer(self.instrumentation_name, __version__)
        with tracer.start_as_current_span(
            method, context=propagate.extract(headers), kind=SpanKind.SERVER, attributes=attributes
        ) as span:

            async def send_traced(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status_code = message["status"]
                    span.set_attribute("http.response.status_code", status_code)
                    if status_code >= 500:
                        span.set_attribute("error.type", str(status_code))
                        span.set_status(Status(StatusCode.ERROR))
                await send(message)

            try:
                await self.app(scope, receive, send_traced)
            except Exception as exc:
                span.set_attribute("error.type", type(exc).__qualname__)
                raise
            finally:
                route = _route_template(scope)
                if route is not None:
                    span.update_name(f"{method} {route}")
                    span.set_attribute("http.route", route)
