"""The security helpers of ``aster.security`` answer exactly as ``fastapi.security`` 0.165 does.

Statuses, ``{"detail": "Not authenticated"}`` bodies and ``WWW-Authenticate`` challenges are
what FastAPI clients (and browsers, for ``Basic realm=``) rely on, so they are asserted
exactly.  The module also runs on the real FastAPI (see scripts/record_fastapi_expectations.py),
which is how the expectations were checked.

No ``from __future__ import annotations`` here: the endpoints built in ``_route()`` use
``Security(scheme)`` with a local ``scheme`` inside ``Annotated``, which a string annotation
could not resolve.
"""

import base64
from collections.abc import Iterator
from typing import Annotated, Any

import pytest

from aster import APIRouter, Depends, FastAPI, Request, Security, WebSocket, status
from aster.exceptions import HTTPException, StarletteHTTPException
from aster.responses import JSONResponse
from aster.security import (
    APIKeyCookie,
    APIKeyHeader,
    APIKeyQuery,
    HTTPAuthorizationCredentials,
    HTTPBasic,
    HTTPBasicCredentials,
    HTTPBearer,
    HTTPDigest,
    OAuth2,
    OAuth2AuthorizationCodeBearer,
    OAuth2PasswordBearer,
    OAuth2PasswordRequestForm,
    OAuth2PasswordRequestFormStrict,
    OpenIdConnect,
    SecurityScopes,
)
from aster.security.http import HTTPBase
from aster.security.utils import get_authorization_scheme_param
from aster.testclient import TestClient
from aster.websockets import WebSocketDisconnect

NOT_AUTHENTICATED = {"detail": "Not authenticated"}


def b64(text: str, encoding: str = "ascii") -> str:
    return base64.b64encode(text.encode(encoding)).decode("ascii")


# name: (factory, challenge).  Routes /<name> (required) and /<name>/optional (auto_error=False).
SCHEMES: dict[str, tuple[Any, str]] = {
    "password": (lambda **kw: OAuth2PasswordBearer(tokenUrl="token", **kw), "Bearer"),
    "code": (
        lambda **kw: OAuth2AuthorizationCodeBearer(authorizationUrl="a", tokenUrl="t", **kw),
        "Bearer",
    ),
    "oauth2": (lambda **kw: OAuth2(**kw), "Bearer"),
    "oidc": (lambda **kw: OpenIdConnect(openIdConnectUrl="/.well-known/oidc", **kw), "Bearer"),
    "basic": (lambda **kw: HTTPBasic(**kw), "Basic"),
    "basic-realm": (lambda **kw: HTTPBasic(realm="simple", **kw), 'Basic realm="simple"'),
    "bearer": (lambda **kw: HTTPBearer(**kw), "Bearer"),
    "digest": (lambda **kw: HTTPDigest(**kw), "Digest"),
    "other": (lambda **kw: HTTPBase(scheme="other", **kw), "Other"),
    "key-header": (lambda **kw: APIKeyHeader(name="X-Key", **kw), "APIKey"),
    "key-query": (lambda **kw: APIKeyQuery(name="key", **kw), "APIKey"),
    "key-cookie": (lambda **kw: APIKeyCookie(name="session", **kw), "APIKey"),
}
CHALLENGES = {name: challenge for name, (_, challenge) in SCHEMES.items()}

app = FastAPI()


def _route(target: FastAPI, path: str, scheme: Any) -> None:
    @target.get(path)
    def endpoint(credentials: Annotated[Any, Security(scheme)]):
        return {"credentials": credentials}


for _name, (_factory, _) in SCHEMES.items():
    _route(app, f"/{_name}", _factory())
    _route(app, f"/{_name}/optional", _factory(auto_error=False))


@app.post("/token")
def token(form: Annotated[OAuth2PasswordRequestForm, Depends()]):
    return vars(form)


@app.post("/token-strict")
def token_strict(form: Annotated[OAuth2PasswordRequestFormStrict, Depends()]):
    return vars(form)


client = TestClient(app)


# --- missing credentials -------------------------------------------------------------------


