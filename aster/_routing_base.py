"""What every route is built from: match results, path patterns and ``BaseRoute``.

The bottom of Starlette's routing: routes (:mod:`aster._routes`), the router with its
mounts and hosts (:mod:`aster._router`) and FastAPI's API routes all build on it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from enum import Enum
from typing import Any

from ._response import PlainTextResponse
from .convertors import CONVERTOR_TYPES, Convertor
from .datastructures import URLPath
from .middleware import Middleware
from .middleware.body_limit import RequestBodyLimitMiddleware
from .types import ASGIApp, Receive, Scope, Send
from .websockets import WebSocketClose


class NoMatchFound(Exception):
    """``url_path_for`` found no route with that name and those parameters."""

    def __init__(self, name: str, path_params: dict[str, Any]) -> None:
        params = ", ".join(list(path_params.keys()))
        super().__init__(f'No route exists for name "{name}" and params "{params}".')


class Match(Enum):
    NONE = 0
    PARTIAL = 1
    FULL = 2


def get_route_path(scope: Scope) -> str:
    """The path to route on: ``scope["path"]`` without the ``root_path`` it starts with."""
    path: str = scope["path"]
    root_path = scope.get("root_path", "")
    if not root_path or not path.startswith(root_path):
        return path
    if path == root_path:
        return ""
    if path[len(root_path)] == "/":
        return path[len(root_path) :]
    return path


def get_name(endpoint: Callable[..., Any]) -> str:
    return getattr(endpoint, "__name__", endpoint.__class__.__name__)


def replace_params(
    path: str, param_convertors: dict[str, Convertor[Any]], path_params: dict[str, str]
) -> tuple[str, dict[str, str]]:
    """Fill ``path``'s ``{name}`` slots from ``path_params``; return it and the unused params.

    The format is split at its slots once and each slot filled once, so a value that itself
    looks like a slot (``{id}``) is left as it is, not substituted again.
    """
    if not path_params:
        return path, path_params
    parts = PARAM_FORMAT_REGEX.split(path)
    for i in range(1, len(parts), 2):
        key = parts[i]
        if key in path_params:
            parts[i] = param_convertors[key].to_string(path_params.pop(key))
        else:
            parts[i] = "{" + key + "}"
    return "".join(parts), path_params


#: A parameter in a path pattern: ``{name}`` or ``{name:convertor}``.
PARAM_REGEX = re.compile("{([a-zA-Z_][a-zA-Z0-9_]*)(:[a-zA-Z_][a-zA-Z0-9_]*)?}")
#: A slot in a compiled path format (``path_format``): ``{name}``.
PARAM_FORMAT_REGEX = re.compile("{([a-zA-Z_][a-zA-Z0-9_]*)}")


def compile_path(path: str) -> tuple[re.Pattern[str], str, dict[str, Convertor[Any]]]:
    """``/items/{id:int}`` -> (regex, ``/items/{id}``, ``{"id": IntegerConvertor}``).

    A path that does not start with ``/`` is a host pattern (``{sub}.example.org``): its
    port, if any, is dropped (``Host`` matches the host without the port) and it matches
    case-insensitively, as host names do (RFC 9110 section 4.2.3).
    """
    is_host = not path.startswith("/")
    regex = "^"
    path_format = ""
    duplicated: set[str] = set()
    position = 0
    convertors: dict[str, Convertor[Any]] = {}
    for match in PARAM_REGEX.finditer(path):
        name, kind = match.groups("str")
        kind = kind.lstrip(":")
        assert kind in CONVERTOR_TYPES, f"Unknown path convertor '{kind}'"
        convertor = CONVERTOR_TYPES[kind]
        regex += re.escape(path[position : match.start()]) + f"(?P<{name}>{convertor.regex})"
        path_format += path[position : match.start()] + "{" + name + "}"
        if name in convertors:
            duplicated.add(name)
        convertors[name] = convertor
        position = match.end()
    if duplicated:
        names = ", ".join(sorted(duplicated))
        ending = "s" if len(duplicated) > 1 else ""
        raise ValueError(f"Duplicated param name{ending} {names} at path {path}")
    rest = path[position:]
    if is_host and not rest.endswith("]"):  # keep an IPv6 literal's colons
        rest = rest.rsplit(":", 1)[0]
    regex += re.escape(rest) + "$"
    path_format += path[position:]
    return re.compile(regex, re.IGNORECASE if is_host else 0), path_format, convertors


def _match_params(
    regex: re.Pattern[str], convertors: dict[str, Convertor[Any]], text: str
) -> dict[str, Any] | None:
    match = regex.match(text)
    if match is None:
        return None
    params = match.groupdict()
    for key, value in params.items():
        params[key] = convertors[key].convert(value)
    return params


def _wrap(
    app: ASGIApp, middleware: Sequence[Middleware] | None, max_body_size: int | None
) -> ASGIApp:
    if middleware is not None:
        for cls, args, kwargs in reversed(middleware):
            app = cls(app, *args, **kwargs)
    if max_body_size is not None:
        app = RequestBodyLimitMiddleware(app, max_body_size=max_body_size)
    return app


def _child_url(routes: Sequence[BaseRoute], name: str, params: dict[str, Any]) -> URLPath | None:
    """The first URL one of ``routes`` gives for ``name``, or None."""
    for route in routes or []:
        try:
            return route.url_path_for(name, **params)
        except NoMatchFound:
            pass
    return None


class BaseRoute:
    #: What the router's index (:mod:`aster.route_index`) may assume of a route class.
    #: ``_path_matches``: the class's ``matches`` only tests ``path_regex`` against the route
    #: path (``_matches_path``); a subclass that overrides ``matches`` no longer has it.
    #: ``_path_is_prefix``: that path is a prefix (a mount), not the whole path.
    #: ``_plain_handle``: the class's ``handle`` only re-checks the method, then calls
    #: ``self.app``, so a full match may call ``self.app`` directly.
    _path_matches: Callable[..., Any] | None = None
    _path_is_prefix = False
    _plain_handle: Callable[..., Any] | None = None

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        raise NotImplementedError()  # pragma: no cover

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        raise NotImplementedError()  # pragma: no cover

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError()  # pragma: no cover

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A route used on its own, as an ASGI app."""
        match, child_scope = self.matches(scope)
        if match is Match.NONE:
            if scope["type"] == "http":
                await PlainTextResponse("Not Found", status_code=404)(scope, receive, send)
            elif scope["type"] == "websocket":
                await WebSocketClose()(scope, receive, send)
            return
        scope.update(child_scope)
        await self.handle(scope, receive, send)


#: FastAPI's per-request dict in the scope (``scope["fastapi"]``).
FASTAPI_SCOPE_KEY = "fastapi"


def merge_child_scope(scope: Scope, child_scope: Scope) -> None:
    """``scope.update(child_scope)``, except that ``scope["fastapi"]`` is merged, not replaced.

    That dict carries what enclosing routers put there (form limits), which a route
    that sets its own keys there (a frontend, an extension's ``matches``) must not erase.
    """
    inner = child_scope.get(FASTAPI_SCOPE_KEY)
    if isinstance(inner, dict):
        child_scope = {key: value for key, value in child_scope.items() if key != FASTAPI_SCOPE_KEY}
        scope.setdefault(FASTAPI_SCOPE_KEY, {}).update(inner)
    scope.update(child_scope)
