"""aster.testclient against raw ASGI apps: scope, bodies, cookies, lifespan, errors, websockets."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from aster.exceptions import StarletteDeprecationWarning
from aster.testclient import (
    TestClient,
    WebSocketDenialResponse,
    WebSocketDisconnect,
    WebSocketTestSession,
)
from aster.types import Message, Receive, Scope, Send


def _portal_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "testclient"]


@pytest.fixture(autouse=True)
def no_thread_leaks() -> Iterator[None]:
    """Every test must leave no portal thread behind."""
    yield
    deadline = time.monotonic() + 2
    while _portal_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _portal_threads() == []


async def read_body(receive: Receive) -> tuple[bytes, list[Message]]:
    messages = []
    while True:
        message = await receive()
        messages.append(message)
        if not message.get("more_body", False):
            return b"".join(m.get("body", b"") for m in messages), messages


async def respond(send: Send, body: bytes = b"", status: int = 200, headers: Any = ()) -> None:
    await send({"type": "http.response.start", "status": status, "headers": list(headers)})
    await send({"type": "http.response.body", "body": body})


async def scope_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Echo the interesting parts of the scope as JSON."""
    body, messages = await read_body(receive)
    info = {k: v for k, v in scope.items() if k not in ("headers", "raw_path", "query_string")}
    info["raw_path"] = scope["raw_path"].decode()
    info["query_string"] = scope["query_string"].decode()
    info["headers"] = [[k.decode(), v.decode()] for k, v in scope["headers"]]
    info["body"] = body.decode()
    info["messages"] = len(messages)
    await respond(send, json.dumps(info).encode(), headers=[(b"content-type", b"application/json")])


# --- HTTP scope --------------------------------------------------------------------------


def test_http_scope_matches_starlette() -> None:
    client = TestClient(scope_app)
    info = client.get("/a%20b/c?x=1&y=%20").json()
    assert info["type"] == "http"
    assert info["http_version"] == "1.1"
    assert info["method"] == "GET"
    assert info["scheme"] == "http"
    assert info["path"] == "/a b/c"
    assert info["raw_path"] == "/a%20b/c"
    assert info["root_path"] == ""
    assert info["query_string"] == "x=1&y=%20"
    assert info["client"] == ["testclient", 50000]
    assert info["server"] == ["testserver", 80]
    assert info["extensions"] == {"http.response.debug": {}, "http.response.trailers": {}}
    assert info["state"] == {}
    headers = dict(info["headers"])
    assert headers["host"] == "testserver"
    assert headers["user-agent"] == "testclient"
    keys = list(client.get("/").json())
    assert keys[:3] == ["type", "http_version", "method"]


def test_scope_options_base_url_root_path_client() -> None:
    client = TestClient(
        scope_app,
        base_url="https://example.com:8443/api/",
        root_path="/proxy",
        client=("10.0.0.1", 1234),
        headers={"X-Custom": "yes"},
    )
    info = client.get("v1", params={"q": "é"}).json()
    assert info["scheme"] == "https"
    assert info["path"] == "/api/v1"
    assert info["root_path"] == "/proxy"
    assert info["server"] == ["example.com", 8443]
    assert info["client"] == ["10.0.0.1", 1234]
    assert info["query_string"] == "q=%C3%A9"
    assert dict(info["headers"])["x-custom"] == "yes"
    assert dict(info["headers"])["host"] == "example.com:8443"


def test_header_names_are_lowercased_and_repeated_headers_kept() -> None:
    client = TestClient(scope_app)
    headers = [("X-Multi", "1"), ("X-Multi", "2")]
    info = client.get("/", headers=headers).json()
    assert [v for k, v in info["headers"] if k == "x-multi"] == ["1", "2"]


# --- bodies ------------------------------------------------------------------------------


def test_request_body_bytes_and_empty() -> None:
    client = TestClient(scope_app)
    assert client.post("/", content=b"hello").json()["body"] == "hello"
    info = client.get("/").json()
    assert info["body"] == ""
    assert info["messages"] == 1


def test_request_body_is_streamed_in_chunks() -> None:
    def chunks() -> Iterator[bytes]:
        yield b"one,"
        yield b""
        yield b"two,"
        yield b"three"

    info = TestClient(scope_app).post("/", content=chunks()).json()
    assert info["body"] == "one,two,three"
    assert info["messages"] == 3


