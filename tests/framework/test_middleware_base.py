"""BaseHTTPMiddleware: Starlette's behaviour, without Starlette's known defects.

The four defects (issue 4) each have a test here at the ASGI level and one
over a socket against ``aster run``: context variables, streaming, background
tasks after the response, and reading the body in the middleware.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from aster.background import BackgroundTask
from aster.exceptions import HTTPException
from aster.middleware.base import BaseHTTPMiddleware
from aster.middleware.errors import ServerErrorMiddleware
from aster.middleware.exceptions import ExceptionMiddleware
from aster.requests import Request
from aster.responses import (
    FileResponse,
    JSONResponse,
    PlainTextResponse,
    Response,
    StreamingResponse,
)
from tests.support import RawConnection, Running, serve

from .asgi import call, make_scope, run

VAR: contextvars.ContextVar[str] = contextvars.ContextVar("VAR", default="unset")


class Passthrough(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: Any) -> Response:
        return await call_next(request)


class ReportsVar(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: Any) -> Response:
        response = await call_next(request)
        response.headers["x-var"] = VAR.get()
        return response


def endpoint(handler: Any) -> Any:
    """An ASGI app from ``handler(request) -> Response``."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        response = await handler(Request(scope, receive, send))
        await response(scope, receive, send)

    return app


# -- 1. context variables ----------------------------------------------------------------


def test_contextvar_set_in_endpoint_is_visible_after_call_next() -> None:
    async def handler(request: Request) -> Response:
        VAR.set("from the endpoint")
        return PlainTextResponse("ok")

    async def go() -> Any:
        result = await call(ReportsVar(endpoint(handler)))
        return result.header("x-var"), VAR.get()

    assert asyncio.run(go()) == ("from the endpoint", "from the endpoint")


def test_contextvar_through_stacked_middlewares() -> None:
    seen: list[str] = []

    class Outer(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next: Any) -> Response:
            VAR.set("outer")
            response = await call_next(request)
            seen.append(VAR.get())
            return response

    async def handler(request: Request) -> Response:
        seen.append(VAR.get())
        VAR.set("endpoint")
        return PlainTextResponse("ok")

    result = run(Outer(Passthrough(ReportsVar(endpoint(handler)))))
    assert result.header("x-var") == "endpoint"
    assert seen == ["outer", "endpoint"]


# -- 2. streaming --------------------------------------------------------------------------


def test_chunks_are_forwarded_as_they_are_produced() -> None:
    events: list[str] = []

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(3):
            events.append(f"produce {i}")
            yield f"{i}".encode()

    async def handler(request: Request) -> Response:
        return StreamingResponse(chunks())

    async def go() -> None:
        async def send(message: Any) -> None:
            if message["type"] == "http.response.body":
                events.append(f"send {message['body'].decode() or 'end'}")

        async def receive() -> Any:
            await asyncio.sleep(10)

        await ReportsVar(Passthrough(endpoint(handler)))(make_scope(), receive, send)

    asyncio.run(go())
    assert events == [
        "produce 0",
        "send 0",
        "produce 1",
        "send 1",
        "produce 2",
        "send 2",
        "send end",
    ]


# -- 3. background tasks after the response ---------------------------------------------


def test_background_runs_after_the_final_chunk_reached_the_server() -> None:
    events: list[str] = []

    async def later() -> None:
        events.append("background")

    async def handler(request: Request) -> Response:
        return PlainTextResponse("hi", background=BackgroundTask(later))

    async def go() -> None:
        async def send(message: Any) -> None:
            await asyncio.sleep(0.01)  # a server that takes its time
            events.append(f"{message['type']} more={message.get('more_body', False)}")

        async def receive() -> Any:
            return {"type": "http.request", "body": b""}

        await Passthrough(Passthrough(endpoint(handler)))(make_scope(), receive, send)

    asyncio.run(go())
    # Starlette's shape: the body with more_body, then an empty final message.
    assert events == [
        "http.response.start more=False",
        "http.response.body more=True",
        "http.response.body more=False",
        "background",
    ]


