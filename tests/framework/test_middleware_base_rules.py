"""BaseHTTPMiddleware follows Starlette 1.10's rules (Starlette's tests/middleware/test_base.py).

The body: what dispatch read with ``body()`` reaches the app whole, after ``stream()`` the
app gets what is left, and ``stream()`` in dispatch after the app consumed the body raises
"Stream consumed" instead of waiting forever.  The app may poll for the disconnect again
and again though the server reports it once.  The response goes out as Starlette sends it
(each chunk, then an empty ``more_body: False``), the app's background work waits until it
is out, and an error the app raised before responding carries Starlette's chain.  An app
that keeps sending after its client has gone is stopped instead of spinning.  The socket
tests are in tests/test_disconnects_server.py.
"""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator
from typing import Any

import pytest

from aster.background import BackgroundTask
from aster.middleware import base
from aster.middleware.base import BaseHTTPMiddleware
from aster.middleware.gzip import GZipMiddleware
from aster.requests import ClientDisconnect, Request
from aster.responses import PlainTextResponse, Response, StreamingResponse
from aster.types import Message, Receive, Scope, Send

from .asgi import make_scope


class Passthrough(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: Any) -> Response:
        return await call_next(request)


def _messages(*messages: Message) -> Receive:
    pending = list(messages)

    async def receive() -> Message:
        assert pending, "receive() called once too often: it would hang"
        return pending.pop(0)

    return receive


async def _collect(app: Any, scope: Scope, receive: Receive) -> list[Message]:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(dict(message))

    await asyncio.wait_for(app(scope, receive, send), 5)
    return sent


# -- the body --------------------------------------------------------------------------------


def test_stream_in_dispatch_after_the_app_read_the_body_raises_stream_consumed() -> None:
    events: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert await Request(scope, receive).body() == b"payload"
        await PlainTextResponse("ok")(scope, receive, send)

    class ReadsAfter(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next: Any) -> Response:
            response = await call_next(request)
            try:
                async for _ in request.stream():
                    events.append("chunk")  # pragma: no cover
            except RuntimeError as exc:
                events.append(str(exc))
            return response

    receive = _messages({"type": "http.request", "body": b"payload"})
    sent = asyncio.run(_collect(ReadsAfter(app), make_scope(method="POST"), receive))
    assert events == ["Stream consumed"]
    assert sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}


@pytest.mark.parametrize(
    ("how", "app_gets"),
    [("body", [b"abcd"]), ("stream", []), ("first-chunk", [b"cd"]), ("nothing", [b"ab", b"cd"])],
)  # fmt: skip
def test_what_the_app_gets_after_dispatch_read_the_body(how: str, app_gets: list[bytes]) -> None:
    got: list[bytes] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        got.extend([chunk async for chunk in Request(scope, receive).stream() if chunk])
        await PlainTextResponse("ok")(scope, receive, send)

    class Reads(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next: Any) -> Response:
            if how == "body":
                assert await request.body() == b"abcd"
            elif how == "stream":
                assert [c async for c in request.stream()] == [b"ab", b"cd", b""]
            elif how == "first-chunk":
                stream = request.stream()
                assert await stream.__anext__() == b"ab"
                await stream.aclose()
            return await call_next(request)

    receive = _messages(
        {"type": "http.request", "body": b"ab", "more_body": True},
        {"type": "http.request", "body": b"cd", "more_body": False},
    )
    asyncio.run(_collect(Reads(app), make_scope(method="POST"), receive))
    assert got == app_gets


def test_stacked_middlewares_each_read_the_body_and_the_app_gets_it() -> None:
    seen: list[bytes] = []

    class Reads(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next: Any) -> Response:
            seen.append(await request.body())
            return await call_next(request)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(await Request(scope, receive).body())
        await PlainTextResponse("ok")(scope, receive, send)

    receive = _messages({"type": "http.request", "body": b"once"})
    asyncio.run(_collect(Reads(Reads(Reads(app))), make_scope(method="POST"), receive))
    assert seen == [b"once"] * 4


def test_the_app_may_poll_for_the_one_disconnect_again_and_again() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        for _ in range(3):
            message = await receive()
            while message["type"] == "http.request":
                message = await receive()
            assert message["type"] == "http.disconnect"
        await PlainTextResponse("seen")(scope, receive, send)

    receive = _messages(
        {"type": "http.request", "body": b"x", "more_body": False}, {"type": "http.disconnect"}
    )
    sent = asyncio.run(_collect(Passthrough(Passthrough(app)), make_scope(), receive))
    assert [m.get("body") for m in sent[1:]] == [b"seen", b""]


def test_a_disconnect_the_app_saw_is_known_to_dispatch() -> None:
    seen: list[Any] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await Request(scope, receive).body()
        except ClientDisconnect:
            seen.append("app: ClientDisconnect")
        await PlainTextResponse("")(scope, receive, send)

    class Checks(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next: Any) -> Response:
            response = await call_next(request)
            seen.append(await request.is_disconnected())
            return response

    receive = _messages({"type": "http.disconnect"})
    asyncio.run(_collect(Checks(app), make_scope(), receive))
    assert seen == ["app: ClientDisconnect", True]


# -- the response --------------------------------------------------------------------------


def test_the_response_goes_out_as_starlette_sends_it() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"a", "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": True})
        await send({"type": "http.response.body", "body": b"b"})

    sent = asyncio.run(_collect(Passthrough(app), make_scope(), _messages()))
    assert sent[1:] == [
        {"type": "http.response.body", "body": b"a", "more_body": True},
        {"type": "http.response.body", "body": b"b", "more_body": True},
        {"type": "http.response.body", "body": b"", "more_body": False},
    ]


