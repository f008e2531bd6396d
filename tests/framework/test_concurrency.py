"""aster.concurrency: the bounded worker pool, the cleanup pool, and FastAPI's helpers."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from aster import concurrency
from aster.concurrency import (
    contextmanager_in_threadpool,
    get_threadpool_size,
    is_async_callable,
    iterate_in_threadpool,
    run_cleanup_in_threadpool,
    run_in_threadpool,
    run_until_first_complete,
    set_cleanup_threadpool_size,
    set_threadpool_size,
)
from aster.exceptions import StarletteDeprecationWarning
from tests.support import ROOT

var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")


@pytest.fixture(autouse=True)
def fresh_pools() -> Iterator[None]:
    """Each test starts with default-sized pools and leaves no threads running."""
    yield
    concurrency.shutdown_threadpools(wait=True)
    set_threadpool_size(concurrency.DEFAULT_THREADPOOL_SIZE)
    set_cleanup_threadpool_size(concurrency.DEFAULT_CLEANUP_THREADPOOL_SIZE)


def _thread_name() -> str:
    return threading.current_thread().name


def test_run_in_threadpool_returns_result_and_uses_worker_thread() -> None:
    async def main() -> tuple[Any, ...]:
        name = await run_in_threadpool(_thread_name)
        joined = await run_in_threadpool("-".join, ["a", "b"])
        kw = await run_in_threadpool(int, "ff", base=16)
        return name, joined, kw, threading.current_thread().name

    name, joined, kw, loop_thread = asyncio.run(main())
    assert name.startswith("aster-worker")
    assert loop_thread == "MainThread"
    assert (joined, kw) == ("a-b", 255)


def test_run_in_threadpool_propagates_exceptions() -> None:
    def boom() -> None:
        raise KeyError("nope")

    async def main() -> None:
        await run_in_threadpool(boom)

    with pytest.raises(KeyError, match="nope"):
        asyncio.run(main())


def test_contextvars_are_copied_in_and_not_leaked_back() -> None:
    def read_and_set() -> str:
        seen = var.get()
        var.set("set-in-thread")
        return seen

    async def main() -> tuple[str, str]:
        var.set("from-loop")
        seen = await run_in_threadpool(read_and_set)
        return seen, var.get()

    assert asyncio.run(main()) == ("from-loop", "from-loop")


def test_pool_is_bounded_and_the_loop_keeps_running() -> None:
    set_threadpool_size(2)
    active = 0
    peak = 0
    lock = threading.Lock()

    def work() -> None:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.05)
        with lock:
            active -= 1

    async def main() -> int:
        ticks = 0
        done = asyncio.Event()

        async def heartbeat() -> None:
            nonlocal ticks
            while not done.is_set():
                ticks += 1
                await asyncio.sleep(0.005)

        beat = asyncio.create_task(heartbeat())
        await asyncio.gather(*(run_in_threadpool(work) for _ in range(8)))
        done.set()
        await beat
        return ticks

    started = time.monotonic()
    ticks = asyncio.run(main())
    elapsed = time.monotonic() - started
    assert peak == 2
    assert get_threadpool_size() == 2
    assert elapsed >= 0.19  # 8 calls of 50 ms, two at a time
    assert ticks >= 20  # the loop ran all along


def test_env_var_sets_the_size() -> None:
    code = (
        "from aster import concurrency as c;"
        "print(c.get_threadpool_size(), c.get_executor()._max_workers);"
        "c.set_threadpool_size(3); print(c.get_threadpool_size())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"ASTER_THREADPOOL_SIZE": "7", "PYTHONPATH": str(ROOT), "PATH": ""},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.split() == ["7", "7", "3"]


def test_bad_env_var_is_a_clear_error() -> None:
    code = "from aster import concurrency as c; c.get_executor()"
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"ASTER_THREADPOOL_SIZE": "many", "PYTHONPATH": str(ROOT), "PATH": ""},
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert "ValueError: ASTER_THREADPOOL_SIZE must be a positive integer, got 'many'" in (
        proc.stderr
    )


@pytest.mark.parametrize("size", [0, -1, "x", True, None])
def test_set_threadpool_size_rejects_non_positive(size: Any) -> None:
    with pytest.raises(ValueError, match="threadpool size must be a positive integer"):
        set_threadpool_size(size)


def test_resize_keeps_queued_work_on_the_old_pool() -> None:
    set_threadpool_size(1)

    async def main() -> list[int]:
        first = asyncio.ensure_future(run_in_threadpool(time.sleep, 0.05))
        queued = asyncio.ensure_future(run_in_threadpool(lambda: 1))
        await asyncio.sleep(0)
        set_threadpool_size(4)
        fresh = await run_in_threadpool(lambda: 2)
        await first
        return [await queued, fresh]

    assert asyncio.run(main()) == [1, 2]


def test_cancelling_waits_for_a_running_call() -> None:
    finished = threading.Event()

    def slow() -> None:
        time.sleep(0.1)
        finished.set()

    async def main() -> bool:
        task = asyncio.ensure_future(run_in_threadpool(slow))
        await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return finished.is_set()

    assert asyncio.run(main()) is True


def test_cancelling_drops_a_queued_call() -> None:
    set_threadpool_size(1)
    ran = []

    async def main() -> None:
        blocker = asyncio.ensure_future(run_in_threadpool(time.sleep, 0.1))
        await asyncio.sleep(0.01)
        queued = asyncio.ensure_future(run_in_threadpool(ran.append, "queued"))
        await asyncio.sleep(0.01)
        queued.cancel()
        with pytest.raises(asyncio.CancelledError):
            await queued
        await blocker

    asyncio.run(main())
    time.sleep(0.05)
    assert ran == []


def test_cleanup_runs_while_every_worker_is_held() -> None:
    """The deadlock anyio's single limiter allows: workers wait on what only teardown frees."""
    set_threadpool_size(2)
    released = threading.Event()

    def endpoint() -> str:
        assert released.wait(5), "teardown never ran"
        return "ok"

    async def main() -> list[str]:
        endpoints = [asyncio.ensure_future(run_in_threadpool(endpoint)) for _ in range(4)]
        await asyncio.sleep(0.05)  # every worker is now blocked
        name = await asyncio.wait_for(run_cleanup_in_threadpool(_thread_name), 2)
        assert name.startswith("aster-cleanup")
        await run_cleanup_in_threadpool(released.set)
        return list(await asyncio.gather(*endpoints))

    assert asyncio.run(main()) == ["ok"] * 4


