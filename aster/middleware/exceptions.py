"""``ExceptionMiddleware`` and the exception-handler lookup the router shares with it.

``ExceptionMiddleware`` stores its handler tables in
``scope["starlette.exception_handlers"]`` (the key Starlette uses, so code that
peeks at it keeps working).  Routes then call :func:`handle_exception` for what
their endpoint raised, so a handler runs inside the route, before any
middleware between the router and this one sees the exception.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._response import PlainTextResponse, Response
from .._starlette_exceptions import StarletteHTTPException as HTTPException
from .._starlette_exceptions import StarletteWebSocketException as WebSocketException
from ..concurrency import is_async_callable, run_in_threadpool
from ..requests import HTTPConnection, Request
from ..types import ASGIApp, ExceptionHandler, Message, Receive, Scope, Send
from ..websockets import WebSocket

__all__ = [
    "HANDLERS_SCOPE_KEY",
    "ExceptionHandlers",
    "ExceptionMiddleware",
    "StatusHandlers",
    "handle_exception",
    "lookup_exception_handler",
    "wrap_app_handling_exceptions",
]

ExceptionHandlers = dict[Any, ExceptionHandler]
StatusHandlers = dict[int, ExceptionHandler]

HANDLERS_SCOPE_KEY = "starlette.exception_handlers"


def lookup_exception_handler(
    exc: Exception, exception_handlers: ExceptionHandlers, status_handlers: StatusHandlers
) -> ExceptionHandler | None:
    """The handler for ``exc``: by status code for an HTTPException, else by class MRO."""
    if status_handlers and isinstance(exc, HTTPException):
        handler = status_handlers.get(exc.status_code)
        if handler is not None:
            return handler
    for cls in type(exc).__mro__:
        handler = exception_handlers.get(cls)
        if handler is not None:
            return handler
    return None


async def handle_exception(
    exc: Exception,
    conn: HTTPConnection,
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    response_started: bool = False,
) -> None:
    """Answer ``exc`` with the handler registered for it, or re-raise it.

    The handlers come from ``scope["starlette.exception_handlers"]``.  With no
    matching handler ``exc`` propagates unchanged; when one matches but the
    response has already started, nothing can be sent, so a ``RuntimeError``
    (caused by ``exc``) is raised instead.  Sync handlers run in the threadpool.
    """
    tables = scope.get(HANDLERS_SCOPE_KEY)
    handler = None if tables is None else lookup_exception_handler(exc, *tables)
    if handler is None:
        raise exc
    if response_started:
        raise RuntimeError("Caught handled exception, but response already started.") from exc
    if is_async_callable(handler):
        response = await handler(conn, exc)
    else:
        response = await run_in_threadpool(handler, conn, exc)
    if response is not None:
        await response(scope, receive, send)
    # A reused exception instance would otherwise accumulate tracebacks across requests.
    exc.__traceback__ = None


class SendTracker:
    """``send``, remembering whether the response has started.

    Every exception-handling layer needs that flag: a handler may only answer if
    nothing was sent yet.  Layers that sit directly on each other (server errors,
    exception middleware, the route) share one tracker: a layer handed a tracker
    as its ``send`` uses it as is, since every message it sees passes through it.
    """

    __slots__ = ("send", "started")

    def __init__(self, send: Send) -> None:
        self.send = send
        self.started = False

    def __call__(self, message: Message) -> Any:
        if message["type"] == "http.response.start":
            self.started = True
        return self.send(message)


def track(send: Send) -> SendTracker:
    """A tracker for ``send``: ``send`` itself when it already is one."""
    return send if type(send) is SendTracker else SendTracker(send)


def wrap_app_handling_exceptions(app: ASGIApp, conn: HTTPConnection) -> ASGIApp:
    """``app`` with its exceptions answered by the registered handlers (Starlette's helper)."""

    async def wrapped_app(scope: Scope, receive: Receive, send: Send) -> None:
        tracker = track(send)
        try:
            await app(scope, receive, tracker)
        except Exception as exc:
            await handle_exception(
                exc, conn, scope, receive, tracker, response_started=tracker.started
            )

    return wrapped_app


class ExceptionMiddleware:
    """Runs the app with the exception handlers available to routes and to itself."""

    def __init__(
        self,
        app: ASGIApp,
        handlers: Mapping[Any, ExceptionHandler] | None = None,
        debug: bool = False,
    ) -> None:
        self.app = app
        self.debug = debug
        self._status_handlers: StatusHandlers = {}
        self._exception_handlers: ExceptionHandlers = {
            HTTPException: self.http_exception,
            WebSocketException: self.websocket_exception,
        }
        if handlers is not None:
            for key, value in handlers.items():
                self.add_exception_handler(key, value)

    def add_exception_handler(
        self, exc_class_or_status_code: int | type[Exception], handler: ExceptionHandler
    ) -> None:
        if isinstance(exc_class_or_status_code, int):
            self._status_handlers[exc_class_or_status_code] = handler
        else:
            assert issubclass(exc_class_or_status_code, Exception)
            self._exception_handlers[exc_class_or_status_code] = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        scope[HANDLERS_SCOPE_KEY] = (self._exception_handlers, self._status_handlers)
        tracker = track(send)
        try:
            await self.app(scope, receive, tracker)
        except Exception as exc:
            # The connection object is only needed by a handler: build it on demand.
            conn: HTTPConnection
            if kind == "http":
                conn = Request(scope, receive, send)
            else:
                conn = WebSocket(scope, receive, send)
            await handle_exception(
                exc, conn, scope, receive, tracker, response_started=tracker.started
            )

    async def http_exception(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code in {204, 304}:
            return Response(status_code=exc.status_code, headers=exc.headers)
        return PlainTextResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)

    async def websocket_exception(self, websocket: WebSocket, exc: Exception) -> None:
        assert isinstance(exc, WebSocketException)
        await websocket.close(code=exc.code, reason=exc.reason)