@pytest.mark.parametrize("name", list(CHALLENGES))
def test_missing_credentials(name: str) -> None:
    """A missing credential is a 401 with the scheme's challenge; with ``auto_error=False``
    the endpoint runs and gets ``None``."""
    response = client.get(f"/{name}")
    assert (response.status_code, response.json()) == (401, NOT_AUTHENTICATED)
    assert response.headers["www-authenticate"] == CHALLENGES[name]
    assert response.headers["content-type"] == "application/json"
    optional = client.get(f"/{name}/optional")
    assert (optional.status_code, optional.json()) == (200, {"credentials": None})
    assert "www-authenticate" not in optional.headers


# --- good credentials ----------------------------------------------------------------------


def creds(scheme: str, credentials: str) -> dict[str, str]:
    return {"scheme": scheme, "credentials": credentials}


def user(username: str, password: str) -> dict[str, str]:
    return {"username": username, "password": password}


GOOD: list[tuple[str, str, Any]] = [
    ("password", "Bearer tok", "tok"),
    ("password", "bearer tok", "tok"),
    ("password", "BEARER  a b ", "a b"),
    ("password", "Bearer", ""),  # the OAuth2 bearers check only the scheme
    ("code", "Bearer tok", "tok"),
    ("code", "Bearer", ""),
    ("oauth2", "Bearer tok", "Bearer tok"),
    ("oauth2", "Whatever", "Whatever"),
    ("oidc", "Bearer id.token", "Bearer id.token"),
    ("basic", f"Basic {b64('john:secret')}", user("john", "secret")),
    ("basic", f"basic  {b64('john:a:b:c')} ", user("john", "a:b:c")),
    ("basic", f"Basic {b64(':')}", user("", "")),
    ("basic", f"Basic {b64('john:secret')}!!", user("john", "secret")),  # lenient b64decode
    ("basic-realm", f"Basic {b64('john:secret')}", user("john", "secret")),
    ("bearer", "Bearer tok", creds("Bearer", "tok")),
    ("bearer", "bEaReR tok", creds("bEaReR", "tok")),
    ("digest", 'Digest username="j", nonce="x"', creds("Digest", 'username="j", nonce="x"')),
    ("other", "Token abc", creds("Token", "abc")),
]


@pytest.mark.parametrize(("name", "authorization", "expected"), GOOD)
def test_good_credentials(name: str, authorization: str, expected: Any) -> None:
    """The dependency result is the token / credentials model, as FastAPI builds it."""
    for path in (f"/{name}", f"/{name}/optional"):
        response = client.get(path, headers={"Authorization": authorization})
        assert response.status_code == 200, response.text
        assert response.json() == {"credentials": expected}


@pytest.mark.parametrize(
    ("url", "headers", "expected"),
    [
        ("/key-header", {"X-Key": "k1"}, "k1"),
        ("/key-header", {"x-key": "k1"}, "k1"),
        ("/key-header", [("X-Key", "first"), ("X-Key", "second")], "first"),
        ("/key-query?key=k2", {}, "k2"),
        ("/key-query?key=first&key=last", {}, "last"),
        ("/key-cookie", {"Cookie": "a=1; session=k3"}, "k3"),
        ("/key-cookie", {"Cookie": "session=first; session=last"}, "last"),
        ("/key-cookie", {"Cookie": 'session="a b"'}, "a b"),
    ],
)
def test_api_keys(url: str, headers: Any, expected: str) -> None:
    """The key is the raw value, found as Starlette finds headers, queries and cookies."""
    for suffix in ("", "/optional"):
        path, _, query = url.partition("?")
        response = client.get(f"{path}{suffix}?{query}", headers=headers)
        assert response.status_code == 200, response.text
        assert response.json() == {"credentials": expected}


# --- unusable credentials ------------------------------------------------------------------

WRONG: list[tuple[str, str]] = [
    ("password", "Basic abc"),
    ("password", "Bearertok"),
    ("code", "Token abc"),
    ("bearer", "Basic abc"),
    ("bearer", "Bearer"),
    ("bearer", "tok"),
    ("digest", "Basic abc"),
    ("digest", "Digest"),
    ("other", "Other"),
    ("basic", "Bearer abc"),
    ("basic-realm", "Digest abc"),
]


