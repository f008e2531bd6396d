"""``Depends(..., max_concurrency=N)``: at most N calls of a declared dependency at once.

As in FastAPI 0.165: the limit belongs to the declaration object, so every route using
the same declaration shares it (and two equal-looking declarations do not); a call waits
for a slot *before* it takes a worker thread; a ``yield`` dependency keeps its slot until
its exit has run (after the endpoint for ``scope="function"``, after the response for
the default request scope); a cached result takes no slot; errors and cancellation give
the slot back; overrides keep the declared limit.  The semaphore has anyio's interface
(``value``, ``statistics().tasks_waiting``), one per event loop.
"""

import asyncio
import dataclasses
import gc
import threading
import weakref
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import pytest

from aster import APIRouter, BackgroundTasks, Depends, FastAPI, Request, WebSocket
from aster import params as aster_params
from aster.concurrency import Semaphore
from aster.exceptions import ResponseValidationError
from aster.responses import StreamingResponse

from .asgi import call, make_scope


def semaphore_for(declaration: Any) -> Semaphore:
    return declaration._concurrency.get_semaphore()


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Let the loop run until ``condition()`` holds (turn by turn; fails after ``timeout``)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.001)


def get(app: FastAPI, path: str, **headers: str) -> Awaitable[Any]:
    return call(app, make_scope(path, headers=list(headers.items())))


class Counter:
    def __init__(self) -> None:
        self.active = self.peak = self.calls = 0
        self.lock = threading.Lock()

    def enter(self) -> None:
        with self.lock:
            self.active += 1
            self.calls += 1
            self.peak = max(self.peak, self.active)

    def exit(self) -> None:
        with self.lock:
            self.active -= 1


@pytest.mark.parametrize("kind", ["async", "sync", "async_yield", "sync_yield"])
@pytest.mark.parametrize("override", [False, True])
async def test_a_shared_declaration_limits_every_route_using_it(kind: str, override: bool) -> None:
    counter = Counter()
    release = asyncio.Event()
    released = threading.Event()
    loop = asyncio.get_running_loop()

    async def asynchronous():
        counter.enter()
        try:
            await release.wait()
            return "ok"
        finally:
            counter.exit()

    def synchronous():
        counter.enter()
        try:
            assert released.wait(10)
            return "ok"
        finally:
            counter.exit()

    async def async_generator():
        counter.enter()
        try:
            await release.wait()
            yield "ok"
        finally:
            counter.exit()

    def sync_generator():
        counter.enter()
        try:
            assert released.wait(10)
            yield "ok"
        finally:
            counter.exit()

    async def original():
        raise AssertionError("the override runs instead")

    dependency = {
        "async": asynchronous,
        "sync": synchronous,
        "async_yield": async_generator,
        "sync_yield": sync_generator,
    }[kind]
    declaration = Depends(original if override else dependency, max_concurrency=2)
    app = FastAPI()
    if override:
        app.dependency_overrides[original] = dependency

    @app.get("/one")
    @app.get("/two")
    async def endpoint(value: Annotated[str, declaration]):
        return value

    requests = [asyncio.ensure_future(get(app, "/one" if i % 2 else "/two")) for i in range(6)]
    await until(lambda: counter.calls == 2 and semaphore_for(declaration).value == 0)
    await until(lambda: semaphore_for(declaration).statistics().tasks_waiting == 4)
    assert counter.active == counter.calls == 2  # the four others wait, on no thread
    release.set()
    loop.call_soon(released.set)
    results = await asyncio.gather(*requests)
    assert [(r.status, r.body) for r in results] == [(200, b'"ok"')] * 6
    assert counter.calls == 6
    assert counter.peak == 2
    assert counter.active == 0
    assert semaphore_for(declaration).value == 2
    assert semaphore_for(declaration).statistics().tasks_waiting == 0


