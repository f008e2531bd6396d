"""A FastAPI app guarded by the security schemes, served by ``aster run`` for socket tests.

Users: ``alice`` / ``wonderland`` (may get scopes ``me`` and ``items``) and ``bob`` /
``builder`` (only ``me``).  Tokens are ``<user>.<scope>.<scope>...`` (no signing: the
tests are about the HTTP exchange, not about cryptography).

- ``POST /token``: the OAuth2 password form; answers ``{"access_token", "token_type",
  "scope"}`` with the requested scopes the user may have, or 400 for bad credentials.
- ``GET /users/me`` (scope ``me``) and ``GET /items`` (scopes ``items`` and ``me``): the
  token's user; an unknown token or a missing scope is a 401 with ``Bearer scope="..."``.
- ``GET /basic``: HTTP Basic with realm ``aster``, checked with ``compare_digest``.
- ``GET /bearer``: the raw ``HTTPBearer`` credentials.
- ``GET /cookie``: an ``APIKeyCookie`` named ``session``; ``GET /header-key``: ``X-API-Key``.
- ``GET /forbidden``: ``HTTPBearer`` answering 403 (the docs' status-code tutorial).
- ``POST /upload``: bearer-protected; answers the size of the body it then reads, so a
  401 leaves the request body unread.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from aster import Depends, FastAPI, HTTPException, Request, Security, status
from aster.security import (
    APIKeyCookie,
    APIKeyHeader,
    HTTPAuthorizationCredentials,
    HTTPBasic,
    HTTPBasicCredentials,
    HTTPBearer,
    OAuth2PasswordBearer,
    OAuth2PasswordRequestForm,
    SecurityScopes,
)

USERS: dict[str, tuple[str, set[str]]] = {
    "alice": ("wonderland", {"me", "items"}),
    "bob": ("builder", {"me"}),
}

oauth2 = OAuth2PasswordBearer(tokenUrl="token", scopes={"me": "Read me", "items": "Read items"})
basic = HTTPBasic(realm="aster")
bearer = HTTPBearer()


class HTTPBearer403(HTTPBearer):
    def make_not_authenticated_error(self) -> HTTPException:
        return HTTPException(status_code=status.HTTP_403_FORBIDDEN, detail="Not authenticated")


app = FastAPI()


@app.post("/token")
def login(form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> dict[str, str]:
    user = USERS.get(form.username)
    if user is None or not secrets.compare_digest(user[0], form.password):
        raise HTTPException(status_code=400, detail="Incorrect username or password")
    granted = [scope for scope in form.scopes if scope in user[1]]
    return {
        "access_token": ".".join([form.username, *granted]),
        "token_type": "bearer",
        "scope": " ".join(granted),
    }


def current_user(
    security_scopes: SecurityScopes, token: Annotated[str, Depends(oauth2)]
) -> dict[str, Any]:
    challenge = {"WWW-Authenticate": f'Bearer scope="{security_scopes.scope_str}"'}
    username, *scopes = token.split(".")
    if username not in USERS:
        raise HTTPException(401, "Could not validate credentials", headers=challenge)
    for scope in security_scopes.scopes:
        if scope not in scopes:
            raise HTTPException(401, "Not enough permissions", headers=challenge)
    return {"username": username, "scopes": scopes}


@app.get("/users/me")
def read_me(user: Annotated[dict[str, Any], Security(current_user, scopes=["me"])]) -> Any:
    return user


@app.get("/items")
def read_items(
    user: Annotated[dict[str, Any], Security(current_user, scopes=["items", "me"])],
) -> Any:
    return {"owner": user["username"], "items": ["a", "b"]}


@app.get("/basic")
def read_basic(credentials: Annotated[HTTPBasicCredentials, Depends(basic)]) -> Any:
    user = USERS.get(credentials.username)
    if user is None or not secrets.compare_digest(user[0].encode(), credentials.password.encode()):
        raise HTTPException(
            401, "Incorrect username or password", headers=basic.make_authenticate_headers()
        )
    return {"username": credentials.username}


@app.get("/bearer")
def read_bearer(credentials: Annotated[HTTPAuthorizationCredentials, Depends(bearer)]) -> Any:
    return {"scheme": credentials.scheme, "credentials": credentials.credentials}


@app.get("/cookie")
def read_cookie(session: Annotated[str, Depends(APIKeyCookie(name="session"))]) -> Any:
    return {"session": session}


@app.get("/header-key")
def read_header_key(key: Annotated[str, Depends(APIKeyHeader(name="X-API-Key"))]) -> Any:
    return {"key": key}


@app.get("/forbidden")
def read_forbidden(
    credentials: Annotated[HTTPAuthorizationCredentials, Depends(HTTPBearer403())],
) -> Any:
    return {"token": credentials.credentials}


@app.post("/upload")
async def upload(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials, Depends(bearer)]
) -> Any:
    return {"size": len(await request.body())}
