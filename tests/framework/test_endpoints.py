"""Class-based endpoints (``aster.endpoints``): method dispatch, 405s, WebSocket encodings.

Behaviour is Starlette 1.10's. Over a real server: tests/test_starlette_server.py.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from aster import FastAPI
from aster.applications import Starlette
from aster.endpoints import HTTPEndpoint, WebSocketEndpoint
from aster.requests import Request
from aster.responses import JSONResponse, PlainTextResponse
from aster.routing import Route, Router, WebSocketRoute
from aster.testclient import TestClient
from aster.websockets import WebSocket, WebSocketDisconnect

from .asgi import call, make_scope

TEXT_PLAIN = "text/plain; charset=utf-8"


class Items(HTTPEndpoint):
    async def get(self, request: Request) -> PlainTextResponse:
        item = request.path_params.get("item")
        return PlainTextResponse("all items" if item is None else f"item {item}")

    def post(self, request: Request) -> JSONResponse:
        # A sync method: runs in the threadpool, off the event loop's thread.
        return JSONResponse({"thread": threading.current_thread().name})

    async def query(self, request: Request) -> PlainTextResponse:
        return PlainTextResponse("queried")


def router_client() -> TestClient:
    return TestClient(Router([Route("/items", Items), Route("/items/{item}", Items)]))


def test_dispatch_by_method_with_path_params() -> None:
    client = router_client()
    response = client.get("/items")
    assert (response.status_code, response.text) == (200, "all items")
    assert response.headers["content-type"] == TEXT_PLAIN
    assert client.get("/items/42").text == "item 42"
    assert client.request("QUERY", "/items").text == "queried"


def test_sync_method_runs_in_the_threadpool() -> None:
    response = router_client().post("/items")
    assert response.status_code == 200
    assert response.json()["thread"] != threading.main_thread().name


def test_head_falls_back_to_get_without_a_body() -> None:
    response = router_client().head("/items")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == str(len("all items"))


def test_head_method_wins_over_get() -> None:
    class WithHead(HTTPEndpoint):
        async def get(self, request: Request) -> PlainTextResponse:
            return PlainTextResponse("get")  # pragma: no cover

        async def head(self, request: Request) -> PlainTextResponse:
            return PlainTextResponse("", headers={"x-from": "head"})

    response = TestClient(Router([Route("/", WithHead)])).head("/")
    assert response.headers["x-from"] == "head"


def test_405_outside_an_app_is_plain_text_with_allow() -> None:
    response = router_client().delete("/items")
    assert response.status_code == 405
    assert response.text == "Method Not Allowed"
    assert response.headers["allow"] == "GET, HEAD, POST, QUERY"
    assert response.headers["content-type"] == TEXT_PLAIN


def test_405_inside_an_app_goes_through_its_exception_handlers() -> None:
    starlette = TestClient(Starlette(routes=[Route("/items", Items)]))
    response = starlette.put("/items")
    assert (response.status_code, response.text) == (405, "Method Not Allowed")
    assert response.headers["allow"] == "GET, HEAD, POST, QUERY"

    fastapi = FastAPI()
    fastapi.add_route("/items", Items)
    response = TestClient(fastapi).put("/items")
    assert response.status_code == 405
    assert response.json() == {"detail": "Method Not Allowed"}
    assert response.headers["allow"] == "GET, HEAD, POST, QUERY"


def test_only_verb_methods_are_dispatched() -> None:
    class Endpoint(HTTPEndpoint):
        async def get(self, request: Request) -> PlainTextResponse:
            return PlainTextResponse("get")  # pragma: no cover

        async def _do_delete(self, request: Request) -> PlainTextResponse:
            return PlainTextResponse("private helper")  # pragma: no cover

    response = TestClient(Router([Route("/", Endpoint)])).request("_DO_DELETE", "/")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"


def test_allow_has_no_head_without_get() -> None:
    class PostOnly(HTTPEndpoint):
        async def post(self, request: Request) -> PlainTextResponse:
            return PlainTextResponse("posted")  # pragma: no cover

    response = TestClient(Router([Route("/", PostOnly)])).head("/")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


def test_add_route_and_url_for_use_the_class_name() -> None:
    app = Starlette()
    app.add_route("/items/{item}", Items)
    client = TestClient(app)
    assert client.get("/items/7").text == "item 7"
    assert app.url_path_for("Items", item="7") == "/items/7"


def test_endpoint_is_a_plain_asgi_app_and_sends_early_hints() -> None:
    class Hinted(HTTPEndpoint):
        async def get(self, request: Request) -> PlainTextResponse:
            await request.send_early_hints("</app.css>; rel=preload; as=style")
            return PlainTextResponse("hinted")

    scope = make_scope(extensions={"http.response.early_hint": {}})
    result = asyncio.run(call(Hinted, scope))
    assert result.messages[0] == {
        "type": "http.response.early_hint",
        "links": [b"</app.css>; rel=preload; as=style"],
    }
    assert result.status == 200
    assert result.body == b"hinted"


def test_http_endpoint_refuses_a_websocket_scope() -> None:
    async def never() -> Any:
        raise AssertionError  # pragma: no cover

    with pytest.raises(AssertionError):
        Items({"type": "websocket"}, never, never)


# --- WebSocketEndpoint ------------------------------------------------------------------------


def ws_client(endpoint: type[WebSocketEndpoint]) -> TestClient:
    return TestClient(endpoint)


@pytest.mark.parametrize(
    ("encoding", "send", "expected"),
    [
        ("text", ("send_text", "hi"), "text:'hi'"),
        ("bytes", ("send_bytes", b"\x00\x01"), "bytes:b'\\x00\\x01'"),
        ("json", ("send_json", {"a": [1, 2]}), "dict:{'a': [1, 2]}"),
        (None, ("send_text", ""), "str:''"),
        (None, ("send_bytes", b"raw"), "bytes:b'raw'"),
    ],
)
def test_on_receive_gets_the_decoded_message(
    encoding: str | None, send: tuple[str, Any], expected: str
) -> None:
    class Echo(WebSocketEndpoint):
        async def on_receive(self, websocket: WebSocket, data: Any) -> None:
            name = "text" if encoding == "text" else type(data).__name__
            await websocket.send_text(f"{name}:{data!r}")

    Echo.encoding = encoding  # type: ignore[assignment]
    with ws_client(Echo).websocket_connect("/ws") as websocket:
        getattr(websocket, send[0])(send[1])
        assert websocket.receive_text() == expected


def test_json_encoding_accepts_binary_frames() -> None:
    class JsonEcho(WebSocketEndpoint):
        encoding = "json"

        async def on_receive(self, websocket: WebSocket, data: Any) -> None:
            await websocket.send_json({"got": data}, mode="binary")

    with ws_client(JsonEcho).websocket_connect("/ws") as websocket:
        websocket.send_json({"hello": "world"}, mode="binary")
        assert websocket.receive_json(mode="binary") == {"got": {"hello": "world"}}


@pytest.mark.parametrize(
    ("encoding", "method", "payload", "error"),
    [
        ("text", "send_bytes", b"x", "Expected text websocket messages, but got bytes"),
        ("bytes", "send_text", "x", "Expected bytes websocket messages, but got text"),
        ("json", "send_text", "{not json", "Malformed JSON data received."),
    ],
)
def test_wrong_payload_closes_1003_and_raises(
    encoding: str, method: str, payload: Any, error: str
) -> None:
    closed: list[int] = []

    class Strict(WebSocketEndpoint):
        async def on_disconnect(self, websocket: WebSocket, close_code: int) -> None:
            closed.append(close_code)

    Strict.encoding = encoding  # type: ignore[assignment]
    client = ws_client(Strict)
    with pytest.raises(RuntimeError, match=error):
        with client.websocket_connect("/ws") as websocket:
            getattr(websocket, method)(payload)
            with pytest.raises(WebSocketDisconnect) as disconnect:
                websocket.receive_text()
            assert disconnect.value.code == 1003
    # The endpoint failed, so on_disconnect hears 1011 (internal error).
    assert closed == [1011]


def test_decode_rejects_a_message_without_the_expected_key() -> None:
    """The ASGI spec lets a server send both keys, one of them None."""
    sent: list[dict[str, Any]] = []

    async def receive() -> Any:
        raise AssertionError("not called")  # pragma: no cover

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    class Text(WebSocketEndpoint):
        encoding = "text"

    scope = {"type": "websocket", "path": "/", "headers": [], "query_string": b""}
    endpoint = Text(scope, receive, send)
    websocket = WebSocket(scope, receive, send)
    with pytest.raises(RuntimeError, match="Expected text websocket messages, but got bytes"):
        asyncio.run(endpoint.decode(websocket, {"type": "websocket.receive", "text": None}))
    assert sent == [{"type": "websocket.close", "code": 1003, "reason": ""}]


def test_on_connect_chooses_the_subprotocol() -> None:
    class Negotiating(WebSocketEndpoint):
        async def on_connect(self, websocket: WebSocket) -> None:
            assert websocket["subprotocols"] == ["soap", "wamp"]
            await websocket.accept(subprotocol="wamp")

    with ws_client(Negotiating).websocket_connect("/ws", subprotocols=["soap", "wamp"]) as ws:
        assert ws.accepted_subprotocol == "wamp"


def test_on_disconnect_gets_the_clients_close_code() -> None:
    codes: list[int] = []

    class Recording(WebSocketEndpoint):
        async def on_disconnect(self, websocket: WebSocket, close_code: int) -> None:
            codes.append(close_code)

    with ws_client(Recording).websocket_connect("/ws") as websocket:
        websocket.close(code=4001)
    with ws_client(Recording).websocket_connect("/ws"):
        pass  # leaving the block closes with 1000
    assert codes == [4001, 1000]


def test_an_exception_in_on_receive_reports_1011_and_propagates() -> None:
    codes: list[int] = []

    class Failing(WebSocketEndpoint):
        async def on_receive(self, websocket: WebSocket, data: Any) -> None:
            raise ValueError("boom")

        async def on_disconnect(self, websocket: WebSocket, close_code: int) -> None:
            codes.append(close_code)

    with pytest.raises(ValueError, match="boom"):
        with ws_client(Failing).websocket_connect("/ws") as websocket:
            websocket.send_text("x")
            websocket.receive_text()
    assert codes == [1011]


def test_websocket_endpoint_is_routable_in_apps() -> None:
    class Hello(WebSocketEndpoint):
        encoding = "text"

        async def on_receive(self, websocket: WebSocket, data: str) -> None:
            await websocket.send_text(f"{websocket.path_params['room']}: {data}")

    starlette = Starlette(routes=[WebSocketRoute("/rooms/{room}", Hello)])
    fastapi = FastAPI()
    fastapi.add_websocket_route("/rooms/{room}", Hello)
    for app in (starlette, fastapi):
        with TestClient(app).websocket_connect("/rooms/blue") as websocket:
            websocket.send_text("hi")
            assert websocket.receive_text() == "blue: hi"