async def test_declarations_are_independent_even_when_they_look_the_same() -> None:
    entered = 0
    release = asyncio.Event()

    async def dependency():
        nonlocal entered
        entered += 1
        yield "ok"

    first, second = Depends(dependency, max_concurrency=1), Depends(dependency, max_concurrency=1)
    assert first == first and first != second  # the limit is part of the declaration's identity
    app = FastAPI()

    @app.get("/one")
    async def one(value: Annotated[str, first]):
        await release.wait()
        return value

    @app.get("/two")
    async def two(value: Annotated[str, second]):
        await release.wait()
        return value

    requests = [asyncio.ensure_future(get(app, path)) for path in ("/one", "/two")]
    await until(lambda: entered == 2)
    assert semaphore_for(first).value == semaphore_for(second).value == 0
    release.set()
    assert [r.status for r in await asyncio.gather(*requests)] == [200, 200]
    assert semaphore_for(first).value == semaphore_for(second).value == 1


@pytest.mark.parametrize(("use_cache", "slots"), [(True, 1), (False, 2)])
async def test_a_cached_result_takes_no_slot(use_cache: bool, slots: int) -> None:
    entered: list[int] = []
    exited: list[int] = []

    async def dependency():
        value = len(entered)
        entered.append(value)
        try:
            yield value
        finally:
            exited.append(value)

    declaration = Depends(dependency, use_cache=use_cache, max_concurrency=2)
    app = FastAPI()
    seen: list[int] = []

    @app.get("/")
    async def endpoint(a=declaration, b=declaration):
        seen.append(semaphore_for(declaration).value)
        return [a, b]

    result = await get(app, "/")
    assert result.body == (b"[0,0]" if use_cache else b"[0,1]")
    assert seen == [2 - slots]
    assert exited == list(reversed(entered))
    assert semaphore_for(declaration).value == 2


@pytest.mark.parametrize("location", ["app", "router", "route", "inferred"])
async def test_the_declaration_limits_wherever_it_is_used(location: str) -> None:
    calls = 0
    entered = asyncio.Event()
    release = asyncio.Event()
    released = threading.Event()
    loop = asyncio.get_running_loop()

    async def dependency():
        nonlocal calls
        calls += 1
        entered.set()
        yield "ok"  # a yield dependency: the slot is held until after the response

    class Inferred:
        # A class, which Depends() infers from the annotation.  It holds the slot while
        # it runs (in a worker thread), so it waits here.
        def __init__(self) -> None:
            nonlocal calls
            calls += 1
            loop.call_soon_threadsafe(entered.set)
            assert released.wait(10)

    declaration = Depends(None if location == "inferred" else dependency, max_concurrency=1)
    app = FastAPI(dependencies=[declaration] if location == "app" else [])
    router = APIRouter(dependencies=[declaration] if location == "router" else [])
    route_dependencies = [declaration] if location == "route" else []
    if location == "inferred":

        @router.get("/one")
        @router.get("/two")
        async def endpoint(value: Annotated[Inferred, declaration]):
            await release.wait()
            return "ok"

    else:

        @router.get("/one", dependencies=route_dependencies)
        @router.get("/two", dependencies=route_dependencies)
        async def endpoint():
            await release.wait()
            return "ok"

    app.include_router(router)
    first = asyncio.ensure_future(get(app, "/one"))
    await entered.wait()
    second = asyncio.ensure_future(get(app, "/two"))
    await until(lambda: semaphore_for(declaration).statistics().tasks_waiting == 1)
    assert calls == 1
    release.set()
    released.set()
    assert [r.status for r in await asyncio.gather(first, second)] == [200, 200]
    assert calls == 2
    assert semaphore_for(declaration).value == 1


async def test_security_declarations_take_a_limit_too() -> None:
    active = peak = 0
    release = asyncio.Event()

    async def user():
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await release.wait()
        active -= 1
        return "alice"

    declaration = aster_params.Security(user, scopes=["read"], max_concurrency=1)
    app = FastAPI()

    @app.get("/")
    async def endpoint(name: Annotated[str, declaration]):
        return name

    requests = [asyncio.ensure_future(get(app, "/")) for _ in range(3)]
    await until(lambda: semaphore_for(declaration).statistics().tasks_waiting == 2)
    release.set()
    assert [r.body for r in await asyncio.gather(*requests)] == [b'"alice"'] * 3
    assert peak == 1


