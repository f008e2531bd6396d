"""``AuthenticationMiddleware``: run the backend once per connection, before the app.

The result lands in ``scope["auth"]`` and ``scope["user"]`` (``request.auth``/``request.user``);
a connection the backend does not recognise gets empty credentials and an
``UnauthenticatedUser``. An ``AuthenticationError`` from the backend is answered by ``on_error``
(default: 400 with the error's text) and the app is not called; a WebSocket is closed instead,
with code 1000, since no HTTP response can be sent on it.
"""

from __future__ import annotations

from collections.abc import Callable

from .._response import PlainTextResponse, Response
from ..authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    UnauthenticatedUser,
)
from ..requests import HTTPConnection
from ..types import ASGIApp, Receive, Scope, Send

__all__ = ["AuthenticationMiddleware"]


class AuthenticationMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        backend: AuthenticationBackend,
        on_error: Callable[[HTTPConnection, AuthenticationError], Response] | None = None,
    ) -> None:
        self.app = app
        self.backend = backend
        self.on_error: Callable[[HTTPConnection, AuthenticationError], Response] = (
            on_error if on_error is not None else self.default_on_error
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        try:
            result = await self.backend.authenticate(conn)
        except AuthenticationError as exc:
            response = self.on_error(conn, exc)
            if kind == "websocket":
                await send({"type": "websocket.close", "code": 1000})
            else:
                await response(scope, receive, send)
            return
        if result is None:
            result = AuthCredentials(), UnauthenticatedUser()
        scope["auth"], scope["user"] = result
        await self.app(scope, receive, send)

    @staticmethod
    def default_on_error(conn: HTTPConnection, exc: Exception) -> Response:
        return PlainTextResponse(str(exc), status_code=400)