def test_cleanup_is_not_interrupted_by_cancellation() -> None:
    finished = threading.Event()

    def teardown(delay: float, *, mark: threading.Event) -> str:
        time.sleep(delay)
        mark.set()
        return "done"

    async def main() -> bool:
        task = asyncio.ensure_future(run_cleanup_in_threadpool(teardown, 0.1, mark=finished))
        await asyncio.sleep(0.02)
        task.cancel()
        await asyncio.sleep(0.01)
        task.cancel()  # a second cancel is held off too
        with pytest.raises(asyncio.CancelledError):
            await task
        return finished.is_set()

    assert asyncio.run(main()) is True


class Recorder(contextlib.AbstractContextManager[str]):
    def __init__(self, suppress: bool = False) -> None:
        self.suppress = suppress
        self.calls: list[tuple[str, str, Any]] = []

    def __enter__(self) -> str:
        self.calls.append(("enter", _thread_name(), None))
        return "value"

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        self.calls.append(("exit", _thread_name(), exc_type))
        return self.suppress


def test_contextmanager_in_threadpool_enters_on_workers_and_exits_on_cleanup() -> None:
    cm = Recorder()

    async def main() -> str:
        async with contextmanager_in_threadpool(cm) as value:
            return value

    assert asyncio.run(main()) == "value"
    (enter, enter_thread, _), (exit_, exit_thread, exc_type) = cm.calls
    assert (enter, exit_, exc_type) == ("enter", "exit", None)
    assert enter_thread.startswith("aster-worker")
    assert exit_thread.startswith("aster-cleanup")


def test_contextmanager_in_threadpool_passes_and_suppresses_errors() -> None:
    async def run(cm: Recorder) -> str:
        async with contextmanager_in_threadpool(cm):
            raise ValueError("inside")
        return "suppressed"

    raising = Recorder()
    with pytest.raises(ValueError, match="inside"):
        asyncio.run(run(raising))
    assert raising.calls[-1][2] is ValueError

    assert asyncio.run(run(Recorder(suppress=True))) == "suppressed"


def test_contextmanager_in_threadpool_exit_survives_cancellation() -> None:
    exited = threading.Event()

    @contextlib.contextmanager
    def resource() -> Iterator[None]:
        try:
            yield
        finally:
            time.sleep(0.05)
            exited.set()

    async def main() -> None:
        async def use() -> None:
            async with contextmanager_in_threadpool(resource()):
                await asyncio.sleep(10)

        task = asyncio.ensure_future(use())
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert exited.is_set()