@pytest.mark.parametrize("failure", ["entry", "endpoint", "validation", "exit"])
async def test_errors_give_the_slot_back(failure: str) -> None:
    async def dependency(request: Request):
        failing = request.url.path == "/fail"
        if failing and failure == "entry":
            raise RuntimeError("entry")
        try:
            yield 1
        finally:
            await asyncio.sleep(0)
            assert semaphore_for(declaration).value == 0  # held until the exit ran
            if failing and failure == "exit":
                raise RuntimeError("exit")

    declaration = Depends(dependency, max_concurrency=1)
    app = FastAPI()

    @app.get("/{action}", response_model=int)
    async def endpoint(action: str, value: Annotated[int, declaration]):
        if action == "fail" and failure == "endpoint":
            raise RuntimeError("endpoint")
        if action == "fail" and failure == "validation":
            return "not an integer"
        return value

    expected = ResponseValidationError if failure == "validation" else RuntimeError
    with pytest.raises(expected):
        await get(app, "/fail")
    assert semaphore_for(declaration).value == 1
    assert (await get(app, "/ok")).body == b"1"
    assert semaphore_for(declaration).value == 1


@pytest.mark.parametrize("after_release", [False, True])
async def test_a_cancelled_waiter_does_not_keep_a_slot(after_release: bool) -> None:
    events: list[str] = []

    async def dependency():
        events.append("entered")
        try:
            yield
        finally:
            await asyncio.sleep(0)
            events.append("closed")

    declaration = Depends(dependency, max_concurrency=1)
    app = FastAPI()

    @app.get("/")
    async def endpoint(_: Annotated[None, declaration]):
        return "ok"

    semaphore = semaphore_for(declaration)
    await semaphore.acquire()
    waiting = asyncio.ensure_future(get(app, "/"))
    await until(lambda: semaphore.statistics().tasks_waiting == 1)
    if after_release:
        semaphore.release()  # handed to the waiter, which is cancelled before it runs
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert semaphore.statistics().tasks_waiting == 0
    if not after_release:
        semaphore.release()
    assert semaphore.value == 1
    assert events == []
    assert (await get(app, "/")).body == b'"ok"'
    assert semaphore.value == 1


@pytest.mark.parametrize("scope", ["function", "request"])
async def test_the_slot_follows_the_dependency_scope(scope: str) -> None:
    events: list[str] = []

    async def dependency():
        try:
            yield
        finally:
            await asyncio.sleep(0)
            events.append("cleanup")

    declaration = Depends(dependency, scope=scope, max_concurrency=1)
    app = FastAPI()
    free_after = 1 if scope == "function" else 0

    async def background():
        assert semaphore_for(declaration).value == free_after
        events.append("background")

    async def body():
        assert semaphore_for(declaration).value == free_after
        events.append("stream")
        yield "ok"

    @app.get("/")
    async def endpoint(tasks: BackgroundTasks, _: Annotated[None, declaration]):
        tasks.add_task(background)
        return StreamingResponse(body())

    assert (await get(app, "/")).body == b"ok"
    assert events == (
        ["cleanup", "stream", "background"]
        if scope == "function"
        else ["stream", "background", "cleanup"]
    )
    assert semaphore_for(declaration).value == 1


@pytest.mark.parametrize("scope", ["function", "request"])
async def test_a_cancelled_request_holds_its_slot_until_the_sync_cleanup_ran(scope: str) -> None:
    cleanup_started = threading.Event()
    release = threading.Event()
    ready = asyncio.Event()

    def dependency():
        try:
            yield
        finally:
            cleanup_started.set()
            assert release.wait(10)

    declaration = Depends(dependency, max_concurrency=1, scope=scope)
    app = FastAPI()

    @app.get("/")
    async def endpoint(request: Request, _: Annotated[None, declaration]):
        if request.headers.get("x-first"):
            ready.set()
            await asyncio.Event().wait()
        return "ok"

    first = asyncio.ensure_future(get(app, "/", **{"x-first": "1"}))
    await ready.wait()
    second = asyncio.ensure_future(get(app, "/"))
    await until(lambda: semaphore_for(declaration).statistics().tasks_waiting == 1)
    first.cancel()
    await until(cleanup_started.is_set)
    assert semaphore_for(declaration).value == 0
    assert semaphore_for(declaration).statistics().tasks_waiting == 1
    assert not second.done()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert (await second).status == 200
    assert semaphore_for(declaration).value == 1


