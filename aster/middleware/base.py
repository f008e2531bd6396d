"""``BaseHTTPMiddleware``: ``dispatch(request, call_next)`` middleware without Starlette's defects.

Starlette runs the downstream app in a separate task and passes its messages
through a memory stream.  That is the root of its known problems: context
variables set by the endpoint are lost, the body a middleware read is gone,
and the stream's hand-offs cost a task switch per message.  Here the app runs
in the *caller's own task*: :class:`_AppDriver` steps the app's coroutine
from inside dispatch's await chain and pauses it whenever it calls ``send``.

* ``call_next`` steps the app until it sends ``http.response.start`` and
  returns a response whose body iterator resumes it chunk by chunk.  Whatever
  the endpoint set in a ``ContextVar`` is visible to dispatch afterwards.
* Each chunk goes out as soon as the app produces it: streaming streams.
* The app's final ``more_body: False`` message is forwarded to the server
  before the app is resumed, so its background tasks run after the response
  went out.
* What dispatch reads of the body is recorded and replayed to the app.
* An error the server's ``send`` raises (a client gone away) is raised inside
  the app at its own ``send``, exactly where it would arise without middleware.

Messages sent from *another* task (an app that streams from a task it spawned)
are queued and delivered in order too, and the await chain wakes up for them.
"""

from __future__ import annotations

import asyncio
import sys
import types
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine, Generator, Mapping
from typing import Any

from .._response import Response
from ..requests import Request
from ..types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BaseHTTPMiddleware", "DispatchFunction", "RequestResponseEndpoint"]

RequestResponseEndpoint = Callable[[Request], Awaitable[Response]]
DispatchFunction = Callable[[Request, RequestResponseEndpoint], Awaitable[Response]]


class _Pause:
    """Yielded by the app's ``send`` to hand control back to the driver (never to the loop)."""

    __slots__ = ()

    def __await__(self) -> Generator[Any, None, None]:
        yield self


_PAUSE = _Pause()

if sys.version_info >= (3, 12):
    # Eager tasks (3.12+) can run another task's code inside one of our steps, so a
    # send() call must check which task it comes from (this is C code there).
    _current_owner: Callable[[], Any] = asyncio.current_task
else:

    def _current_owner() -> Any:
        return True  # nothing but the stepped await chain can run during a step


class _AppDriver:
    """Runs an ASGI app's coroutine step by step inside the current task.

    ``next_message()`` resumes the app until it sends something and returns
    that message (``None`` once the app has returned); the app stays suspended
    in its ``send`` until the next call, which can also raise an exception
    there.  Futures the app awaits are awaited on its behalf, so it runs in the
    caller's task and context.
    """

    __slots__ = (
        "coro",
        "loop",
        "stepping",
        "outbox",
        "held",
        "held_ack",
        "pending",
        "resume_exc",
        "finished",
        "inbox",
        "waker",
    )

    def __init__(self, app: ASGIApp, scope: Scope, receive: Receive) -> None:
        self.coro: Coroutine[Any, Any, None] = app(scope, receive, self.send)  # type: ignore[assignment]
        self.loop = asyncio.get_running_loop()
        # Who runs the app's code right now (inside coro.send()), else None.
        self.stepping: Any = None
        self.outbox: Message | None = None
        self.held = False  # the app is suspended in send() with the last message
        self.held_ack: asyncio.Future[None] | None = None  # same, for a message from another task
        self.pending: Any = None  # the future the app is waiting on
        self.resume_exc: BaseException | None = None
        self.finished = False
        self.inbox: deque[tuple[Message, asyncio.Future[None]]] | None = None
        self.waker: asyncio.Future[None] | None = None

    async def send(self, message: Message) -> None:
        """The ``send`` the app is given."""
        stepping = self.stepping
        if stepping is not None and stepping is _current_owner():
            # Called from the app's own await chain: pause it right here.
            self.outbox = message
            await _PAUSE
            return
        # Called from another task: queue the message and wait until it is taken.
        if self.finished:
            return
        ack = self.loop.create_future()
        if self.inbox is None:
            self.inbox = deque()
        self.inbox.append((message, ack))
        self._wake()
        await ack

    def _wake(self, _: object = None) -> None:
        waker = self.waker
        if waker is not None and not waker.done():
            waker.set_result(None)

    def release(self, exc: BaseException | None) -> None:
        """Let the sender of the last message go on, raising ``exc`` in it if given."""
        if self.held:
            self.held = False
            self.resume_exc = exc
        elif self.held_ack is not None:
            ack, self.held_ack = self.held_ack, None
            if exc is None:
                ack.set_result(None)
            else:
                ack.set_exception(exc)

    @types.coroutine
    def next_message(self, exc: BaseException | None = None) -> Generator[Any, Any, Message | None]:
        """Release the last message's sender, then run the app until it sends again."""
        self.release(exc)
        coro = self.coro
        owner = _current_owner()
        while True:
            if self.held:
                return self.outbox
            if self.inbox:
                message, self.held_ack = self.inbox.popleft()
                return message
            if self.finished:
                return None
            pending = self.pending
            if pending is not None and not pending.done():
                # Wait for it, but also wake up for a message sent from another task.
                waker = self.waker = self.loop.create_future()
                pending.add_done_callback(self._wake)
                waker._asyncio_future_blocking = True
                try:
                    yield waker
                except GeneratorExit:
                    self._close()
                    raise
                except BaseException as thrown:
                    # Our task was cancelled (or something was thrown into it): pass it
                    # on the way asyncio would have if the app awaited directly.
                    pending.remove_done_callback(self._wake)
                    self.waker = None
                    if isinstance(thrown, asyncio.CancelledError) and pending.cancel(
                        *thrown.args[:1]
                    ):
                        continue  # the app sees the cancellation once it is resumed
                    self.resume_exc = thrown
                else:
                    self.waker = None
                    pending.remove_done_callback(self._wake)
                    if not pending.done():
                        continue  # woken for a queued message
            self.pending = None
            # Resume the app.
            thrown, self.resume_exc = self.resume_exc, None
            self.stepping = owner
            try:
                if thrown is None:
                    yielded = coro.send(None)
                else:
                    yielded = coro.throw(thrown)
            except StopIteration:
                self._finish()
                return None
            except BaseException:
                self._finish()
                raise
            finally:
                self.stepping = None
            if yielded is _PAUSE:
                self.held = True
            elif getattr(yielded, "_asyncio_future_blocking", None):
                yielded._asyncio_future_blocking = False
                self.pending = yielded
            else:
                # A bare yield (asyncio.sleep(0)) or something only the loop understands.
                try:
                    yield yielded
                except GeneratorExit:
                    self._close()
                    raise
                except BaseException as thrown_in:
                    self.resume_exc = thrown_in

    def _close(self) -> None:
        """The caller's await chain is being closed: close the app with it."""
        if self.pending is not None:
            self.pending.remove_done_callback(self._wake)
        self.coro.close()
        self._finish()

    def _finish(self) -> None:
        self.finished = True
        for _, ack in self.inbox or ():
            if not ack.done():
                ack.set_result(None)

    async def drain(self) -> None:
        """Run the app to its end, discarding what it sends (the response went out already)."""
        while await self.next_message() is not None:
            pass

    async def abort(self) -> None:
        """Cancel the app (dispatch failed) and let it unwind."""
        if self.finished:
            return
        if self.pending is not None and not self.pending.done():
            self.pending.cancel()
        else:
            self.release(asyncio.CancelledError())
            if self.resume_exc is None:
                self.resume_exc = asyncio.CancelledError()
        try:
            await self.drain()
        except (Exception, asyncio.CancelledError):
            pass  # the error that made us abort is the one worth reporting