def test_multipart_and_json_bodies() -> None:
    client = TestClient(scope_app)
    info = client.post("/", files={"f": ("a.txt", b"x" * 5000)}, data={"k": "v"}).json()
    assert "x" * 5000 in info["body"]
    assert 'name="k"' in info["body"]
    assert client.post("/", json={"a": 1}).json()["body"] == '{"a":1}'


def test_disconnect_is_delivered_after_the_response_completes() -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await read_body(receive)
        await respond(send, b"done")
        seen.append((await receive())["type"])
        await asyncio.sleep(0.02)  # "background work" after the response
        seen.append("background finished")

    response = TestClient(app).get("/")
    assert response.text == "done"
    # The call returns only once the app (and its background work) has finished.
    assert seen == ["http.disconnect", "background finished"]


async def endless(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    n = 0
    try:
        while True:
            n += 1
            await send({"type": "http.response.body", "body": b"%d," % n, "more_body": True})
    except asyncio.CancelledError:
        endless.cancelled = True  # type: ignore[attr-defined]
        raise


def test_streaming_response_can_be_read_partially() -> None:
    endless.cancelled = False  # type: ignore[attr-defined]
    client = TestClient(endless)
    with client.stream("GET", "/") as response:
        chunks = response.iter_raw()
        assert [next(chunks) for _ in range(3)] == [b"1,", b"2,", b"3,"]
    assert endless.cancelled is True  # type: ignore[attr-defined]


def test_streamed_response_left_open_is_aborted_when_the_client_closes() -> None:
    endless.cancelled = False  # type: ignore[attr-defined]
    client = TestClient(endless)
    with client:
        response = client.send(client.build_request("GET", "/"), stream=True)
        assert next(response.iter_raw()) == b"1,"
    assert endless.cancelled is True  # type: ignore[attr-defined]


def test_head_drops_the_body() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await respond(send, b"body", headers=[(b"content-length", b"4")])

    response = TestClient(app).head("/")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == "4"


def test_trailers_and_debug_info() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        info = {"template": "index.html", "context": {"name": "x"}}
        await send({"type": "http.response.debug", "info": info})
        await send({"type": "http.response.start", "status": 200, "headers": [], "trailers": True})
        await send({"type": "http.response.body", "body": b"ok"})
        await send({"type": "http.response.trailers", "headers": [(b"x-checksum", b"1")]})

    response = TestClient(app).get("/")
    assert response.text == "ok"
    assert response.template == "index.html"  # type: ignore[attr-defined]
    assert response.context == {"name": "x"}  # type: ignore[attr-defined]
    assert response.extensions["http.response.trailers"] == [(b"x-checksum", b"1")]


START_WITH_TRAILERS = {"type": "http.response.start", "status": 200, "trailers": True}
LAST_BODY = {"type": "http.response.body"}
TRAILERS = {"type": "http.response.trailers"}


@pytest.mark.parametrize(
    ("messages", "error"),
    [
        ([TRAILERS], 'Received "http.response.trailers" without declaring trailers.'),
        (
            [START_WITH_TRAILERS, TRAILERS],
            'Received "http.response.trailers" before body completed.',
        ),
        (
            [START_WITH_TRAILERS, LAST_BODY, LAST_BODY],
            'Received "http.response.body" after body completed.',
        ),
        (
            [START_WITH_TRAILERS, LAST_BODY, TRAILERS, TRAILERS],
            'Received "http.response.trailers" after response completed.',
        ),
    ],
)
def test_trailers_out_of_sequence_are_app_errors(messages: list[Message], error: str) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        for message in messages:
            await send(message)

    with pytest.raises(AssertionError) as raised:
        TestClient(app).get("/")
    assert str(raised.value) == error


def test_a_body_after_the_response_completed_is_an_app_error() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200})
        await send(dict(LAST_BODY))
        await send(dict(LAST_BODY))

    with pytest.raises(AssertionError) as raised:
        TestClient(app).get("/")
    assert str(raised.value) == 'Received "http.response.body" after response completed.'


def test_a_streamed_request_body_is_read_off_the_event_loop() -> None:
    """An upload's file is read in a worker thread, not in the loop running the app."""
    reads: list[threading.Thread] = []
    app_threads: list[threading.Thread] = []

    class File:
        def __init__(self) -> None:
            self.parts = [b"first ", b"second"]

        def read(self, size: int = -1) -> bytes:
            reads.append(threading.current_thread())
            return self.parts.pop(0) if self.parts else b""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        app_threads.append(threading.current_thread())
        body, _ = await read_body(receive)
        await respond(send, body)

    response = TestClient(app).post("/", files={"upload": ("a.txt", File())})
    assert b"first second" in response.content
    assert reads and app_threads[0] not in reads
    # A body given as bytes is not read through a thread: there is nothing to block on.
    assert TestClient(app).post("/", content=b"inline").content == b"inline"


