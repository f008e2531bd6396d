"""aster.requests: HTTPConnection and Request, driven with hand-made ASGI channels and httpx."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import AsyncGenerator
from typing import Any

import httpx
import pytest

from aster.datastructures import URL, Address, State, URLPath
from aster.requests import (
    BODY_SCOPE_KEY,
    ClientDisconnect,
    HTTPConnection,
    Request,
    cookie_parser,
    empty_receive,
)
from aster.types import Message, Receive, Scope, Send
from tests.support import serve


def make_scope(**changes: Any) -> dict[str, Any]:
    scope = {
        "type": "http",
        "method": "POST",
        "scheme": "http",
        "path": "/",
        "root_path": "",
        "query_string": b"",
        "headers": [],
        "server": ("testserver", 80),
    }
    scope.update(changes)
    return scope


def receiver(*chunks: bytes) -> Receive:
    """The body in ``chunks``, then ``http.disconnect`` forever."""
    messages = [
        {"type": "http.request", "body": chunk, "more_body": index < len(chunks) - 1}
        for index, chunk in enumerate(chunks)
    ] or [{"type": "http.request"}]

    async def receive() -> Message:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    return receive


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# -- Construction and the connection API ---------------------------------------------


def test_construction_is_lazy() -> None:
    scope = make_scope(headers=((b"x", b"1"),))
    request = Request(scope, empty_receive)
    assert vars(request) == {"scope": scope, "_receive": empty_receive, "_send": request._send}
    assert scope["headers"] == ((b"x", b"1"),)  # untouched until headers are read
    assert request.headers["x"] == "1"
    assert request.headers is request.headers
    assert request.query_params is request.query_params
    assert request.url is request.url


def test_request_is_a_read_only_mapping_over_the_scope() -> None:
    scope = make_scope()
    request = Request(scope)
    assert request["path"] == "/"
    assert list(request) == list(scope) and len(request) == len(scope)
    assert request != Request(scope) and request == request
    assert len({request, Request(scope)}) == 2
    with pytest.raises(AssertionError):
        Request({"type": "websocket"})
    assert HTTPConnection({"type": "websocket", "headers": []}).headers.raw == []


def test_connection_properties() -> None:
    scope = make_scope(
        method="GET",
        scheme="https",
        path="/sub/p",
        root_path="/sub",
        query_string=b"a=1&a=2&q=%C3%A9",
        headers=[
            (b"host", b"ex.com"),
            (b"cookie", b"a=1; b=2"),
            (b"cookie", b"c=3; a=9"),
            (b"x-multi", b"1"),
            (b"x-multi", b"2"),
        ],
        client=("1.2.3.4", 5),
        server=("x", 443),
        path_params={"id": 3},
    )
    request = Request(scope)
    assert request.method == "GET"
    assert str(request.url) == "https://ex.com/sub/p?a=1&a=2&q=%C3%A9"
    assert str(request.base_url) == "https://ex.com/sub/"
    assert request.query_params.getlist("a") == ["1", "2"]
    assert request.query_params["q"] == "é"
    assert request.headers.getlist("X-Multi") == ["1", "2"]
    assert request.cookies == {"a": "9", "b": "2", "c": "3"}
    assert request.client == Address("1.2.3.4", 5)
    assert request.path_params == {"id": 3}
    assert Request(make_scope()).client is None
    assert Request(make_scope()).path_params == {}


def test_base_url_uses_the_app_root_inside_a_mount() -> None:
    scope = make_scope(path="/a/b/c", root_path="/a/b", app_root_path="/a", server=("h", 80))
    assert str(Request(scope).base_url) == "http://h/a/"
    assert str(Request(make_scope(query_string=b"x=1")).base_url) == "http://testserver/"


@pytest.mark.parametrize(
    ("attribute", "message"),
    [
        ("session", "SessionMiddleware must be installed to access request.session"),
        ("auth", "AuthenticationMiddleware must be installed to access request.auth"),
        ("user", "AuthenticationMiddleware must be installed to access request.user"),
    ],
)
def test_middleware_only_attributes(attribute: str, message: str) -> None:
    with pytest.raises(AssertionError) as info:
        getattr(Request(make_scope()), attribute)
    assert str(info.value) == message


def test_session_auth_user_when_installed() -> None:
    class Session(dict):  # type: ignore[type-arg]
        accessed = False

        def mark_accessed(self) -> None:
            self.accessed = True

    session = Session(k="v")
    request = Request(make_scope(session=session, auth="creds", user="alice"))
    assert request.session == {"k": "v"} and session.accessed
    assert (request.auth, request.user) == ("creds", "alice")


def test_state_lives_in_the_scope() -> None:
    scope = make_scope()
    first = Request(scope)
    first.state.user = "alice"
    assert isinstance(first.state, State)
    assert scope["state"] == {"user": "alice"}
    assert Request(scope).state.user == "alice"


def test_url_for() -> None:
    class Router:
        def url_path_for(self, name: str, /, **params: Any) -> URLPath:
            return URLPath(f"/{name}/{params['id']}")

    scope = make_scope(router=Router(), headers=[(b"host", b"ex.org")])
    assert Request(scope).url_for("item", id=3) == URL("http://ex.org/item/3")
    scope = make_scope(app=Router(), root_path="/api", server=("h", 80))
    assert str(Request(scope).url_for("x", id=1)) == "http://h/api/x/1"
    with pytest.raises(RuntimeError, match="can only be used inside a Starlette application"):
        Request(make_scope()).url_for("x")


@pytest.mark.parametrize(
    ("header", "cookies"),
    [
        ("a=1; b=2", {"a": "1", "b": "2"}),
        ("a=1;b", {"a": "1", "": "b"}),
        ("=x", {"": "x"}),
        (" ; ", {}),
        ('q="a b"', {"q": "a b"}),
        ('q="\\073"', {"q": ";"}),
        ("a=1=2", {"a": "1=2"}),
        ('k="unterminated', {"k": '"unterminated'}),
        ("  sp ace = v al ", {"sp ace": "v al"}),
        ("a=%20", {"a": "%20"}),
        ('x=""', {"x": ""}),
        ('x="\\"q\\""', {"x": '"q"'}),
    ],
)
def test_cookie_parser(header: str, cookies: dict[str, str]) -> None:
    assert cookie_parser(header) == cookies


# -- The body ------------------------------------------------------------------------------


def test_body_single_and_chunked() -> None:
    async def main() -> list[bytes]:
        one = await Request(make_scope(), receiver(b"hello")).body()
        many = Request(make_scope(), receiver(b"he", b"", b"llo", b" world"))
        return [one, await many.body(), await many.body()]

    assert run(main()) == [b"hello", b"hello world", b"hello world"]


def test_stream() -> None:
    async def main() -> tuple[Any, ...]:
        request = Request(make_scope(), receiver(b"he", b"ll", b"o"))
        chunks = [chunk async for chunk in request.stream()]
        with pytest.raises(RuntimeError, match="Stream consumed"):
            await request.body()
        read = Request(make_scope(), receiver(b"ab", b"c"))
        body = await read.body()
        again = [chunk async for chunk in read.stream()]
        return chunks, body, again

    assert run(main()) == ([b"he", b"ll", b"o", b""], b"abc", [b"abc", b""])


def test_client_disconnect() -> None:
    async def receive() -> Message:
        return {"type": "http.disconnect"}

    async def main() -> bool:
        request = Request(make_scope(), receive)
        with pytest.raises(ClientDisconnect):
            await request.body()
        return await request.is_disconnected()

    assert run(main()) is True


def test_json() -> None:
    async def main() -> Any:
        request = Request(make_scope(), receiver(b'{"a": ', b"[1, 2]}"))
        return await request.json(), await request.json()

    assert run(main()) == ({"a": [1, 2]}, {"a": [1, 2]})
    with pytest.raises(json.JSONDecodeError) as info:
        run(Request(make_scope(), receiver(b'{"a"')).json())
    assert (info.value.pos, info.value.msg) == (4, "Expecting ':' delimiter")


def test_body_is_seen_by_a_later_request_on_the_same_receive() -> None:
    """An exception handler building its own Request still gets the body."""

    async def main() -> tuple[bytes, bytes]:
        scope = make_scope()
        receive = receiver(b"payload")
        await Request(scope, receive).body()
        later = await Request(scope, receive).body()
        streamed = b"".join([c async for c in Request(scope, receive).stream()])
        return later, streamed

    assert run(main()) == (b"payload", b"payload")


def test_body_recorded_for_bound_method_receivers() -> None:
    class Channel:
        def __init__(self) -> None:
            self.sent = False

        async def receive(self) -> Message:
            if self.sent:
                return {"type": "http.disconnect"}
            self.sent = True
            return {"type": "http.request", "body": b"once"}

    async def main() -> bytes:
        scope, channel = make_scope(), Channel()
        await Request(scope, channel.receive).body()
        return await Request(scope, channel.receive).body()

    assert run(main()) == b"once"


def test_a_different_receive_is_read_not_replayed() -> None:
    """Middleware that rewrites the body hands downstream a new receive: that one wins."""

    async def main() -> tuple[bytes, bytes]:
        scope = make_scope()
        original = await Request(scope, receiver(b"original")).body()
        rewritten = await Request(scope, receiver(b"rewritten")).body()
        return original, rewritten

    assert run(main()) == (b"original", b"rewritten")
    scope = make_scope()
    run(Request(scope, receiver(b"x")).body())
    assert scope[BODY_SCOPE_KEY][1] == b"x"


def test_subclasses_that_transform_the_body() -> None:
    class GzipRequest(Request):
        async def body(self) -> bytes:
            if not hasattr(self, "_body"):
                body = await super().body()
                if "gzip" in self.headers.getlist("Content-Encoding"):
                    body = gzip.decompress(body)
                self._body = body
            return self._body

    class UpperStream(Request):
        async def stream(self) -> AsyncGenerator[bytes, None]:
            async for chunk in super().stream():
                yield chunk.upper()

    async def main() -> tuple[bytes, bytes]:
        packed = gzip.compress(b"inflated")
        scope = make_scope(headers=[(b"content-encoding", b"gzip")])
        gz = await GzipRequest(scope, receiver(packed[:5], packed[5:])).body()
        upper = await UpperStream(make_scope(), receiver(b"ab", b"c")).body()
        return gz, upper

    assert run(main()) == (b"inflated", b"ABC")


def test_form_is_awaitable_and_a_context_manager() -> None:
    boundary = b"--b\r\n"
    body = (
        boundary
        + b'Content-Disposition: form-data; name="f"; filename="a.txt"\r\n\r\ndata\r\n'
        + b"--b--\r\n"
    )
    headers = [(b"content-type", b"multipart/form-data; boundary=b")]

    async def main() -> tuple[Any, ...]:
        request = Request(make_scope(headers=headers), receiver(body))
        async with request.form() as form:
            upload = form["f"]
            content = await upload.read()  # type: ignore[union-attr]
        plain = Request(make_scope(headers=headers), receiver(body))
        awaited = await plain.form()
        cached = await plain.form(max_files=0)  # parsed once: limits of later calls don't apply
        await plain.close()
        return content, upload.file.closed, awaited is cached, awaited["f"].file.closed  # type: ignore[union-attr]

    assert run(main()) == (b"data", True, True, True)


def test_form_for_other_content_types_is_empty() -> None:
    async def main() -> list[Any]:
        request = Request(make_scope(headers=[(b"content-type", b"text/plain")]), receiver(b"a=1"))
        form = await request.form()
        return [form.multi_items(), await request.body()]

    assert run(main()) == [[], b"a=1"]


def test_is_disconnected_never_waits() -> None:
    async def main() -> list[Any]:
        queue: asyncio.Queue[Message] = asyncio.Queue()
        request = Request(make_scope(), queue.get)
        results: list[Any] = [await asyncio.wait_for(request.is_disconnected(), 1)]
        results.append(list(queue._getters))  # type: ignore[attr-defined]  # no waiter left
        await queue.put({"type": "http.request", "body": b"kept", "more_body": True})
        results.append(await request.is_disconnected())
        await queue.put({"type": "http.request", "body": b"!"})
        results.append(await request.body())  # the message it received is not lost
        await queue.put({"type": "http.disconnect"})
        results.append(await request.is_disconnected())
        results.append(await request.is_disconnected())  # remembered
        return results

    assert run(main()) == [False, [], False, b"kept!", True, True]


def test_is_disconnected_then_stream() -> None:
    async def main() -> list[bytes]:
        request = Request(make_scope(), receiver(b"ab", b"cd"))
        assert await request.is_disconnected() is False
        return [chunk async for chunk in request.stream()]

    assert run(main()) == [b"ab", b"cd", b""]


def test_push_promise_and_early_hints() -> None:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    headers = [(b"accept", b"text/html"), (b"user-agent", b"t"), (b"cookie", b"no")]
    extensions = {"http.response.push": {}, "http.response.early_hint": {}}

    async def main() -> None:
        await Request(make_scope(headers=headers), send=send).send_push_promise("/style.css")
        await Request(make_scope(headers=headers), send=send).send_early_hints("</a>")
        request = Request(make_scope(headers=headers, extensions=extensions), send=send)
        await request.send_push_promise("/style.css")
        await request.send_early_hints("</a>; rel=preload", "</b>")

    run(main())
    push, hints = sent
    assert push["type"] == "http.response.push" and push["path"] == "/style.css"
    assert sorted(push["headers"]) == [(b"accept", b"text/html"), (b"user-agent", b"t")]
    assert hints == {"type": "http.response.early_hint", "links": [b"</a>; rel=preload", b"</b>"]}


# -- Through httpx and through the real server --------------------------------------------


async def echo_app(scope: Scope, receive: Receive, send: Send) -> None:
    request = Request(scope, receive, send)
    payload = {
        "url": str(request.url),
        "query": request.query_params.multi_items(),
        "header": request.headers.get("x-token"),
        "cookies": request.cookies,
        "json": await request.json() if request.method == "POST" else None,
        "client": list(request.client) if request.client else None,
    }
    body = json.dumps(payload).encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def test_a_hand_built_scope_may_hold_the_query_string_as_str() -> None:
    # Starlette accepts it (its QueryParams takes str or bytes); so must query_params and url.
    request = Request(make_scope(method="GET", path="/p", query_string="a=1&b=%C3%A9&a=2"))
    assert request.query_params.multi_items() == [("a", "1"), ("b", "é"), ("a", "2")]
    assert str(request.url) == "http://testserver/p?a=1&b=%C3%A9&a=2"
    assert str(request.base_url) == "http://testserver/"
    websocket = HTTPConnection(make_scope(type="websocket", query_string="x=y"))
    assert websocket.query_params.multi_items() == [("x", "y")]
    assert Request(make_scope(query_string="")).query_params.multi_items() == []


def test_a_str_query_string_reaches_fastapi_query_parameters() -> None:
    from aster import FastAPI

    app = FastAPI()

    @app.get("/items")
    def items(q: str, n: int = 0) -> dict[str, Any]:
        return {"q": q, "n": n}

    async def main() -> list[Message]:
        sent: list[Message] = []

        async def send(message: Message) -> None:
            sent.append(message)

        scope = make_scope(method="GET", path="/items", query_string="q=hi&n=3")
        await app(scope, receiver(b""), send)
        return sent

    messages = run(main())
    assert messages[0]["status"] == 200
    assert json.loads(messages[1]["body"]) == {"q": "hi", "n": 3}


def test_through_httpx_asgi_transport() -> None:
    async def main() -> Any:
        transport = httpx.ASGITransport(app=echo_app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://example.org", cookies={"session": "abc"}
        ) as client:
            response = await client.post("/path?a=1&a=2", json={"k": [1]}, headers={"X-Token": "t"})
            return response.json()

    assert run(main()) == {
        "url": "http://example.org/path?a=1&a=2",
        "query": [["a", "1"], ["a", "2"]],
        "header": "t",
        "cookies": {"session": "abc"},
        "json": {"k": [1]},
        "client": ["127.0.0.1", 123],
    }


def test_end_to_end_over_a_socket() -> None:
    with serve("tests.framework.foundation_app:app") as server:
        response = httpx.post(
            f"{server.url}/echo?q=1&q=%C3%A9&flag",
            headers=[("x-multi", "a"), ("x-multi", "b"), ("user-agent", "ua/1")],
            cookies={"c": "v"},
            content=b"raw body",
        )
        thread = httpx.get(f"{server.url}/thread").json()
        disconnected = httpx.get(f"{server.url}/disconnected").json()
    assert response.status_code == 200
    assert response.json() == {
        "method": "POST",
        "url": f"{server.url}/echo?q=1&q=%C3%A9&flag",
        "base_url": f"{server.url}/",
        "query": [["q", "1"], ["q", "é"], ["flag", ""]],
        "q": "é",
        "agent": "ua/1",
        "x": ["a", "b"],
        "cookies": {"c": "v"},
        "client_host": "127.0.0.1",
        "body": "raw body",
    }
    assert thread["thread"].startswith("aster-worker")
    assert disconnected == {"disconnected": False, "body": ""}