def test_background_runs_after_a_replacement_response() -> None:
    events: list[str] = []

    async def later() -> None:
        events.append("app background")

    class Replaces(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next: Any) -> Response:
            original = await call_next(request)
            body = b"".join([chunk async for chunk in original.body_iterator])
            events.append(f"middleware read {body!r}")
            return PlainTextResponse(body.upper(), status_code=201)

    async def handler(request: Request) -> Response:
        return PlainTextResponse("hello", background=BackgroundTask(later))

    result = asyncio.run(call(Replaces(endpoint(handler))))
    events.append("returned")
    assert (result.status, result.body) == (201, b"HELLO")
    assert events == ["middleware read b'hello'", "app background", "returned"]


# -- 4. the body read in the middleware with body() still reaches the endpoint ---------------


class ReadsBody(BaseHTTPMiddleware):
    def __init__(self, app: Any, how: str) -> None:
        super().__init__(app)
        self.how = how

    async def dispatch(self, request: Request, call_next: Any) -> Response:
        if self.how == "json":
            seen = json.dumps(await request.json())
        elif self.how == "body":
            seen = (await request.body()).decode()
        elif self.how == "stream":
            seen = b"".join([c async for c in request.stream()]).decode()
        else:  # the first chunk only
            stream = request.stream()
            seen = (await stream.__anext__()).decode()
            await stream.aclose()
        response = await call_next(request)
        response.headers["x-seen"] = seen
        return response


async def _echo(request: Request) -> Response:
    return PlainTextResponse(await request.body())


@pytest.mark.parametrize(
    ("how", "endpoint_got"),
    [
        ("json", b'{"a": 1}'),
        ("body", b'{"a": 1}'),
        # Starlette's rule: a stream is not kept, so the endpoint gets what is left of it.
        ("stream", b""),
        ("first-chunk", b"1}"),
    ],
)
def test_body_read_in_middleware_reaches_the_endpoint(how: str, endpoint_got: bytes) -> None:
    chunks = [b'{"a": ', b"1}"]
    result = asyncio.run(call(ReadsBody(endpoint(_echo), how), make_scope(method="POST"), chunks))
    assert result.body == endpoint_got
    expected = {"json": '{"a": 1}', "first-chunk": '{"a": '}.get(how, '{"a": 1}')
    assert result.header("x-seen") == expected


def test_body_through_httpx_with_form_parsing_downstream() -> None:
    async def handler(request: Request) -> Response:
        form = await request.form()
        return JSONResponse(dict(form))

    async def go() -> httpx.Response:
        app = ReadsBody(endpoint(handler), "body")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.post("/", data={"name": "aster", "x": "1"})

    response = asyncio.run(go())
    assert response.json() == {"name": "aster", "x": "1"}
    assert response.headers["x-seen"] == "name=aster&x=1"


# -- Starlette's other semantics --------------------------------------------------------------


def test_headers_and_status_can_be_changed_before_sending() -> None:
    class Edits(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next: Any) -> Response:
            response = await call_next(request)
            response.headers["x-added"] = "1"
            del response.headers["x-remove"]
            response.status_code = 202
            return response

    async def handler(request: Request) -> Response:
        return PlainTextResponse("ok", headers={"X-Remove": "me"})

    result = run(Edits(endpoint(handler)))
    assert result.status == 202
    assert result.headers == [
        (b"content-length", b"2"),
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"x-added", b"1"),
    ]


def test_endpoint_exception_reaches_call_next_caller() -> None:
    class Catches(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next: Any) -> Response:
            try:
                return await call_next(request)
            except ZeroDivisionError as exc:
                return PlainTextResponse(f"caught {exc!r}", status_code=500)

    async def handler(request: Request) -> Response:
        1 / 0  # noqa: B018
        raise AssertionError  # pragma: no cover

    result = run(Catches(endpoint(handler)))
    assert result.body == b"caught ZeroDivisionError('division by zero')"


