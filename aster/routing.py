"""``fastapi.routing``: FastAPI's routing, and the Starlette pieces it builds on.

A face: FastAPI's routes are defined in :mod:`aster.api_routing` (``APIRoute``,
``APIWebSocketRoute``, and FastAPI's ``request_response``/``websocket_session``, which
open the exit stacks of dependencies with ``yield``), :mod:`aster.api_router`
(``APIRouter``) and :mod:`aster.handlers` (the per-route request handler); Starlette's in
the modules :mod:`aster._starlette_routing` lists.  Besides FastAPI's names, aster's
``routing`` keeps Starlette's route classes (``Route``, ``Router``...) importable from here.
``starlette.routing`` is :mod:`aster._starlette_routing`.

``_PING_INTERVAL`` is where FastAPI keeps the keep-alive interval of event streams, and
where its tests shorten it.  aster keeps it in :mod:`aster.sse`, which the streams read;
reading or setting it on this module reads or sets that one.
"""

import sys
import types

from . import _starlette_routing as routing
from . import api_routing, params, sse
from ._body_limit import (
    get_body_limit_error,
    get_body_size_limit,
    validate_max_body_size,
    wrap_app_with_body_limit,
)
from ._endpoint_streams import _finite as _normalize_non_finite_floats
from ._form_limits import _FormLimits, _validate_form_limits
from ._response import JSONResponse, PlainTextResponse, RedirectResponse, Response
from ._route_contexts import (
    RouteContext,
    _EffectiveRouteContext,
    _IncludedRouter,
    _iter_included_route_candidates,
    _iter_routes_with_context,
    _restore_fastapi_scope_key,
    _RouterIncludeContext,
    iter_route_contexts,
)
from ._router import Host, Mount, Router
from ._routes import Route, WebSocketRoute, iscoroutinefunction_or_partial
from ._routing_base import (
    PARAM_REGEX,
    BaseRoute,
    Match,
    NoMatchFound,
    compile_path,
    get_name,
    get_route_path,
    replace_params,
)
from ._starlette_exceptions import StarletteHTTPException as HTTPException
from ._streaming_response import StreamingResponse
from .api_router import APIRouter
from .api_routing import (
    APIRoute,
    APIWebSocketRoute,
    _merge_lifespan_context,
    get_websocket_app,
    request_response,
    websocket_session,
)
from .concurrency import is_async_callable, iterate_in_threadpool, run_in_threadpool
from .datastructures import URL, Default, DefaultPlaceholder, URLPath
from .dependencies.analysis import (
    get_dependant,
    get_parameterless_sub_dependant,
    get_stream_item_type,
    get_typed_return_annotation,
)
from .dependencies.body_field import get_body_field as _get_body_field
from .dependencies.models import (
    Dependant,
    _is_async_gen_callable,
    _is_coroutine_callable,
    _is_gen_callable,
)
from .dependencies.shapes import get_flat_body_params as _get_flat_body_params
from .dependencies.shapes import should_embed_body_fields as _should_embed_body_fields
from .dependencies.solving import SolvedDependency, solve_dependencies
from .encoders import jsonable_encoder
from .exceptions import (
    EndpointContext,
    FastAPIError,
    RequestValidationError,
    ResponseValidationError,
    WebSocketRequestValidationError,
)
from .fields import ModelField, Undefined, create_model_field, lenient_issubclass
from .handlers import endpoint_context as _extract_endpoint_context
from .handlers import get_request_handler, run_endpoint_function, serialize_response
from .middleware import Middleware
from .middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY
from .middleware.exceptions import wrap_app_handling_exceptions
from .requests import Request
from .sse import KEEPALIVE_COMMENT, EventSourceResponse, ServerSentEvent, format_sse_event
from .staticfiles import StaticFiles
from .telemetry import get_telemetry_data
from .types import AppType, ASGIApp, DecoratedCallable, IncEx, Lifespan, Receive, Scope, Send
from .utils import generate_unique_id, get_value_or_default, is_body_allowed_for_status_code
from .websockets import WebSocket

