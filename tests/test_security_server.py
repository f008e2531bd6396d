"""The security schemes behind a real ``aster run`` server, hit with httpx, curl and raw sockets.

In-process tests (tests/framework/test_security.py) check the dependency logic; these check
what only a real exchange shows: the ``WWW-Authenticate`` challenge on the wire, credentials
built by real clients (``curl -u``, ``-b``, ``-d``), and that a 401 leaves the keep-alive
connection usable, also when the request body was never read.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import httpx
import pytest

from tests.support import RawConnection, Running, curl, needs_curl, serve

NOT_AUTHENTICATED = b'{"detail":"Not authenticated"}'


@pytest.fixture(scope="module")
def server() -> Iterator[Running]:
    with serve("tests.apps.fw_security:app") as running:
        yield running


@pytest.fixture
def client(server: Running) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


def get(path: str, *headers: str) -> bytes:
    """A raw keep-alive GET request with extra header lines."""
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", *headers, "", ""]
    return "\r\n".join(lines).encode("latin-1")


# --- httpx ---------------------------------------------------------------------------------


def test_password_flow(client: httpx.Client) -> None:
    """Log in with the form, then use the token: the tutorial's round trip."""
    response = client.post(
        "/token", data={"username": "alice", "password": "wonderland", "scope": "me items admin"}
    )
    assert response.status_code == 200
    assert response.json() == {
        "access_token": "alice.me.items",
        "token_type": "bearer",
        "scope": "me items",
    }
    auth = {"Authorization": f"Bearer {response.json()['access_token']}"}
    assert client.get("/users/me", headers=auth).json() == {
        "username": "alice",
        "scopes": ["me", "items"],
    }
    assert client.get("/items", headers=auth).json() == {"owner": "alice", "items": ["a", "b"]}


def test_password_flow_errors(client: httpx.Client) -> None:
    bad = client.post("/token", data={"username": "alice", "password": "nope"})
    assert (bad.status_code, bad.json()) == (400, {"detail": "Incorrect username or password"})
    missing = client.post("/token", data={"password": "nope"})
    assert missing.status_code == 422
    assert missing.json() == {
        "detail": [
            {"type": "missing", "loc": ["body", "username"], "msg": "Field required", "input": None}
        ]
    }


def test_missing_token_challenge(client: httpx.Client) -> None:
    response = client.get("/users/me")
    assert response.status_code == 401
    assert response.content == NOT_AUTHENTICATED
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"] == "application/json"
    assert response.headers["content-length"] == str(len(NOT_AUTHENTICATED))


def test_scope_challenge(client: httpx.Client) -> None:
    """A token without a required scope: the challenge names all the required scopes."""
    response = client.get("/items", headers={"Authorization": "Bearer bob.me"})
    assert response.status_code == 401
    assert response.json() == {"detail": "Not enough permissions"}
    assert response.headers["www-authenticate"] == 'Bearer scope="items me"'
    unknown = client.get("/users/me", headers={"Authorization": "Bearer mallory.me"})
    assert (unknown.status_code, unknown.json()) == (
        401,
        {"detail": "Could not validate credentials"},
    )
    assert unknown.headers["www-authenticate"] == 'Bearer scope="me"'


def test_basic_with_httpx_auth(client: httpx.Client) -> None:
    assert client.get("/basic", auth=("alice", "wonderland")).json() == {"username": "alice"}
    wrong = client.get("/basic", auth=("alice", "oops"))
    assert wrong.status_code == 401
    assert wrong.json() == {"detail": "Incorrect username or password"}
    assert wrong.headers["www-authenticate"] == 'Basic realm="aster"'


def test_forbidden_override(client: httpx.Client) -> None:
    response = client.get("/forbidden")
    assert (response.status_code, response.content) == (403, NOT_AUTHENTICATED)
    assert "www-authenticate" not in response.headers
    good = client.get("/forbidden", headers={"Authorization": "Bearer x"})
    assert good.json() == {"token": "x"}


