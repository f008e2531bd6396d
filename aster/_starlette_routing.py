"""``starlette.routing`` under :mod:`aster.compat`: Starlette's routing, without FastAPI's.

A face: the routes are defined in :mod:`aster._routing_base` (``BaseRoute``, path
patterns), :mod:`aster._routes` (``Route``, ``WebSocketRoute`` and Starlette's
``request_response``/``websocket_session``, which open no dependency exit stacks) and
:mod:`aster._router` (``Router``, ``Mount``, ``Host``).  The other names are the ones
Starlette's module imports, which code imports from it.  ``fastapi.routing`` is
:mod:`aster.routing`.
"""

import sys
import types

from . import _routes
from ._response import PlainTextResponse, RedirectResponse, Response
from ._router import Host, Mount, Router
from ._routes import (
    Route,
    WebSocketRoute,
    iscoroutinefunction_or_partial,
    request_response,
    websocket_session,
)
from ._routing_base import (
    PARAM_FORMAT_REGEX,
    PARAM_REGEX,
    BaseRoute,
    Match,
    NoMatchFound,
    compile_path,
    get_name,
    get_route_path,
    replace_params,
)
from ._starlette_exceptions import StarletteDeprecationWarning
from ._starlette_exceptions import StarletteHTTPException as HTTPException
from ._url import parse_host_header
from .concurrency import is_async_callable, run_in_threadpool
from .convertors import CONVERTOR_TYPES, Convertor
from .datastructures import URL, Headers, URLPath
from .middleware import Middleware
from .middleware.body_limit import RequestBodyLimitMiddleware
from .middleware.exceptions import wrap_app_handling_exceptions
from .requests import Request
from .types import ASGIApp, Lifespan, Receive, Scope, Send
from .websockets import WebSocket, WebSocketClose

#: Names that extensions replace on ``starlette.routing`` (sentry-sdk wraps
#: ``request_response``): setting one here sets it in :mod:`aster._routes`, whose routes
#: look it up when they are built, as Starlette's do in ``starlette.routing``.
_PATCHABLE = frozenset({"request_response", "websocket_session"})


class _StarletteRouting(types.ModuleType):
    def __setattr__(self, name: str, value: object) -> None:
        if name in _PATCHABLE:
            setattr(_routes, name, value)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _StarletteRouting

__all__ = [
    "CONVERTOR_TYPES",
    "PARAM_FORMAT_REGEX",
    "PARAM_REGEX",
    "URL",
    "ASGIApp",
    "BaseRoute",
    "Convertor",
    "HTTPException",
    "Headers",
    "Host",
    "Lifespan",
    "Match",
    "Middleware",
    "Mount",
    "NoMatchFound",
    "PlainTextResponse",
    "Receive",
    "RedirectResponse",
    "Request",
    "RequestBodyLimitMiddleware",
    "Response",
    "Route",
    "Router",
    "Scope",
    "Send",
    "StarletteDeprecationWarning",
    "URLPath",
    "WebSocket",
    "WebSocketClose",
    "WebSocketRoute",
    "compile_path",
    "get_name",
    "get_route_path",
    "is_async_callable",
    "iscoroutinefunction_or_partial",
    "parse_host_header",
    "replace_params",
    "request_response",
    "run_in_threadpool",
    "websocket_session",
    "wrap_app_handling_exceptions",
]
