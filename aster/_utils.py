"""``starlette._utils``: the small helpers that libraries import from Starlette's internals.

Middleware and extension packages reach into ``starlette._utils`` for ``is_async_callable``,
``get_route_path`` and the exception-group helpers, so ``aster.compat`` needs a module of that
name. Each helper is the one aster already uses where it has one (``is_async_callable`` is
:mod:`aster.concurrency`'s, ``get_route_path`` the router's), so the two never disagree.

Starlette's task groups are anyio's; aster has no anyio, so ``create_collapsing_task_group``
yields a small asyncio task group with anyio's semantics and ``start_soon`` spelling.
"""

from __future__ import annotations

import asyncio
import builtins
import sys
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, Protocol, TypeVar

from ._routing_base import get_route_path
from ._url import ParsedHost, parse_host_header
from .concurrency import is_async_callable
from .requests import AwaitableOrContextManager, AwaitableOrContextManagerWrapper

__all__ = [
    "AwaitableCallable",
    "AwaitableOrContextManager",
    "AwaitableOrContextManagerWrapper",
    "ParsedHost",
    "SupportsAsyncClose",
    "SupportsAsyncCloseType",
    "collapse_excgroups",
    "create_collapsing_task_group",
    "get_route_path",
    "is_async_callable",
    "parse_host_header",
]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
AwaitableCallable = Callable[..., Awaitable[T]]

# ``BaseExceptionGroup`` is a builtin from Python 3.11 on; before that nothing is grouped.
_GROUP: Any = getattr(builtins, "BaseExceptionGroup", None)


class SupportsAsyncClose(Protocol):
    async def close(self) -> None: ...  # pragma: no cover


SupportsAsyncCloseType = TypeVar("SupportsAsyncCloseType", bound=SupportsAsyncClose)


def _collapse(exc: BaseException) -> BaseException:
    """The single exception inside (nested) one-member groups, or ``exc`` itself."""
    while _GROUP is not None and isinstance(exc, _GROUP) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


@contextmanager
def collapse_excgroups() -> Iterator[None]:
    """Re-raise a one-exception group from the block as that exception.

    A task group wraps even a single failure in an ``ExceptionGroup``; callers that expect
    the plain exception (``except HTTPException``) would miss it otherwise.
    """
    try:
        yield
    except BaseException as exc:
        collapsed = _collapse(exc)
        if collapsed is exc:
            raise
        raise collapsed from collapsed.__cause__ or (
            None if collapsed.__suppress_context__ else collapsed.__context__
        )


class _TaskGroup:
    """Child tasks that all finish before the ``async with`` block is left.

    The semantics are anyio's, which code written for Starlette expects, rather than
    ``asyncio.TaskGroup``'s: a child started just before the body fails still gets to run up
    to its first ``await`` (asyncio would cancel it before its first line), and
    ``start_soon(func, *args)`` is offered next to ``create_task(coro)``. A failing child
    cancels its siblings and the body; every failure is raised together in one group.
    """

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._errors: list[BaseException] = []
        self._parent: asyncio.Task[Any] | None = None
        self._exiting = False
        self._closed = False
        self._cancelled_parent = False
        self._all_done: asyncio.Future[None] | None = None

    async def __aenter__(self) -> _TaskGroup:
        self._parent = asyncio.current_task()
        if self._parent is None:  # pragma: no cover - async with always runs in a task
            raise RuntimeError("a task group must be entered from a task")
        return self

    def create_task(
        self, coro: Coroutine[Any, Any, T], *, name: str | None = None
    ) -> asyncio.Task[T]:
        if self._parent is None or self._closed:
            coro.close()
            raise RuntimeError("this task group is not active")
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._on_done)
        return task

    def start_soon(
        self, func: Callable[..., Coroutine[Any, Any, Any]], *args: Any, name: str | None = None
    ) -> None:
        self.create_task(func(*args), name=name)

    def _cancel_children(self) -> None:
        for task in self._tasks:
            task.cancel()

    def _on_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            self._errors.append(exc)
            self._cancel_children()
            if not self._exiting and not self._cancelled_parent:
                assert self._parent is not None
                self._cancelled_parent = True
                self._parent.cancel()  # stop the body too; __aexit__ takes the cancel back
        if not self._tasks and self._all_done is not None and not self._all_done.done():
            self._all_done.set_result(None)

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        self._exiting = True
        got_cancel = exc_type is not None and issubclass(exc_type, asyncio.CancelledError)
        if exc is not None and not got_cancel:
            self._errors.insert(0, exc)
        if exc is not None and self._tasks:
            if not got_cancel:
                try:
                    await asyncio.sleep(0)  # children started just now reach their first await
                except asyncio.CancelledError:
                    got_cancel = True
            self._cancel_children()
        while self._tasks:
            self._all_done = asyncio.get_running_loop().create_future()
            try:
                await self._all_done
            except asyncio.CancelledError:
                got_cancel = True
                self._cancel_children()
        self._closed = True
        cancelled_from_outside = got_cancel
        if self._cancelled_parent:
            if not got_cancel:
                try:
                    await asyncio.sleep(0)  # take delivery of the cancel we asked for
                except asyncio.CancelledError:
                    pass
            assert self._parent is not None
            cancelled_from_outside = sys.version_info >= (3, 11) and self._parent.uncancel() > 0
        if self._errors:
            if _GROUP is None:  # pragma: no cover - Python 3.10 has no exception groups
                raise self._errors[0]
            raise _GROUP("unhandled errors in a task group", self._errors)
        if cancelled_from_outside:
            if exc_type is not None and issubclass(exc_type, asyncio.CancelledError):
                return False  # the body's CancelledError propagates
            raise asyncio.CancelledError
        return got_cancel  # only the cancel this group caused is left: swallow it


@asynccontextmanager
async def create_collapsing_task_group() -> AsyncGenerator[_TaskGroup, None]:
    """A task group whose lone failure is raised as itself, not as a one-member group.

    Two or more failures still raise the ``ExceptionGroup``: none of them may be lost.
    """
    try:
        async with _TaskGroup() as group:
            yield group
    except BaseException as exc:
        if _GROUP is None or not isinstance(exc, _GROUP) or len(exc.exceptions) != 1:
            raise
        inner = exc.exceptions[0]
        raise inner from inner.__cause__ or (
            None if inner.__suppress_context__ else inner.__context__
        )