# --- cookies and redirects ---------------------------------------------------------------


async def cookie_app(scope: Scope, receive: Receive, send: Send) -> None:
    cookie = dict(scope["headers"]).get(b"cookie", b"")
    headers = [
        (b"set-cookie", b"session=abc; Path=/"),
        (b"set-cookie", b"other=1; Domain=example.org; Path=/"),
    ]
    await respond(send, cookie, headers=headers)


def test_cookies_persist_and_respect_domains() -> None:
    client = TestClient(cookie_app)
    assert client.get("/").text == ""
    assert client.get("/").text == "session=abc"
    assert client.cookies["session"] == "abc"
    assert TestClient(cookie_app, cookies={"pre": "set"}).get("/").text == "pre=set"


async def redirect_app(scope: Scope, receive: Receive, send: Send) -> None:
    body, _ = await read_body(receive)
    if scope["path"] == "/old":
        await respond(send, status=307, headers=[(b"location", b"/new")])
    else:
        await respond(send, scope["method"].encode() + b" " + body)


def test_redirects_followed_by_default() -> None:
    response = TestClient(redirect_app).post("/old", content=b"data")
    assert response.text == "POST data"
    assert [r.status_code for r in response.history] == [307]


def test_redirects_not_followed_when_disabled() -> None:
    response = TestClient(redirect_app, follow_redirects=False).post("/old", content=b"x")
    assert response.status_code == 307
    assert response.headers["location"] == "/new"


# --- server exceptions -------------------------------------------------------------------


async def fails_before_response(scope: Scope, receive: Receive, send: Send) -> None:
    raise ValueError("before")


async def fails_after_response(scope: Scope, receive: Receive, send: Send) -> None:
    await respond(send, b"Internal Server Error", status=500)
    raise ValueError("after")


async def no_response(scope: Scope, receive: Receive, send: Send) -> None:
    return None


@pytest.mark.parametrize("app", [fails_before_response, fails_after_response])
def test_server_exceptions_are_raised(app: Any) -> None:
    with pytest.raises(ValueError):
        TestClient(app).get("/")


def test_server_exceptions_can_be_turned_into_responses() -> None:
    assert (
        TestClient(fails_before_response, raise_server_exceptions=False).get("/").status_code == 500
    )
    response = TestClient(fails_after_response, raise_server_exceptions=False).get("/")
    assert (response.status_code, response.text) == (500, "Internal Server Error")


def test_app_without_response() -> None:
    with pytest.raises(AssertionError, match="did not receive any response"):
        TestClient(no_response).get("/")
    response = TestClient(no_response, raise_server_exceptions=False).get("/")
    assert (response.status_code, response.content) == (500, b"")