#: Names that extensions replace on ``fastapi.routing`` (sentry-sdk wraps
#: ``get_request_handler``), with the module whose code calls them: FastAPI's routes look
#: them up in ``fastapi.routing`` when they are built, aster's in that module.
_PATCHABLE = {
    "get_request_handler": api_routing,
    "request_response": api_routing,
    "websocket_session": api_routing,
}


class _FastAPIRouting(types.ModuleType):
    """This module's class: setting a :data:`_PATCHABLE` name sets it where it is used, and
    ``_PING_INTERVAL`` reads and sets ``aster.sse._PING_INTERVAL``."""

    def __setattr__(self, name: str, value: object) -> None:
        target = _PATCHABLE.get(name)
        if target is not None:
            setattr(target, name, value)
        super().__setattr__(name, value)

    @property
    def _PING_INTERVAL(self) -> float:
        return sse._PING_INTERVAL

    @_PING_INTERVAL.setter
    def _PING_INTERVAL(self, value: float) -> None:
        sse._PING_INTERVAL = value


sys.modules[__name__].__class__ = _FastAPIRouting

__all__ = [
    "KEEPALIVE_COMMENT",
    "RouteContext",
    "SolvedDependency",
    "_EffectiveRouteContext",
    "_FormLimits",
    "_extract_endpoint_context",
    "_normalize_non_finite_floats",
    "_IncludedRouter",
    "_iter_included_route_candidates",
    "_iter_routes_with_context",
    "_restore_fastapi_scope_key",
    "_RouterIncludeContext",
    "_get_body_field",
    "_get_flat_body_params",
    "_is_async_gen_callable",
    "_is_coroutine_callable",
    "_is_gen_callable",
    "_should_embed_body_fields",
    "_validate_form_limits",
    "get_body_limit_error",
    "get_body_size_limit",
    "iter_route_contexts",
    "solve_dependencies",
    "validate_max_body_size",
    "wrap_app_with_body_limit",
    "MAX_BODY_SIZE_SCOPE_KEY",
    "PARAM_REGEX",
    "URL",
    "APIRoute",
    "APIRouter",
    "APIWebSocketRoute",
    "ASGIApp",
    "AppType",
    "BaseRoute",
    "DecoratedCallable",
    "Default",
    "DefaultPlaceholder",
    "Dependant",
    "EndpointContext",
    "EventSourceResponse",
    "FastAPIError",
    "HTTPException",
    "Host",
    "IncEx",
    "JSONResponse",
    "Lifespan",
    "Match",
    "Middleware",
    "ModelField",
    "Mount",
    "NoMatchFound",
    "PlainTextResponse",
    "Receive",
    "RedirectResponse",
    "Request",
    "RequestValidationError",
    "Response",
    "ResponseValidationError",
    "Route",
    "Router",
    "Scope",
    "Send",
    "ServerSentEvent",
    "StaticFiles",
    "StreamingResponse",
    "URLPath",
    "Undefined",
    "WebSocket",
    "WebSocketRequestValidationError",
    "WebSocketRoute",
    "_merge_lifespan_context",
    "compile_path",
    "create_model_field",
    "format_sse_event",
    "generate_unique_id",
    "get_dependant",
    "get_name",
    "get_parameterless_sub_dependant",
    "get_request_handler",
    "get_route_path",
    "get_stream_item_type",
    "get_telemetry_data",
    "get_typed_return_annotation",
    "get_value_or_default",
    "get_websocket_app",
    "is_async_callable",
    "is_body_allowed_for_status_code",
    "iscoroutinefunction_or_partial",
    "iterate_in_threadpool",
    "jsonable_encoder",
    "lenient_issubclass",
    "params",
    "replace_params",
    "request_response",
    "routing",
    "run_endpoint_function",
    "run_in_threadpool",
    "serialize_response",
    "websocket_session",
    "wrap_app_handling_exceptions",
]
