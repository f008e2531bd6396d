"""The per-request telemetry record and the framework hooks that read it.

Loading this module imports OpenTelemetry's API and fills in :mod:`aster._telemetry_hooks`;
:mod:`aster.telemetry._asgi` loads it before it records a first request.

The record lives in the OpenTelemetry context (so a log processor can find it through
``record.context``) and, for the router, in ``scope["fastapi.telemetry"]``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from time import time_ns
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry._logs import Logger, SeverityNumber
from opentelemetry.context import Context
from opentelemetry.trace import Span, StatusCode, Tracer

from .. import _telemetry_hooks as hooks
from .._starlette_exceptions import StarletteHTTPException, WebSocketException
from ..exceptions import RequestValidationError, WebSocketRequestValidationError
from ..websockets import WebSocketDisconnect
from ._config import TelemetryData

__all__ = ["get_telemetry_data"]

#: Methods recorded as themselves; others become ``_OTHER`` (semantic conventions).
_HTTP_METHODS = frozenset(
    {"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "QUERY", "TRACE"}
)

#: Handled outcomes, not failures of the step they pass through.
_HANDLED = (
    StarletteHTTPException,
    RequestValidationError,
    WebSocketException,
    WebSocketRequestValidationError,
)


@dataclass(kw_only=True)
class _RequestTelemetry:
    """What one recorded request or connection carries through the framework."""

    span: Span | None
    span_method: str
    tracer: Tracer | None = None  # None: no operation spans
    logger: Logger | None = None  # None: no log records
    route: str | None = None
    status_code: int | None = None
    data: TelemetryData | None = field(default_factory=TelemetryData)
    _mount_prefix: str = ""
    _exceptions: list[BaseException] = field(default_factory=list, repr=False)

    def select_route(self, path: str, *, mount: bool = False) -> None:
        """The router chose ``path`` (a template); a mount's template ends in ``/{path}``."""
        if mount:
            self._mount_prefix += path.removesuffix("/{path}")
            self.route = self._mount_prefix + "/{path}"
        else:
            self.route = self._mount_prefix + path
        if self.span is not None:
            self.span.set_attribute("http.route", self.route)
            self.span.update_name(f"{self.span_method} {self.route}")


_REQUEST_TELEMETRY_KEY = otel_context.create_key("fastapi.request")
_NO_OPERATION = nullcontext()


def _get_request_telemetry(context: Context | None = None) -> _RequestTelemetry | None:
    value = otel_context.get_value(_REQUEST_TELEMETRY_KEY, context)
    return value if isinstance(value, _RequestTelemetry) else None


def get_telemetry_data(context: Context | None = None) -> TelemetryData | None:
    """The current request's :class:`TelemetryData`, read from an OpenTelemetry context.

    ``context`` defaults to the current one; a log processor passes ``record.context``.
    Once the request is over this is ``None``, even for a context kept from it.
    """
    record = _get_request_telemetry(context)
    return record.data if record is not None else None


def _current_data() -> TelemetryData | None:
    record = _get_request_telemetry()
    return record.data if record is not None else None


def _public_module(module: str) -> str:
    """The name the app imported a class under: ``fastapi.exceptions``, not aster's module."""
    if module != "aster" and not module.startswith("aster."):
        return module
    compat = sys.modules.get("aster.compat")
    if compat is None or not compat.installed():
        return module
    for public, target in compat.EXPLICIT.items():
        if target == module and public.startswith("starlette."):
            return public
    return "fastapi" + module[len("aster") :]


def _exception_type(exc: BaseException) -> str:
    """``error.type``: the qualified class name (builtins without their module)."""
    cls = type(exc)
    if cls.__module__ == "builtins":
        return cls.__qualname__
    module = _public_module(cls.__module__)
    name = cls.__qualname__
    if module != cls.__module__:
        # The public name, where aster's class has another (StarletteHTTPException).
        exported = getattr(sys.modules.get(cls.__module__), "__all__", ())
        name = next(
            (n for n in exported if getattr(sys.modules[cls.__module__], n, None) is cls), name
        )
    return f"{module}.{name}"


def _normal_websocket_disconnect(exc: BaseException) -> bool:
    return isinstance(exc, WebSocketDisconnect) and exc.code in (1000, 1001)


def _validation_failed(exc: RequestValidationError | WebSocketRequestValidationError) -> None:
    """Keep the failing input for processors, and log a warning (never the input itself)."""
    record = _get_request_telemetry()
    if record is None:
        return
    errors = exc.errors()
    if record.data is not None:
        if isinstance(exc, RequestValidationError):
            record.data.body = exc.body
        record.data.errors = errors
    if record.logger is not None:
        attributes: dict[str, Any] = {"fastapi.validation.error_count": len(errors)}
        if record.route is not None:
            attributes["http.route"] = record.route
        record.logger.emit(
            event_name="fastapi.validation.failed",
            timestamp=time_ns(),
            severity_number=SeverityNumber.WARN,
            severity_text="WARN",
            body="Request validation failed",
            attributes=attributes,
        )


def _operation(
    *, name: str, function: Callable[..., Any] | None = None
) -> AbstractContextManager[None]:
    """A ``fastapi.<name>`` span around one step, when the request records operation spans."""
    record = _get_request_telemetry()
    if record is None or record.tracer is None:
        return _NO_OPERATION
    return _traced_operation(tracer=record.tracer, name=name, function=function)


@contextmanager
def _traced_operation(
    *, tracer: Tracer, name: str, function: Callable[..., Any] | None
) -> Iterator[None]:
    attributes = {}
    if function is not None:
        module = getattr(function, "__module__", type(function).__module__)
        qualname = getattr(function, "__qualname__", type(function).__qualname__)
        attributes["code.function.name"] = f"{module}.{qualname}"
    with tracer.start_as_current_span(
        f"fastapi.{name}",
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield
        except Exception as exc:
            # An HTTPException or a validation error is an answer, not a failed step;
            # a background task has nobody to answer, so any exception fails it.
            if name == "background_task" or (
                not isinstance(exc, _HANDLED) and not _normal_websocket_disconnect(exc)
            ):
                span.set_attribute("error.type", _exception_type(exc))
                span.set_status(StatusCode.ERROR)
            raise


def _run_sync_endpoint(*, function: Callable[..., Any], arguments: dict[str, Any]) -> Any:
    """A sync endpoint, in its worker thread, inside its operation span."""
    with _operation(name="endpoint", function=function):
        return function(**arguments)


def _route_selected(
    *, scope: MutableMapping[str, Any], path: str | None, mount: bool = False
) -> None:
    record = scope.get(hooks.SCOPE_KEY)
    if isinstance(record, _RequestTelemetry) and path is not None:
        record.select_route(path, mount=mount)


_DEFERRED_PROVIDERS = frozenset(
    {
        ("opentelemetry.trace", "ProxyTracerProvider"),
        ("opentelemetry.metrics._internal", "_ProxyMeterProvider"),
        ("opentelemetry._logs._internal", "ProxyLoggerProvider"),
    }
)


def _unconfigured(provider: Any) -> bool:
    """Whether ``provider`` is the API's stand-in for a global provider not yet set.

    The API has no public query for this; only its own proxy classes count, never an
    SDK provider or a vendor's wrapper.
    """
    cls = type(provider)
    return (cls.__module__, cls.__name__) in _DEFERRED_PROVIDERS


hooks.operation = _operation
hooks.validation_failed = _validation_failed
hooks.data = _current_data
hooks.run_sync_endpoint = _run_sync_endpoint
