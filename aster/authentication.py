"""Authentication for plain (Starlette-style) apps: users, credentials and ``@requires``.

``AuthenticationMiddleware`` (in :mod:`aster.middleware.authentication`) asks an
``AuthenticationBackend`` who is calling and stores the answer in the scope, where
``request.user`` and ``request.auth`` read it. ``@requires("scope", ...)`` then guards an
endpoint: a request lacking a scope gets ``status_code`` (403) as an ``HTTPException``, or a 303
redirect to the route named by ``redirect=`` with ``?next=<the original URL>``; a WebSocket is
closed instead.

``requires`` finds the connection by parameter *name* (``request`` or ``websocket``), as
Starlette does, so it also works on ``HTTPEndpoint`` methods and under other decorators that
pass the connection by keyword.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any, ParamSpec
from urllib.parse import urlencode

from ._response import RedirectResponse
from ._starlette_exceptions import StarletteHTTPException as HTTPException
from .concurrency import is_async_callable
from .requests import HTTPConnection, Request
from .websockets import WebSocket

__all__ = [
    "AuthCredentials",
    "AuthenticationBackend",
    "AuthenticationError",
    "BaseUser",
    "SimpleUser",
    "UnauthenticatedUser",
    "has_required_scope",
    "requires",
]

_P = ParamSpec("_P")


def has_required_scope(conn: HTTPConnection, scopes: Sequence[str]) -> bool:
    """Whether the connection's credentials hold every one of ``scopes``."""
    granted = conn.auth.scopes
    return all(scope in granted for scope in scopes)


def _connection_index(func: Callable[..., Any]) -> tuple[str, int]:
    """The name (``request``/``websocket``) and position of the connection parameter."""
    for index, name in enumerate(inspect.signature(func).parameters):
        if name in ("request", "websocket"):
            return name, index
    raise Exception(f'No "request" or "websocket" argument on function "{func}"')


def _connection(args: tuple[Any, ...], kwargs: dict[str, Any], name: str, index: int) -> Any:
    return kwargs.get(name, args[index] if index < len(args) else None)


def _denied(request: Request, status_code: int, redirect: str | None) -> RedirectResponse:
    """The redirect for a request without the scopes, or raise the HTTP error."""
    if redirect is None:
        raise HTTPException(status_code=status_code)
    next_query = urlencode({"next": str(request.url)})
    return RedirectResponse(url=f"{request.url_for(redirect)}?{next_query}", status_code=303)


def _check_request(request: Any) -> Request:
    assert isinstance(request, Request), (
        "Parameter with name 'request' is required to be of type 'Request' "
        f"not '{type(request).__name__}'"
    )
    return request


def requires(
    scopes: str | Sequence[str],
    status_code: int = 403,
    redirect: str | None = None,
) -> Callable[[Callable[_P, Any]], Callable[_P, Any]]:
    """Guard an endpoint (sync or async, HTTP or WebSocket) by the scopes it needs."""
    needed = [scopes] if isinstance(scopes, str) else list(scopes)

    def decorator(func: Callable[_P, Any]) -> Callable[_P, Any]:
        kind, index = _connection_index(func)

        if kind == "websocket":

            @functools.wraps(func)
            async def websocket_wrapper(*args: _P.args, **kwargs: _P.kwargs) -> None:
                websocket = _connection(args, kwargs, kind, index)
                assert isinstance(websocket, WebSocket), (
                    "Parameter with name 'websocket' is required to be of type 'WebSocket' "
                    f"not '{type(websocket).__name__}'"
                )
                if has_required_scope(websocket, needed):
                    await func(*args, **kwargs)
                else:
                    await websocket.close()

            return websocket_wrapper

        if is_async_callable(func):

            @functools.wraps(func)
            async def async_wrapper(*args: _P.args, **kwargs: _P.kwargs) -> Any:
                request = _check_request(_connection(args, kwargs, kind, index))
                if not has_required_scope(request, needed):
                    return _denied(request, status_code, redirect)
                return await func(*args, **kwargs)

            return async_wrapper

        @functools.wraps(func)
        def sync_wrapper(*args: _P.args, **kwargs: _P.kwargs) -> Any:
            request = _check_request(_connection(args, kwargs, kind, index))
            if not has_required_scope(request, needed):
                return _denied(request, status_code, redirect)
            return func(*args, **kwargs)

        return sync_wrapper

    return decorator


class AuthenticationError(Exception):
    """Raised by a backend for credentials that are present but invalid (answered with 400)."""


class AuthenticationBackend:
    """Override ``authenticate``: return ``(AuthCredentials, user)``, or None for anonymous."""

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        raise NotImplementedError()  # pragma: no cover


class AuthCredentials:
    """The scopes (permissions) the caller was granted."""

    def __init__(self, scopes: Sequence[str] | None = None) -> None:
        self.scopes = [] if scopes is None else list(scopes)


class BaseUser:
    """What ``request.user`` offers; subclass it for your own user objects."""

    @property
    def is_authenticated(self) -> bool:
        raise NotImplementedError()  # pragma: no cover

    @property
    def display_name(self) -> str:
        raise NotImplementedError()  # pragma: no cover

    @property
    def identity(self) -> str:
        raise NotImplementedError()  # pragma: no cover


class SimpleUser(BaseUser):
    """An authenticated user known only by name."""

    def __init__(self, username: str) -> None:
        self.username = username

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.username

    @property
    def identity(self) -> str:
        return self.username


class UnauthenticatedUser(BaseUser):
    """The user of a request the backend did not authenticate."""

    @property
    def is_authenticated(self) -> bool:
        return False

    @property
    def display_name(self) -> str:
        return ""

    @property
    def identity(self) -> str:
        return ""
