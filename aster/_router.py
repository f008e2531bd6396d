"""Starlette's router, and the routes that nest apps in it: ``Mount`` and ``Host``.

``Router.app`` asks its :class:`~aster.route_index.RouteIndex` for the few
routes whose static prefix fits the path, tries them in registration order,
and hands the request to the first full match.  A route that matches the path
but not the method is remembered and answered with 405 (and an ``Allow``
header) if nothing else matches; failing that, a trailing-slash variant that
would match gets a redirect, and anything else goes to ``_unmatched`` (the ``default``
app, a 404, unless a subclass has routes of its own to try last).

A ``Mount`` is an app, or a ``Router`` of its own routes, below a path prefix; a
``Host`` an app for one host name.  They live with the router because each makes
the other: ``Router.mount()`` adds a ``Mount``, ``Mount(routes=...)`` builds a ``Router``.
"""

from __future__ import annotations

import contextlib
import inspect
import traceback
from collections.abc import Callable, Collection, Sequence
from typing import Any

from . import _telemetry_hooks
from ._response import PlainTextResponse, RedirectResponse
from ._routes import Route, WebSocketRoute
from ._routing_base import (
    FASTAPI_SCOPE_KEY,
    BaseRoute,
    Match,
    NoMatchFound,
    _child_url,
    _match_params,
    _wrap,
    compile_path,
    get_route_path,
    merge_child_scope,
    replace_params,
)
from ._starlette_exceptions import StarletteHTTPException as HTTPException
from ._url import parse_host_header
from .concurrency import is_async_callable
from .datastructures import URL, Headers, URLPath
from .middleware import Middleware
from .route_index import RouteIndex, RouteList
from .types import ASGIApp, Lifespan, Receive, Scope, Send
from .websockets import WebSocketClose

__all__ = ["Host", "Mount", "Router", "lifespan_context_from"]


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

    def _started(self) -> None:
        """The lifespan startup ran (and with it whatever changes it made to the routes)."""

    def _lifespan_resources(self, scope: Scope) -> contextlib.AbstractAsyncContextManager[Any]:
        """What lives from the end of the startup to the start of the shutdown (none here;
        FastAPI-level routers open their lifespan-scoped dependencies)."""
        return contextlib.nullcontext()

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
                self._started()
                async with self._lifespan_resources(scope):
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
                scope["route"] = routes[index]  # what was dispatched to (tracing reads it)
                if FASTAPI_SCOPE_KEY in child_scope and FASTAPI_SCOPE_KEY in scope:
                    merge_child_scope(scope, child_scope)  # keep what enclosing routers put
                else:
                    scope.update(child_scope)
                if _telemetry_hooks.active:
                    _telemetry_hooks.route_selected(scope, routes[index])
                if route_index.direct[index]:
                    await routes[index].app(scope, receive, send)  # type: ignore[attr-defined]
                else:
                    await routes[index].handle(scope, receive, send)
                return
            if match is Match.PARTIAL and partial is None:
                partial, partial_scope = routes[index], child_scope
        if partial is not None:
            # Right path, wrong method: the route answers 405 with its Allow header.
            scope["route"] = partial
            scope.update(partial_scope)  # type: ignore[arg-type]
            if _telemetry_hooks.active:
                _telemetry_hooks.route_selected(scope, partial)
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
                    if _telemetry_hooks.active:  # the route the redirect leads to
                        _telemetry_hooks.route_template_selected(
                            scope, getattr(routes[index], "path_format", None)
                        )
                    url = URL(scope=redirect_scope)
                    await RedirectResponse(url=str(url))(scope, receive, send)
                    return
        await self._unmatched(scope, receive, send)

    async def _unmatched(self, scope: Scope, receive: Receive, send: Send) -> None:
        """No route matched, and no slash redirect: the ``default`` app answers.

        ``APIRouter`` tries its low-priority routes (``frontend()``) here first.
        """
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


