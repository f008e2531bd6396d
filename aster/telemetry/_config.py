"""What ``FastAPI(telemetry={...})`` accepts, and what processors may read during a request.

These two types import nothing of OpenTelemetry: an app that never records telemetry
never loads it (the provider types below are only annotations).
"""

from __future__ import annotations

import os
from collections.abc import Callable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:
    from opentelemetry._logs import LoggerProvider
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import TracerProvider

    from ..requests import Request
    from ..websockets import WebSocket

__all__ = ["TelemetryConfig", "TelemetryData", "resolve_config"]


class TelemetryConfig(TypedDict, total=False):
    """Settings for ``FastAPI(telemetry={...})``; any key left out keeps its default.

    Providers default to OpenTelemetry's global ones, so an app records as soon as
    the process configures them, even after the app was created. Providers passed
    here are used as they are and never shut down by aster.
    """

    #: Instead of the global tracer provider.
    tracer_provider: TracerProvider | None
    #: Instead of the global meter provider.
    meter_provider: MeterProvider | None
    #: Instead of the global logger provider.
    logger_provider: LoggerProvider | None
    #: A server span per HTTP request and per WebSocket connection (default ``True``).
    tracing: bool
    #: ``http.server.request.duration`` and ``http.server.active_requests`` (default ``True``).
    metrics: bool
    #: Log records for validation failures and unhandled exceptions, with their
    #: messages and stack traces (default ``True``).
    logs: bool
    #: Child spans for dependency resolution, the endpoint, serialisation and each
    #: background task (default ``True``).
    operation_spans: bool
    #: Add OTLP exporters from ``OTEL_*`` environment variables at startup. Defaults to
    #: ``FASTAPI_OTEL_AUTO_CONFIGURE=true`` in the environment; a value here wins.
    auto_configure: bool
    #: ``exclude(scope) -> True`` skips telemetry for that request or connection.
    exclude: Callable[[MutableMapping[str, Any]], bool] | None


@dataclass(kw_only=True)
class TelemetryData:
    """The request's own data, for synchronous OpenTelemetry processors to read.

    Filled in while the request is handled and cleared when it ends; nothing here is
    exported unless a processor chooses to, after applying its own redaction.
    """

    #: The request, once its route handler starts.
    request: Request | None = None
    #: The WebSocket, once its route handler starts.
    websocket: WebSocket | None = None
    #: The body as read, before validation.
    body: Any = None
    #: The arguments the dependencies resolved to.
    values: dict[str, Any] | None = None
    #: Validation errors, with the input values that failed.
    errors: Sequence[Any] | None = None


def resolve_config(telemetry: TelemetryConfig | None) -> TelemetryConfig:
    """The app's own copy of its settings, defaults filled in."""
    return {
        "tracer_provider": None,
        "meter_provider": None,
        "logger_provider": None,
        "tracing": True,
        "metrics": True,
        "logs": True,
        "operation_spans": True,
        "auto_configure": os.getenv("FASTAPI_OTEL_AUTO_CONFIGURE", "").lower() == "true",
        "exclude": None,
        **(telemetry if telemetry is not None else {}),
    }