@pytest.mark.parametrize(("name", "authorization"), WRONG)
def test_wrong_scheme_or_no_credentials(name: str, authorization: str) -> None:
    """A header of the wrong scheme, or without credentials, is treated as missing."""
    response = client.get(f"/{name}", headers={"Authorization": authorization})
    assert (response.status_code, response.json()) == (401, NOT_AUTHENTICATED)
    assert response.headers["www-authenticate"] == CHALLENGES[name]
    optional = client.get(f"/{name}/optional", headers={"Authorization": authorization})
    assert (optional.status_code, optional.json()) == (200, {"credentials": None})


BAD_BASIC = [
    pytest.param("Basic !!!not-base64", id="bad-base64"),
    pytest.param("Basic abc", id="bad-padding"),
    pytest.param(f"Basic {b64('johnsecret')}", id="no-colon"),
    pytest.param(f"Basic {b64('jöhn:secret', 'utf-8')}", id="not-ascii"),
    pytest.param("Basic", id="empty"),
]


@pytest.mark.parametrize("authorization", BAD_BASIC)
@pytest.mark.parametrize("name", ["basic", "basic-realm"])
def test_basic_undecodable_credentials(name: str, authorization: str) -> None:
    """Basic credentials that cannot be decoded are a 401, even with ``auto_error=False``."""
    for path in (f"/{name}", f"/{name}/optional"):
        response = client.get(path, headers={"Authorization": authorization})
        assert (response.status_code, response.json()) == (401, NOT_AUTHENTICATED)
        assert response.headers["www-authenticate"] == CHALLENGES[name]


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("key-header", {"headers": {"X-Key": ""}}),
        ("key-query", {"params": {"key": ""}}),
        ("key-query", {"params": {"other": "k"}}),
        ("key-cookie", {"headers": {"Cookie": "session="}}),
        ("key-cookie", {"headers": {"Cookie": "other=k"}}),
    ],
)
def test_api_key_empty_or_elsewhere(name: str, kwargs: dict[str, Any]) -> None:
    """An empty API key, or one under another name, is missing."""
    response = client.get(f"/{name}", **kwargs)
    assert (response.status_code, response.json()) == (401, NOT_AUTHENTICATED)
    assert response.headers["www-authenticate"] == "APIKey"
    assert client.get(f"/{name}/optional", **kwargs).json() == {"credentials": None}


def test_get_authorization_scheme_param() -> None:
    assert get_authorization_scheme_param(None) == ("", "")
    assert get_authorization_scheme_param("") == ("", "")
    assert get_authorization_scheme_param("Bearer") == ("Bearer", "")
    assert get_authorization_scheme_param("Bearer  abc  ") == ("Bearer", "abc")
    assert get_authorization_scheme_param("Digest a=1, b=2") == ("Digest", "a=1, b=2")


def test_scheme_models_and_names() -> None:
    """``scheme_name`` defaults to the class name; ``model`` is the OpenAPI scheme."""
    assert HTTPBasic().scheme_name == "HTTPBasic"
    assert HTTPBearer(scheme_name="jwt").scheme_name == "jwt"
    dumped = APIKeyCookie(name="session").model.model_dump(mode="json", by_alias=True)
    expected = {"type": "apiKey", "in": "cookie", "name": "session"}
    assert {k: v for k, v in dumped.items() if v is not None} == expected
    flows = OAuth2PasswordBearer(tokenUrl="token", scopes={"me": "Read me"}).model.flows
    assert flows.password is not None
    assert (flows.password.tokenUrl, flows.password.scopes) == ("token", {"me": "Read me"})
    assert HTTPBasicCredentials(username="a", password="b").model_dump() == user("a", "b")
    assert HTTPAuthorizationCredentials(scheme="Bearer", credentials="x").credentials == "x"


# --- the password-flow form ----------------------------------------------------------------


J, S = {"username": "j", "password": "s"}, {"username": "j"}
CC = {"grant_type": "client_credentials"}
ALL = {"grant_type": "password", "scope": "me  items:read\tadmin ", "client_id": "c"}