def test_header_api_key(client: httpx.Client) -> None:
    assert client.get("/header-key", headers={"x-api-key": "k"}).json() == {"key": "k"}
    missing = client.get("/header-key")
    assert (missing.status_code, missing.content) == (401, NOT_AUTHENTICATED)
    assert missing.headers["www-authenticate"] == "APIKey"


# --- curl ----------------------------------------------------------------------------------


@needs_curl
def test_curl_basic_user(server: Running) -> None:
    """``curl -u`` builds the Basic header; a wrong password gets the realm challenge."""
    status, headers, body = curl("-u", "alice:wonderland", f"{server.url}/basic")
    assert (status, json.loads(body)) == (200, {"username": "alice"})
    status, headers, body = curl("-u", "alice:wrong", f"{server.url}/basic")
    assert status == 401
    assert headers["www-authenticate"] == 'Basic realm="aster"'
    assert json.loads(body) == {"detail": "Incorrect username or password"}
    status, headers, body = curl(f"{server.url}/basic")
    assert (status, body) == (401, NOT_AUTHENTICATED)
    assert headers["www-authenticate"] == 'Basic realm="aster"'


@needs_curl
def test_curl_bearer_header(server: Running) -> None:
    status, _, body = curl("-H", "Authorization: Bearer abc.def", f"{server.url}/bearer")
    assert (status, json.loads(body)) == (200, {"scheme": "Bearer", "credentials": "abc.def"})
    status, headers, body = curl("-H", "Authorization: Basic abc", f"{server.url}/bearer")
    assert (status, body) == (401, NOT_AUTHENTICATED)
    assert headers["www-authenticate"] == "Bearer"


@needs_curl
def test_curl_oauth2_bearer_option(server: Running) -> None:
    """``curl --oauth2-bearer`` sends ``Authorization: Bearer <token>``."""
    status, _, body = curl("--oauth2-bearer", "bob.me", f"{server.url}/users/me")
    assert (status, json.loads(body)) == (200, {"username": "bob", "scopes": ["me"]})


@needs_curl
def test_curl_token_form(server: Running) -> None:
    """A urlencoded form POST from curl logs in; the token then reads ``/users/me``."""
    status, headers, body = curl(
        "-d", "username=bob&password=builder&scope=me+items", f"{server.url}/token"
    )
    assert status == 200
    assert headers["content-type"] == "application/json"
    token = json.loads(body)
    assert token == {"access_token": "bob.me", "token_type": "bearer", "scope": "me"}
    status, _, body = curl(
        "-H", f"Authorization: Bearer {token['access_token']}", f"{server.url}/users/me"
    )
    assert (status, json.loads(body)) == (200, {"username": "bob", "scopes": ["me"]})


@needs_curl
def test_curl_token_form_missing_fields(server: Running) -> None:
    status, _, body = curl("-d", "grant_type=client_credentials", f"{server.url}/token")
    assert status == 422
    assert [(error["type"], error["loc"]) for error in json.loads(body)["detail"]] == [
        ("string_pattern_mismatch", ["body", "grant_type"]),
        ("missing", ["body", "username"]),
        ("missing", ["body", "password"]),
    ]


@needs_curl
def test_curl_cookie_api_key(server: Running) -> None:
    status, _, body = curl("-b", "session=s3cr3t", f"{server.url}/cookie")
    assert (status, json.loads(body)) == (200, {"session": "s3cr3t"})
    status, _, body = curl("-b", "other=1; session=two", f"{server.url}/cookie")
    assert json.loads(body) == {"session": "two"}
    status, headers, body = curl("-b", "other=1", f"{server.url}/cookie")
    assert (status, body) == (401, NOT_AUTHENTICATED)
    assert headers["www-authenticate"] == "APIKey"


# --- raw sockets: the wire and keep-alive --------------------------------------------------


def test_raw_401_response(server: Running) -> None:
    """The exact head of a 401: the challenge is sent, the connection stays open."""
    with RawConnection(server.port) as conn:
        conn.send(get("/users/me"))
        response = conn.read_response()
        assert (response.status, response.reason) == (401, "Unauthorized")
        assert response.header("www-authenticate") == "Bearer"
        assert response.header("content-length") == str(len(NOT_AUTHENTICATED))
        assert response.header("connection") is None
        assert response.body == NOT_AUTHENTICATED
        assert not conn.is_closed(timeout=0.5)


