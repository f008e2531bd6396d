"""Starlette's modules behind a real ``aster run``: curl, httpx, raw sockets and real WebSockets.

The app is tests/apps/fw_starlette.py. What only the wire shows: session cookies kept and
sent back by curl's cookie jar and by httpx, ``@requires`` with ``curl -u`` and its 403/400/303,
a 405 ``Allow`` from an ``HTTPEndpoint``, ``WebSocketEndpoint`` decoding and its 1003 close over
a real handshake, a refused WebSocket as an HTTP 403, a WSGI app's streamed body, and the
OpenTelemetry spans the server process records. In-process tests: tests/framework/test_*.py.
"""

from __future__ import annotations

import base64
import json
import os
import re
import tempfile
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest
import yaml
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from tests.support import RawConnection, Running, app_headers, curl, needs_curl, serve

pytestmark = needs_curl

ALICE = "Basic " + base64.b64encode(b"alice:secret").decode()


@pytest.fixture(scope="module")
def server() -> Iterator[Running]:
    with serve("tests.apps.fw_starlette:app") as running:
        yield running


@pytest.fixture
def client(server: Running) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


def ws_url(server: Running, path: str) -> str:
    return f"ws://{server.host}:{server.port}{path}"


# --- HTTPEndpoint -------------------------------------------------------------------------------


def test_http_endpoint_methods_over_curl(server: Running) -> None:
    status, headers, body = curl(f"{server.url}/items/3")
    assert status == 200
    assert json.loads(body) == {"item_id": 3, "method": "get"}
    status, _, body = curl("-X", "PUT", f"{server.url}/items/3")
    assert (status, json.loads(body)) == (200, {"item_id": 3, "method": "put"})

    status, headers, body = curl("-X", "DELETE", f"{server.url}/items/3")
    assert (status, body) == (405, b"Method Not Allowed")
    assert app_headers(headers) == {
        "allow": "GET, HEAD, PUT",
        "content-length": "18",
        "content-type": "text/plain; charset=utf-8",
    }


def test_http_endpoint_head_and_keep_alive(server: Running) -> None:
    with RawConnection(server.port) as conn:
        conn.send(b"HEAD /items/9 HTTP/1.1\r\nHost: t\r\n\r\n")
        head = conn.read_response("HEAD")
        conn.send(b"GET /items/9 HTTP/1.1\r\nHost: t\r\n\r\n")
        get = conn.read_response()
    assert head.status == 200 and head.body == b""
    assert head.header("content-length") == str(len(get.body))
    assert json.loads(get.body) == {"item_id": 9, "method": "get"}


# --- sessions ------------------------------------------------------------------------------------


def test_session_round_trip_with_curls_cookie_jar(server: Running) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        jar = os.path.join(tmp, "cookies.txt")
        status, headers, body = curl("-c", jar, "-d", "user=alice", f"{server.url}/login")
        assert (status, json.loads(body)) == (200, {"logged_in": "alice"})
        cookie = headers["set-cookie"]
        assert re.fullmatch(
            r"session=[A-Za-z0-9_=.-]+; path=/; Max-Age=3600; httponly; samesite=lax", cookie
        ), cookie
        assert headers["vary"] == "Cookie"

        status, headers, body = curl("-b", jar, "-c", jar, f"{server.url}/me")
        assert (status, json.loads(body)) == (200, {"user": "alice"})
        assert "set-cookie" not in headers  # only read, not changed

        status, headers, _ = curl("-b", jar, "-c", jar, "-X", "POST", f"{server.url}/logout")
        assert status == 200
        assert headers["set-cookie"] == (
            "session=null; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT; httponly; samesite=lax"
        )
        status, _, body = curl("-b", jar, f"{server.url}/me")
        assert json.loads(body) == {"user": None}


def test_session_with_httpx_and_a_tampered_cookie(client: httpx.Client) -> None:
    assert client.post("/login", data={"user": "bob"}).status_code == 200
    assert client.get("/me").json() == {"user": "bob"}
    signed = client.cookies["session"]
    payload, timestamp, signature = signed.rsplit(".", 2)
    forged = base64.b64encode(b'{"user": "admin"}').decode()
    client.cookies.set("session", f"{forged}.{timestamp}.{signature}")
    response = client.get("/me")
    assert (response.status_code, response.json()) == (200, {"user": None})


# --- authentication ------------------------------------------------------------------------------


