"""``fastapi._body_limit``: FastAPI's helpers around Starlette's request body limit.

``max_body_size`` is accepted on the app, on routers, on ``include_router`` and on
routes; the innermost limit that is set wins (:func:`get_body_size_limit`).  The limit
itself is :class:`aster.middleware.body_limit.RequestBodyLimitMiddleware`.  In aster
its errors are plain exceptions (no task group wraps them), so
:func:`get_body_limit_error` mostly answers for the exception itself; it also unwraps
an ``ExceptionGroup`` made only of body-limit errors, as FastAPI's does.
"""

from __future__ import annotations

import builtins
from typing import Any

from .exception_handlers import http_exception_handler
from .exceptions import StarletteHTTPException as HTTPException
from .middleware import body_limit
from .middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY, RequestBodyLimitMiddleware
from .requests import Request
from .types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "MAX_BODY_SIZE_SCOPE_KEY",
    "AppBodyLimitMiddleware",
    "get_body_limit_error",
    "get_body_size_limit",
    "validate_max_body_size",
    "wrap_app_with_body_limit",
]

#: Python 3.11's; on 3.10 no group can arrive (aster makes none), so nothing matches it.
_ExceptionGroup: Any = getattr(builtins, "ExceptionGroup", ())
_response_sent = body_limit._ResponseSent
_body_limit_errors: tuple[type[BaseException], ...] = (
    body_limit.RequestBodyTooLarge,
    _response_sent,
)


def validate_max_body_size(max_body_size: int | None) -> None:
    """``None`` or a non-negative ``int`` (not a ``bool``), checked when the app is built."""
    if max_body_size is None:
        return
    if isinstance(max_body_size, bool) or not isinstance(max_body_size, int) or max_body_size < 0:
        raise ValueError("max_body_size must be a non-negative integer or None")


def get_body_size_limit(*limits: int | None) -> int | None:
    """The first limit that is set: pass them innermost (the route's) first."""
    return next((limit for limit in limits if limit is not None), None)


def get_body_limit_error(exc: Exception) -> Exception | None:
    """The body-limit error ``exc`` is (or a group made only of such errors holds), else None."""
    if isinstance(exc, _ExceptionGroup):
        _, other = exc.split(_body_limit_errors)
        if other is not None:
            return None
        exc = exc.subgroup(_response_sent) or exc  # the 413 already went out: let it finish
        while isinstance(exc, _ExceptionGroup):
            exc = exc.exceptions[0]
    return exc if isinstance(exc, _body_limit_errors) else None


def wrap_app_with_body_limit(app: ASGIApp, max_body_size: int | None) -> ASGIApp:
    """``app`` behind a body limit, or ``app`` itself when there is none."""
    if max_body_size is None:
        return app
    return RequestBodyLimitMiddleware(app, max_body_size=max_body_size)


class AppBodyLimitMiddleware:
    """An application's own limit; mounted in an app that has one, it answers the 413 itself."""

    def __init__(self, app: ASGIApp, max_body_size: int | None) -> None:
        self.app = wrap_app_with_body_limit(app, max_body_size)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if MAX_BODY_SIZE_SCOPE_KEY not in scope:
            await self.app(scope, receive, send)
            return
        # Mounted under an app that counts already: errors would reach that app's
        # server-error handler (a 500) before its exception handlers, so answer here.
        started = False

        async def send_response(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_response)
        except Exception as exc:
            error = get_body_limit_error(exc)
            if started or not isinstance(error, HTTPException):
                raise
            response = await http_exception_handler(Request(scope, receive), error)
            await response(scope, receive, send)