@pytest.mark.parametrize(
    ("path", "data", "expected"),
    [
        ("/token", J, {}),
        ("/token", {**J, **ALL, "client_secret": "cs"}, {**ALL, "client_secret": "cs"}),
        ("/token", {**J, "username": ["a", "b"]}, {"username": "b"}),  # the last value wins
        ("/token-strict", {**J, "grant_type": "password"}, {"grant_type": "password"}),
    ],
)
def test_password_form(path: str, data: dict[str, Any], expected: dict[str, Any]) -> None:
    """The form's fields, with ``scope`` split on whitespace into ``scopes``."""
    result = {"grant_type": None, **J, "scope": "", "client_id": None, "client_secret": None}
    result.update(expected)
    result["scopes"] = result.pop("scope").split()
    for kwargs in ({"data": data}, {"data": data, "files": {"f": ("f", b"1")}}):
        response = client.post(path, **kwargs)  # urlencoded, then multipart
        assert response.status_code == 200
        assert response.json() == result


def _missing(field: str) -> dict[str, Any]:
    return {"type": "missing", "loc": ["body", field], "msg": "Field required", "input": None}


PATTERN_MISMATCH = {
    "type": "string_pattern_mismatch",
    "loc": ["body", "grant_type"],
    "msg": "String should match pattern '^password$'",
    "input": "client_credentials",
    "ctx": {"pattern": "^password$"},
}
NO_USER = [_missing("username"), _missing("password")]


@pytest.mark.parametrize(
    ("path", "kwargs", "errors"),
    [
        ("/token", {"data": {"password": "s"}}, [_missing("username")]),
        ("/token", {"data": S}, [_missing("password")]),
        ("/token", {}, NO_USER),
        ("/token", {"data": {"username": "", "password": ""}}, NO_USER),
        ("/token", {"json": J}, NO_USER),
        ("/token", {"data": {**CC, **J}}, [PATTERN_MISMATCH]),
        ("/token-strict", {"data": J}, [_missing("grant_type")]),
        ("/token-strict", {"data": {**CC, **J}}, [PATTERN_MISMATCH]),
        ("/token-strict", {"data": CC}, [PATTERN_MISMATCH, *NO_USER]),
    ],
)
def test_password_form_validation(path: str, kwargs: dict[str, Any], errors: list[Any]) -> None:
    """Missing fields and a wrong ``grant_type`` are FastAPI's 422 validation errors."""
    response = client.post(path, **kwargs)
    assert response.status_code == 422
    assert response.json() == {"detail": errors}


# --- Security() scopes and SecurityScopes --------------------------------------------------


