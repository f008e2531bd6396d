"""Running an ASGI app inside the caller's own task, paused at each ``send``.

:class:`_AppDriver` is what lets ``BaseHTTPMiddleware`` run the downstream app in the
middleware's task (so the endpoint's context variables stay visible to dispatch) instead
of a task of its own: it steps the app's coroutine from inside the caller's await chain,
waits on the app's behalf for the futures the app awaits, and stops it at every message
the app sends, until the caller asks for the next one.
"""

from __future__ import annotations

import asyncio
import sys
import types
from collections import deque
from collections.abc import Callable, Coroutine, Generator
from typing import Any

from ..types import ASGIApp, Message, Receive, Scope

__all__ = ["ResponseGone"]


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
    def next_message(
        self, exc: BaseException | None = None, checkpoint: bool = False
    ) -> Generator[Any, Any, Message | None]:
        """Release the last message's sender, then run the app until it sends again.

        ``checkpoint`` gives the event loop a turn first (``asyncio.sleep(0)``), here,
        so that whatever is thrown into our task meanwhile (a cancel scope of the app's
        being cancelled) reaches the app as if it had been waiting itself.
        """
        self.release(exc)
        if checkpoint:
            try:
                yield  # a bare yield: one turn of the loop
            except GeneratorExit:
                self._close()
                raise
            except BaseException as thrown:
                if self.finished:
                    raise
                pending = self.pending
                if not (
                    isinstance(thrown, asyncio.CancelledError)
                    and pending is not None
                    and pending.cancel(*thrown.args[:1])
                ):
                    self.resume_exc = thrown
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

    async def drain(self, refuse_sends: bool) -> None:
        """Run the app to its end once the response is out; what it still sends goes nowhere.

        The loop gets a turn first, so other requests go ahead of this one's background
        work.  With ``refuse_sends`` (a server of ASGI 2.4 or later) a body message raises
        :class:`ResponseGone` at the app's ``send``, as the server's own ``send`` raises
        once its client has gone, so a stream that only a send error stops is stopped;
        otherwise it is dropped and the loop gets a turn, so the app's own disconnect
        listener (its ``receive`` says ``http.disconnect`` now) can run.  The app's errors
        are raised, except those that refusal caused.
        """
        if self.finished:
            return
        error: BaseException | None = None
        refused = False
        try:
            message = await self.next_message(checkpoint=True)
            while message is not None:
                if refuse_sends and message["type"] in _BODY_MESSAGES:
                    refused = True
                    error = ResponseGone("the response was already sent")
                    message = await self.next_message(error)
                else:
                    message = await self.next_message(checkpoint=True)
        except Exception as exc:
            if not (refused and _raised_from(exc, ResponseGone)):
                raise

    async def abort(self) -> None:
        """Cancel the app (dispatch failed, or the app would not stop) and let it unwind."""
        if self.finished:
            return
        if self.pending is not None and not self.pending.done():
            self.pending.cancel()
        else:
            self.release(asyncio.CancelledError())
            if self.resume_exc is None:
                self.resume_exc = asyncio.CancelledError()
        try:
            while await self.next_message(asyncio.CancelledError()) is not None:
                pass  # it sent again: cancel it there again
        except (Exception, asyncio.CancelledError):
            pass  # the error that made us abort is the one worth reporting


class ResponseGone(OSError):
    """Raised at the app's ``send`` once the middleware's response is out (ASGI 2.4+)."""


_BODY_MESSAGES = frozenset({"http.response.body", "http.response.pathsend"})


def _raised_from(exc: BaseException, kind: type[BaseException]) -> bool:
    """Whether ``exc`` is a ``kind`` or was raised while handling one."""
    for _ in range(8):
        if isinstance(exc, kind):
            return True
        cause = exc.__cause__ or exc.__context__
        if cause is None:
            return False
        exc = cause
    return False