class _BodyTap:
    """Records the body messages dispatch reads and replays them to the app."""

    __slots__ = ("receive", "replay", "app_started", "response_sent")

    def __init__(self, receive: Receive) -> None:
        self.receive = receive
        self.replay: deque[Message] = deque()
        self.app_started = False
        self.response_sent = False

    async def for_dispatch(self) -> Message:
        message = await self.receive()
        if not self.app_started:
            self.replay.append(message)
        return message

    async def for_app(self) -> Message:
        self.app_started = True
        if self.replay:
            return self.replay.popleft()
        if self.response_sent:
            return {"type": "http.disconnect"}
        return await self.receive()


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
        """Forward the app's body messages one for one; errors from ``send`` go back to it."""
        driver = self._driver
        error: BaseException | None = None
        failed = False
        while True:
            message = await driver.next_message(error)
            error = None
            if message is None:
                break
            kind = message["type"]
            if kind != "http.response.body" and kind != "http.response.pathsend":
                raise RuntimeError(f"Unexpected message: {message}")
            try:
                await send(message)
            except Exception as exc:
                failed = True
                error = exc
                continue
            if kind == "http.response.pathsend" or not message.get("more_body", False):
                return  # complete: the app stays paused until the middleware resumes it
        if not failed:  # the app returned without finishing its body: end it for the app
            try:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            except OSError:
                pass  # the client is gone, which is likely why the app stopped


class BaseHTTPMiddleware:
    """Subclass and override ``dispatch``, or pass ``dispatch=`` (``@app.middleware("http")``)."""

    def __init__(self, app: ASGIApp, dispatch: DispatchFunction | None = None) -> None:
        self.app = app
        self.dispatch_func = self.dispatch if dispatch is None else dispatch

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tap = _BodyTap(receive)
        request = Request(scope, tap.for_dispatch, send)
        drivers: list[_AppDriver] = []

        async def call_next(request: Request) -> Response:
            driver = _AppDriver(self.app, scope, tap.for_app)
            drivers.append(driver)
            info = None
            while True:
                message = await driver.next_message()
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
            response = await self.dispatch_func(request, call_next)
            await response(scope, tap.for_app, send)
        except BaseException:
            for driver in drivers:
                await driver.abort()
            raise
        tap.response_sent = True
        for driver in drivers:
            await driver.drain()

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        raise NotImplementedError()  # pragma: no cover
