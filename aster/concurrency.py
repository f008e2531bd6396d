"""Running blocking code without blocking the event loop.

aster does not use anyio.  Blocking work goes to plain
``concurrent.futures.ThreadPoolExecutor`` pools, awaited through asyncio:

* **The worker pool** runs sync endpoints, sync dependencies, sync background
  tasks and file I/O.  It is bounded (64 threads unless
  :func:`set_threadpool_size` or ``ASTER_THREADPOOL_SIZE`` says otherwise) and
  threads start lazily.  Submitting never blocks the loop: when every worker is
  busy, calls wait in the executor's queue, not in the loop.

* **The cleanup pool** is a second, small pool that only runs teardown: the exit
  of sync generator dependencies (:func:`contextmanager_in_threadpool`) and the
  closing of spooled upload files.  This is what avoids the deadlock FastAPI
  users hit with anyio's 40-token limiter.  If every worker is held by an
  endpoint waiting for a resource (say a database connection) that is only given
  back by some dependency's teardown, and that teardown also needs a worker,
  nothing can ever move.  With its own threads, teardown always runs, so the
  resource comes back and the endpoints proceed.

Like anyio, each call runs in a copy of the caller's ``contextvars`` context, so
values set by middleware are visible in the thread, and values the thread sets do
not leak back.  Cancellation also follows anyio's default: a call that has not
started is dropped, and a call that is running is waited for before
``CancelledError`` propagates, so callers never tear down what a thread is still
using.  Cleanup calls are never dropped.

anyio is not needed, but code written for it keeps working: when anyio is loaded,
workers look like anyio workers to ``anyio.from_thread.run()``/``run_sync()``,
and waits that must not be interrupted also shield against anyio cancel scopes.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import functools
import inspect
import os
import sys
import threading
import warnings
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Coroutine, Iterable, Iterator
from contextlib import AbstractAsyncContextManager, AbstractContextManager, asynccontextmanager
from contextvars import copy_context
from typing import Any, ParamSpec, TypeVar

from ._starlette_exceptions import StarletteDeprecationWarning

__all__ = [
    "DependencyConcurrency",
    "Semaphore",
    "SemaphoreStatistics",
    "WouldBlock",
    "contextmanager_in_threadpool",
    "get_cleanup_executor",
    "get_executor",
    "get_threadpool_size",
    "is_async_callable",
    "iterate_in_threadpool",
    "run_cleanup_in_threadpool",
    "run_in_threadpool",
    "run_until_first_complete",
    "set_cleanup_threadpool_size",
    "set_threadpool_size",
    "shutdown_threadpools",
]

P = ParamSpec("P")
T = TypeVar("T")

DEFAULT_THREADPOOL_SIZE = 64
DEFAULT_CLEANUP_THREADPOOL_SIZE = 16

if sys.version_info >= (3, 13):  # pragma: no cover
    _iscoroutinefunction = inspect.iscoroutinefunction
else:  # pragma: no cover
    # asyncio's version also recognises AsyncMock and the legacy marker.
    _iscoroutinefunction = asyncio.iscoroutinefunction


def is_async_callable(obj: Any) -> bool:
    """True for ``async def`` functions, partials of them, and objects with async ``__call__``."""
    while isinstance(obj, functools.partial):
        obj = obj.func
    return _iscoroutinefunction(obj) or (
        callable(obj) and _iscoroutinefunction(getattr(obj, "__call__", None))  # noqa: B004
    )


class _Pool:
    """A lazily created executor whose size can be changed at run time."""

    def __init__(self, name: str, env: str, default: int) -> None:
        self.name = name
        self.env = env
        self.default = default
        self.size: int | None = None
        self.executor: concurrent.futures.ThreadPoolExecutor | None = None
        self.lock = threading.Lock()

    def resolve_size(self) -> int:
        if self.size is None:
            raw = os.environ.get(self.env, "").strip()
            self.size = _positive(raw, self.env) if raw else self.default
        return self.size

    def get(self) -> concurrent.futures.ThreadPoolExecutor:
        executor = self.executor
        if executor is None:
            with self.lock:
                executor = self.executor
                if executor is None:
                    executor = self.executor = concurrent.futures.ThreadPoolExecutor(
                        max_workers=self.resolve_size(), thread_name_prefix=self.name
                    )
        return executor

    def resize(self, size: int) -> None:
        size = _positive(size, "threadpool size")
        with self.lock:
            old, self.executor, self.size = self.executor, None, size
        if old is not None:
            # Work already queued on the old pool still runs; new work goes to the new one.
            old.shutdown(wait=False)

    def shutdown(self, wait: bool) -> None:
        with self.lock:
            old, self.executor = self.executor, None
        if old is not None:
            old.shutdown(wait=wait)


def _positive(value: Any, what: str) -> int:
    try:
        size = int(value)
    except (TypeError, ValueError):
        size = 0
    if isinstance(value, bool) or size < 1:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    return size


_workers = _Pool("aster-worker", "ASTER_THREADPOOL_SIZE", DEFAULT_THREADPOOL_SIZE)
_cleanup = _Pool("aster-cleanup", "ASTER_CLEANUP_THREADPOOL_SIZE", DEFAULT_CLEANUP_THREADPOOL_SIZE)


def set_threadpool_size(size: int) -> None:
    """Set the number of worker threads (takes precedence over ``ASTER_THREADPOOL_SIZE``)."""
    _workers.resize(size)


def get_threadpool_size() -> int:
    return _workers.resolve_size()


def set_cleanup_threadpool_size(size: int) -> None:
    """Set the number of teardown threads (else ``ASTER_CLEANUP_THREADPOOL_SIZE``, or 16)."""
    _cleanup.resize(size)


def get_executor() -> concurrent.futures.ThreadPoolExecutor:
    """The worker pool, e.g. for ``loop.run_in_executor(get_executor(), ...)``."""
    return _workers.get()


def get_cleanup_executor() -> concurrent.futures.ThreadPoolExecutor:
    """The pool reserved for teardown work; see the module docstring for why it exists."""
    return _cleanup.get()


def shutdown_threadpools(wait: bool = True) -> None:
    """Shut both pools down; they are recreated on next use."""
    _workers.shutdown(wait)
    _cleanup.shutdown(wait)


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


async def _wait_uninterrupted(
    future: concurrent.futures.Future[Any], loop: asyncio.AbstractEventLoop
) -> asyncio.CancelledError | None:
    """Wait until ``future`` is done, holding cancellation off; return the first one caught.

    The caller re-raises that very exception: cancel scopes (asyncio.timeout,
    anyio) recognise their own cancellation by it.
    """
    if future.done():
        return None
    waiter = loop.create_future()

    def wake(_: object) -> None:
        try:
            loop.call_soon_threadsafe(_resolve, waiter)
        except RuntimeError:  # pragma: no cover - the loop is closed
            pass

    future.add_done_callback(wake)
    try:
        await asyncio.shield(waiter)
        return None
    except asyncio.CancelledError as exc:
        cancelled = exc
    # Cancelled: keep waiting.  Inside an anyio cancel scope, which re-delivers
    # cancellation on every loop iteration, shield with anyio too, or this would spin.
    with _anyio_shield():
        while not waiter.done():
            try:
                await asyncio.shield(waiter)
            except asyncio.CancelledError:
                pass
    return cancelled


def _anyio_shield() -> contextlib.AbstractContextManager[Any]:
    anyio = sys.modules.get("anyio")
    if anyio is not None:
        try:
            return anyio.CancelScope(shield=True)  # type: ignore[no-any-return]
        except Exception:  # pragma: no cover - not usable here
            pass
    return contextlib.nullcontext()


# anyio.from_thread.run()/run_sync() in a sync endpoint find their way back to
# the loop through a thread-local that anyio's own workers set.  When anyio is
# loaded we set it in ours too, through anyio's helper: None if unavailable.
_anyio_claim: Any = False


def _anyio_bridge() -> Any:
    global _anyio_claim
    if _anyio_claim is False:
        try:
            from anyio._backends._asyncio import AsyncIOBackend
            from anyio._core._eventloop import claim_worker_thread, threadlocals
        except (ImportError, AttributeError):  # pragma: no cover - another anyio layout
            _anyio_claim = None
        else:
            _anyio_claim = (claim_worker_thread, threadlocals, AsyncIOBackend)
    return _anyio_claim


def _as_anyio_worker(
    bridge: Any, loop: asyncio.AbstractEventLoop, func: Callable[..., T], *args: Any
) -> T:
    claim_worker_thread, threadlocals, backend = bridge
    with claim_worker_thread(backend, loop):
        threadlocals.current_cancel_scope = None  # from_thread.check_cancelled() reads it
        try:
            return func(*args)
        finally:
            del threadlocals.current_cancel_scope


def _submit(
    executor: concurrent.futures.Executor,
    loop: asyncio.AbstractEventLoop,
    func: Callable[..., T],
    args: tuple[Any, ...],
) -> concurrent.futures.Future[T]:
    context = copy_context()
    if "anyio" in sys.modules:
        bridge = _anyio_bridge()
        if bridge is not None:
            return executor.submit(context.run, _as_anyio_worker, bridge, loop, func, *args)
    return executor.submit(context.run, func, *args)


async def _run(
    executor: concurrent.futures.Executor, func: Callable[..., T], args: tuple[Any, ...]
) -> T:
    loop = asyncio.get_running_loop()
    future = _submit(executor, loop, func, args)
    try:
        return await asyncio.wrap_future(future, loop=loop)
    except asyncio.CancelledError:
        # Cancelling the asyncio wrapper cancelled ``future`` if it was still queued;
        # if it is already running we wait for it, as anyio does.
        if not future.cancelled():
            await _wait_uninterrupted(future, loop)
        raise


async def run_in_threadpool(func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Call ``func(*args, **kwargs)`` on the worker pool and await its result."""
    if kwargs:
        return await _run(_workers.get(), functools.partial(func, *args, **kwargs), ())
    return await _run(_workers.get(), func, args)


