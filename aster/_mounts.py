"""``Mount`` (an app or routes below a path prefix) and ``Host`` (an app for a host name).

Re-exported by :mod:`aster.routing`, where Starlette users look for them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._routing_base import (
    BaseRoute,
    Match,
    NoMatchFound,
    _match_params,
    _wrap,
    compile_path,
    get_route_path,
    replace_params,
)
from .datastructures import Headers, URLPath
from .middleware import Middleware
from .types import ASGIApp, Receive, Scope, Send


def _child_url(routes: Sequence[BaseRoute], name: str, params: dict[str, Any]) -> URLPath | None:
    """The first URL one of ``routes`` gives for ``name``, or None."""
    for route in routes or []:
        try:
            return route.url_path_for(name, **params)
        except NoMatchFound:
            pass
    return None


class Mount(BaseRoute):
    """An ASGI app (or a list of routes) below a path prefix."""

    def __init__(
        self,
        path: str,
        app: ASGIApp | None = None,
        routes: Sequence[BaseRoute] | None = None,
        name: str | None = None,
        *,
        middleware: Sequence[Middleware] | None = None,
        max_body_size: int | None = None,
    ) -> None:
        assert path == "" or path.startswith("/"), "Routed paths must start with '/'"
        assert app is not None or routes is not None, (
            "Either 'app=...', or 'routes=' must be specified"
        )
        self.path = path.rstrip("/")
        if app is not None:
            self._base_app: ASGIApp = app
        else:
            from .routing import Router  # (routing imports this module)

            self._base_app = Router(routes=routes)
        self.app = _wrap(self._base_app, middleware, max_body_size)
        self.name = name
        self.path_regex, self.path_format, self.param_convertors = compile_path(
            self.path + "/{path:path}"
        )

    @property
    def routes(self) -> list[BaseRoute]:
        return getattr(self._base_app, "routes", [])

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        return self._matches_path(scope, get_route_path(scope))

    def _matches_path(self, scope: Scope, route_path: str) -> tuple[Match, Scope]:
        if scope["type"] in ("http", "websocket"):
            root_path = scope.get("root_path", "")
            params = _match_params(self.path_regex, self.param_convertors, route_path)
            if params is not None:
                remaining_path = "/" + params.pop("path")
                matched_path = route_path[: -len(remaining_path)]
                path_params = dict(scope.get("path_params", {}))
                path_params.update(params)
                return Match.FULL, {
                    "path_params": path_params,
                    # url_for() needs the top-level root path in every nested scope.
                    "app_root_path": scope.get("app_root_path", root_path),
                    "root_path": root_path + matched_path,
                    "endpoint": self.app,
                }
        return Match.NONE, {}

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        if self.name is not None and name == self.name and "path" in path_params:
            # 'name' matches "<mount_name>".
            path_params["path"] = path_params["path"].lstrip("/")
            path, remaining = replace_params(self.path_format, self.param_convertors, path_params)
            if not remaining:
                return URLPath(path=path)
        elif self.name is None or name.startswith(self.name + ":"):
            if self.name is None:
                remaining_name = name  # 'name' matches "<route_name>".
            else:
                remaining_name = name[len(self.name) + 1 :]  # "<mount_name>:<route_name>"
            path_kwarg = path_params.get("path")
            path_params["path"] = ""
            path_prefix, remaining = replace_params(
                self.path_format, self.param_convertors, path_params
            )
            if path_kwarg is not None:
                remaining["path"] = path_kwarg
            url = _child_url(self.routes, remaining_name, remaining)
            if url is not None:
                return URLPath(path=path_prefix.rstrip("/") + str(url), protocol=url.protocol)
        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Mount) and self.path == other.path and self.app == other.app

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        name = self.name or ""
        return f"{self.__class__.__name__}(path={self.path!r}, name={name!r}, app={self.app!r})"


class Host(BaseRoute):
    """An ASGI app for one host name pattern, e.g. ``{subdomain}.example.org``."""

    def __init__(self, host: str, app: ASGIApp, name: str | None = None) -> None:
        assert not host.startswith("/"), "Host must not start with '/'"
        self.host = host
        self.app = app
        self.name = name
        self.host_regex, self.host_format, self.param_convertors = compile_path(host)

    @property
    def routes(self) -> list[BaseRoute]:
        return getattr(self.app, "routes", [])

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] in ("http", "websocket"):
            host = Headers(scope=scope).get("host", "").split(":")[0]
            params = _match_params(self.host_regex, self.param_convertors, host)
            if params is not None:
                path_params = dict(scope.get("path_params", {}))
                path_params.update(params)
                return Match.FULL, {"path_params": path_params, "endpoint": self.app}
        return Match.NONE, {}

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        if self.name is not None and name == self.name and "path" in path_params:
            path = path_params.pop("path")
            host, remaining = replace_params(self.host_format, self.param_convertors, path_params)
            if not remaining:
                return URLPath(path=path, host=host)
        elif self.name is None or name.startswith(self.name + ":"):
            remaining_name = name if self.name is None else name[len(self.name) + 1 :]
            host, remaining = replace_params(self.host_format, self.param_convertors, path_params)
            url = _child_url(self.routes, remaining_name, remaining)
            if url is not None:
                return URLPath(path=str(url), protocol=url.protocol, host=host)
        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Host) and self.host == other.host and self.app == other.app

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        name = self.name or ""
        return f"{self.__class__.__name__}(host={self.host!r}, name={name!r}, app={self.app!r})"
