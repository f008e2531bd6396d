"""Routing: routes, mounts, hosts and the router that picks one (Starlette's model).

``Router.app`` asks its :class:`~aster.route_index.RouteIndex` for the few
routes whose static prefix fits the path, tries them in registration order,
and hands the request to the first full match.  A route that matches the path
but not the method is remembered and answered with 405 (and an ``Allow``
header) if nothing else matches; failing that, a trailing-slash variant that
would match gets a redirect, and anything else a 404.

FastAPI's route classes (``APIRoute``, ``APIRouter``...) live in
:mod:`aster.api_routing` and are re-exported here, so ``fastapi.routing`` and
``starlette.routing`` both resolve to this module.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import traceback
import warnings
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import TYPE_CHECKING, Any

from ._mounts import Host, Mount
from ._response import PlainTextResponse, RedirectResponse, Response
from ._routing_base import (
    PARAM_REGEX,
    BaseRoute,
    Match,
    NoMatchFound,
    _match_params,
    _wrap,
    compile_path,
    get_name,
    get_route_path,
    replace_params,
)
from ._starlette_exceptions import StarletteHTTPException as HTTPException
from .concurrency import is_async_callable, run_in_threadpool
from .datastructures import URL, URLPath
from .middleware import Middleware
from .requests import Request
from .route_index import RouteIndex, RouteList
from .sse import _PING_INTERVAL  # noqa: F401 (FastAPI's tests monkeypatch it here)
from .types import ASGIApp, Lifespan, Receive, Scope, Send


def iscoroutinefunction_or_partial(obj: Any) -> bool:  # pragma: no cover - Starlette API
    warnings.warn(
        "iscoroutinefunction_or_partial is deprecated, use inspect.iscoroutinefunction instead",
        DeprecationWarning,
        stacklevel=2,
    )
    while isinstance(obj, functools.partial):
        obj = obj.func
    return inspect.iscoroutinefunction(obj)


def request_response(func: Callable[[Request], Awaitable[Response] | Response]) -> ASGIApp:
    """Wrap ``func(request) -> response`` (sync or async) as an ASGI app."""
    from .middleware.exceptions import wrap_app_handling_exceptions

    handler: Callable[[Request], Awaitable[Response]] = (
        func  # type: ignore[assignment]
        if is_async_callable(func)
        else functools.partial(run_in_threadpool, func)
    )

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)

        async def respond(scope: Scope, receive: Receive, send: Send) -> None:
            response = await handler(request)
            await response(scope, receive, send)

        await wrap_app_handling_exceptions(respond, request)(scope, receive, send)

    return app


def websocket_session(func: Callable[[Any], Awaitable[None]]) -> ASGIApp:
    """Wrap ``func(websocket)`` as an ASGI app."""
    from .middleware.exceptions import wrap_app_handling_exceptions
    from .websockets import WebSocket

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        session = WebSocket(scope, receive=receive, send=send)

        async def run(scope: Scope, receive: Receive, send: Send) -> None:
            await func(session)

        await wrap_app_handling_exceptions(run, session)(scope, receive, send)

    return app


class Route(BaseRoute):
    def __init__(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        methods: Collection[str] | None = None,
        name: str | None = None,
        include_in_schema: bool = True,
        middleware: Sequence[Middleware] | None = None,
        max_body_size: int | None = None,
    ) -> None:
        assert path.startswith("/"), "Routed paths must start with '/'"
        self.path = path
        self.endpoint = endpoint
        self.name = get_name(endpoint) if name is None else name
        self.include_in_schema = include_in_schema
        target = endpoint
        while isinstance(target, functools.partial):
            target = target.func
        if inspect.isfunction(target) or inspect.ismethod(target):
            self.app = request_response(endpoint)
            if methods is None:
                methods = ["GET"]
        else:
            self.app = endpoint  # an ASGI app, e.g. an HTTPEndpoint class
        self.app = _wrap(self.app, middleware, max_body_size)
        if methods is None:
            self.methods = None
        else:
            self.methods = {method.upper() for method in methods}
            if "GET" in self.methods:
                self.methods.add("HEAD")
        self.path_regex, self.path_format, self.param_convertors = compile_path(path)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        return self._matches_path(scope, get_route_path(scope))

    def _matches_path(self, scope: Scope, route_path: str) -> tuple[Match, Scope]:
        """``matches`` with the route path already computed (the router does it once)."""
        if scope["type"] != "http":
            return Match.NONE, {}
        match = self.path_regex.match(route_path)
        if match is None:
            return Match.NONE, {}
        params = match.groupdict()
        if params:
            convertors = self.param_convertors
            for key, value in params.items():
                params[key] = convertors[key].convert(value)
        outer = scope.get("path_params")
        if outer:
            params = {**outer, **params}
        child_scope = {"endpoint": self.endpoint, "path_params": params}
        if self.methods and scope["method"] not in self.methods:
            return Match.PARTIAL, child_scope
        return Match.FULL, child_scope

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        seen = set(path_params.keys())
        expected = set(self.param_convertors.keys())
        if name != self.name or seen != expected:
            raise NoMatchFound(name, path_params)
        path, remaining = replace_params(self.path_format, self.param_convertors, path_params)
        assert not remaining
        return URLPath(path=path, protocol="http")

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.methods and scope["method"] not in self.methods:
            headers = {"Allow": ", ".join(self.methods)}
            if "app" in scope:
                raise HTTPException(status_code=405, headers=headers)
            response = PlainTextResponse("Method Not Allowed", status_code=405, headers=headers)
            await response(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    def __eq__(self, other: Any) -> bool:
        return (
            isinstance(other, Route)
            and self.path == other.path
            and self.endpoint == other.endpoint
            and self.methods == other.methods
        )

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        methods = sorted(self.methods or [])
        name = self.__class__.__name__
        return f"{name}(path={self.path!r}, name={self.name!r}, methods={methods!r})"


class WebSocketRoute(BaseRoute):
    def __init__(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        name: str | None = None,
        middleware: Sequence[Middleware] | None = None,
    ) -> None:
        assert path.startswith("/"), "Routed paths must start with '/'"
        self.path = path
        self.endpoint = endpoint
        self.name = get_name(endpoint) if name is None else name
        target = endpoint
        while isinstance(target, functools.partial):
            target = target.func
        if inspect.isfunction(target) or inspect.ismethod(target):
            self.app = websocket_session(endpoint)
        else:
            self.app = endpoint
        self.app = _wrap(self.app, middleware, None)
        self.path_regex, self.path_format, self.param_convertors = compile_path(path)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        return self._matches_path(scope, get_route_path(scope))

    def _matches_path(self, scope: Scope, route_path: str) -> tuple[Match, Scope]:
        if scope["type"] == "websocket":
            params = _match_params(self.path_regex, self.param_convertors, route_path)
            if params is not None:
                path_params = dict(scope.get("path_params", {}))
                path_params.update(params)
                return Match.FULL, {"endpoint": self.endpoint, "path_params": path_params}
        return Match.NONE, {}

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        if name != self.name or set(path_params.keys()) != set(self.param_convertors.keys()):
            raise NoMatchFound(name, path_params)
        path, remaining = replace_params(self.path_format, self.param_convertors, path_params)
        assert not remaining
        return URLPath(path=path, protocol="websocket")

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)

    def __eq__(self, other: Any) -> bool:
        return (
            isinstance(other, WebSocketRoute)
            and self.path == other.path
            and self.endpoint == other.endpoint
        )

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(path={self.path!r}, name={self.name!r})"


class _HandlerLifespan:
    """The default lifespan: run the router's on_startup/on_shutdown handlers."""

    def __init__(self, router: Router) -> None:
        self._router = router

    async def __aenter__(self) -> None:
        await self._router._startup()

    async def __aexit__(self, *exc_info: object) -> None:
        await self._router._shutdown()

    def __call__(self, app: object) -> _HandlerLifespan:
        return self


