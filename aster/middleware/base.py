"""``BaseHTTPMiddleware``: ``dispatch(request, call_next)`` middleware, with Starlette's rules.

Starlette runs the downstream app in a separate task and passes its messages
through a memory stream, so context variables set by the endpoint are lost and
every hand-off costs a task switch.  Here the app runs in the *caller's own
task*: :class:`~aster.middleware._app_driver._AppDriver` steps the app's
coroutine from inside dispatch's await chain and pauses it whenever it sends.

* ``call_next`` steps the app until it sends ``http.response.start`` and
  returns a response whose body iterator resumes it chunk by chunk.  Whatever
  the endpoint set in a ``ContextVar`` is visible to dispatch afterwards.
* Each chunk goes out as soon as the app produces it, as Starlette sends it:
  the chunk with ``more_body: True``, and at the end an empty ``more_body:
  False``.  The app stays paused in its last ``send`` until the middleware's
  response is out, so its background work runs after it (other requests first).
* The body and the disconnect follow Starlette's ``_CachedRequest`` (see
  :class:`_CachedRequest`); an error the app raises before responding comes out
  of ``call_next`` with Starlette's exception chain.
* An error the server's ``send`` raises (a client gone away) is raised inside
  the app at its own ``send``, where it would arise without the middleware; an
  app that sends again after that is cancelled.  An app whose response dispatch
  discarded gets ``http.disconnect`` from ``receive`` and, from ASGI 2.4, an
  ``OSError`` from ``send``, so an endless stream cannot keep the task busy.

Messages sent from *another* task (an app that streams from a task it spawned)
are queued and delivered in order too, and the await chain wakes up for them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from typing import Any, NoReturn

from .._disconnect import send_raises_on_disconnect
from .._response import Response
from ..requests import Request
from ..types import ASGIApp, Message, Receive, Scope, Send
from ._app_driver import ResponseGone, _AppDriver

__all__ = ["BaseHTTPMiddleware", "DispatchFunction", "RequestResponseEndpoint", "ResponseGone"]

RequestResponseEndpoint = Callable[[Request], Awaitable[Response]]
DispatchFunction = Callable[[Request, RequestResponseEndpoint], Awaitable[Response]]


class _AppEnded(Exception):
    """The app ended before sending a response: what its error is re-raised in."""


def _reraise(exc: Exception) -> NoReturn:
    """Raise the app's error from ``call_next`` with the chain Starlette gives it.

    Starlette re-raises it inside its stream's end-of-stream handler, as ``raise exc
    from (cause or context)``: an implicit context becomes the explicit cause (error
    reporters read ``__cause__``), and ``__context__`` is the suppressed end of stream.
    """
    cause = exc.__cause__
    if cause is None and not exc.__suppress_context__:
        context = exc.__context__
        cause = None if isinstance(context, _AppEnded) else context
    try:
        raise _AppEnded
    except _AppEnded:
        raise exc from cause


class _CachedRequest(Request):
    """The request ``dispatch`` gets; ``receive_for_app`` is the ``receive`` the app gets.

    The body follows Starlette's rules.  What dispatch read with ``body()`` (or
    ``json()``) is handed to the app whole.  After dispatch consumed ``stream()`` the
    app gets an empty body: a stream is not kept, so a large upload is never held in
    memory.  Body nobody has read yet reaches the app as it arrives, read through this
    request, so a ``stream()`` in dispatch after the app consumed the body raises
    "Stream consumed" rather than waiting forever.  Once the body is done the app may
    poll for the disconnect as often as it likes (the server's one ``http.disconnect``
    answers every later poll), and once the response is out the app's ``receive``
    answers ``http.disconnect``, waking a poll that is waiting.
    """

    _wrapped_rcv_disconnected = False
    _wrapped_rcv_consumed = False
    _response_sent = False
    _sent: asyncio.Future[None] | None = None
    _poll: asyncio.Task[Message] | None = None

    async def wrapped_receive(self) -> Message:
        """The next message for the app, read through this request (Starlette's name)."""
        if self._wrapped_rcv_disconnected:
            return {"type": "http.disconnect"}
        if self._wrapped_rcv_consumed:
            if self._is_disconnected:
                self._wrapped_rcv_disconnected = True
                return {"type": "http.disconnect"}
            message = await self._receive()
            if message["type"] != "http.disconnect":
                raise RuntimeError(f"Unexpected message received: {message['type']}")
            self._wrapped_rcv_disconnected = self._is_disconnected = True
            return message
        body = self._recorded_body()
        if body is not None:  # dispatch read it with body()
            self._wrapped_rcv_consumed = True
            return {"type": "http.request", "body": body, "more_body": False}
        if self._stream_consumed:  # dispatch consumed stream(): nothing is left
            self._wrapped_rcv_consumed = True
            return {"type": "http.request", "body": b"", "more_body": False}
        while True:  # the next chunk nobody has read, as stream() would yield it
            message = self._early_message
            if message is None:
                message = await self._receive()
            else:
                self._early_message = None
            kind = message["type"]
            if kind == "http.request":
                chunk = message.get("body", b"")
                more_body = message.get("more_body", False)
                if not more_body:
                    self._stream_consumed = self._wrapped_rcv_consumed = True
                if chunk or not more_body:
                    return {"type": "http.request", "body": chunk, "more_body": more_body}
            elif kind == "http.disconnect":
                self._is_disconnected = self._wrapped_rcv_disconnected = True
                return {"type": "http.disconnect"}

    async def receive_for_app(self) -> Message:
        if self._response_sent:
            return {"type": "http.disconnect"}
        if not self._wrapped_rcv_consumed or self._wrapped_rcv_disconnected:
            return await self.wrapped_receive()
        # Only http.disconnect can come now, maybe never: wait for it, or for the response
        # to go out.  The poll is a task, kept if we are cancelled, so no message is lost.
        poll = self._poll
        if poll is None:
            poll = self._poll = asyncio.get_running_loop().create_task(self.wrapped_receive())
        if not poll.done():
            sent = self._sent
            if sent is None:
                sent = self._sent = asyncio.get_running_loop().create_future()
            await asyncio.wait((poll, sent), return_when=asyncio.FIRST_COMPLETED)
            if not poll.done():
                return {"type": "http.disconnect"}  # the response is out
        self._poll = None
        return poll.result()

    def response_done(self) -> None:
        """The response is out (or abandoned): the app's ``receive`` says disconnect now."""
        self._response_sent = True
        sent = self._sent
        if sent is not None and not sent.done():
            sent.set_result(None)
        poll = self._poll
        if poll is not None:
            self._poll = None
            poll.cancel()


class _DownstreamResponse(Response):
    """What ``call_next`` returns: the app's status and headers, its body still to come.

    Its ``headers`` can be changed before it is sent.  ``body_iterator`` yields
    the app's body chunks (the app runs as it is iterated); dispatch may consume
    it and build another response.
    """

    def __init__(
        self,
        driver: _AppDriver,
        status_code: int,
        raw_headers: list[tuple[bytes, bytes]],
        info: Mapping[str, Any] | None,
    ) -> None:
        self._driver = driver
        self.status_code = status_code
        self.raw_headers = raw_headers
        self.info = info
        self.media_type = None
        self.background = None
        self.body_iterator = self._own_iterator = self._iterate()

    async def _iterate(self) -> AsyncGenerator[bytes | Message, None]:
        """The body chunks; a ``pathsend`` message is passed through as a dict."""
        driver = self._driver
        while True:
            message = await driver.next_message()
            if message is None:
                return
            kind = message["type"]
            if kind == "http.response.pathsend":
                yield message
                return
            if kind != "http.response.body":
                raise RuntimeError(f"Unexpected message: {message}")
            body = message.get("body", b"")
            if body:
                yield body
            if not message.get("more_body", False):
                return

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.info is not None:
            await send({"type": "http.response.debug", "info": self.info})
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        if self.body_iterator is self._own_iterator:
            await self._relay(send)
        else:  # dispatch replaced the body with its own iterator
            complete = True
            async for chunk in self.body_iterator:
                if isinstance(chunk, Mapping):
                    complete = False
                    await send(chunk)
                    continue
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            if complete:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        if self.background is not None:
            await self.background()

    async def _relay(self, send: Send) -> None:
        """Forward the app's body as Starlette does: each chunk, then an empty final message.

        An error from ``send`` (the client is gone) is raised in the app at its own
        ``send``, where it would arise without the middleware.  An app that sends again
        after that is cancelled and the error raised here: it would never stop.
        """
        driver = self._driver
        error: BaseException | None = None
        while True:
            message = await driver.next_message(error)
            if message is None:
                if error is None:  # the app returned without ending its body: end it
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            if error is not None:
                await driver.abort()
                raise error
            kind = message["type"]
            if kind != "http.response.body" and kind != "http.response.pathsend":
                raise RuntimeError(f"Unexpected message: {message}")
            try:
                if kind == "http.response.pathsend":
                    await send(message)
                    return
                body = message.get("body", b"")
                if body:
                    await send({"type": "http.response.body", "body": body, "more_body": True})
                if not message.get("more_body", False):
                    # The app stays held in its final send until the middleware is done.
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                    return
            except Exception as exc:
                error = exc


class BaseHTTPMiddleware:
    """Subclass and override ``dispatch``, or pass ``dispatch=`` (``@app.middleware("http")``)."""

    def __init__(self, app: ASGIApp, dispatch: DispatchFunction | None = None) -> None:
        self.app = app
        self.dispatch_func = self.dispatch if dispatch is None else dispatch

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cached = _CachedRequest(scope, receive, send)
        drivers: list[_AppDriver] = []

        async def call_next(request: Request) -> Response:
            driver = _AppDriver(self.app, scope, cached.receive_for_app)
            drivers.append(driver)
            info = None
            while True:
                try:
                    message = await driver.next_message()
                except Exception as exc:
                    _reraise(exc)
                if message is None:
                    raise RuntimeError("No response returned.")
                kind = message["type"]
                if kind == "http.response.start":
                    break
                if kind == "http.response.debug":
                    info = message["info"]
                elif kind == "http.response.early_hint":
                    await send(message)
                else:
                    raise RuntimeError(f"Unexpected message before the response start: {kind!r}")
            raw_headers = message.get("headers", [])
            if type(raw_headers) is not list:
                raw_headers = list(raw_headers)
            return _DownstreamResponse(driver, message["status"], raw_headers, info)

        try:
            response = await self.dispatch_func(cached, call_next)
            await response(scope, cached.wrapped_receive, send)
        except BaseException:
            cached.response_done()
            for driver in drivers:
                await driver.abort()
            raise
        cached.response_done()
        if drivers:
            refuse_sends = send_raises_on_disconnect(scope)
            for driver in drivers:
                await driver.drain(refuse_sends)

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        raise NotImplementedError()  # pragma: no cover