def test_iterate_in_threadpool() -> None:
    def numbers() -> Iterator[tuple[int, str]]:
        for i in range(3):
            yield i, _thread_name()

    def broken() -> Iterator[int]:
        yield 1
        raise RuntimeError("mid-iteration")

    async def collect(iterable: Any) -> list[Any]:
        return [item async for item in iterate_in_threadpool(iterable)]

    items = asyncio.run(collect(numbers()))
    assert [i for i, _ in items] == [0, 1, 2]
    assert all(name.startswith("aster-worker") for _, name in items)
    assert asyncio.run(collect([])) == []
    assert asyncio.run(collect("ab")) == ["a", "b"]
    with pytest.raises(RuntimeError, match="mid-iteration"):
        asyncio.run(collect(broken()))


def test_run_until_first_complete_cancels_the_rest() -> None:
    events: list[str] = []

    async def fast(tag: str) -> None:
        await asyncio.sleep(0.01)
        events.append(tag)

    async def slow() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            events.append("slow-cancelled")
            raise

    async def main() -> None:
        await run_until_first_complete((fast, {"tag": "fast"}), (slow, {}))

    with pytest.warns(StarletteDeprecationWarning, match="run_until_first_complete"):
        asyncio.run(main())
    assert events == ["fast", "slow-cancelled"]


def test_is_async_callable() -> None:
    async def coro() -> None: ...

    def plain() -> None: ...

    class AsyncCallable:
        async def __call__(self) -> None: ...

    class SyncCallable:
        def __call__(self) -> None: ...

    assert is_async_callable(coro)
    assert is_async_callable(functools.partial(functools.partial(coro)))
    assert is_async_callable(AsyncCallable())
    assert not is_async_callable(plain)
    assert not is_async_callable(functools.partial(plain))
    assert not is_async_callable(SyncCallable())
    assert not is_async_callable(42)


def test_dependency_concurrency_limit() -> None:
    limit = concurrency._DependencyConcurrency(2)
    running = 0
    peak = 0

    @contextlib.asynccontextmanager
    async def dependency() -> Any:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        yield
        await asyncio.sleep(0.01)
        running -= 1

    async def use() -> None:
        async with concurrency._contextmanager_with_concurrency_limit(
            dependency(), limit.get_semaphore()
        ):
            await asyncio.sleep(0.01)

    async def main() -> bool:
        await asyncio.gather(*(use() for _ in range(6)))
        return limit.get_semaphore() is limit.get_semaphore()

    assert asyncio.run(main()) is True
    assert peak == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        asyncio.run(main())  # a new loop gets its own semaphore


def test_cancelled_while_entering_still_exits_once() -> None:
    """What __enter__ acquired is released even if the caller is cancelled meanwhile."""
    started = threading.Event()
    release = threading.Event()

    class Slow(Recorder):
        def __enter__(self) -> str:
            started.set()
            assert release.wait(5)
            return super().__enter__()

    cm = Slow()

    async def main() -> None:
        async def use() -> None:
            async with contextmanager_in_threadpool(cm):
                raise AssertionError("the body must not run")  # pragma: no cover

        task = asyncio.ensure_future(use())
        await asyncio.get_running_loop().run_in_executor(None, started.wait, 5)
        task.cancel()
        await asyncio.sleep(0.02)
        assert not task.done()  # still waiting for __enter__
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert [(call, exc) for call, _, exc in cm.calls] == [
        ("enter", None),
        ("exit", asyncio.CancelledError),
    ]
    assert cm.calls[1][1].startswith("aster-cleanup")


def test_anyio_from_thread_works_in_workers() -> None:
    anyio_from_thread = pytest.importorskip("anyio.from_thread")

    async def where() -> str:
        return threading.current_thread().name

    def endpoint() -> tuple[str, str, str]:
        return (
            _thread_name(),
            anyio_from_thread.run_sync(_thread_name),
            anyio_from_thread.run(where),
        )

    async def main() -> tuple[str, str, str]:
        return await run_in_threadpool(endpoint)

    worker, sync_back, async_back = asyncio.run(main())
    assert worker.startswith("aster-worker")
    assert (sync_back, async_back) == ("MainThread", "MainThread")


def test_cleanup_under_an_anyio_cancel_scope() -> None:
    anyio = pytest.importorskip("anyio")
    finished = threading.Event()

    def teardown() -> None:
        time.sleep(0.05)
        finished.set()

    async def main() -> tuple[bool, bool]:
        with anyio.CancelScope() as scope:
            scope.cancel()
            await run_cleanup_in_threadpool(teardown)
        await asyncio.sleep(0)  # no cancellation left behind
        return scope.cancelled_caught, finished.is_set()

    assert asyncio.run(main()) == (True, True)