def test_keep_alive_after_401(server: Running) -> None:
    """After a 401 the same connection serves the retry with credentials (what clients do)."""
    basic = base64.b64encode(b"alice:wonderland").decode()
    with RawConnection(server.port) as conn:
        conn.send(get("/basic"))
        first = conn.read_response()
        assert first.status == 401
        assert first.header("www-authenticate") == 'Basic realm="aster"'
        conn.send(get("/basic", f"Authorization: Basic {basic}"))
        second = conn.read_response()
        assert (second.status, second.body) == (200, b'{"username":"alice"}')
        conn.send(get("/basic", "Authorization: Basic !!!"))
        third = conn.read_response()
        assert (third.status, third.body) == (401, NOT_AUTHENTICATED)
        conn.send(get("/forbidden"))
        assert conn.read_response().status == 403
        conn.send(get("/users/me", "Authorization: Bearer alice.me"))
        last = conn.read_response()
        assert (last.status, json.loads(last.body)) == (
            200,
            {"username": "alice", "scopes": ["me"]},
        )


def test_pipelined_401_then_200(server: Running) -> None:
    """Pipelined requests: the 401 does not disturb the framing of the next response."""
    with RawConnection(server.port) as conn:
        conn.send(get("/cookie") + get("/cookie", "Cookie: session=abc") + get("/header-key"))
        statuses = [conn.read_response() for _ in range(3)]
        assert [r.status for r in statuses] == [401, 200, 401]
        assert statuses[1].body == b'{"session":"abc"}'
        assert [r.header("www-authenticate") for r in statuses] == ["APIKey", None, "APIKey"]


def test_keep_alive_after_401_with_unread_body(server: Running) -> None:
    """The endpoint never reads the body of a refused POST; the server must skip it so the
    next request on the connection is parsed from the right place."""
    body = b"x" * 5000
    with RawConnection(server.port) as conn:
        conn.send(
            b"POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        refused = conn.read_response("POST")
        assert (refused.status, refused.body) == (401, NOT_AUTHENTICATED)
        conn.send(
            b"POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer t\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
        )
        accepted = conn.read_response("POST")
        assert (accepted.status, accepted.body) == (200, b'{"size":3}')


def test_401_before_the_body_arrives(server: Running) -> None:
    """A refusal needs no body, so it comes before the client has sent it all; the rest of
    the body is then skipped and the connection serves the next request."""
    size = 200_000
    with RawConnection(server.port) as conn:
        conn.send(b"POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n" % size)
        conn.send(b"y" * 1000)
        refused = conn.read_response("POST")
        assert (refused.status, refused.header("www-authenticate")) == (401, "Bearer")
        conn.send(b"y" * (size - 1000))
        conn.send(get("/bearer", "Authorization: Bearer after"))
        after = conn.read_response()
        assert (after.status, json.loads(after.body)) == (
            200,
            {"scheme": "Bearer", "credentials": "after"},
        )


def test_latin1_token_bytes(server: Running) -> None:
    """Header bytes are latin-1 (as in Starlette), so a non-ASCII token survives the trip."""
    with RawConnection(server.port) as conn:
        conn.send(get("/bearer", "Authorization: Bearer t\xf6k"))
        response = conn.read_response()
        assert response.status == 200
        assert json.loads(response.body) == {"scheme": "Bearer", "credentials": "t\u00f6k"}


def test_case_insensitive_scheme_and_header_name(server: Running) -> None:
    with RawConnection(server.port) as conn:
        conn.send(get("/users/me", "AUTHORIZATION: bearer bob.me"))
        response = conn.read_response()
        assert json.loads(response.body) == {"username": "bob", "scopes": ["me"]}
        conn.send(get("/header-key", "X-API-KEY: k"))
        assert json.loads(conn.read_response().body) == {"key": "k"}