def test_uncaught_exception_goes_to_server_error_middleware() -> None:
    async def handler(request: Request) -> Response:
        raise KeyError("missing")

    app = ServerErrorMiddleware(Passthrough(endpoint(handler)))
    result = run(app, raise_errors=False)
    assert isinstance(result.error, KeyError)
    assert (result.status, result.body) == (500, b"Internal Server Error")


def test_http_exception_is_handled_downstream() -> None:
    async def handler(request: Request) -> Response:
        raise HTTPException(404, headers={"x-a": "b"})

    result = run(ReportsVar(ExceptionMiddleware(endpoint(handler))))
    assert (result.status, result.body) == (404, b"Not Found")
    assert result.header("x-a") == "b"


def test_no_response_returned() -> None:
    async def silent(scope: Any, receive: Any, send: Any) -> None:
        return

    with pytest.raises(RuntimeError, match="^No response returned.$"):
        run(Passthrough(silent))


def test_error_after_the_response_started_propagates() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"half", "more_body": True})
        raise ValueError("late")

    result = run(Passthrough(app), raise_errors=False)
    assert isinstance(result.error, ValueError)
    assert result.body == b"half"
    assert all(m.get("more_body", False) for m in result.messages[1:])  # never "complete"


def test_dispatch_keyword_and_non_http_scopes() -> None:
    async def dispatch(request: Request, call_next: Any) -> Response:
        response = await call_next(request)
        response.headers["x-dispatch"] = "fn"
        return response

    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])
        if scope["type"] == "http":
            await PlainTextResponse("ok")(scope, receive, send)

    middleware = BaseHTTPMiddleware(app, dispatch=dispatch)
    assert run(middleware).header("x-dispatch") == "fn"
    run(middleware, {"type": "lifespan"})
    assert seen == ["http", "lifespan"]


def test_app_is_cancelled_when_dispatch_fails_after_call_next() -> None:
    events: list[str] = []

    class Fails(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next: Any) -> Response:
            await call_next(request)
            raise LookupError("dispatch failed")

    async def app(scope: Any, receive: Any, send: Any) -> None:
        try:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b""})
        except asyncio.CancelledError:
            events.append("app cancelled")
            raise

    with pytest.raises(LookupError):
        run(Fails(app))
    assert events == ["app cancelled"]


def test_client_disconnect_reaches_the_endpoint() -> None:
    async def handler(request: Request) -> Response:
        await request.body()
        while not await request.is_disconnected():
            await asyncio.sleep(0.01)
        return PlainTextResponse("saw the disconnect")

    result = asyncio.run(call(Passthrough(endpoint(handler)), disconnect_after=0.05))
    assert result.body == b"saw the disconnect"


def test_idle_stream_stops_on_disconnect_through_the_middleware() -> None:
    events: list[str] = []

    async def idle() -> AsyncIterator[bytes]:
        try:
            yield b"data: 1\n\n"
            await asyncio.sleep(60)
            yield b"never"  # pragma: no cover
        finally:
            events.append("generator closed")

    async def handler(request: Request) -> Response:
        return StreamingResponse(idle(), media_type="text/event-stream")

    started = time.monotonic()
    result = asyncio.run(call(Passthrough(endpoint(handler)), disconnect_after=0.1))
    assert time.monotonic() - started < 5
    assert events == ["generator closed"]
    assert result.body == b"data: 1\n\n"


def test_send_errors_are_raised_in_the_app_at_its_send() -> None:
    events: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        try:
            await send({"type": "http.response.body", "body": b"x", "more_body": True})
        except OSError as exc:
            events.append(f"app saw {exc}")

    async def go() -> None:
        async def send(message: Any) -> None:
            if message["type"] == "http.response.body":
                raise OSError("client gone")

        async def receive() -> Any:
            return {"type": "http.disconnect"}

        await Passthrough(app)(make_scope(), receive, send)

    asyncio.run(go())
    assert events == ["app saw client gone"]