class Mount(BaseRoute):
    """An ASGI app (or a list of routes) below a path prefix."""

    def __init__(
        self,
        path: str,
        app: ASGIApp | None = None,
        routes: Sequence[BaseRoute] | None = None,
        name: str | None = None,
        *,
        middleware: Sequence[Middleware] | None = None,
        max_body_size: int | None = None,
    ) -> None:
        assert path == "" or path.startswith("/"), "Routed paths must start with '/'"
        assert app is not None or routes is not None, (
            "Either 'app=...', or 'routes=' must be specified"
        )
        self.path = path.rstrip("/")
        if app is not None:
            self._base_app: ASGIApp = app
        else:
            self._base_app = Router(routes=routes)
        self.app = _wrap(self._base_app, middleware, max_body_size)
        self.name = name
        self.path_regex, self.path_format, self.param_convertors = compile_path(
            self.path + "/{path:path}"
        )

    @property
    def routes(self) -> list[BaseRoute]:
        return getattr(self._base_app, "routes", [])

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        return self._matches_path(scope, get_route_path(scope))

    _path_matches = matches
    _path_is_prefix = True

    def _matches_path(self, scope: Scope, route_path: str) -> tuple[Match, Scope]:
        if scope["type"] in ("http", "websocket"):
            root_path = scope.get("root_path", "")
            params = _match_params(self.path_regex, self.param_convertors, route_path)
            if params is not None:
                remaining_path = "/" + params.pop("path")
                matched_path = route_path[: -len(remaining_path)]
                path_params = dict(scope.get("path_params", {}))
                path_params.update(params)
                return Match.FULL, {
                    "path_params": path_params,
                    # url_for() needs the top-level root path in every nested scope.
                    "app_root_path": scope.get("app_root_path", root_path),
                    "root_path": root_path + matched_path,
                    "endpoint": self.app,
                }
        return Match.NONE, {}

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        if self.name is not None and name == self.name and "path" in path_params:
            # 'name' matches "<mount_name>".
            path_params["path"] = path_params["path"].lstrip("/")
            path, remaining = replace_params(self.path_format, self.param_convertors, path_params)
            if not remaining:
                return URLPath(path=path)
        elif self.name is None or name.startswith(self.name + ":"):
            if self.name is None:
                remaining_name = name  # 'name' matches "<route_name>".
            else:
                remaining_name = name[len(self.name) + 1 :]  # "<mount_name>:<route_name>"
            path_kwarg = path_params.get("path")
            path_params["path"] = ""
            path_prefix, remaining = replace_params(
                self.path_format, self.param_convertors, path_params
            )
            if path_kwarg is not None:
                remaining["path"] = path_kwarg
            url = _child_url(self.routes, remaining_name, remaining)
            if url is not None:
                return URLPath(path=path_prefix.rstrip("/") + str(url), protocol=url.protocol)
        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Mount) and self.path == other.path and self.app == other.app

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        name = self.name or ""
        return f"{self.__class__.__name__}(path={self.path!r}, name={name!r}, app={self.app!r})"


class Host(BaseRoute):
    """An ASGI app for one host name pattern, e.g. ``{subdomain}.example.org``."""

    def __init__(self, host: str, app: ASGIApp, name: str | None = None) -> None:
        assert not host.startswith("/"), "Host must not start with '/'"
        self.host = host
        self.app = app
        self.name = name
        self.host_regex, self.host_format, self.param_convertors = compile_path(host)

    @property
    def routes(self) -> list[BaseRoute]:
        return getattr(self.app, "routes", [])

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] in ("http", "websocket"):
            # A malformed Host header (``api.example.org:evil``, ``a/b``) matches no host.
            parsed = parse_host_header(Headers(scope=scope).get("host"))
            if parsed is None:
                return Match.NONE, {}
            params = _match_params(self.host_regex, self.param_convertors, parsed.host.lower())
            if params is not None:
                path_params = dict(scope.get("path_params", {}))
                path_params.update(params)
                return Match.FULL, {"path_params": path_params, "endpoint": self.app}
        return Match.NONE, {}

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        if self.name is not None and name == self.name and "path" in path_params:
            path = path_params.pop("path")
            host, remaining = replace_params(self.host_format, self.param_convertors, path_params)
            if not remaining:
                return URLPath(path=path, host=host)
        elif self.name is None or name.startswith(self.name + ":"):
            remaining_name = name if self.name is None else name[len(self.name) + 1 :]
            host, remaining = replace_params(self.host_format, self.param_convertors, path_params)
            url = _child_url(self.routes, remaining_name, remaining)
            if url is not None:
                return URLPath(path=str(url), protocol=url.protocol, host=host)
        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Host) and self.host == other.host and self.app == other.app

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        name = self.name or ""
        return f"{self.__class__.__name__}(host={self.host!r}, name={name!r}, app={self.app!r})"
