"""A blocking portal: an asyncio event loop in a private thread, driven from synchronous code.

The test client is synchronous (it is an ``httpx.Client``) but the application under test is
asynchronous. Starlette bridges the two with anyio's ``BlockingPortal``; aster does not depend on
anyio, so this module provides the small subset the test client needs, on plain asyncio:

* :class:`Portal` owns an event loop that runs ``run_forever`` in a daemon thread. ``call()``
  runs a coroutine function (or a plain callable) on that loop and blocks until it returns.
* :meth:`Portal.start_task` schedules a coroutine as a task without waiting and returns a
  :class:`TaskHandle`, which can be cancelled and waited on from the calling thread. Unlike a
  bare ``run_coroutine_threadsafe`` future, waiting on the handle waits for the task to really
  finish after a cancellation, which is what lets the client join the app cleanly.
* :meth:`Portal.close` cancels whatever is still running, finalises async generators and the
  default executor, stops the loop, joins the thread and closes the loop, so a portal never
  leaks a thread, file descriptors or a "never retrieved" warning.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")

LoopFactory = Callable[[], asyncio.AbstractEventLoop]

# How long Portal.close() lets cancelled tasks unwind before giving up on them. A task that
# swallows CancelledError forever must not hang the test run; pytest-timeout is the backstop.
_CANCEL_GRACE_SECONDS = 5.0


class TaskHandle:
    """A task running on a portal's loop, observable and cancellable from another thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._task: asyncio.Task[Any] | None = None
        self._cancel_requested = False
        # Settled with the task's outcome; a cancelled task settles with result None.
        self._outcome: concurrent.futures.Future[Any] = concurrent.futures.Future()

    def _spawn(self, fn: Callable[..., Awaitable[Any]], args: tuple[Any, ...]) -> None:
        if self._cancel_requested:  # cancelled before it ever started
            self._outcome.set_result(None)
            return
        self._task = self._loop.create_task(_as_coroutine(fn, args))
        self._task.add_done_callback(self._settle)

    def _settle(self, task: asyncio.Task[Any]) -> None:
        if task.cancelled():
            self._outcome.set_result(None)
        elif (exc := task.exception()) is not None:  # also marks the exception as retrieved
            self._outcome.set_exception(exc)
        else:
            self._outcome.set_result(task.result())

    @property
    def task(self) -> asyncio.Task[Any] | None:
        """The asyncio task; only touch it from the portal's own thread."""
        return self._task

    def cancel(self) -> None:
        """Ask the task to stop. Thread-safe and non-blocking; use :meth:`wait` to join."""
        self._loop.call_soon_threadsafe(self._cancel_in_loop)

    def _cancel_in_loop(self) -> None:
        self._cancel_requested = True
        if self._task is not None and not self._task.done():
            self._task.cancel()

    def done(self) -> bool:
        return self._outcome.done()

    def wait(self, timeout: float | None = None) -> BaseException | None:
        """Block until the task has finished; return its exception (None if it was cancelled)."""
        concurrent.futures.wait([self._outcome], timeout=timeout)
        if not self._outcome.done():
            raise TimeoutError("task did not finish in time")
        return self._outcome.exception()

    def exception(self) -> BaseException | None:
        """The task's exception once it is done, else None."""
        if not self._outcome.done():
            return None
        return self._outcome.exception()


class Portal:
    """An asyncio loop in a daemon thread, with blocking entry points for synchronous callers."""

    def __init__(
        self,
        *,
        loop_factory: LoopFactory | None = None,
        debug: bool = False,
        name: str = "aster-portal",
    ) -> None:
        self.loop = (loop_factory or asyncio.new_event_loop)()
        if debug:
            self.loop.set_debug(True)
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            asyncio.set_event_loop(None)

    @property
    def thread(self) -> threading.Thread:
        return self._thread

    def _check_caller(self) -> None:
        if self._closed:
            raise RuntimeError("this portal is closed")
        if threading.current_thread() is self._thread:
            # Blocking on our own loop from inside it would deadlock; say so instead.
            raise RuntimeError("a portal cannot be called from its own event loop thread")

    def call(self, fn: Callable[..., Awaitable[T]] | Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the loop and return its result (awaiting it if it is async)."""
        self._check_caller()
        future = asyncio.run_coroutine_threadsafe(_as_coroutine(fn, args), self.loop)
        try:
            return future.result()
        except BaseException:
            # Interrupted (KeyboardInterrupt, pytest-timeout) or failed: do not leave it running.
            future.cancel()
            raise

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """Schedule a plain callback on the loop without waiting (FIFO with other calls)."""
        self.loop.call_soon_threadsafe(fn, *args)

    def start_task(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> TaskHandle:
        """Start ``fn(*args)`` as a task on the loop and return without waiting for it."""
        self._check_caller()
        handle = TaskHandle(self.loop)
        self.loop.call_soon_threadsafe(handle._spawn, fn, args)
        return handle

    def close(self) -> None:
        """Cancel leftover tasks, stop the loop, join the thread and close the loop. Idempotent."""
        if self._closed:
            return
        if threading.current_thread() is self._thread:
            raise RuntimeError("a portal cannot be closed from its own event loop thread")
        self._closed = True
        try:
            if self._thread.is_alive():
                drain = asyncio.run_coroutine_threadsafe(self._drain(), self.loop)
                try:
                    drain.result()
                finally:
                    self.loop.call_soon_threadsafe(self.loop.stop)
                    self._thread.join()
        finally:
            self.loop.close()

    async def _drain(self) -> None:
        current = asyncio.current_task()
        pending = [task for task in asyncio.all_tasks() if task is not current]
        for task in pending:
            task.cancel()
        if pending:
            finished, _ = await asyncio.wait(pending, timeout=_CANCEL_GRACE_SECONDS)
            for task in finished:  # retrieve outcomes so asyncio does not log them as lost
                if not task.cancelled():
                    task.exception()
        await self.loop.shutdown_asyncgens()
        await self.loop.shutdown_default_executor()

    def __enter__(self) -> Portal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


async def _as_coroutine(fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    """Call ``fn`` and await the result when there is one to await."""
    result = fn(*args)
    if inspect.isawaitable(result):
        return await result
    return result
