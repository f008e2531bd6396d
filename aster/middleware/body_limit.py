"""A limit on the request body size: 413 "Content Too Large" past ``max_body_size`` bytes.

Limits nest (application, router, route); the innermost one that applies wins,
so a route can allow large uploads in an app that otherwise refuses them.  The
outermost middleware does the counting, inner ones only adjust the limit: a
request is counted once however many limits wrap it.

A declared Content-Length over the limit is refused before the body is read.
Inside an application the limit raises an ``HTTPException(413)`` from
``receive()``, so the app's exception handlers render it; outside, or if the
app swallowed it, a plain-text 413 is sent if the response has not started.
"""

from __future__ import annotations

from typing import Any

from .._response import PlainTextResponse
from .._starlette_exceptions import StarletteHTTPException as HTTPException
from ..types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_SIZE_SCOPE_KEY = "starlette.max_body_size"
_RESPONDER_SCOPE_KEY = "starlette._body_limit_responder"
_MISSING: Any = object()


class RequestBodyTooLarge(HTTPException):
    def __init__(self) -> None:
        super().__init__(status_code=413, detail="Content Too Large")


class _ResponseSent(Exception):
    """The 413 went out in place of the app's response; unwind quietly."""


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class RequestBodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_body_size: int) -> None:
        self.app = app
        self.max_body_size = max_body_size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        active: _Counter | None = scope.get(_RESPONDER_SCOPE_KEY)
        previous = scope.get(MAX_BODY_SIZE_SCOPE_KEY, _MISSING)
        scope[MAX_BODY_SIZE_SCOPE_KEY] = self.max_body_size
        try:
            if active is not None:
                # An outer limit is already counting: this one, being inner, takes over.
                active.limit = self.max_body_size
                if active.total > active.limit:
                    raise RequestBodyTooLarge
                await self.app(scope, receive, send)
            else:
                await _Counter(self.app, self.max_body_size)(scope, receive, send)
        finally:
            if previous is _MISSING:
                scope.pop(MAX_BODY_SIZE_SCOPE_KEY, None)
            else:
                scope[MAX_BODY_SIZE_SCOPE_KEY] = previous


class _Counter:
    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        self.total = 0
        self.declared: int | None = None
        self.started = False
        self._receive: Receive | None = None
        self._send: Send | None = None
        self._scope: Scope | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._scope, self._receive, self._send = scope, receive, send
        self.declared = _content_length(scope)
        scope[_RESPONDER_SCOPE_KEY] = self
        try:
            await self.app(scope, self.receive, self.send)
        except RequestBodyTooLarge:
            if self.started:
                raise
            await PlainTextResponse("Content Too Large", status_code=413)(scope, receive, send)
        except _ResponseSent:
            pass
        finally:
            scope.pop(_RESPONDER_SCOPE_KEY, None)

    async def receive(self) -> Message:
        if self.declared is not None and self.declared > self.limit:
            raise RequestBodyTooLarge
        assert self._receive is not None
        message = await self._receive()
        if message["type"] == "http.request":
            self.total += len(message.get("body", b""))
            if self.total > self.limit:
                raise RequestBodyTooLarge
        return message

    async def send(self, message: Message) -> None:
        assert self._send is not None and self._scope is not None
        if message["type"] == "http.response.start":
            self.started = True
            if self.declared is not None and self.declared > self.limit:
                # The app answered without reading the body: the limit still holds.
                response = PlainTextResponse("Content Too Large", status_code=413)
                await response(self._scope, self._receive, self._send)  # type: ignore[arg-type]
                raise _ResponseSent
        await self._send(message)