def _scopes_app() -> tuple[FastAPI, dict[str, list[Any]]]:
    """An app whose dependencies record the scopes they are called with."""
    calls: dict[str, list[Any]] = {"scheme": [], "user": [], "db": [], "check": []}

    def check(scopes: SecurityScopes) -> list[str]:
        calls["check"].append(scopes.scopes)
        return scopes.scopes

    scopes_app = FastAPI(dependencies=[Security(check, scopes=["app"])])

    class RecordingBearer(OAuth2PasswordBearer):
        async def __call__(self, request: Request) -> str | None:
            calls["scheme"].append(request.url.path)
            return await super().__call__(request)

    scheme = RecordingBearer(tokenUrl="token", scopes={"me": "", "items": "", "admin": ""})

    def get_db() -> str:
        calls["db"].append(1)
        return "db"

    def get_user(
        security_scopes: SecurityScopes,
        token: Annotated[str, Depends(scheme)],
        db: Annotated[str, Depends(get_db)],
    ) -> dict[str, Any]:
        calls["user"].append(security_scopes.scopes)
        if token == "bad":
            challenge = {"WWW-Authenticate": f'Bearer scope="{security_scopes.scope_str}"'}
            raise HTTPException(401, "Could not validate credentials", headers=challenge)
        return {"token": token, "scopes": security_scopes.scopes, "str": security_scopes.scope_str}

    def active_user(user: Annotated[dict[str, Any], Security(get_user, scopes=["me"])]) -> Any:
        return user

    def gen_check(scopes: SecurityScopes) -> Iterator[list[str]]:
        yield scopes.scopes

    def nested(
        value: Annotated[Any, Security(gen_check, scopes=["b", "a"])], scopes: SecurityScopes
    ) -> Any:
        return [value, scopes.scopes]

    def middle(value: Annotated[Any, Security(nested, scopes=["a", "a"])]) -> Any:
        return value

    class Checked:
        def __init__(self, security_scopes: SecurityScopes, token: Annotated[str, Depends(scheme)]):
            self.scopes, self.token = security_scopes.scopes, token

    @scopes_app.get("/me")
    def me(user: Annotated[dict[str, Any], Security(active_user)]):
        return user

    @scopes_app.get("/items")
    def items(user: Annotated[dict[str, Any], Security(active_user, scopes=["items"])]):
        return user

    @scopes_app.get("/both")
    def both(
        a: Annotated[dict[str, Any], Security(get_user, scopes=["me"])],
        b: Annotated[dict[str, Any], Security(get_user, scopes=["items"])],
        c: Annotated[dict[str, Any], Security(get_user, scopes=["me"])],
        d: Annotated[dict[str, Any], Depends(get_user, use_cache=False)],
    ):
        return [a["scopes"], b["scopes"], c["scopes"], d["scopes"]]

    @scopes_app.get("/order")
    def order(
        a: Annotated[list[str], Security(check, scopes=["x", "y"])],
        b: Annotated[list[str], Security(check, scopes=["y", "x"])],
    ):
        return [a, b]

    @scopes_app.get("/dup")
    def dup(a: Annotated[list[str], Security(check, scopes=["x", "y", "x"])]):
        return a

    @scopes_app.get("/deep")
    def deep(value: Annotated[Any, Security(middle, scopes=["a"])], scopes: SecurityScopes):
        return [value, scopes.scopes]

    @scopes_app.get("/class")
    def by_class(value: Annotated[Checked, Security(scopes=["s"])]):
        return [value.scopes, value.token]

    router = APIRouter(dependencies=[Security(check, scopes=["router"])])

    @router.get("/routed", dependencies=[Security(check, scopes=["route"])])
    def routed(value: Annotated[list[str], Security(check, scopes=["param"])]):
        return value

    scopes_app.include_router(router, dependencies=[Security(check, scopes=["include"])])
    return scopes_app, calls


def test_security_scopes_accumulate_down_the_chain() -> None:
    """Each dependency sees the scopes of every ``Security()`` above it, outermost first."""
    scopes_app, calls = _scopes_app()
    local, auth = TestClient(scopes_app), {"Authorization": "Bearer t"}
    me = {"token": "t", "scopes": ["me"], "str": "me"}
    assert local.get("/me", headers=auth).json() == me
    items = {"token": "t", "scopes": ["items", "me"], "str": "items me"}
    assert local.get("/items", headers=auth).json() == items
    assert calls["user"] == [["me"], ["items", "me"]]


def test_security_scopes_in_error_challenge() -> None:
    """The tutorial pattern: an invalid token gets ``Bearer scope="..."`` with all scopes."""
    scopes_app, _ = _scopes_app()
    response = TestClient(scopes_app).get("/items", headers={"Authorization": "Bearer bad"})
    assert (response.status_code, response.json()) == (
        401,
        {"detail": "Could not validate credentials"},
    )
    assert response.headers["www-authenticate"] == 'Bearer scope="items me"'
    missing = TestClient(scopes_app).get("/items")
    assert (missing.status_code, missing.json()) == (401, NOT_AUTHENTICATED)
    assert missing.headers["www-authenticate"] == "Bearer"


def test_security_scopes_cache_per_scope_set() -> None:
    """Results are cached per request and per set of scopes; scope-free dependencies once."""
    scopes_app, calls = _scopes_app()
    response = TestClient(scopes_app).get("/both", headers={"Authorization": "Bearer t"})
    assert response.json() == [["me"], ["items"], ["me"], []]
    # get_user ran for {me}, {items}, and uncached with no scopes; the scheme (a security
    # scheme, so scope-dependent) once per scope set; get_db (scope-free) once.
    assert calls["user"] == [["me"], ["items"], []]
    assert calls["scheme"] == ["/both", "/both", "/both"]
    assert calls["db"] == [1]


