"""Dependencies over a real server: a concurrency limit, and cleanups of cancelled requests.

``/work`` holds one of two slots of a ``max_concurrency=2`` dependency until ``/release``;
``/stats`` shows the slots.  ``/events`` streams Server-Sent Events and ``/slow`` never
answers (a timeout middleware answers 504 after 0.3 s, with ``asyncio.wait_for``, or for
``/slow?anyio=1`` with ``anyio.fail_after``, which cancels again at every ``await``);
both use a ``yield`` dependency
whose cleanup awaits and then logs ``resource closed <path>``.  ``/tasks`` lists the
tasks alive besides its own, so a test can tell none was left behind.
"""

import asyncio
from typing import Annotated, Any

import anyio

from aster import Depends, FastAPI, Request
from aster.responses import PlainTextResponse
from aster.sse import EventSourceResponse

app = FastAPI()
state: dict[str, Any] = {"active": 0, "peak": 0, "release": None}


def release_event() -> asyncio.Event:
    if state["release"] is None:
        state["release"] = asyncio.Event()
    return state["release"]


async def limited():
    state["active"] += 1
    state["peak"] = max(state["peak"], state["active"])
    try:
        await release_event().wait()
        yield
    finally:
        state["active"] -= 1


slot = Depends(limited, max_concurrency=2)


@app.get("/work")
async def work(_: Annotated[None, slot]):
    return {"peak": state["peak"]}


@app.get("/stats")
async def stats():
    semaphore = slot._concurrency.get_semaphore()
    waiting = semaphore.statistics().tasks_waiting
    return {"free": semaphore.value, "waiting": waiting, "active": state["active"]}


@app.post("/release")
async def release():
    release_event().set()
    return {"released": True}


async def resource(request: Request):
    print(f"resource open {request.url.path}", flush=True)
    try:
        yield
    finally:
        for _ in range(3):  # a cleanup that awaits: a cancellation must not cut it short
            await asyncio.sleep(0.01)
        print(f"resource closed {request.url.path}", flush=True)


@app.get("/events", response_class=EventSourceResponse)
async def events(_: Annotated[None, Depends(resource)]):
    number = 0
    while True:
        yield {"n": number}
        number += 1
        await asyncio.sleep(0.01)


@app.get("/slow")
async def slow(_: Annotated[None, Depends(resource, scope="function")]):
    await asyncio.Event().wait()


@app.get("/tasks")
async def tasks():
    current = asyncio.current_task()
    return sorted(
        getattr(task.get_coro(), "__qualname__", "?")
        for task in asyncio.all_tasks()
        if task is not current
    )


class Timeout:
    """A pure ASGI middleware: 504 when the app has not finished within 0.3 s."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != "/slow":
            await self.app(scope, receive, send)
            return
        try:
            if b"anyio=1" in scope["query_string"]:
                with anyio.fail_after(0.3):
                    await self.app(scope, receive, send)
            else:
                await asyncio.wait_for(self.app(scope, receive, send), 0.3)
        except (asyncio.TimeoutError, TimeoutError):
            await PlainTextResponse("Gateway Timeout", status_code=504)(scope, receive, send)


app.add_middleware(Timeout)
