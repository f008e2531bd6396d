"""``SessionMiddleware`` (``aster.middleware.sessions``): signed cookie sessions, Starlette's.

Over a real server with curl's cookie jar and httpx: tests/test_starlette_server.py.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from typing import Any

import itsdangerous
import pytest

from aster import FastAPI
from aster.applications import Starlette
from aster.datastructures import Secret
from aster.middleware import Middleware
from aster.middleware.sessions import Session, SessionMiddleware
from aster.requests import Request
from aster.responses import JSONResponse
from aster.routing import Mount, Route
from aster.testclient import TestClient
from aster.websockets import WebSocket

EXPIRED = "expires=Thu, 01 Jan 1970 00:00:00 GMT"


def view(request: Request) -> JSONResponse:
    return JSONResponse({"session": request.session})


async def update(request: Request) -> JSONResponse:
    request.session.update(await request.json())
    return JSONResponse({"session": request.session})


async def merge(request: Request) -> JSONResponse:
    session = request.session
    session |= await request.json()
    return JSONResponse({"session": request.session})


async def clear(request: Request) -> JSONResponse:
    request.session.clear()
    return JSONResponse({"session": request.session})


def untouched(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


def session_app(**options: Any) -> Starlette:
    options.setdefault("secret_key", "example")
    return Starlette(
        routes=[
            Route("/view", view),
            Route("/update", update, methods=["POST"]),
            Route("/merge", merge, methods=["POST"]),
            Route("/clear", clear, methods=["POST"]),
            Route("/untouched", untouched),
        ],
        middleware=[Middleware(SessionMiddleware, **options)],
    )


def cookie_value(set_cookie: str, name: str = "session") -> str:
    match = re.match(rf"{name}=([^;]*); ", set_cookie)
    assert match is not None, set_cookie
    return match[1]


def test_round_trip_and_exact_cookie() -> None:
    client = TestClient(session_app())
    assert client.get("/view").json() == {"session": {}}

    response = client.post("/update", json={"user": "alice"})
    assert response.json() == {"session": {"user": "alice"}}
    set_cookie = response.headers["set-cookie"]
    value = cookie_value(set_cookie)
    assert set_cookie == f"session={value}; path=/; Max-Age=1209600; httponly; samesite=lax"
    # The value is base64 JSON signed with a timestamp: readable, not forgeable.
    payload = itsdangerous.TimestampSigner("example").unsign(value)
    assert json.loads(base64.b64decode(payload)) == {"user": "alice"}

    assert client.get("/view").json() == {"session": {"user": "alice"}}
    response = client.post("/merge", json={"theme": "dark"})
    assert response.json() == {"session": {"user": "alice", "theme": "dark"}}
    assert client.get("/view").json() == {"session": {"user": "alice", "theme": "dark"}}


def test_clearing_a_session_expires_the_cookie() -> None:
    client = TestClient(session_app())
    client.post("/update", json={"a": 1})
    response = client.post("/clear")
    assert response.json() == {"session": {}}
    assert response.headers["set-cookie"] == (
        f"session=null; path=/; {EXPIRED}; httponly; samesite=lax"
    )
    assert client.get("/view").json() == {"session": {}}


def test_clearing_an_empty_session_sets_no_cookie() -> None:
    response = TestClient(session_app()).post("/clear")
    assert "set-cookie" not in response.headers


def test_cookie_only_when_modified_and_vary_when_read() -> None:
    client = TestClient(session_app())
    written = client.post("/update", json={"a": 1})
    assert "set-cookie" in written.headers
    assert written.headers["vary"] == "Cookie"

    read = client.get("/view")
    assert "set-cookie" not in read.headers
    assert read.headers["vary"] == "Cookie"

    ignored = client.get("/untouched")
    assert "set-cookie" not in ignored.headers
    assert "vary" not in ignored.headers


@pytest.mark.parametrize("cookie", ["invalid", "e30=.AAAA.BBBB", ""])
def test_bad_cookie_means_an_empty_session(cookie: str) -> None:
    client = TestClient(session_app(), cookies={"session": cookie})
    response = client.get("/view")
    assert (response.status_code, response.json()) == (200, {"session": {}})


def test_cookie_signed_with_another_key_is_ignored() -> None:
    forged = itsdangerous.TimestampSigner("other").sign(base64.b64encode(b'{"admin": true}'))
    client = TestClient(session_app(), cookies={"session": forged.decode()})
    assert client.get("/view").json() == {"session": {}}


class _BackdatedSigner(itsdangerous.TimestampSigner):
    """Signs as if it were two minutes ago."""

    def get_timestamp(self) -> int:
        return super().get_timestamp() - 120


def test_expired_cookie_is_ignored() -> None:
    app = session_app(max_age=60)
    payload = base64.b64encode(b'{"a": 1}')
    fresh = itsdangerous.TimestampSigner("example").sign(payload).decode()
    stale = _BackdatedSigner("example").sign(payload).decode()
    assert TestClient(app, cookies={"session": fresh}).get("/view").json() == {"session": {"a": 1}}
    assert TestClient(app, cookies={"session": stale}).get("/view").json() == {"session": {}}
    # Without max_age, age is not checked.
    unlimited = session_app(max_age=None)
    assert TestClient(unlimited, cookies={"session": stale}).get("/view").json() == {
        "session": {"a": 1}
    }


def test_max_age_none_is_a_browser_session_cookie() -> None:
    response = TestClient(session_app(max_age=None)).post("/update", json={"a": 1})
    value = cookie_value(response.headers["set-cookie"])
    assert response.headers["set-cookie"] == f"session={value}; path=/; httponly; samesite=lax"


def test_cookie_attributes() -> None:
    app = session_app(
        secret_key=Secret("example"),
        session_cookie="sid",
        max_age=60,
        path="/app",
        same_site="strict",
        https_only=True,
        domain=".example.com",
        partitioned=True,
    )
    client = TestClient(app, base_url="https://testserver")
    response = client.post("/update", json={"a": 1})
    value = cookie_value(response.headers["set-cookie"], "sid")
    assert response.headers["set-cookie"] == (
        f"sid={value}; path=/app; Max-Age=60; httponly; samesite=strict; secure; "
        "domain=.example.com; partitioned"
    )
    # A Secret key signs exactly like its string.
    itsdangerous.TimestampSigner("example").unsign(value)
    client.cookies.set("sid", value)
    response = client.post("/clear")
    assert response.headers["set-cookie"] == (
        f"sid=null; path=/app; {EXPIRED}; httponly; samesite=strict; secure; "
        "domain=.example.com; partitioned"
    )


def test_https_only_cookie_is_not_sent_back_over_http() -> None:
    app = session_app(https_only=True)
    plain = TestClient(app, base_url="http://testserver")
    plain.post("/update", json={"a": 1})
    assert plain.get("/view").json() == {"session": {}}
    secure = TestClient(app, base_url="https://testserver")
    secure.post("/update", json={"a": 1})
    assert secure.get("/view").json() == {"session": {"a": 1}}


def test_session_below_a_mount_uses_its_path() -> None:
    inner = session_app(path="/inner")
    client = TestClient(Starlette(routes=[Mount("/inner", inner)]))
    response = client.post("/inner/update", json={"a": 1})
    assert "; path=/inner; " in response.headers["set-cookie"]
    assert client.get("/inner/view").json() == {"session": {"a": 1}}


def test_fastapi_app_and_websocket_see_the_session() -> None:
    app = FastAPI()
    app.add_middleware(SessionMiddleware, secret_key="example")

    @app.post("/login")
    async def login(request: Request) -> dict[str, str]:
        request.session["user"] = "alice"
        return {"ok": "yes"}

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_json(websocket.session)
        await websocket.close()

    client = TestClient(app)
    client.post("/login")
    with client.websocket_connect("/ws") as websocket:
        assert websocket.receive_json() == {"user": "alice"}


def test_request_session_without_the_middleware() -> None:
    request = Request({"type": "http", "headers": []})
    with pytest.raises(
        AssertionError, match="^SessionMiddleware must be installed to access request.session$"
    ):
        request.session  # noqa: B018


def test_session_tracks_reads_and_writes() -> None:
    assert not Session({"a": 1}).modified
    for change in (
        lambda s: s.__setitem__("b", 2),
        lambda s: s.__delitem__("a"),
        lambda s: s.clear(),
        lambda s: s.pop("a"),
        lambda s: s.popitem(),
        lambda s: s.setdefault("b", 2),
        lambda s: s.update(b=2),
        lambda s: s.__ior__({"b": 2}),
    ):
        session = Session({"a": 1})
        change(session)
        assert (session.modified, session.accessed) == (True, True)
    unchanged = Session({"a": 1})
    unchanged.pop("missing", None)
    unchanged.setdefault("a", 5)
    assert (unchanged.modified, unchanged.accessed) == (False, False)


def test_itsdangerous_is_imported_only_when_the_middleware_is_built() -> None:
    code = (
        "import sys, aster, aster.middleware.sessions as s\n"
        "assert 'itsdangerous' not in sys.modules\n"
        "s.SessionMiddleware(None, secret_key='k')\n"
        "assert 'itsdangerous' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