def test_security_scopes_cache_key_ignores_order() -> None:
    """The same scopes in another order share the cached result (FastAPI sorts the set)."""
    scopes_app, calls = _scopes_app()
    local = TestClient(scopes_app)
    assert local.get("/order").json() == [["x", "y"], ["x", "y"]]
    assert calls["check"] == [["app"], ["x", "y"]]
    assert local.get("/dup").json() == ["x", "y"]


def test_security_scopes_on_app_router_and_route_dependencies() -> None:
    """App, include, router and path-operation dependencies get only their own scopes."""
    scopes_app, calls = _scopes_app()
    assert TestClient(scopes_app).get("/routed").json() == ["param"]
    assert sorted(calls["check"]) == [["app"], ["include"], ["param"], ["route"], ["router"]]


def test_security_scopes_nested_class_and_generator() -> None:
    """Scopes reach generator and class dependencies; duplicates are kept as FastAPI does."""
    local = TestClient(_scopes_app()[0])
    # A dependency's own scopes are deduplicated against its parents', but FastAPI passes
    # parent + own down as is: nested sees [a], yet hands [a, a, a] to gen_check.
    assert local.get("/deep").json() == [[["a", "a", "a", "b"], ["a"]], []]
    response = local.get("/class", headers={"Authorization": "Bearer k"})
    assert response.json() == [["s"], "k"]
    assert local.get("/class").status_code == 401


def test_security_scopes_siblings_do_not_leak() -> None:
    """Scopes go down to sub-dependencies, never sideways to siblings."""

    async def first(scopes: SecurityScopes) -> list[str]:
        return scopes.scopes

    async def second(scopes: SecurityScopes) -> list[str]:
        return scopes.scopes

    async def parent(
        a: Annotated[list[str], Security(first, scopes=["one"])],
        b: Annotated[list[str], Security(second, scopes=["two"])],
        c: Annotated[list[str], Depends(second)],
    ) -> dict[str, list[str]]:
        return {"a": a, "b": b, "c": c}

    local_app = FastAPI()

    @local_app.get("/")
    def endpoint(value: Annotated[dict[str, list[str]], Security(parent, scopes=["top"])]):
        return value

    assert TestClient(local_app).get("/").json() == {
        "a": ["top", "one"],
        "b": ["top", "two"],
        "c": ["top"],
    }


def test_security_scopes_default_and_override() -> None:
    """``SecurityScopes()`` is empty; a dependency override receives the original scopes."""
    assert (SecurityScopes().scopes, SecurityScopes().scope_str) == ([], "")
    assert SecurityScopes(["a", "b"]).scope_str == "a b"

    def real(scopes: SecurityScopes) -> str:
        return "real"

    def fake(scopes: SecurityScopes) -> list[str]:
        return scopes.scopes

    local_app = FastAPI()

    @local_app.get("/")
    def endpoint(value: Annotated[Any, Security(real, scopes=["a", "b"])]):
        return value

    local_app.dependency_overrides[real] = fake
    assert TestClient(local_app).get("/").json() == ["a", "b"]


# --- 401 vs 403 and error handling ---------------------------------------------------------


class HTTPBearer403(HTTPBearer):
    """The docs' ``authentication_error_status_code`` tutorial: FastAPI < 0.122's 403."""

    def make_not_authenticated_error(self) -> HTTPException:
        return HTTPException(status_code=status.HTTP_403_FORBIDDEN, detail="Not authenticated")


class APIKey403(APIKeyHeader):
    def make_not_authenticated_error(self) -> StarletteHTTPException:
        return StarletteHTTPException(status_code=403, detail="Missing API key")


class BasicChallenge(HTTPBasic):
    def make_authenticate_headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Basic realm="api", charset="UTF-8"'}


errors_app = FastAPI()
_route(errors_app, "/me", HTTPBearer403())
_route(errors_app, "/key", APIKey403(name="X-Key"))
_route(errors_app, "/basic", BasicChallenge())
_route(errors_app, "/optional403", HTTPBearer403(auto_error=False))
errors_client = TestClient(errors_app)