def test_requires_with_curl_basic_auth(server: Running) -> None:
    status, _, body = curl("-u", "alice:secret", f"{server.url}/private")
    assert (status, json.loads(body)) == (200, {"user": "alice", "scopes": ["authenticated"]})
    status, _, body = curl(f"{server.url}/private")
    assert (status, body) == (403, b"Forbidden")
    status, _, body = curl("-u", "alice:wrong", f"{server.url}/private")
    assert (status, body) == (400, b"Invalid basic auth credentials")


def test_requires_redirect_over_the_wire(server: Running) -> None:
    status, headers, body = curl(f"{server.url}/account?tab=2")
    assert status == 303
    original = quote(f"{server.url}/account?tab=2", safe="")
    assert headers["location"] == f"{server.url}/me?next={original}"
    status, _, body = curl("-L", f"{server.url}/account")
    assert (status, json.loads(body)) == (200, {"user": None})
    status, _, body = curl("-u", "alice:secret", f"{server.url}/account")
    assert (status, body) == (200, b"account of alice")


def test_authentication_error_keeps_the_connection_usable(server: Running) -> None:
    with RawConnection(server.port) as conn:
        conn.send(b"GET /private HTTP/1.1\r\nHost: t\r\nAuthorization: Basic !!!\r\n\r\n")
        refused = conn.read_response()
        conn.send(f"GET /private HTTP/1.1\r\nHost: t\r\nAuthorization: {ALICE}\r\n\r\n".encode())
        allowed = conn.read_response()
    assert (refused.status, refused.body) == (400, b"Invalid basic auth credentials")
    assert allowed.status == 200 and json.loads(allowed.body)["user"] == "alice"


# --- WebSocketEndpoint ---------------------------------------------------------------------------


def test_websocket_endpoint_json_echo(server: Running) -> None:
    with connect(ws_url(server, "/ws/echo")) as ws:
        ws.send(json.dumps({"n": 1}))
        assert json.loads(ws.recv(timeout=10)) == {"echo": {"n": 1}, "user": ""}
        ws.send(b'{"binary": true}')  # JSON in a binary frame is decoded too
        assert json.loads(ws.recv(timeout=10)) == {"echo": {"binary": True}, "user": ""}


def test_websocket_endpoint_refuses_the_wrong_frame_type_with_1003(server: Running) -> None:
    with connect(ws_url(server, "/ws/text")) as ws:
        ws.send("shout")
        assert ws.recv(timeout=10) == "SHOUT"
        ws.send(b"\x00bytes")
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1003
    assert "Expected text websocket messages, but got bytes" in server.log()


def test_websocket_endpoint_malformed_json_closes_1003(server: Running) -> None:
    with connect(ws_url(server, "/ws/echo")) as ws:
        ws.send("{not json")
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1003


def test_requires_on_a_websocket(server: Running) -> None:
    with pytest.raises(InvalidStatus) as refused:
        connect(ws_url(server, "/ws/private"))
    assert refused.value.response.status_code == 403  # closed before accept
    with connect(ws_url(server, "/ws/private"), additional_headers={"Authorization": ALICE}) as ws:
        assert ws.recv(timeout=10) == "hello alice"


# --- WSGI, schema, tracing -----------------------------------------------------------------------


def test_wsgi_app_streams_and_echoes(server: Running) -> None:
    status, headers, body = curl(f"{server.url}/legacy/report")
    assert status == 200
    assert headers["content-type"] == "text/plain"
    assert headers["transfer-encoding"] == "chunked"
    assert body == b"".join(f"/legacy/report line {n}\n".encode() for n in range(3))
    payload = os.urandom(100_000)
    with tempfile.NamedTemporaryFile() as file:
        file.write(payload)
        file.flush()
        status, _, body = curl("--data-binary", f"@{file.name}", f"{server.url}/legacy/echo")
    assert (status, body) == (200, payload)


def test_schema_from_docstrings(client: httpx.Client) -> None:
    response = client.get("/schema")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.oai.openapi"
    assert yaml.safe_load(response.text) == {
        "openapi": "3.1.0",
        "info": {"title": "fw_starlette", "version": "1"},
        "paths": {"/items/{item_id}": {"get": {"responses": {200: {"description": "One item."}}}}},
    }


def test_spans_are_named_from_routes(server: Running, client: httpx.Client) -> None:
    assert client.get("/items/5").status_code == 200
    assert client.get("/legacy/x").status_code == 200
    assert client.get("/nowhere").status_code == 404
    server.wait_for_log(r"^otel-span GET /items/\{item_id\} status=200$")
    server.wait_for_log(r"^otel-span GET /legacy status=200$")
    server.wait_for_log(r"^otel-span GET status=404$")
