"""Starlette's routes: ``Route`` (an endpoint for a path and methods) and ``WebSocketRoute``.

``request_response`` and ``websocket_session`` turn a plain endpoint function into the
ASGI app a route calls; they are Starlette's (FastAPI's, which also open the exit stacks
of dependencies with ``yield``, are in :mod:`aster.api_routing`).
"""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import Any

from ._response import PlainTextResponse, Response
from ._routing_base import (
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
from .datastructures import URLPath
from .middleware import Middleware
from .middleware.exceptions import wrap_app_handling_exceptions
from .requests import Request
from .types import ASGIApp, Receive, Scope, Send
from .websockets import WebSocket

__all__ = [
    "Route",
    "WebSocketRoute",
    "iscoroutinefunction_or_partial",
    "request_response",
    "websocket_session",
]


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

    _path_matches = matches

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

    _plain_handle = handle

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

    _path_matches = matches

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