async def run_cleanup_in_threadpool(func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Call ``func`` on the cleanup pool; it runs to completion even if the caller is cancelled.

    A cancellation that arrives meanwhile is re-raised once the call is done,
    unless the call raised: then its own exception propagates.
    """
    call: Callable[..., T] = functools.partial(func, *args, **kwargs) if kwargs else func
    loop = asyncio.get_running_loop()
    future = _submit(_cleanup.get(), loop, call, () if kwargs else args)
    cancelled = await _wait_uninterrupted(future, loop)
    result = future.result()
    if cancelled is not None:
        raise cancelled
    return result


class _StopIteration(Exception):
    """StopIteration cannot cross a Future, so the worker raises this instead."""


def _next(iterator: Iterator[T]) -> T:
    try:
        return next(iterator)
    except StopIteration:
        raise _StopIteration from None


async def iterate_in_threadpool(iterator: Iterable[T]) -> AsyncIterator[T]:
    """Iterate a blocking iterator, one ``next()`` per worker call."""
    as_iterator = iter(iterator)
    while True:
        try:
            yield await run_in_threadpool(_next, as_iterator)
        except _StopIteration:
            break


@asynccontextmanager
async def contextmanager_in_threadpool(cm: AbstractContextManager[T]) -> AsyncGenerator[T, None]:
    """Enter ``cm`` on the worker pool and exit it on the cleanup pool.

    The exit never waits for a worker (see the module docstring) and is not
    interrupted by cancellation: it runs exactly once if ``__enter__`` succeeded,
    even when the caller was cancelled while ``__enter__`` was running.
    """
    loop = asyncio.get_running_loop()
    entering = _submit(_workers.get(), loop, cm.__enter__, ())
    try:
        value = await asyncio.wrap_future(entering, loop=loop)
    except asyncio.CancelledError as exc:
        if not entering.cancelled():
            await _wait_uninterrupted(entering, loop)
            if entering.exception() is None:
                # Entered after all: exit now, so whatever __enter__ acquired is released.
                await run_cleanup_in_threadpool(cm.__exit__, type(exc), exc, exc.__traceback__)
        raise
    try:
        yield value
    except BaseException as exc:
        ok = await run_cleanup_in_threadpool(cm.__exit__, type(exc), exc, exc.__traceback__)
        if not ok:
            raise
    else:
        await run_cleanup_in_threadpool(cm.__exit__, None, None, None)


async def run_until_first_complete(
    *args: tuple[Callable[..., Coroutine[Any, Any, Any]], dict],
) -> None:  # type: ignore[type-arg]
    """Run ``func(**kwargs)`` for each pair concurrently; when one returns, cancel the rest.

    Deprecated in Starlette; kept for code that still imports it.
    """
    warnings.warn(
        "run_until_first_complete is deprecated and will be removed in a future version.",
        StarletteDeprecationWarning,
        stacklevel=2,
    )
    tasks = [asyncio.ensure_future(func(**kwargs)) for func, kwargs in args]
    if not tasks:
        return
    try:
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in done:
        if not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]


class WouldBlock(Exception):
    """``acquire_nowait()`` found no free slot (anyio's name for it)."""


class SemaphoreStatistics:
    """What a :class:`Semaphore` is doing: how many tasks wait for a slot (anyio's name)."""

    __slots__ = ("tasks_waiting",)

    def __init__(self, tasks_waiting: int) -> None:
        self.tasks_waiting = tasks_waiting

    def __repr__(self) -> str:
        return f"SemaphoreStatistics(tasks_waiting={self.tasks_waiting})"


class Semaphore:
    """A first-come, first-served semaphore with anyio's interface, on plain asyncio.

    ``Depends(max_concurrency=n)`` limits a dependency with one; code written for
    FastAPI reads its ``value`` and ``statistics().tasks_waiting``.  A slot freed by
    ``release()`` goes straight to the longest waiter, so a newcomer cannot take it
    first; a waiter cancelled after it was handed a slot passes it on.
    """

    __slots__ = ("_value", "_max_value", "_waiters", "__weakref__")

    def __init__(self, initial_value: int, *, max_value: int | None = None) -> None:
        if initial_value < 0:
            raise ValueError("initial_value must be >= 0")
        if max_value is not None and max_value < initial_value:
            raise ValueError("max_value must be equal to or higher than initial_value")
        self._value = initial_value
        self._max_value = max_value
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    @property
    def value(self) -> int:
        """Free slots."""
        return self._value

    @property
    def max_value(self) -> int | None:
        return self._max_value

    def statistics(self) -> SemaphoreStatistics:
        return SemaphoreStatistics(sum(1 for waiter in self._waiters if not waiter.done()))

    def acquire_nowait(self) -> None:
        """Take a slot now, or raise :class:`WouldBlock` if none is free."""
        if self._value == 0 or self._waiters:
            raise WouldBlock
        self._value -= 1

    async def acquire(self) -> None:
        if self._value > 0 and not self._waiters:
            self._value -= 1
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed a slot, but cancelled before taking it: pass it on
            else:
                try:
                    self._waiters.remove(waiter)
                except ValueError:
                    pass
            raise

    def release(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot goes to this waiter, value unchanged
                return
        if self._max_value is not None and self._value >= self._max_value:
            raise ValueError("semaphore released too many times")
        self._value += 1

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(self, *exc_info: object) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"<Semaphore value={self._value} waiting={self.statistics().tasks_waiting}>"


class DependencyConcurrency:
    """The shared limit behind one ``Depends(max_concurrency=n)`` declaration.

    Every route using the declaration shares it.  A semaphore belongs to one event
    loop, so there is one per loop (an app may be served by several, one at a time in
    tests); they go away with their loop, and all of them with the declaration.
    """

    __slots__ = ("max_concurrency", "_semaphores", "__weakref__")

    def __init__(self, max_concurrency: int) -> None:
        self.max_concurrency = max_concurrency
        self._semaphores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    def get_semaphore(self) -> Semaphore:
        """The semaphore of the running loop."""
        loop = asyncio.get_running_loop()
        semaphore = self._semaphores.get(loop)
        if semaphore is None:
            semaphore = self._semaphores[loop] = Semaphore(self.max_concurrency)
        return semaphore


#: FastAPI's name (``fastapi.concurrency._DependencyConcurrency``).
_DependencyConcurrency = DependencyConcurrency


@asynccontextmanager
async def _asynccontextmanager_with_shielded_exit(
    cm: AbstractAsyncContextManager[T], cleanup_scope: Any
) -> AsyncGenerator[T, None]:
    """``cm``, with ``cleanup_scope`` (an anyio ``CancelScope``) shielded while ``cm`` exits.

    FastAPI's helper: the scope must have been entered before ``cm``, so that scopes
    ``cm`` opens exit inside it.  aster's own routes use
    :class:`aster.dependencies.exits.ShieldedExit`, which also works without anyio.
    """
    was_shielded = cleanup_scope.shield
    try:
        async with cm as value:
            try:
                yield value
            finally:
                cleanup_scope.shield = True
    finally:
        cleanup_scope.shield = was_shielded
    anyio = sys.modules.get("anyio")
    if anyio is not None:
        await anyio.lowlevel.checkpoint_if_cancelled()


@asynccontextmanager
async def _contextmanager_with_concurrency_limit(
    cm: AbstractAsyncContextManager[T], semaphore: Semaphore
) -> AsyncGenerator[T, None]:
    """Hold a slot of ``semaphore`` from before ``cm`` is entered until after it exits."""
    async with semaphore, cm as value:
        yield value
