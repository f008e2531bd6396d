"""Sync ``def`` endpoints and dependencies run in the bounded threadpool, never on the loop."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Annotated, Any

import pytest

from aster import Depends, FastAPI, Request
from aster.concurrency import get_threadpool_size, run_in_threadpool, set_threadpool_size
from aster.testclient import TestClient

from .asgi import call, make_scope

app = FastAPI()
LOOP_THREAD: dict[str, int] = {}


@app.get("/sync-slow")
def sync_slow(seconds: float = 0.5):
    time.sleep(seconds)
    return {"thread": threading.get_ident(), "name": threading.current_thread().name}


@app.get("/async-fast")
async def async_fast():
    LOOP_THREAD["ident"] = threading.get_ident()
    return {"thread": threading.get_ident()}


def sync_dependency() -> int:
    return threading.get_ident()


@app.get("/sync-dependency")
async def with_sync_dependency(dep_thread: Annotated[int, Depends(sync_dependency)]):
    return {"dep_thread": dep_thread, "loop_thread": threading.get_ident()}


@app.get("/offload")
async def offload(n: int = 10):
    def work(a: int, *, b: int) -> tuple[int, int]:
        return a * b, threading.get_ident()

    value, thread = await run_in_threadpool(work, n, b=3)
    return {"value": value, "other_thread": thread != threading.get_ident()}


@app.get("/sync-request")
def sync_request(request: Request):
    return {"path": request.url.path, "q": request.query_params.get("q")}


def body_of(result: Any) -> Any:
    import json

    return json.loads(result.body)


def test_sync_endpoint_runs_in_a_worker_thread() -> None:
    client = TestClient(app)
    loop_thread = client.get("/async-fast").json()["thread"]
    data = client.get("/sync-slow?seconds=0").json()
    assert data["thread"] != loop_thread
    assert data["name"].startswith("aster-worker")
    deps = client.get("/sync-dependency").json()
    assert deps["dep_thread"] != deps["loop_thread"]
    assert client.get("/sync-request?q=1").json() == {"path": "/sync-request", "q": "1"}


def test_slow_sync_endpoint_does_not_block_async_ones() -> None:
    async def scenario() -> tuple[float, float, Any]:
        start = time.perf_counter()
        slow = asyncio.create_task(call(app, make_scope("/sync-slow", query_string=b"seconds=0.6")))
        await asyncio.sleep(0.05)  # the sync endpoint is now sleeping in its thread
        fast = await call(app, make_scope("/async-fast"))
        fast_done = time.perf_counter() - start
        slow_result = await slow
        return fast_done, time.perf_counter() - start, (fast, slow_result)

    fast_done, slow_done, (fast, slow) = asyncio.run(scenario())
    assert fast.status == 200 and slow.status == 200
    assert fast_done < 0.3, fast_done
    assert slow_done >= 0.6


def test_run_in_threadpool() -> None:
    assert TestClient(app).get("/offload?n=7").json() == {"value": 21, "other_thread": True}


@pytest.fixture
def small_pool() -> Iterator[int]:
    previous = get_threadpool_size()
    set_threadpool_size(3)
    try:
        yield 3
    finally:
        set_threadpool_size(previous)


def test_more_sync_calls_than_threads_all_complete(small_pool: int) -> None:
    calls = small_pool * 5

    async def scenario() -> tuple[list[Any], float, float]:
        start = time.perf_counter()
        tasks = [
            asyncio.create_task(call(app, make_scope("/sync-slow", query_string=b"seconds=0.1")))
            for _ in range(calls)
        ]
        await asyncio.sleep(0.02)
        fast = await call(app, make_scope("/async-fast"))
        assert fast.status == 200
        fast_done = time.perf_counter() - start
        results = await asyncio.gather(*tasks)
        return results, fast_done, time.perf_counter() - start

    results, fast_done, elapsed = asyncio.run(scenario())
    assert [r.status for r in results] == [200] * calls
    threads = {body_of(r)["thread"] for r in results}
    assert len(threads) <= small_pool  # bounded
    assert elapsed >= 0.1 * calls / small_pool * 0.9  # queued, not run all at once
    assert fast_done < 0.35, fast_done  # the loop stayed free while the pool was full


def test_teardown_of_sync_dependencies_cannot_deadlock(small_pool: int) -> None:
    """FastAPI/anyio's classic deadlock: every thread waits for a resource that only a
    dependency teardown gives back, and the teardown needs a thread too."""
    resource = threading.Semaphore(1)
    timeouts: list[bool] = []

    def connection() -> Iterator[str]:
        if not resource.acquire(timeout=5):
            timeouts.append(True)
            raise RuntimeError("starved")
        try:
            yield "conn"
        finally:
            resource.release()

    other = FastAPI()

    @other.get("/")
    async def endpoint(conn: str = Depends(connection)) -> str:
        await asyncio.sleep(0.05)
        return conn

    async def scenario() -> list[Any]:
        return await asyncio.gather(
            *(call(other, make_scope("/"), raise_errors=False) for _ in range(small_pool * 3))
        )

    start = time.perf_counter()
    results = asyncio.run(scenario())
    assert timeouts == []
    assert [r.status for r in results] == [200] * (small_pool * 3)
    assert time.perf_counter() - start < 4