def test_background_work_of_concurrent_requests_waits_for_both_responses() -> None:
    events: list[str] = []

    async def later(n: int) -> None:
        events.append(f"background {n} started")
        await asyncio.sleep(0.01)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        n = scope["n"]
        await PlainTextResponse(f"{n}", background=BackgroundTask(later, n))(scope, receive, send)

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            events.append("response done")

    async def go() -> None:
        middleware = Passthrough(app)
        await asyncio.gather(
            *(middleware({**make_scope(), "n": n}, _messages(), send) for n in (1, 2))
        )

    asyncio.run(go())
    assert events == [
        "response done",
        "response done",
        "background 1 started",
        "background 2 started",
    ]


def test_an_outer_gzip_sees_the_chunked_shape_and_streams_as_in_starlette() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await PlainTextResponse("x" * 1000)(scope, receive, send)

    scope = make_scope(headers=[("accept-encoding", "gzip")])
    sent = asyncio.run(_collect(GZipMiddleware(Passthrough(app)), scope, _messages()))
    headers = dict(sent[0]["headers"])
    assert headers[b"content-encoding"] == b"gzip"
    assert b"content-length" not in headers  # a stream: the server frames it chunked
    assert gzip.decompress(b"".join(m["body"] for m in sent[1:])) == b"x" * 1000


# -- errors ------------------------------------------------------------------------------------


def _endpoint(fail: Any) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        fail()

    return app


def _raised(app: Any) -> BaseException:
    with pytest.raises(Exception) as caught:
        asyncio.run(_collect(Passthrough(app), make_scope(), _messages()))
    return caught.value


def test_an_error_before_the_response_has_starlettes_chain() -> None:
    def plain() -> None:
        raise LookupError("plain")

    def with_context() -> None:
        try:
            raise KeyError("inner")
        except KeyError:
            raise LookupError("outer")  # noqa: B904 - an implicit context on purpose

    def with_cause() -> None:
        try:
            raise KeyError("inner")
        except KeyError as exc:
            raise LookupError("outer") from exc

    error = _raised(_endpoint(plain))
    assert (str(error), error.__cause__) == ("plain", None)
    assert error.__context__ is not None and error.__suppress_context__
    for fail in (with_context, with_cause):
        error = _raised(_endpoint(fail))
        assert str(error) == "outer"
        assert isinstance(error.__cause__, KeyError) and error.__suppress_context__
    # Through stacked middlewares the chain stays the app's, not the middleware's.
    with pytest.raises(LookupError) as caught:
        asyncio.run(_collect(Passthrough(Passthrough(_endpoint(plain))), make_scope(), _messages()))
    assert caught.value.__cause__ is None


# -- an app that does not stop --------------------------------------------------------------


def test_an_app_that_keeps_sending_after_a_send_error_is_cancelled() -> None:
    events: list[str] = []
    gone = OSError("client gone")

    async def stubborn(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        try:
            while True:  # never awaits anything but send: it would spin forever
                try:
                    await send({"type": "http.response.body", "body": b"x", "more_body": True})
                except OSError:
                    events.append("send error")
        except asyncio.CancelledError:
            events.append("cancelled")
            raise

    async def go() -> None:
        sent = 0

        async def send(message: Message) -> None:
            nonlocal sent
            sent += 1
            if sent > 2:
                raise gone

        await asyncio.wait_for(Passthrough(stubborn)(make_scope(), _messages(), send), 5)

    with pytest.raises(OSError) as caught:
        asyncio.run(go())
    assert caught.value is gone
    assert events == ["send error", "cancelled"]


@pytest.mark.parametrize("spec", ["2.3", "2.4"])
def test_an_endless_stream_the_middleware_discarded_is_stopped(spec: str) -> None:
    events: list[str] = []

    async def endless() -> AsyncIterator[bytes]:
        try:
            while True:
                yield b"x"  # never awaits: only send (or receive) can stop it
        finally:
            events.append("generator closed")

    class Replaces(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next: Any) -> Response:
            original = await call_next(request)
            iterator: Any = original.body_iterator  # type: ignore[attr-defined]
            assert await iterator.__anext__() == b"x"
            await iterator.aclose()
            return PlainTextResponse("replaced")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        # With a request body the stream has no disconnect listener: only send can stop it.
        await StreamingResponse(endless())(scope, receive, send)

    scope = make_scope(method="POST", headers=[("content-length", "1")])
    scope["asgi"] = {"version": "3.0", "spec_version": spec}
    receive = _messages({"type": "http.request", "body": b"b"}, {"type": "http.disconnect"})
    if spec == "2.4":
        sent = asyncio.run(_collect(Replaces(app), scope, receive))
        assert events == ["generator closed"]
    else:
        # Below 2.4 a dropped send is silent (Starlette's rule); the loop keeps a turn per
        # message, so the app's own disconnect listener could run.  Here nothing listens.
        async def bounded() -> list[Message]:
            try:
                return await asyncio.wait_for(_collect(Replaces(app), scope, receive), 0.3)
            except asyncio.TimeoutError:
                return []

        sent = asyncio.run(bounded())
        assert events == ["generator closed"]  # closed by the timeout's cancellation
    if sent:
        assert b"".join(m.get("body", b"") for m in sent[1:]) == b"replaced"
    assert issubclass(base.ResponseGone, OSError)  # what such a send raises from 2.4