def test_timeouts_and_child_tasks_inside_the_endpoint() -> None:
    async def handler(request: Request) -> Response:
        try:
            await asyncio.wait_for(asyncio.sleep(10), timeout=0.01)
        except asyncio.TimeoutError:
            timed_out = True
        child = asyncio.ensure_future(asyncio.sleep(0.01, result="child done"))
        return JSONResponse({"timed_out": timed_out, "child": await child})

    result = run(Passthrough(endpoint(handler)))
    assert json.loads(result.body) == {"timed_out": True, "child": "child done"}


def test_messages_sent_from_another_task() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        async def produce() -> None:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            for part in (b"a", b"b"):
                await send({"type": "http.response.body", "body": part, "more_body": True})
            await send({"type": "http.response.body", "body": b""})

        await asyncio.get_running_loop().create_task(produce())

    result = run(ReportsVar(app))
    assert result.body == b"ab"
    assert result.header("x-var") == "unset"


def test_pathsend_debug_info_and_early_hints_pass_through(tmp_path: Any) -> None:
    path = tmp_path / "f.txt"
    path.write_bytes(b"file body")

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.early_hint", "links": [b"</a.css>; rel=preload"]})
        await send({"type": "http.response.debug", "info": {"template": "t.html"}})
        await FileResponse(path)(scope, receive, send)

    scope = make_scope(extensions={"http.response.pathsend": {}})
    result = run(Passthrough(app), scope)
    assert [m["type"] for m in result.messages] == [
        "http.response.early_hint",
        "http.response.debug",
        "http.response.start",
        "http.response.pathsend",
    ]
    assert result.messages[-1]["path"] == str(path)


# -- over a socket, against ``aster run`` ----------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[Running]:
    with serve("tests.apps.fw_stack:app", "--lifespan", "off") as running:
        yield running


def _id() -> str:
    return f"mw{time.monotonic_ns()}"


def test_socket_streaming_streams(server: Running) -> None:
    key = _id()
    with httpx.Client(base_url=server.url, timeout=5) as client:
        with client.stream("GET", f"/stream?id={key}") as response:
            chunks = response.iter_raw()
            assert next(chunks) == b"first\n"  # before the generator was released
            client.get(f"/release?id={key}")
            assert b"".join(chunks) == b"second\n"
        assert response.headers["x-ctx"] == "unset"


def test_socket_background_after_response(server: Running) -> None:
    key = _id()
    with httpx.Client(base_url=server.url, timeout=5) as client:
        response = client.get(f"/background?id={key}")  # would hang if the task ran first
        assert response.text == "done"
        assert client.get(f"/status?id={key}&wait=started").json() == {"started": True}
        client.get(f"/release?id={key}")
        assert client.get(f"/status?id={key}&wait=finished").json()["finished"] is True


def test_socket_contextvar_and_body(server: Running) -> None:
    key = _id()
    with httpx.Client(base_url=server.url, timeout=5) as client:
        assert client.get(f"/ctx?id={key}").headers["x-ctx"] == f"endpoint-{key}"
        echoed = client.post("/echo", json={"n": [1, 2]})
    assert echoed.json() == {"endpoint": {"n": [1, 2]}}
    assert echoed.headers["x-middleware-saw"] == '{"n": [1, 2]}'


def test_socket_disconnect_stops_an_idle_stream(server: Running) -> None:
    key = _id()
    with RawConnection(server.port) as conn:
        conn.send(f"GET /idle?id={key} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        conn.read_until(b"data: hello\n\n")
    started = time.monotonic()
    with httpx.Client(base_url=server.url, timeout=5) as client:
        assert client.get(f"/status?id={key}&wait=closed").json() == {"closed": True}
    assert time.monotonic() - started < 2
    server.wait_for_log(f"APP: idle generator closed {key}")


def test_socket_pathsend_through_the_middleware(server: Running) -> None:
    with httpx.Client(base_url=server.url, timeout=5) as client:
        before = len(server.lines)
        response = client.get("/file")
        assert response.content == bytes(range(256)) * 1200
    time.sleep(0.1)
    assert "APP: sent http.response.pathsend" in server.lines[before:]
