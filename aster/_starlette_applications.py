"""Starlette's application: an ASGI callable around a router.

On the first call it builds its middleware stack, outermost first:

    ServerErrorMiddleware -> user middleware... -> ExceptionMiddleware -> router

so unhandled errors become 500s (with a traceback page in debug mode), while
``HTTPException`` and registered handlers are rendered as close to the endpoint as
possible, inside the user's middleware.  ``FastAPI`` (:mod:`aster.applications`) is a
subclass.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from . import _telemetry_hooks
from ._asyncio_only import require_asyncio_loop
from ._response import Response
from ._router import Router
from ._routing_base import BaseRoute
from .datastructures import State, URLPath
from .middleware import Middleware
from .middleware.base import BaseHTTPMiddleware
from .middleware.body_limit import RequestBodyLimitMiddleware
from .middleware.errors import ServerErrorMiddleware
from .middleware.exceptions import (
    HANDLERS_SCOPE_KEY,
    ExceptionMiddleware,
    SendTracker,
    handle_exception,
)
from .requests import Request
from .types import (
    AppType,
    ASGIApp,
    DecoratedCallable,
    ExceptionHandler,
    Lifespan,
    Receive,
    Scope,
    Send,
)

__all__ = ["AppType", "Starlette"]


def _fuse(stack: ASGIApp, router: Any) -> tuple[Any, ...] | None:
    """``(stack, exception handlers, router.app)`` if ``stack`` is the default one.

    That is: no user middleware, no body limit, stock middleware and router classes
    and no router-level middleware.  Anything else runs through the stack as built.
    """
    if type(stack) is not ServerErrorMiddleware:
        return None
    exceptions = stack.app
    if type(exceptions) is not ExceptionMiddleware or exceptions.app is not router:
        return None
    if not isinstance(router, Router) or type(router).__call__ is not Router.__call__:
        return None
    if router.middleware_stack != router.app:
        return None
    handlers = (exceptions._exception_handlers, exceptions._status_handlers)
    return stack, handlers, router.app


class Starlette:
    """A plain application: routes, middleware, exception handlers, lifespan."""

    #: Set on a FastAPI app given ``root_path=``; every request's scope gets it.
    _root_path = ""
    #: FastAPI's telemetry gate (:mod:`aster.telemetry._gate`), set when the stack is built
    #: if the app can record telemetry at all; ``None`` (no cost) otherwise.
    _telemetry_gate: Any = None

    def __init__(
        self,
        debug: bool = False,
        routes: Sequence[BaseRoute] | None = None,
        middleware: Sequence[Middleware] | None = None,
        exception_handlers: Mapping[Any, ExceptionHandler] | None = None,
        lifespan: Lifespan[Any] | None = None,
        *,
        max_body_size: int | None = None,
    ) -> None:
        self.debug = debug
        self.state = State()
        self.router: Any = Router(routes, lifespan=lifespan)
        self.exception_handlers = {} if exception_handlers is None else dict(exception_handlers)
        self.user_middleware = [] if middleware is None else list(middleware)
        self.middleware_stack: ASGIApp | None = None
        self.max_body_size = max_body_size
        self._fused: tuple[Any, ...] | None = None

    def build_middleware_stack(self) -> ASGIApp:
        error_handler = None
        handlers: dict[Any, Callable[[Request, Exception], Response]] = {}
        for key, value in self.exception_handlers.items():
            if key in (500, Exception):
                error_handler = value
            else:
                handlers[key] = value  # type: ignore[assignment]
        middleware = [
            Middleware(ServerErrorMiddleware, handler=error_handler, debug=self.debug),
            # Outside the user's middleware: none of them may read past the limit either.
            *self._body_limit_middleware(),
        ]
        middleware += [
            *self.user_middleware,
            Middleware(ExceptionMiddleware, handlers=handlers, debug=self.debug),
        ]
        app: ASGIApp = self.router
        for cls, args, kwargs in reversed(middleware):
            app = cls(app, *args, **kwargs)
        return app

    def _body_limit_middleware(self) -> list[Middleware]:
        """The body limit's place in the stack (none without ``max_body_size``)."""
        if self.max_body_size is None:
            return []
        return [Middleware(RequestBodyLimitMiddleware, max_body_size=self.max_body_size)]

    @property
    def routes(self) -> list[BaseRoute]:
        return self.router.routes  # type: ignore[no-any-return]

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        return self.router.url_path_for(name, **path_params)  # type: ignore[no-any-return]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = self
        if self._root_path:
            scope["root_path"] = self._root_path
        stack = self.middleware_stack
        if stack is None:
            # Once, on the first call (the lifespan, usually): under trio, say so clearly
            # rather than fail somewhere deep with "no running event loop".
            require_asyncio_loop(f"The {type(self).__name__} app")
            stack = self.middleware_stack = self.build_middleware_stack()
            self._fused = _fuse(stack, self.router)
        gate = self._telemetry_gate
        if gate is not None and gate.intercepts(scope):
            await gate(stack, scope, receive, send)  # the whole stack, unfused, recorded
            return
        fused = self._fused
        if fused is None or fused[0] is not stack or scope["type"] != "http":
            await stack(scope, receive, send)
            return
        # The default stack, run inline: ServerErrorMiddleware -> ExceptionMiddleware -> router,
        # with the same tracker and the same handling, minus three coroutine layers per request.
        _, handlers, router_app = fused
        scope[HANDLERS_SCOPE_KEY] = handlers
        tracker = SendTracker(send)
        try:
            try:
                await router_app(scope, receive, tracker)
            except Exception as exc:
                await handle_exception(
                    exc,
                    Request(scope, receive, tracker),
                    scope,
                    receive,
                    tracker,
                    response_started=tracker.started,
                )
        except Exception as exc:
            if _telemetry_hooks.active:
                _telemetry_hooks.exception(scope=scope, exc=exc)
            await stack.answer(exc, scope, receive, send, tracker)  # type: ignore[attr-defined]
            raise exc

    def on_event(self, event_type: str) -> Callable[[DecoratedCallable], DecoratedCallable]:
        return self.router.on_event(event_type)  # type: ignore[no-any-return]

    def mount(self, path: str, app: ASGIApp, name: str | None = None) -> None:
        self.router.mount(path, app=app, name=name)

    def host(self, host: str, app: ASGIApp, name: str | None = None) -> None:
        self.router.host(host, app=app, name=name)

    def add_middleware(self, middleware_class: Any, *args: Any, **kwargs: Any) -> None:
        if self.middleware_stack is not None:
            raise RuntimeError("Cannot add middleware after an application has started")
        self.user_middleware.insert(0, Middleware(middleware_class, *args, **kwargs))

    def add_exception_handler(
        self, exc_class_or_status_code: int | type[Exception], handler: ExceptionHandler
    ) -> None:
        self.exception_handlers[exc_class_or_status_code] = handler

    def add_event_handler(self, event_type: str, func: Callable[..., Any]) -> None:
        self.router.add_event_handler(event_type, func)

    def add_route(
        self,
        path: str,
        route: Callable[[Request], Awaitable[Response] | Response],
        methods: list[str] | None = None,
        name: str | None = None,
        include_in_schema: bool = True,
    ) -> None:
        self.router.add_route(
            path, route, methods=methods, name=name, include_in_schema=include_in_schema
        )

    def add_websocket_route(
        self, path: str, route: Callable[..., Awaitable[None]], name: str | None = None
    ) -> None:
        self.router.add_websocket_route(path, route, name=name)

    def exception_handler(
        self, exc_class_or_status_code: int | type[Exception]
    ) -> Callable[[DecoratedCallable], DecoratedCallable]:
        def decorator(func: DecoratedCallable) -> DecoratedCallable:
            self.add_exception_handler(exc_class_or_status_code, func)
            return func

        return decorator

    def middleware(self, middleware_type: str) -> Callable[[DecoratedCallable], DecoratedCallable]:
        """``@app.middleware("http")``: a ``BaseHTTPMiddleware`` around ``dispatch``."""
        assert middleware_type == "http", 'Currently only middleware("http") is supported.'

        def decorator(func: DecoratedCallable) -> DecoratedCallable:
            self.add_middleware(BaseHTTPMiddleware, dispatch=func)
            return func

        return decorator
