"""Dependencies with ``yield``: entered for a request, exited after it, whatever happens.

A yield dependency becomes an async context manager on one of the request's exit
stacks (``scope="function"``: closed when the endpoint returns; otherwise after the
response is sent):

* a sync generator is entered on the worker pool and exited on the cleanup pool,
  never interrupted (:func:`aster.concurrency.contextmanager_in_threadpool`);
* an async generator's exit (the code after ``yield``) is **shielded from the
  request's cancellation**: when the client is gone or a timeout cancels the
  request, the cleanup still runs to the end, and the cancellation is raised again
  afterwards.  asyncio delivers a cancellation once, at the next ``await``; one that
  was requested but not delivered yet would land in the cleanup's first ``await``, so
  it is taken first and raised after the cleanup.  anyio cancel scopes re-deliver on
  every ``await``; when anyio is loaded, a shared anyio scope entered before the first
  such dependency (so that the dependencies' own scopes nest inside it) is shielded
  while cleanups run, as FastAPI does;
* ``Depends(max_concurrency=n)`` takes a slot before entering and gives it back only
  after the exit has run.

The entry stays cancellable: a dependency waiting for its resource can be interrupted.
"""

from __future__ import annotations

import asyncio
import sys
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from typing import Any

from ..concurrency import DependencyConcurrency, contextmanager_in_threadpool

#: Where the request keeps its anyio cleanup scope (FastAPI's key), per request stack.
CLEANUP_SCOPES_KEY = "fastapi_async_cleanup_scopes"


def _pending_cancellation(task: asyncio.Task[Any] | None) -> bool:
    # A cancel() requested but not delivered yet.  Private, in both Task implementations
    # since Python 3.8; without it a pending cancellation is not taken first.
    return task is not None and getattr(task, "_must_cancel", False)


def _anyio_cleanup_scope(scope: dict[str, Any]) -> Any:
    """The request's shared anyio cancel scope, entered now if it is not yet (anyio only)."""
    anyio = sys.modules.get("anyio")
    request_stack: AsyncExitStack | None = scope.get("fastapi_inner_astack")
    if anyio is None or request_stack is None:
        return None
    scopes: dict[AsyncExitStack, Any] = scope.setdefault(CLEANUP_SCOPES_KEY, {})
    cleanup_scope = scopes.get(request_stack)
    if cleanup_scope is None:
        try:
            cleanup_scope = request_stack.enter_context(anyio.CancelScope())
        except RuntimeError:  # pragma: no cover - not in an anyio-compatible task
            return None
        scopes[request_stack] = cleanup_scope
        request_stack.callback(scopes.pop, request_stack)
    return cleanup_scope


class ShieldedExit:
    """An async context manager whose exit is not interrupted by the request's cancellation."""

    __slots__ = ("manager", "cleanup_scope")

    def __init__(self, manager: Any, cleanup_scope: Any = None) -> None:
        self.manager = manager
        self.cleanup_scope = cleanup_scope

    async def __aenter__(self) -> Any:
        return await self.manager.__aenter__()

    async def __aexit__(self, exc_type: Any, exc: Any, traceback: Any) -> bool:
        cleanup_scope = self.cleanup_scope
        was_shielded = False
        if cleanup_scope is not None:
            was_shielded = cleanup_scope.shield
            cleanup_scope.shield = True
        deferred: BaseException | None = None
        try:
            if _pending_cancellation(asyncio.current_task()):
                try:
                    await asyncio.sleep(0)  # the cancellation lands here, not in the cleanup
                except asyncio.CancelledError as cancelled:
                    deferred = cancelled
            suppress = bool(await self.manager.__aexit__(exc_type, exc, traceback))
        finally:
            if cleanup_scope is not None:
                cleanup_scope.shield = was_shielded
        if deferred is not None:
            raise deferred
        if cleanup_scope is not None:
            # A task group in the cleanup may have swallowed a cancellation while shielded.
            await _anyio_checkpoint_if_cancelled()
        return suppress


async def _anyio_checkpoint_if_cancelled() -> None:
    anyio = sys.modules.get("anyio")
    if anyio is not None:
        await anyio.lowlevel.checkpoint_if_cancelled()


@asynccontextmanager
async def limited(manager: Any, concurrency: DependencyConcurrency) -> Any:
    """Hold the dependency's concurrency slot from before its entry until its exit has run."""
    async with concurrency.get_semaphore(), manager as value:
        yield value


def generator_manager(
    call: Any,
    values: dict[str, Any],
    *,
    is_async: bool,
    scope: dict[str, Any],
    concurrency: DependencyConcurrency | None,
) -> Any:
    """The context manager that runs one yield dependency for a request."""
    manager: Any
    if is_async:
        cleanup_scope = _anyio_cleanup_scope(scope)
        manager = ShieldedExit(asynccontextmanager(call)(**values), cleanup_scope)
    else:
        manager = contextmanager_in_threadpool(contextmanager(call)(**values))
    if concurrency is not None:
        manager = limited(manager, concurrency)
    return manager


async def enter_generator(
    call: Any,
    values: dict[str, Any],
    *,
    is_async: bool,
    stack: AsyncExitStack,
    scope: dict[str, Any],
    concurrency: DependencyConcurrency | None = None,
) -> Any:
    """Enter a yield dependency on ``stack``; its value (what it yielded)."""
    manager = generator_manager(
        call, values, is_async=is_async, scope=scope, concurrency=concurrency
    )
    return await stack.enter_async_context(manager)
