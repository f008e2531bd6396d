"""The framework's telemetry touch points: free until an application records telemetry.

FastAPI 0.165's native telemetry (:mod:`aster.telemetry`, which imports OpenTelemetry) needs
to see a few moments inside the framework: which route was selected, when the dependencies,
the endpoint, the serialisation and each background task run, which exceptions went
unhandled. Those places (the router, the error middleware, background tasks, the handlers)
sit *below* the telemetry package, so they cannot import it. They read this module instead:

* ``active`` is ``False`` until the first request that records telemetry, so the hot path
  costs one flag read and nothing is imported (opentelemetry stays an optional dependency);
* :mod:`aster.telemetry._api` fills in the hook functions when it is loaded (it flips
  ``active`` only after that), so every caller that sees ``active`` finds them in place.

The hooks only ever read ``scope[SCOPE_KEY]`` or the OpenTelemetry context: a request that
is not recorded (another app, an excluded path) passes through them unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any

__all__ = ["SCOPE_KEY", "active", "route_selected"]

#: Where the request's telemetry record lives in the ASGI scope (FastAPI's key).
SCOPE_KEY = "fastapi.telemetry"

#: Set (once, for the process) by the first request that records telemetry.
active = False

_NO_OPERATION = nullcontext()


def _no_operation(*, name: str, function: Callable[..., Any] | None = None) -> Any:
    return _NO_OPERATION


def _ignore(*args: Any, **kwargs: Any) -> None:
    return None


#: ``operation(name=..., function=...)``: a span around one step of the request.
operation: Callable[..., AbstractContextManager[None]] = _no_operation
#: ``exception(scope=..., exc=...)``: an exception that nothing handled.
exception: Callable[..., None] = _ignore
#: ``validation_failed(exc)``: a request (or WebSocket) validation error.
validation_failed: Callable[[Any], None] = _ignore
#: ``data()``: the current request's ``TelemetryData``, or ``None``.
data: Callable[[], Any] = _ignore
#: ``run_sync_endpoint(function=..., arguments=...)``: a sync endpoint in the worker thread.
run_sync_endpoint: Callable[..., Any] = _ignore


def route_selected(scope: MutableMapping[str, Any], route: Any) -> None:
    """Tell the request's record which route (or mount) the router dispatched to."""
    record = scope.get(SCOPE_KEY)
    if record is None:
        return
    path = getattr(route, "path_format", None)
    if path is not None:
        record.select_route(path, mount=getattr(route, "_path_is_prefix", False))


def route_template_selected(scope: MutableMapping[str, Any], path: str | None) -> None:
    """The same, for a template that is not a route's ``path_format`` (a frontend's)."""
    record = scope.get(SCOPE_KEY)
    if record is not None and path is not None:
        record.select_route(path, mount=False)