def lifespan_context_from(lifespan: Any) -> Callable[[Any], Any]:
    """Accept an async-context-manager factory, or a (sync or async) generator function."""
    if inspect.isasyncgenfunction(lifespan):
        return contextlib.asynccontextmanager(lifespan)
    if inspect.isgeneratorfunction(lifespan):
        sync_factory = contextlib.contextmanager(lifespan)

        @contextlib.asynccontextmanager
        async def wrapper(app: Any) -> Any:
            with sync_factory(app) as state:
                yield state

        return wrapper
    return lifespan  # type: ignore[no-any-return]


class Router:
    #: Form limits pushed into the scope for mounted apps (set by ``APIRouter``).
    _scope_form_limits: dict[str, Any] = {}

    def __init__(
        self,
        routes: Sequence[BaseRoute] | None = None,
        redirect_slashes: bool = True,
        default: ASGIApp | None = None,
        lifespan: Lifespan[Any] | None = None,
        *,
        middleware: Sequence[Middleware] | None = None,
        max_body_size: int | None = None,
        on_startup: Sequence[Callable[[], Any]] | None = None,
        on_shutdown: Sequence[Callable[[], Any]] | None = None,
    ) -> None:
        self.routes = RouteList([] if routes is None else list(routes))
        self.redirect_slashes = redirect_slashes
        self.default = self.not_found if default is None else default
        self.on_startup = [] if on_startup is None else list(on_startup)
        self.on_shutdown = [] if on_shutdown is None else list(on_shutdown)
        if lifespan is None:
            self.lifespan_context: Callable[[Any], Any] = _HandlerLifespan(self)
        else:
            self.lifespan_context = lifespan_context_from(lifespan)
        self.middleware_stack: ASGIApp = _wrap(self.app, middleware, max_body_size)
        self._index: RouteIndex | None = None

    @property
    def routes(self) -> list[BaseRoute]:
        return self._routes

    @routes.setter
    def routes(self, routes: list[BaseRoute]) -> None:
        previous = getattr(self, "_routes", None)
        if not isinstance(routes, RouteList):
            routes = RouteList(routes)
        if previous is not None and previous.listeners and routes is not previous:
            # Keep feeding the routers this one is included in.
            for listener in previous.listeners:
                routes.add_listener(listener)
        self._routes = routes
        self._index = None

    def _route_index(self) -> RouteIndex:
        index = self._index
        if index is None or index.version != self._routes.version:
            index = self._index = RouteIndex(self._routes)
        return index

    async def not_found(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            from .websockets import WebSocketClose

            await WebSocketClose()(scope, receive, send)
            return
        # Inside an application, let its exception handlers render the 404.
        if "app" in scope:
            raise HTTPException(status_code=404)
        await PlainTextResponse("Not Found", status_code=404)(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        for route in self.routes:
            try:
                return route.url_path_for(name, **path_params)
            except NoMatchFound:
                pass
        raise NoMatchFound(name, path_params)

    async def _startup(self) -> None:
        for handler in self.on_startup:
            if is_async_callable(handler):
                await handler()
            else:
                handler()

    async def _shutdown(self) -> None:
        for handler in self.on_shutdown:
            if is_async_callable(handler):
                await handler()
            else:
                handler()

    async def lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI lifespan protocol, around ``lifespan_context``."""
        started = False
        app: Any = scope.get("app")
        await receive()
        try:
            async with self.lifespan_context(app) as maybe_state:
                if maybe_state is not None:
                    if "state" not in scope:
                        raise RuntimeError(
                            'The server does not support "state" in the lifespan scope.'
                        )
                    scope["state"].update(maybe_state)
                await send({"type": "lifespan.startup.complete"})
                started = True
                await receive()
        except BaseException:
            text = traceback.format_exc()
            kind = "lifespan.shutdown.failed" if started else "lifespan.startup.failed"
            await send({"type": kind, "message": text})
            raise
        else:
            await send({"type": "lifespan.shutdown.complete"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.middleware_stack(scope, receive, send)

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        assert kind in ("http", "websocket", "lifespan")
        if "router" not in scope:
            scope["router"] = self
        if self._scope_form_limits and kind == "http":
            # Mounted apps inherit form limits through the scope, as in FastAPI.
            fastapi_scope = scope.setdefault("fastapi", {})
            inherited = fastapi_scope.get("form_limits", {})
            fastapi_scope["form_limits"] = {**inherited, **self._scope_form_limits}
        if kind == "lifespan":
            await self.lifespan(scope, receive, send)
            return
        routes = self._routes
        route_path = get_route_path(scope) if scope.get("root_path") else scope["path"]
        partial: BaseRoute | None = None
        partial_scope: Scope | None = None
        route_index = self._index
        if route_index is None or route_index.version != routes.version:
            route_index = self._route_index()
        matchers = route_index.matchers
        candidates = route_index.exact.get(route_path)
        if candidates is None:
            candidates = route_index.candidates(route_path)
        for index in candidates:
            match, child_scope = matchers[index](scope, route_path)
            if match is Match.FULL:
                scope.update(child_scope)
                if route_index.direct[index]:
                    await routes[index].app(scope, receive, send)  # type: ignore[attr-defined]
                else:
                    await routes[index].handle(scope, receive, send)
                return
            if match is Match.PARTIAL and partial is None:
                partial, partial_scope = routes[index], child_scope
        if partial is not None:
            # Right path, wrong method: the route answers 405 with its Allow header.
            scope.update(partial_scope)  # type: ignore[arg-type]
            await partial.handle(scope, receive, send)
            return
        if kind == "http" and self.redirect_slashes and route_path != "/":
            redirect_scope = dict(scope)
            if route_path.endswith("/"):
                redirect_scope["path"] = redirect_scope["path"].rstrip("/")
            else:
                redirect_scope["path"] = redirect_scope["path"] + "/"
            redirect_path = get_route_path(redirect_scope)
            for index in self._route_index().candidates(redirect_path):
                match, _ = routes[index].matches(redirect_scope)
                if match is not Match.NONE:
                    url = URL(scope=redirect_scope)
                    await RedirectResponse(url=str(url))(scope, receive, send)
                    return
        await self.default(scope, receive, send)

    def mount(self, path: str, app: ASGIApp, name: str | None = None) -> None:
        self.routes.append(Mount(path, app=app, name=name))

    def host(self, host: str, app: ASGIApp, name: str | None = None) -> None:
        self.routes.append(Host(host, app=app, name=name))

    def add_route(
        self,
        path: str,
        endpoint: Callable[..., Any],
        methods: Collection[str] | None = None,
        name: str | None = None,
        include_in_schema: bool = True,
    ) -> None:
        self.routes.append(
            Route(path, endpoint, methods=methods, name=name, include_in_schema=include_in_schema)
        )

    def add_websocket_route(
        self, path: str, endpoint: Callable[..., Any], name: str | None = None
    ) -> None:
        self.routes.append(WebSocketRoute(path, endpoint, name=name))

    def add_event_handler(self, event_type: str, func: Callable[[], Any]) -> None:
        assert event_type in ("startup", "shutdown")
        if event_type == "startup":
            self.on_startup.append(func)
        else:
            self.on_shutdown.append(func)

    def on_event(self, event_type: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
            self.add_event_handler(event_type, func)
            return func

        return decorator

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Router) and self.routes == other.routes

    __hash__ = object.__hash__


# FastAPI's routing lives in its own modules; both import paths offer it.  Loaded on
# first use: those modules build on this one.
_API_NAMES = {
    "APIRoute": "api_routing",
    "APIWebSocketRoute": "api_routing",
    "get_websocket_app": "api_routing",
    "APIRouter": "api_router",
    "get_request_handler": "handlers",
    "run_endpoint_function": "handlers",
    "serialize_response": "handlers",
}


if TYPE_CHECKING:  # pragma: no cover
    from .api_router import APIRouter
    from .api_routing import APIRoute, APIWebSocketRoute, get_websocket_app
    from .handlers import get_request_handler, run_endpoint_function, serialize_response


def __getattr__(name: str) -> Any:
    module = _API_NAMES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"aster.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "PARAM_REGEX",
    "APIRoute",
    "APIRouter",
    "APIWebSocketRoute",
    "BaseRoute",
    "Host",
    "Match",
    "Mount",
    "NoMatchFound",
    "Route",
    "Router",
    "WebSocketRoute",
    "compile_path",
    "get_name",
    "get_request_handler",
    "get_route_path",
    "get_websocket_app",
    "replace_params",
    "request_response",
    "run_endpoint_function",
    "serialize_response",
    "websocket_session",
]
