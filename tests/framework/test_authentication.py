"""``AuthenticationMiddleware`` and ``@requires`` (``aster.authentication``), Starlette 1.10's.

Over a real server (curl -u, a real WebSocket handshake): tests/test_starlette_server.py.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from typing import Any
from urllib.parse import quote

import pytest

from aster import FastAPI
from aster.applications import Starlette
from aster.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    BaseUser,
    SimpleUser,
    UnauthenticatedUser,
    has_required_scope,
    requires,
)
from aster.endpoints import HTTPEndpoint
from aster.middleware import Middleware
from aster.middleware.authentication import AuthenticationMiddleware
from aster.requests import HTTPConnection, Request
from aster.responses import JSONResponse, PlainTextResponse, Response
from aster.routing import Route, WebSocketRoute
from aster.testclient import TestClient
from aster.websockets import WebSocket, WebSocketDisconnect

ALICE = ("alice", "secret")


class BasicAuth(AuthenticationBackend):
    """``Authorization: Basic``; user ``admin`` also gets the ``admin`` scope."""

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        if "authorization" not in conn.headers:
            return None
        try:
            scheme, encoded = conn.headers["authorization"].split()
            decoded = base64.b64decode(encoded, validate=True).decode("ascii")
            username, _, _ = decoded.partition(":")
        except (ValueError, UnicodeDecodeError, binascii.Error):
            raise AuthenticationError("Invalid basic auth credentials") from None
        scopes = ["authenticated", "admin"] if username == "admin" else ["authenticated"]
        return AuthCredentials(scopes), SimpleUser(username)


def whoami(request: Request) -> JSONResponse:
    user = request.user
    return JSONResponse(
        {
            "authenticated": user.is_authenticated,
            "name": user.display_name,
            "identity": user.identity,
            "scopes": request.auth.scopes,
        }
    )


@requires("authenticated")
async def dashboard(request: Request) -> PlainTextResponse:
    return PlainTextResponse(f"dashboard of {request.user.display_name}")


@requires("authenticated")
def dashboard_sync(request: Request) -> PlainTextResponse:
    return PlainTextResponse(f"sync dashboard of {request.user.display_name}")


@requires(["authenticated", "admin"], status_code=404)
async def hidden(request: Request) -> PlainTextResponse:
    return PlainTextResponse("admin area")


@requires("authenticated", redirect="whoami")
async def account(request: Request) -> PlainTextResponse:
    return PlainTextResponse("account")


@requires("authenticated", redirect="whoami")
def account_sync(request: Request) -> PlainTextResponse:
    return PlainTextResponse("sync account")


class Profile(HTTPEndpoint):
    @requires("authenticated")
    async def get(self, request: Request) -> PlainTextResponse:
        return PlainTextResponse(f"profile of {request.user.display_name}")


@requires("authenticated")
async def ws_feed(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json({"user": websocket.user.display_name})
    await websocket.close()


def with_keyword_request(endpoint: Any) -> Any:
    """A decorator that passes the request by keyword, with an extra argument."""

    async def app(request: Request) -> Response:
        return await endpoint(request=request, extra="payload")  # type: ignore[no-any-return]

    return app


@with_keyword_request
@requires("authenticated")
async def keyword(request: Request, extra: str) -> PlainTextResponse:
    return PlainTextResponse(f"{request.user.display_name} {extra}")


ROUTES = [
    Route("/", whoami, name="whoami"),
    Route("/dashboard", dashboard),
    Route("/dashboard/sync", dashboard_sync),
    Route("/hidden", hidden),
    Route("/account", account),
    Route("/account/sync", account_sync),
    Route("/profile", Profile),
    Route("/keyword", keyword),
    WebSocketRoute("/ws", ws_feed),
]


@pytest.fixture
def client() -> TestClient:
    app = Starlette(routes=ROUTES, middleware=[Middleware(AuthenticationMiddleware, BasicAuth())])
    return TestClient(app)


def test_anonymous_and_authenticated_users(client: TestClient) -> None:
    assert client.get("/").json() == {
        "authenticated": False,
        "name": "",
        "identity": "",
        "scopes": [],
    }
    assert client.get("/", auth=ALICE).json() == {
        "authenticated": True,
        "name": "alice",
        "identity": "alice",
        "scopes": ["authenticated"],
    }


@pytest.mark.parametrize("path", ["/dashboard", "/dashboard/sync", "/profile", "/keyword"])
def test_requires_answers_403_without_the_scope(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 403
    assert response.text == "Forbidden"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/dashboard", "dashboard of alice"),
        ("/dashboard/sync", "sync dashboard of alice"),
        ("/profile", "profile of alice"),
        ("/keyword", "alice payload"),
    ],
)
def test_requires_lets_the_scope_through(client: TestClient, path: str, body: str) -> None:
    response = client.get(path, auth=ALICE)
    assert (response.status_code, response.text) == (200, body)


def test_status_code_and_several_scopes(client: TestClient) -> None:
    assert client.get("/hidden", auth=ALICE).status_code == 404
    response = client.get("/hidden", auth=("admin", "x"))
    assert (response.status_code, response.text) == (200, "admin area")


@pytest.mark.parametrize("path", ["/account", "/account/sync"])
def test_redirect_carries_the_original_url(client: TestClient, path: str) -> None:
    response = client.get(f"{path}?tab=1", follow_redirects=False)
    assert response.status_code == 303
    original = quote(f"http://testserver{path}?tab=1", safe="")
    assert response.headers["location"] == f"http://testserver/?next={original}"
    assert client.get(path, auth=ALICE).status_code == 200


def test_invalid_credentials_get_400_from_the_default_on_error(client: TestClient) -> None:
    response = client.get("/", headers={"Authorization": "Basic !!!"})
    assert response.status_code == 400
    assert response.text == "Invalid basic auth credentials"


def test_custom_on_error() -> None:
    def on_error(conn: HTTPConnection, exc: AuthenticationError) -> JSONResponse:
        return JSONResponse({"error": str(exc), "path": conn.url.path}, status_code=401)

    middleware = Middleware(AuthenticationMiddleware, backend=BasicAuth(), on_error=on_error)
    client = TestClient(Starlette(routes=ROUTES, middleware=[middleware]))
    response = client.get("/dashboard", headers={"Authorization": "Basic !!!"})
    assert response.status_code == 401
    assert response.json() == {"error": "Invalid basic auth credentials", "path": "/dashboard"}


def test_websocket_requires(client: TestClient) -> None:
    with pytest.raises(WebSocketDisconnect) as refused:
        with client.websocket_connect("/ws"):
            pass  # pragma: no cover
    assert refused.value.code == 1000
    with client.websocket_connect("/ws", auth=ALICE) as websocket:
        assert websocket.receive_json() == {"user": "alice"}


def test_websocket_with_invalid_credentials_is_closed(client: TestClient) -> None:
    with pytest.raises(WebSocketDisconnect) as refused:
        with client.websocket_connect("/ws", headers={"Authorization": "Basic !!!"}):
            pass  # pragma: no cover
    assert refused.value.code == 1000


def test_works_in_a_fastapi_app() -> None:
    app = FastAPI()
    app.add_middleware(AuthenticationMiddleware, backend=BasicAuth())

    @app.get("/me")
    @requires("authenticated")
    async def me(request: Request) -> dict[str, str]:
        return {"user": request.user.display_name}

    client = TestClient(app)
    assert client.get("/me").json() == {"detail": "Forbidden"}
    assert client.get("/me", auth=ALICE).json() == {"user": "alice"}


def test_user_and_auth_without_the_middleware_explain_themselves() -> None:
    request = Request({"type": "http", "headers": []})
    with pytest.raises(AssertionError, match="^AuthenticationMiddleware must be installed to "):
        request.user  # noqa: B018
    with pytest.raises(AssertionError, match="to access request.auth$"):
        request.auth  # noqa: B018


def test_requires_needs_a_request_or_websocket_parameter() -> None:
    with pytest.raises(Exception, match='No "request" or "websocket" argument on function'):

        @requires("authenticated")
        def no_connection(item: int) -> None:  # pragma: no cover
            pass


def test_requires_checks_the_type_of_the_connection() -> None:
    @requires("authenticated")
    async def endpoint(request: Any) -> None:  # pragma: no cover
        pass

    with pytest.raises(AssertionError, match="required to be of type 'Request' not 'str'"):
        asyncio.run(endpoint("not a request"))


def test_has_required_scope_and_user_classes() -> None:
    conn = HTTPConnection({"type": "http", "auth": AuthCredentials(["a", "b"])})
    assert has_required_scope(conn, ["a", "b"])
    assert has_required_scope(conn, [])
    assert not has_required_scope(conn, ["a", "c"])
    assert AuthCredentials().scopes == []
    anonymous = UnauthenticatedUser()
    assert (anonymous.is_authenticated, anonymous.display_name, anonymous.identity) == (
        False,
        "",
        "",
    )


def test_non_http_scopes_pass_through_untouched() -> None:
    seen: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope)

    asyncio.run(AuthenticationMiddleware(app, BasicAuth())({"type": "lifespan"}, None, None))  # type: ignore[arg-type]
    assert seen == [{"type": "lifespan"}]
