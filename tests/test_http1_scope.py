"""The HTTP connection scope the server builds from the request on the wire."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.http1_support import curl, get_json
from tests.support import RawConnection, Running, serve

APP = "tests.apps.proto_echo:app"


@pytest.fixture(scope="module")
def server() -> Iterator[Running]:
    with serve(APP) as running:
        yield running


@pytest.fixture(scope="module")
def rooted() -> Iterator[Running]:
    with serve(APP, "--root-path", "/api") as running:
        yield running


def scope_of(port: int, data: bytes) -> tuple[dict[str, Any], tuple[str, int]]:
    """Send one raw request; return the scope the app saw and our socket's address."""
    with RawConnection(port) as conn:
        conn.send(data)
        response = conn.read_response()
        local = conn.sock.getsockname()
    assert response.status == 200, response
    assert response.header("content-type") == "application/json"
    return json.loads(response.body), local


def test_basic_scope_fields(server: Running) -> None:
    scope, local = scope_of(server.port, b"GET /plain HTTP/1.1\r\nHost: example.test\r\n\r\n")
    assert scope["type"] == "http"
    assert scope["asgi"] == {"version": "3.0", "spec_version": "2.5"}
    assert scope["http_version"] == "1.1"
    assert scope["method"] == "GET"
    assert scope["scheme"] == "http"
    assert scope["path"] == "/plain"
    assert scope["raw_path"] == "/plain"
    assert scope["query_string"] == ""
    assert scope["root_path"] == ""
    assert scope["client"] == ["127.0.0.1", local[1]]
    assert scope["server"] == ["127.0.0.1", server.port]
    assert "http.response.pathsend" in scope["extensions"]


def test_http_1_0_version(server: Running) -> None:
    scope, _ = scope_of(server.port, b"GET /old HTTP/1.0\r\n\r\n")
    assert scope["http_version"] == "1.0"
    assert scope["headers"] == []


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "PROPFIND"])
def test_method(server: Running, method: str) -> None:
    data = f"{method} /m HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".encode()
    scope, _ = scope_of(server.port, data)
    assert scope["method"] == method


@pytest.mark.parametrize(
    ("target", "path", "raw_path", "query"),
    [
        ("/caf%C3%A9", "/café", "/caf%C3%A9", ""),
        ("/a%2Fb/c", "/a/b/c", "/a%2Fb/c", ""),
        ("/sp%20ace?x=%20&y=%C3%A9", "/sp ace", "/sp%20ace", "x=%20&y=%C3%A9"),
        ("/%E2%9C%93/%zz?", "/✓/%zz", "/%E2%9C%93/%zz", ""),
        ("/q?a=1&a=2&b=%2F&c=d+e", "/q", "/q", "a=1&a=2&b=%2F&c=d+e"),
        ("//double//slash", "//double//slash", "//double//slash", ""),
        ('/q"u\\o`t{e}|^', '/q"u\\o`t{e}|^', '/q"u\\o`t{e}|^', ""),
    ],
)
def test_path_decoding_and_raw_bytes(
    server: Running, target: str, path: str, raw_path: str, query: str
) -> None:
    scope, _ = scope_of(server.port, f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert scope["path"] == path
    assert scope["raw_path"] == raw_path
    assert scope["query_string"] == query


def test_headers_keep_order_and_value_bytes(server: Running) -> None:
    data = (
        b"GET /h HTTP/1.1\r\n"
        b"X-Second: 2\r\n"
        b"Host: example.test:8080\r\n"
        b"x-MiXeD-CaSe: Value With  Spaces\r\n"
        b"X-Dup: one\r\n"
        b"X-Empty:\r\n"
        b"X-Dup: two\r\n"
        b"X-Obs-Text: caf\xc3\xa9\xff\r\n"
        b"X-Tab: a\tb\r\n"
        b"X-Padded:   padded value \t \r\n"
        b"\r\n"
    )
    scope, _ = scope_of(server.port, data)
    assert scope["headers"] == [
        ["x-second", "2"],
        ["host", "example.test:8080"],
        ["x-mixed-case", "Value With  Spaces"],
        ["x-dup", "one"],
        ["x-empty", ""],
        ["x-dup", "two"],
        ["x-obs-text", "caf\xc3\xa9\xff"],  # the raw bytes, shown as latin-1
        ["x-tab", "a\tb"],
        ["x-padded", "padded value"],  # leading and trailing whitespace is not the value
    ]


def test_options_asterisk(server: Running) -> None:
    scope, _ = scope_of(server.port, b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n")
    assert scope["method"] == "OPTIONS"
    assert scope["path"] == "*"
    assert scope["raw_path"] == "*"
    assert scope["query_string"] == ""


def test_absolute_form_target(server: Running) -> None:
    data = b"GET http://example.test:8080/p%C3%A9/x?q=1&r HTTP/1.1\r\nHost: example.test\r\n\r\n"
    scope, _ = scope_of(server.port, data)
    assert scope["path"] == "/pé/x"
    assert scope["raw_path"] == "/p%C3%A9/x"
    assert scope["query_string"] == "q=1&r"
    assert ["host", "example.test"] in scope["headers"]


def test_absolute_form_without_path(server: Running) -> None:
    scope, _ = scope_of(server.port, b"GET http://example.test HTTP/1.1\r\nHost: x\r\n\r\n")
    assert scope["path"] == "/"
    assert scope["raw_path"] == "/"
    assert scope["query_string"] == ""


def test_state_comes_from_lifespan_and_is_copied_per_request(server: Running) -> None:
    first = get_json(server.port, "/state-1")
    second = get_json(server.port, "/state-2")
    assert first["state"] == {"greeting": "hello from lifespan"}
    # The app set a key in its scope["state"]; the next request starts from the lifespan state.
    assert second["state"] == {"greeting": "hello from lifespan"}


def test_root_path_prefixes_path_and_raw_path(rooted: Running) -> None:
    scope, _ = scope_of(rooted.port, b"GET /items/caf%C3%A9?x=1 HTTP/1.1\r\nHost: x\r\n\r\n")
    assert scope["root_path"] == "/api"
    assert scope["path"] == "/api/items/café"
    assert scope["raw_path"] == "/api/items/caf%C3%A9"
    assert scope["query_string"] == "x=1"


def test_scope_through_httpx(server: Running) -> None:
    with httpx.Client(base_url=server.url) as client:
        response = client.get("/via/httpx", params={"name": "é x"}, headers={"X-Custom": "yes"})
    assert response.status_code == 200
    scope = response.json()
    assert scope["path"] == "/via/httpx"
    assert scope["query_string"] == "name=%C3%A9+x"
    assert ["x-custom", "yes"] in scope["headers"]
    assert scope["http_version"] == "1.1"


def test_scope_through_curl_http_1_0(server: Running) -> None:
    scope = json.loads(curl("--http1.0", f"{server.url}/via/curl?x=%C3%A9"))
    assert scope["http_version"] == "1.0"
    assert scope["path"] == "/via/curl"
    assert scope["query_string"] == "x=%C3%A9"
    assert scope["headers"][0] == ["host", f"127.0.0.1:{server.port}"]
