"""aster.background: BackgroundTask(s), run after a response the way Starlette runs them."""

from __future__ import annotations

import asyncio
import functools
import threading

import httpx
import pytest

from aster.background import BackgroundTask, BackgroundTasks
from aster.types import Receive, Scope, Send


def test_sync_task_runs_in_a_worker_thread_with_its_arguments() -> None:
    calls: list[tuple[object, ...]] = []

    def record(a: int, b: int = 0, *, c: str) -> None:
        calls.append((a, b, c, threading.current_thread().name))

    task = BackgroundTask(record, 1, b=2, c="x")
    assert (task.func, task.args, task.kwargs, task.is_async) == (
        record,
        (1,),
        {"b": 2, "c": "x"},
        False,
    )
    asyncio.run(task())
    ((a, b, c, thread),) = calls
    assert (a, b, c) == (1, 2, "x")
    assert thread.startswith("aster-worker")


def test_async_task_runs_on_the_loop() -> None:
    seen: list[str] = []

    async def record(tag: str) -> None:
        await asyncio.sleep(0)
        seen.append(f"{tag}@{threading.current_thread().name}")

    class AsyncCallable:
        async def __call__(self, tag: str) -> None:
            seen.append(f"obj-{tag}")

    tasks = [
        BackgroundTask(record, "f"),
        BackgroundTask(functools.partial(record, "partial")),
        BackgroundTask(AsyncCallable(), "x"),
    ]
    assert all(task.is_async for task in tasks)

    async def main() -> None:
        for task in tasks:
            await task()

    asyncio.run(main())
    assert seen == ["f@MainThread", "partial@MainThread", "obj-x"]


def test_background_tasks_run_in_order_and_stop_at_an_error() -> None:
    order: list[str] = []

    async def first() -> None:
        order.append("first")

    def second(tag: str) -> None:
        order.append(tag)

    def broken() -> None:
        raise RuntimeError("task failed")

    tasks = BackgroundTasks([BackgroundTask(first)])
    tasks.add_task(second, "second")
    tasks.add_task(broken)
    tasks.add_task(second, "never")
    assert [task.func for task in tasks.tasks] == [first, second, broken, second]
    with pytest.raises(RuntimeError, match="task failed"):
        asyncio.run(tasks())
    assert order == ["first", "second"]
    assert BackgroundTasks().tasks == []
    asyncio.run(BackgroundTasks()())


def test_tasks_run_after_the_response_is_sent() -> None:
    """As a response runs them: after the last body message went out."""
    events: list[str] = []
    tasks = BackgroundTasks()
    tasks.add_task(events.append, "background")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"done"})
        events.append("sent")
        await tasks()

    async def main() -> str:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return (await client.get("/")).text

    assert asyncio.run(main()) == "done"
    assert events == ["sent", "background"]
