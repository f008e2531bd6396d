"""A cancelled request (client gone, timeout) still runs its ``yield`` dependencies' cleanup.

The code after ``yield`` in an async dependency runs to its end even when the request is
cancelled: a cancellation that arrives (or was requested) before the cleanup does not
cut it at its first ``await``, nor do anyio cancel scopes, which cancel again at every
``await``.  The cancellation still propagates afterwards.  And nothing the endpoint
started is left running: a stream stopped by a disconnect closes its generator and,
for Server-Sent Events, its producer task.
"""

import asyncio
import sys
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

import anyio
import pytest

from aster import Depends, FastAPI, Request
from aster.responses import PlainTextResponse, StreamingResponse
from aster.sse import EventSourceResponse

from .asgi import call, make_scope

Scope = Literal["function", "request"]


def timeout_middleware(app: Any, seconds: float) -> Any:
    """A pure ASGI middleware answering 504 when the app takes longer than ``seconds``."""

    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        try:
            await asyncio.wait_for(app(scope, receive, send), seconds)
        except asyncio.TimeoutError:
            await PlainTextResponse("Gateway Timeout", status_code=504)(scope, receive, send)

    return wrapped


def cleanup_dependency(events: list[str], awaits: int = 3) -> Any:
    async def dependency() -> AsyncIterator[None]:
        events.append("enter")
        try:
            yield
        finally:
            events.append("cleanup start")
            for _ in range(awaits):
                await asyncio.sleep(0)
            events.append("cleanup end")

    return dependency


def other_tasks() -> list[str]:
    current = asyncio.current_task()
    return sorted(
        getattr(task.get_coro(), "__qualname__", "?")
        for task in asyncio.all_tasks()
        if task is not current
    )


@pytest.mark.parametrize("scope", ["function", "request"])
async def test_a_timeout_does_not_cut_the_cleanup(scope: Scope) -> None:
    events: list[str] = []
    app = FastAPI()

    @app.get("/")
    async def endpoint(_: Annotated[None, Depends(cleanup_dependency(events), scope=scope)]):
        events.append("endpoint")
        await asyncio.Event().wait()

    result = await call(timeout_middleware(app, 0.05), make_scope("/"))
    assert (result.status, result.body) == (504, b"Gateway Timeout")
    assert events == ["enter", "endpoint", "cleanup start", "cleanup end"]
    assert other_tasks() == []


@pytest.mark.parametrize("scope", ["function", "request"])
async def test_a_cancellation_requested_before_the_cleanup_waits_until_it_ran(
    scope: Scope,
) -> None:
    """The endpoint is cancelled while it runs and returns without awaiting: asyncio would
    deliver the cancellation at the cleanup's first ``await``.  (FastAPI's shield is an
    anyio scope, which does not hold off a plain ``Task.cancel()``: there the cleanup
    stops at its first ``await``.)"""
    events: list[str] = []
    app = FastAPI()

    @app.get("/")
    async def endpoint(_: Annotated[None, Depends(cleanup_dependency(events), scope=scope)]):
        task = asyncio.current_task()
        assert task is not None
        task.cancel()
        return "ok"

    with pytest.raises(asyncio.CancelledError):
        await call(app, make_scope("/"))
    assert events == ["enter", "cleanup start", "cleanup end"]