def test_tutorial_403_override() -> None:
    """Overriding ``make_not_authenticated_error`` restores the old 403 (no challenge)."""
    response = errors_client.get("/me")
    assert response.status_code == 403
    assert response.json() == NOT_AUTHENTICATED
    assert "www-authenticate" not in response.headers
    wrong = errors_client.get("/me", headers={"Authorization": "Basic abc"})
    assert (wrong.status_code, wrong.json()) == (403, NOT_AUTHENTICATED)
    good = errors_client.get("/me", headers={"Authorization": "Bearer secret"})
    assert good.json() == {"credentials": creds("Bearer", "secret")}
    assert errors_client.get("/optional403").json() == {"credentials": None}


def test_api_key_403_override() -> None:
    response = errors_client.get("/key")
    assert (response.status_code, response.json()) == (403, {"detail": "Missing API key"})
    assert errors_client.get("/key", headers={"X-Key": "k"}).json() == {"credentials": "k"}


def test_custom_authenticate_headers() -> None:
    """``make_authenticate_headers`` feeds both the missing and the undecodable 401."""
    for headers in ({}, {"Authorization": "Basic %%%"}):
        response = errors_client.get("/basic", headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == 'Basic realm="api", charset="UTF-8"'


def test_exception_classes_reach_the_right_handlers() -> None:
    """HTTP and OAuth2 schemes raise FastAPI's ``HTTPException``; API keys and OpenID Connect
    raise Starlette's, so a handler for FastAPI's class does not see them (as in FastAPI)."""
    local_app = FastAPI()

    @local_app.exception_handler(HTTPException)
    async def handler(request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"handled": exc.detail}, status_code=exc.status_code)

    for name in ("bearer", "password", "key-header", "oidc"):
        _route(local_app, f"/{name}", SCHEMES[name][0]())
    local = TestClient(local_app)
    assert local.get("/bearer").json() == {"handled": "Not authenticated"}
    assert local.get("/password").json() == {"handled": "Not authenticated"}
    assert local.get("/key-header").json() == NOT_AUTHENTICATED
    assert local.get("/oidc").json() == NOT_AUTHENTICATED


def test_authentication_before_validation() -> None:
    """Dependencies run before the endpoint's own parameters are checked, so a missing token
    beats invalid query or body fields; only unparsable JSON, read first, beats it."""
    local_app = FastAPI()
    scheme = OAuth2PasswordBearer(tokenUrl="token")

    def needs_q(q: int) -> int:
        return q

    @local_app.get("/query")
    def query(a: Annotated[int, Depends(needs_q)], t: Annotated[str, Depends(scheme)], z: int):
        return a

    @local_app.post("/body")
    def body(item: HTTPBasicCredentials, t: Annotated[str, Depends(scheme)]):
        return item

    local = TestClient(local_app)
    for response in (local.get("/query?q=x"), local.post("/body", json={})):
        assert (response.status_code, response.json()) == (401, NOT_AUTHENTICATED)
    authed = local.get("/query?q=x", headers={"Authorization": "Bearer t"})
    assert [e["loc"] for e in authed.json()["detail"]] == [["query", "q"], ["query", "z"]]
    broken = local.post("/body", content=b"{", headers={"content-type": "application/json"})
    assert (broken.status_code, broken.json()["detail"][0]["type"]) == (422, "json_invalid")


# --- websockets ----------------------------------------------------------------------------


def test_websocket_security() -> None:
    """Schemes read ``HTTPConnection``, so they guard websockets; a refusal is the 401."""
    ws_app = FastAPI()

    @ws_app.websocket("/ws")
    async def ws(websocket: WebSocket, token: Annotated[str, Security(SCHEMES["password"][0]())]):
        await websocket.accept()
        await websocket.send_json({"token": token})
        await websocket.close()

    with TestClient(ws_app) as local:
        with local.websocket_connect("/ws", headers={"Authorization": "Bearer t"}) as websocket:
            assert websocket.receive_json() == {"token": "t"}
        # The testclient's WebSocketDenialResponse: both the disconnect and the HTTP answer.
        with pytest.raises(WebSocketDisconnect) as info:
            with local.websocket_connect("/ws"):
                pass  # pragma: no cover
    assert info.value.status_code == 401
    assert info.value.json() == NOT_AUTHENTICATED
    assert info.value.headers["www-authenticate"] == "Bearer"