def test_protocol_violations_surface_as_errors() -> None:
    async def double_start(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.start", "status": 200, "headers": []})

    with pytest.raises(AssertionError, match="multiple"):
        TestClient(double_start).get("/")


# --- lifespan ----------------------------------------------------------------------------


class LifespanApp:
    def __init__(self, fail: str | None = None) -> None:
        self.events: list[str] = []
        self.loops: set[int] = set()
        self.fail = fail

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.loops.add(id(asyncio.get_running_loop()))
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                phase = message["type"].split(".")[1]
                self.events.append(phase)
                if phase == self.fail:
                    await send({"type": f"lifespan.{phase}.failed", "message": "nope"})
                    raise RuntimeError(f"{phase} failed")
                if phase == "startup":
                    scope["state"]["db"] = "connected"
                await send({"type": f"lifespan.{phase}.complete"})
                if phase == "shutdown":
                    return
        await respond(send, json.dumps(scope["state"]).encode())


def test_lifespan_runs_with_the_client_as_context_manager() -> None:
    app = LifespanApp()
    client = TestClient(app)
    assert client.get("/").json() == {}
    assert app.events == []
    with client:
        assert app.events == ["startup"]
        assert client.get("/").json() == {"db": "connected"}
        assert client.get("/").json() == {"db": "connected"}
        assert len(_portal_threads()) == 1
    assert app.events == ["startup", "shutdown"]
    assert len(app.loops) == 2  # one fresh loop for the first request, one for the with block


def test_request_state_is_a_copy_of_the_lifespan_state() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await receive()
            scope["state"]["n"] = 1
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        scope["state"]["n"] += 1
        await respond(send, str(scope["state"]["n"]).encode())

    with TestClient(app) as client:
        assert client.get("/").text == "2"
        assert client.get("/").text == "2"
        assert client.app_state == {"n": 1}


def test_startup_failure_raises_from_enter() -> None:
    app = LifespanApp(fail="startup")
    with pytest.raises(RuntimeError, match="startup failed"):
        with TestClient(app):
            pytest.fail("the block must not run")  # pragma: no cover


def test_shutdown_failure_raises_from_exit() -> None:
    app = LifespanApp(fail="shutdown")
    with pytest.raises(RuntimeError, match="shutdown failed"):
        with TestClient(app) as client:
            assert client.get("/").status_code == 200


def test_app_without_lifespan_support() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await respond(send, b"ok")

    with TestClient(app) as client:
        assert client.get("/").text == "ok"


def test_requests_in_a_with_block_share_one_loop() -> None:
    loops: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            loops.append(id(asyncio.get_running_loop()))
            await respond(send)

    with TestClient(app) as client:
        client.get("/")
        client.get("/")
    assert loops[0] == loops[1]


# --- client options ----------------------------------------------------------------------


def test_asgi2_apps_are_wrapped() -> None:
    class ASGI2:
        def __init__(self, scope: Scope) -> None:
            self.scope = scope

        async def __call__(self, receive: Receive, send: Send) -> None:
            await respond(send, self.scope["path"].encode())

    assert TestClient(ASGI2).get("/two").text == "/two"  # type: ignore[arg-type]


def test_backend_options() -> None:
    uvloop = pytest.importorskip("uvloop")
    seen: list[type] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(type(asyncio.get_running_loop()))
        await respond(send)

    TestClient(app, backend_options={"use_uvloop": True}).get("/")
    assert seen == [uvloop.Loop]
    with pytest.raises(NotImplementedError):
        TestClient(app, backend="trio")
    with pytest.raises(TypeError):
        TestClient(app, backend_options={"bogus": 1})


def test_timeout_argument_warns() -> None:
    """Starlette's warning: a StarletteDeprecationWarning (a UserWarning, shown by default)."""
    with pytest.warns(
        StarletteDeprecationWarning,
        match="You should not use the 'timeout' argument with the TestClient.",
    ):
        TestClient(scope_app).get("/", timeout=1)


def test_client_is_an_httpx_client_and_not_collected() -> None:
    client = TestClient(scope_app)
    assert isinstance(client, httpx.Client)
    assert TestClient.__test__ is False


# --- websockets --------------------------------------------------------------------------


class WSApp:
    def __init__(self) -> None:
        self.disconnects: list[tuple[int, str | None]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "websocket"
        assert (await receive())["type"] == "websocket.connect"
        path = scope["path"]
        if path == "/deny":
            start = {"type": "websocket.http.response.start", "status": 403, "headers": []}
            await send({**start, "headers": [(b"x-why", b"token")]})
            await send({"type": "websocket.http.response.body", "body": b"for", "more_body": True})
            await send({"type": "websocket.http.response.body", "body": b"bidden"})
            return
        if path == "/reject":
            await send({"type": "websocket.close", "code": 4003, "reason": "go away"})
            return
        protocol = scope["subprotocols"][0] if scope["subprotocols"] else None
        await send({"type": "websocket.accept", "subprotocol": protocol})
        if path == "/scope":
            info = {k: v for k, v in scope.items() if k not in ("headers", "raw_path")}
            info["query_string"] = scope["query_string"].decode()
            info["headers"] = {k.decode(): v.decode() for k, v in scope["headers"]}
            await send({"type": "websocket.send", "text": json.dumps(info)})
        if path == "/crash":
            await receive()
            raise KeyError("crash")
        if path == "/quit":
            return
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                self.disconnects.append((message["code"], message.get("reason")))
                return
            if message.get("text") == "bye":
                await send({"type": "websocket.close", "code": 1001, "reason": "later"})
                continue
            reply = {"type": "websocket.send"}
            reply.update({k: message[k] for k in ("text", "bytes") if message.get(k) is not None})
            await send(reply)


def test_websocket_scope() -> None:
    client = TestClient(WSApp())
    with client.websocket_connect("/scope?a=1", subprotocols=["v1", "v2"]) as ws:
        assert ws.accepted_subprotocol == "v1"
        info = ws.receive_json()
    assert list(info)[:2] == ["type", "path"]
    assert info["type"] == "websocket"
    assert info["scheme"] == "ws"
    assert info["query_string"] == "a=1"
    assert info["subprotocols"] == ["v1", "v2"]
    assert info["server"] == ["testserver", 80]
    assert info["client"] == ["testclient", 50000]
    assert info["extensions"] == {"websocket.http.response": {}}
    assert info["headers"]["sec-websocket-protocol"] == "v1, v2"
    assert info["headers"]["sec-websocket-version"] == "13"


def test_websocket_roundtrips() -> None:
    app = WSApp()
    with TestClient(app).websocket_connect("/echo") as ws:
        assert isinstance(ws, WebSocketTestSession)
        ws.send_text("héllo")
        assert ws.receive_text() == "héllo"
        ws.send_bytes(b"\x00\x01")
        assert ws.receive_bytes() == b"\x00\x01"
        ws.send_json({"k": ["é"]})
        assert ws.receive_json() == {"k": ["é"]}
        ws.send_json([1, 2], mode="binary")
        assert ws.receive_json(mode="binary") == [1, 2]
        ws.send({"type": "websocket.receive", "text": "raw"})
        assert ws.receive() == {"type": "websocket.send", "text": "raw"}
    assert app.disconnects == [(1000, None)]


def test_websocket_client_close_code_and_reason_reach_the_app() -> None:
    app = WSApp()
    with TestClient(app).websocket_connect("/echo") as ws:
        ws.close(4000, "custom")
        time.sleep(0.05)
    assert app.disconnects[0] == (4000, "custom")


def test_websocket_close_from_the_app() -> None:
    client = TestClient(WSApp())
    with pytest.raises(WebSocketDisconnect) as info:
        with client.websocket_connect("/reject"):
            pytest.fail("must not connect")  # pragma: no cover
    assert (info.value.code, info.value.reason) == (4003, "go away")
    with client.websocket_connect("/echo") as ws:
        ws.send_text("bye")
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_text()
        assert (info.value.code, info.value.reason) == (1001, "later")


def test_websocket_denial_response() -> None:
    with pytest.raises(WebSocketDenialResponse) as info:
        with TestClient(WSApp()).websocket_connect("/deny"):
            pytest.fail("must not connect")  # pragma: no cover
    denial = info.value
    assert isinstance(denial, WebSocketDisconnect)
    assert isinstance(denial, httpx.Response)
    assert denial.status_code == 403
    assert denial.content == b"forbidden"
    assert denial.headers["x-why"] == "token"


def test_websocket_app_exception_propagates() -> None:
    with pytest.raises(KeyError, match="crash"):
        with TestClient(WSApp()).websocket_connect("/crash") as ws:
            ws.send_text("boom")
            ws.receive_text()


def test_websocket_app_returning_without_close_does_not_hang() -> None:
    with TestClient(WSApp()).websocket_connect("/quit") as ws:
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_text()
        assert info.value.code == 1006


def test_websocket_sessions_may_send_to_each_other() -> None:
    """A broadcast: the app for one session sends on another session (its own loop)."""
    sessions: list[Send] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        sessions.append(send)
        while (message := await receive())["type"] == "websocket.receive":
            for other in sessions:
                await other({"type": "websocket.send", "text": message["text"]})
        sessions.remove(send)

    client = TestClient(app)
    with client.websocket_connect("/") as one, client.websocket_connect("/") as two:
        one.send_text("hi all")
        assert one.receive_text() == "hi all"
        assert two.receive_text() == "hi all"


def test_websocket_in_a_with_block_sees_lifespan_state() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await receive()
            scope["state"]["ready"] = True
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": json.dumps(scope["state"])})
        await receive()

    with TestClient(app) as client, client.websocket_connect("/") as ws:
        assert ws.receive_json() == {"ready": True}


# --- threads -----------------------------------------------------------------------------


def test_no_thread_is_left_behind() -> None:
    before = threading.active_count()
    client = TestClient(scope_app)
    for _ in range(20):
        client.get("/")
    with TestClient(WSApp()).websocket_connect("/echo") as ws:
        ws.send_text("x")
        ws.receive_text()
    with pytest.raises(ValueError):
        TestClient(fails_after_response).get("/")
    with TestClient(LifespanApp()) as other:
        other.get("/")
    assert threading.active_count() == before