@pytest.mark.parametrize("scope", ["function", "request"])
@pytest.mark.parametrize("cancel_during", ["endpoint", "cleanup", "before_cleanup"])
async def test_an_anyio_cancel_scope_does_not_cut_the_cleanup(
    scope: Scope, cancel_during: str
) -> None:
    """anyio cancels again at every ``await`` of a cancelled scope: the cleanup is shielded."""
    events: list[str] = []
    cleanup_started = asyncio.Event()
    release_cleanup = asyncio.Event()
    state: dict[str, anyio.CancelScope] = {}
    app = FastAPI()

    async def dependency() -> AsyncIterator[None]:
        events.append("enter")
        try:
            yield
        finally:
            events.append("cleanup start")
            cleanup_started.set()
            await release_cleanup.wait()
            await asyncio.sleep(0)
            events.append("cleanup end")

    @app.get("/")
    async def endpoint(_: Annotated[None, Depends(dependency, scope=scope)]):
        if cancel_during == "endpoint":
            state["scope"].cancel()
            await asyncio.sleep(0)
        elif cancel_during == "before_cleanup":
            state["scope"].cancel()
        return "ok"

    async def request() -> bool:
        with anyio.CancelScope() as cancel:
            state["scope"] = cancel
            await call(app, make_scope("/"))
        return cancel.cancelled_caught

    task = asyncio.ensure_future(request())
    await cleanup_started.wait()
    if cancel_during == "cleanup":
        state["scope"].cancel()
    for _ in range(5):
        await asyncio.sleep(0)
    assert not task.done()  # held by the cleanup, which waits for its release
    release_cleanup.set()
    caught = await task
    assert events == ["enter", "cleanup start", "cleanup end"]
    assert caught  # the cancellation still reached its scope, after the cleanup


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.TaskGroup is Python 3.11+")
@pytest.mark.parametrize("scope", ["function", "request"])
async def test_a_cleanup_that_owns_a_task_group_exits_in_its_own_task(scope: Scope) -> None:
    events: list[str] = []
    tasks: list[Any] = []
    app = FastAPI()

    child_started = asyncio.Event()

    async def child() -> None:
        child_started.set()
        try:
            await asyncio.Event().wait()
        finally:
            events.append("child stopped")

    async def dependency() -> AsyncIterator[None]:
        tasks.append(asyncio.current_task())
        async with asyncio.TaskGroup() as group:
            child_task = group.create_task(child())
            await child_started.wait()
            try:
                yield
            finally:
                child_task.cancel()
        await asyncio.sleep(0)
        tasks.append(asyncio.current_task())
        events.append("cleanup end")

    @app.get("/")
    async def endpoint(_: Annotated[None, Depends(dependency, scope=scope)]):
        tasks.append(asyncio.current_task())
        return "ok"

    result = await call(app, make_scope("/"))
    assert result.body == b'"ok"'
    assert events == ["child stopped", "cleanup end"]
    assert len(tasks) == 3 and len(set(map(id, tasks))) == 1


async def test_the_entry_of_a_dependency_stays_cancellable() -> None:
    events: list[str] = []
    started = asyncio.Event()
    app = FastAPI()

    async def dependency() -> AsyncIterator[None]:
        started.set()
        try:
            await asyncio.Event().wait()
            yield
        finally:
            events.append("entry interrupted")

    @app.get("/")
    async def endpoint(_: Annotated[None, Depends(dependency)]):
        raise AssertionError("the entry was cancelled")

    task = asyncio.ensure_future(call(app, make_scope("/")))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert events == ["entry interrupted"]


async def test_a_cleanup_error_keeps_the_cancellation_as_its_context() -> None:
    events: list[str] = []
    cleanup_error = RuntimeError("cleanup failed")
    app = FastAPI()

    async def outer() -> AsyncIterator[None]:
        try:
            yield
        finally:
            await asyncio.sleep(0)
            events.append("outer cleanup")

    async def inner(_: Annotated[None, Depends(outer)]) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await asyncio.sleep(0)
            events.append("inner cleanup")
            raise cleanup_error

    @app.get("/")
    async def endpoint(_: Annotated[None, Depends(inner)]):
        await asyncio.Event().wait()

    task = asyncio.ensure_future(call(app, make_scope("/")))
    for _ in range(5):
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(RuntimeError) as raised:
        await task
    assert raised.value is cleanup_error
    assert isinstance(cleanup_error.__context__, asyncio.CancelledError)
    assert events == ["inner cleanup", "outer cleanup"]


@pytest.mark.parametrize("kind", ["raw", "sse"])
async def test_a_disconnect_mid_stream_runs_the_cleanup_and_leaves_no_task(kind: str) -> None:
    events: list[str] = []
    app = FastAPI()
    dependency = Depends(cleanup_dependency(events))

    @app.get("/raw")
    async def raw(request: Request, _: Annotated[None, dependency]):
        async def chunks() -> AsyncIterator[bytes]:
            try:
                while True:
                    yield b"chunk\n"
                    await asyncio.sleep(0.005)
            finally:
                events.append("generator closed")

        return StreamingResponse(chunks())

    @app.get("/sse", response_class=EventSourceResponse)
    async def sse(_: Annotated[None, dependency]) -> AsyncIterator[int]:
        try:
            number = 0
            while True:
                yield number
                number += 1
                await asyncio.sleep(0.005)
        finally:
            events.append("generator closed")

    before = other_tasks()
    result = await call(app, make_scope(f"/{kind}"), disconnect_after=0.1)
    assert result.status == 200
    assert len(result.body) > 0
    assert events == ["enter", "generator closed", "cleanup start", "cleanup end"]
    assert other_tasks() == before