async def test_a_websocket_session_holds_the_slot_until_it_ends() -> None:
    events: list[str] = []
    closed = asyncio.Event()

    async def dependency():
        events.append("enter")
        try:
            yield "ok"
        finally:
            events.append("exit")

    declaration = Depends(dependency, max_concurrency=1)
    app = FastAPI()

    @app.websocket("/ws")
    async def ws(websocket: WebSocket, value: Annotated[str, declaration]):
        await websocket.accept()
        await closed.wait()
        await websocket.close()

    @app.get("/")
    async def endpoint(value: Annotated[str, declaration]):
        return value

    incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outgoing: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await incoming.put({"type": "websocket.connect"})
    scope = make_scope("/ws", type="websocket", scheme="ws", subprotocols=[])
    session = asyncio.ensure_future(app(scope, incoming.get, outgoing.put))
    assert (await outgoing.get())["type"] == "websocket.accept"
    http = asyncio.ensure_future(get(app, "/"))
    await until(lambda: semaphore_for(declaration).statistics().tasks_waiting == 1)
    assert events == ["enter"] and not http.done()
    closed.set()
    await session
    assert (await http).body == b'"ok"'
    assert events == ["enter", "exit", "enter", "exit"]
    assert semaphore_for(declaration).value == 1


@pytest.mark.parametrize(
    ("original_limit", "new_limit"), [(1, 3), (3, 1), (1, None), (None, 2), (1, 1)]
)
def test_a_copied_declaration_has_its_own_limit(
    original_limit: int | None, new_limit: int | None
) -> None:
    async def dependency():
        return 1

    original = Depends(dependency, max_concurrency=original_limit)
    copied = dataclasses.replace(original, max_concurrency=new_limit)
    if new_limit is None:
        assert copied._concurrency is None
    elif new_limit == original_limit:
        assert copied._concurrency is original._concurrency  # the same limit, shared
    else:
        assert copied._concurrency is not None
        assert copied._concurrency.max_concurrency == new_limit
        assert copied._concurrency is not original._concurrency


@pytest.mark.parametrize("value", [0, -1, True, 1.5, "2"])
def test_invalid_max_concurrency(value: Any) -> None:
    with pytest.raises(ValueError, match="positive integer or None"):
        Depends(max_concurrency=value)


def test_an_app_can_be_served_by_one_event_loop_after_another() -> None:
    async def dependency():
        await asyncio.sleep(0)
        return "ok"

    declaration = Depends(dependency, max_concurrency=1)
    app = FastAPI()

    @app.get("/")
    async def endpoint(value: Annotated[str, declaration]):
        return value

    first = asyncio.run(get(app, "/"))
    second = asyncio.run(get(app, "/"))
    assert (first.status, first.body) == (second.status, second.body) == (200, b'"ok"')


async def test_a_discarded_declaration_frees_its_semaphores() -> None:
    declaration = Depends(max_concurrency=1)
    semaphore = weakref.ref(semaphore_for(declaration))
    gc.collect()
    assert semaphore() is semaphore_for(declaration)
    del declaration
    gc.collect()
    assert semaphore() is None


async def test_the_semaphore_hands_a_freed_slot_to_the_longest_waiter() -> None:
    semaphore = Semaphore(1)
    order: list[int] = []
    await semaphore.acquire()

    async def waiter(index: int) -> None:
        async with semaphore:
            order.append(index)

    tasks = [asyncio.ensure_future(waiter(i)) for i in range(3)]
    await until(lambda: semaphore.statistics().tasks_waiting == 3)
    semaphore.release()
    with pytest.raises(Exception) as blocked:
        semaphore.acquire_nowait()  # a newcomer cannot overtake the waiters
    assert type(blocked.value).__name__ == "WouldBlock"
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2]
    assert semaphore.value == 1
    bounded = Semaphore(1, max_value=1)
    with pytest.raises(ValueError, match="released too many times"):
        bounded.release()
