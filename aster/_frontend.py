"""A built frontend served by the app: ``app.frontend()`` and ``router.frontend()`` (FastAPI 0.165).

A frontend is a directory of files a build tool wrote (``dist/``: ``index.html``,
``assets/app.js``...).  Its routes are *low priority*: ``APIRouter`` tries them only once
every normal route, and the router's slash redirect, found nothing, so a path operation
always wins over a file of the same name.  Among frontends the longest prefix wins
(``/admin`` over ``/``), whatever the order they were declared in.

For a path under a frontend's prefix:

* GET and HEAD serve the file, or a directory's ``index.html`` (``/about`` is redirected
  to ``/about/`` first, so the page's relative links resolve);
* a missing file gets the fallback: ``"404.html"`` is that page with status 404;
  ``"index.html"`` is the SPA shell with 200, but only for a browser navigation (an
  ``Accept`` naming ``text/html`` or ``application/xhtml+xml`` without ``q=0``), so a
  missing ``.js`` or an API client still gets a 404; ``"auto"`` (the default) is
  ``404.html`` if the directory has one, else ``index.html`` if it has that; ``None``
  is the app's plain 404;
* any other method is 405 when the file exists and 404 when only a fallback would answer.

The router's dependencies (and those given to ``include_router``) run before a file is
served (a login check protects the frontend too); headers and cookies they set on an
injected ``Response`` and background tasks they add reach the file response.  Everything
is compiled when the frontend is declared; a request only matches a prefix, stats files
in the thread pool and solves the dependency plan, if there is one.
"""

from __future__ import annotations

import os
import stat
import warnings
from collections.abc import Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from typing import Any, Literal

from . import params
from ._response import RedirectResponse, Response
from ._routing_base import BaseRoute, Match, NoMatchFound, get_route_path, merge_child_scope
from ._starlette_exceptions import StarletteHTTPException as HTTPException
from .concurrency import run_in_threadpool
from .datastructures import URL, Headers, URLPath
from .dependencies.analysis import get_dependant, get_parameterless_sub_dependant
from .dependencies.plan import Plan
from .exceptions import RequestValidationError
from .middleware.body_limit import RequestBodyLimitMiddleware
from .requests import Request
from .staticfiles import PathLike, StaticFiles
from .types import Receive, Scope, Send

__all__ = [
    "FrontendFallback",
    "_FrontendRoute",
    "_FrontendRouteGroup",
    "_FrontendStaticFiles",
    "merge_child_scope",
    "resolve_check_dir",
]

FrontendFallback = Literal["auto", "index.html", "404.html"] | None
_FALLBACKS = ("auto", "index.html", "404.html", None)

#: Where the matched route leaves its findings for the handler: ``scope["fastapi"][...]``.
_SCOPE_KEY = "fastapi"
_PATH_KEY = "frontend_path"
_SPECIFICITY_KEY = "frontend_specificity"
_STACK_KEYS = ("fastapi_inner_astack", "fastapi_function_astack")
_MISSING = object()
_NAVIGATION_TYPES = frozenset({"text/html", "application/xhtml+xml"})
#: RFC 9110 (15.5.6) wants the methods a 405 would have accepted (FastAPI sends none).
_ALLOW = {"Allow": "GET, HEAD"}


# -- paths ---------------------------------------------------------------------------------


def normalize_frontend_path(path: str) -> str:
    """``/app/`` -> ``/app``; the root stays ``/``.  Empty or relative paths are refused."""
    if not path:
        raise AssertionError("A frontend path must not be empty; use '/' for the root")
    if not path.startswith("/"):
        raise AssertionError(f"A frontend path must start with '/': {path!r}")
    return path if path == "/" else path.rstrip("/")


def join_frontend_paths(prefix: str, path: str) -> str:
    """A router or include prefix in front of a frontend path (``/app`` + ``/`` is ``/app``)."""
    if not prefix:
        return path
    return prefix if path == "/" else prefix + path


def _specificity(path: str) -> int:
    """How specific a frontend prefix is: the root is the least, longer prefixes more."""
    return 0 if path == "/" else len(path)


def _below(prefix: str, route_path: str) -> str | None:
    """The part of ``route_path`` below ``prefix`` (``""`` for the prefix itself), or None.

    Segment boundaries count: ``/application`` is not below ``/app``.
    """
    if prefix == "/":
        return route_path.lstrip("/")
    if route_path == prefix:
        return ""
    if route_path.startswith(prefix) and route_path[len(prefix) : len(prefix) + 1] == "/":
        return route_path[len(prefix) + 1 :]
    return None


def frontend_specificity(child_scope: Scope) -> int | None:
    """The specificity a frontend match recorded in its child scope; None for other routes."""
    inner = child_scope.get(_SCOPE_KEY)
    value = inner.get(_SPECIFICITY_KEY) if isinstance(inner, dict) else None
    return value if isinstance(value, int) else None


def _absolute(path: PathLike) -> str:
    return os.path.realpath(os.fspath(path))


def resolve_check_dir(
    directory: PathLike, check_dir: bool | Literal["auto"], *, stacklevel: int
) -> bool:
    """``"auto"``: check the directory now, unless ``FASTAPI_ENV`` is ``development``.

    In development (``aster dev`` sets it) the frontend is often built after the server
    starts, so a missing directory is only a warning there, pointing at the user's call.
    """
    if check_dir != "auto":
        return bool(check_dir)
    if os.environ.get("FASTAPI_ENV") != "development":
        return True
    if not os.path.isdir(directory):
        warnings.warn(
            f"Frontend directory '{directory}' does not exist yet "
            f"(it would be '{_absolute(directory)}'); serving it once it does",
            UserWarning,
            stacklevel=stacklevel + 1,
        )
    return False


# -- requests --------------------------------------------------------------------------------


def is_navigation_request(headers: Headers) -> bool:
    """Does the client accept HTML, as a browser loading a page does?

    Only an explicit ``text/html`` or ``application/xhtml+xml`` with a non-zero quality
    counts: ``*/*`` alone is what scripts, images and API clients send.  A ``q`` that is
    not a number is ignored (quality 1), as in FastAPI.
    """
    for item in headers.get("accept", "").split(","):
        media_type, *parameters = item.split(";")
        if media_type.strip().lower() not in _NAVIGATION_TYPES:
            continue
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value.strip().strip('"'))
                except ValueError:
                    pass
        if quality != 0:
            return True
    return False


class _FrontendStaticFiles(StaticFiles):
    """``StaticFiles`` for one frontend: the path comes from the route's match, plus fallbacks."""

    def __init__(self, *, directory: PathLike, fallback: FrontendFallback, check_dir: bool) -> None:
        if check_dir and not os.path.isdir(directory):
            raise RuntimeError(
                f"Frontend directory '{directory}' does not exist "
                f"(resolved to '{_absolute(directory)}')"
            )
        super().__init__(directory=directory, html=True, check_dir=check_dir)
        self.fallback = fallback
        if check_dir and fallback in ("index.html", "404.html"):
            _, stat_result = self.lookup_path(fallback)
            if stat_result is None or not stat.S_ISREG(stat_result.st_mode):
                raise self._missing_fallback(fallback)

    def _missing_fallback(self, fallback: str) -> RuntimeError:
        assert self.directory is not None
        return RuntimeError(
            f"Frontend fallback file '{fallback}' is missing from directory "
            f"'{self.directory}' (resolved to '{_absolute(self.directory)}')"
        )

    def get_path(self, scope: Scope) -> str:
        path = scope.get(_SCOPE_KEY, {}).get(_PATH_KEY, "")
        return os.path.normpath(os.path.join(*path.split("/")))

    async def get_response_for_scope(self, scope: Scope) -> Response:
        if not self.config_checked:
            await self.check_config()
            self.config_checked = True
        return await self.get_response(self.get_path(scope), scope)

    async def get_response(self, path: str, scope: Scope) -> Response:
        found = await self._find(path)
        if scope["method"] not in ("GET", "HEAD"):
            # Only GET and HEAD are served; a path only a fallback would answer is not found.
            if found is None:
                raise HTTPException(status_code=404)
            raise HTTPException(status_code=405, headers=_ALLOW)
        if found is not None:
            full_path, stat_result, is_index = found
            if is_index and not scope["path"].endswith("/"):
                url = URL(scope=scope)
                return RedirectResponse(url=url.replace(path=url.path + "/"))
            return self.file_response(full_path, stat_result, scope)
        fallback = self.fallback
        if fallback == "404.html" or (fallback == "auto" and await self._is_file("404.html")):
            return await self._fallback_response("404.html", scope, 404)
        if (
            fallback == "index.html" or (fallback == "auto" and await self._is_file("index.html"))
        ) and is_navigation_request(Headers(scope=scope)):
            return await self._fallback_response("index.html", scope, 200)
        raise HTTPException(status_code=404)

    async def _find(self, path: str) -> tuple[str, os.stat_result, bool] | None:
        """``(full path, stat, is a directory's index.html)`` for a servable file, or None."""
        full_path, stat_result = await self._lookup(path)
        if stat_result is None:
            return None
        if stat.S_ISREG(stat_result.st_mode):
            return full_path, stat_result, False
        if stat.S_ISDIR(stat_result.st_mode):
            full_path, stat_result = await self._lookup(os.path.join(path, "index.html"))
            if stat_result is not None and stat.S_ISREG(stat_result.st_mode):
                return full_path, stat_result, True
        return None

    async def _is_file(self, name: str) -> bool:
        _, stat_result = await run_in_threadpool(self.lookup_path, name)
        return stat_result is not None and stat.S_ISREG(stat_result.st_mode)

    async def _fallback_response(self, name: str, scope: Scope, status_code: int) -> Response:
        full_path, stat_result = await run_in_threadpool(self.lookup_path, name)
        if stat_result is None or not stat.S_ISREG(stat_result.st_mode):
            raise self._missing_fallback(name)
        return self.file_response(full_path, stat_result, scope, status_code=status_code)


# -- routes ----------------------------------------------------------------------------------


class _FrontendRoute(BaseRoute):
    """One frontend directory below one path prefix (the router's prefix included)."""

    def __init__(
        self,
        path: str,
        *,
        directory: PathLike,
        fallback: FrontendFallback = "auto",
        check_dir: bool = True,
    ) -> None:
        if fallback not in _FALLBACKS:
            raise AssertionError(
                f"fallback must be 'auto', 'index.html', '404.html' or None, not {fallback!r}"
            )
        self.path = normalize_frontend_path(path)
        self.methods = {"GET", "HEAD"}
        self.app = _FrontendStaticFiles(directory=directory, fallback=fallback, check_dir=check_dir)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        return self.matches_with_path(scope, self.path)

    def matches_with_path(self, scope: Scope, path: str) -> tuple[Match, Scope]:
        """Match as if this frontend were at ``path`` (its path behind include prefixes)."""
        if scope["type"] != "http":
            return Match.NONE, {}
        below = _below(path, get_route_path(scope))
        if below is None:
            return Match.NONE, {}
        child_scope = {_SCOPE_KEY: {_PATH_KEY: below, _SPECIFICITY_KEY: _specificity(path)}}
        if scope["method"] not in self.methods:
            return Match.PARTIAL, child_scope
        return Match.FULL, child_scope

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.app.get_response_for_scope(scope)
        await response(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        raise NoMatchFound(name, path_params)


def _frontend_dependency_endpoint() -> None:
    """The endpoint of a frontend's dependency plan: the dependencies are all it has."""


class _FrontendRouteGroup(BaseRoute):
    """A router's frontends, behind the router's (and its includes') dependencies.

    ``APIRouter.frontend()`` adds to its router's group; ``include_router`` gives the
    including router a copy (:meth:`included`) that shares the frontends (so one declared
    later still shows up) but has the include's prefix and dependencies in front.
    """

    def __init__(
        self,
        *,
        dependencies: Sequence[params.Depends] | None = None,
        dependency_overrides_provider: Any | None = None,
        prefix: str = "",
        routes: list[_FrontendRoute] | None = None,
        max_body_size: int | None = None,
    ) -> None:
        self.routes: list[_FrontendRoute] = [] if routes is None else routes
        self.prefix = prefix
        #: The include's body limit (``include_router(max_body_size=...)``): a request
        #: declaring a larger body is refused with 413 here too, as by its path operations.
        self.max_body_size = max_body_size
        self._serve: Any = self._serve_matched
        if max_body_size is not None:
            self._serve = RequestBodyLimitMiddleware(self._serve_matched, max_body_size)
        self.dependencies = list(dependencies or [])
        self.dependency_overrides_provider = dependency_overrides_provider
        self.dependant = get_dependant(
            path="", call=_frontend_dependency_endpoint, scope="function"
        )
        for depends in self.dependencies[::-1]:
            self.dependant.dependencies.insert(
                0, get_parameterless_sub_dependant(depends=depends, path="")
            )
        self._plan = Plan(self.dependant) if self.dependencies else None
        self._override_plans: dict[Any, Plan] = {}

    def add_frontend_route(
        self,
        path: str,
        *,
        directory: PathLike,
        fallback: FrontendFallback = "auto",
        check_dir: bool = True,
    ) -> None:
        self.routes.append(
            _FrontendRoute(path, directory=directory, fallback=fallback, check_dir=check_dir)
        )

    def included(
        self,
        *,
        prefix: str,
        dependencies: Sequence[params.Depends],
        dependency_overrides_provider: Any | None,
        max_body_size: int | None = None,
    ) -> _FrontendRouteGroup:
        """This group as seen through ``include_router``: ``prefix`` and ``dependencies`` first.

        A body limit this group already had (from an inner include) wins over ``max_body_size``.
        """
        return _FrontendRouteGroup(
            dependencies=[*dependencies, *self.dependencies],
            dependency_overrides_provider=dependency_overrides_provider,
            prefix=prefix + self.prefix,
            routes=self.routes,
            max_body_size=self.max_body_size if self.max_body_size is not None else max_body_size,
        )

    # -- matching ------------------------------------------------------------------------

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope, _ = self._match(scope, self.prefix)
        return match, child_scope

    def matches_with_prefix(self, scope: Scope, prefix: str) -> tuple[Match, Scope]:
        match, child_scope, _ = self._match(scope, prefix)
        return match, child_scope

    def _match(self, scope: Scope, prefix: str) -> tuple[Match, Scope, _FrontendRoute | None]:
        """The most specific full match, else the most specific partial one."""
        best: dict[Match, tuple[int, Scope, _FrontendRoute]] = {}
        for route in self.routes:
            path = join_frontend_paths(prefix, route.path)
            match, child_scope = route.matches_with_path(scope, path)
            if match is Match.NONE:
                continue
            specificity = _specificity(path)
            if match not in best or specificity > best[match][0]:
                best[match] = (specificity, child_scope, route)
        for kind in (Match.FULL, Match.PARTIAL):
            if kind in best:
                _, child_scope, route = best[kind]
                return kind, child_scope, route
        return Match.NONE, {}, None

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        raise NoMatchFound(name, path_params)

    # -- serving -------------------------------------------------------------------------

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._serve(scope, receive, send)

    async def _serve_matched(self, scope: Scope, receive: Receive, send: Send) -> None:
        match, child_scope, route = self._match(scope, self.prefix)
        if route is None:
            raise HTTPException(status_code=404)
        merge_child_scope(scope, child_scope)
        plan = self._current_plan()
        if match is not Match.FULL or plan is None:
            # A method other than GET/HEAD is answered (405/404) without the dependencies.
            await route.handle(scope, receive, send)
            return
        await self._serve_behind(plan, route, scope, receive, send)

    def _current_plan(self) -> Plan | None:
        """The dependency plan, recompiled (once per set of overrides) under overrides."""
        if self._plan is None:
            return None
        overrides: Mapping[Callable[..., Any], Callable[..., Any]] | None = getattr(
            self.dependency_overrides_provider, "dependency_overrides", None
        )
        if not overrides:
            return self._plan
        try:
            key: Any = tuple(overrides.items())
            plan = self._override_plans.get(key)
        except TypeError:  # an unhashable override: compile for this request only
            return Plan(self.dependant, overrides)
        if plan is None:
            plan = self._override_plans[key] = Plan(self.dependant, overrides)
        return plan

    async def _serve_behind(
        self, plan: Plan, route: _FrontendRoute, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Solve the dependencies, then send the file inside their exit stacks.

        The stacks' scope keys are restored afterwards: a frontend can be reached from
        inside another app's request, whose stacks must stay the ones in the scope.
        """
        request = Request(scope, receive, send)
        saved = {key: scope.get(key, _MISSING) for key in _STACK_KEYS}
        try:
            async with AsyncExitStack() as request_stack:
                scope["fastapi_inner_astack"] = request_stack
                async with AsyncExitStack() as function_stack:
                    scope["fastapi_function_astack"] = function_stack
                    _, errors, background, sub_response = await plan.solve(request)
                    if errors:
                        raise RequestValidationError(errors)
                    response = await route.app.get_response_for_scope(scope)
                    if response.background is None:
                        response.background = background
                    if sub_response is not None:
                        response.headers.raw.extend(sub_response.headers.raw)
                    await response(scope, receive, send)
        finally:
            for key, value in saved.items():
                if value is _MISSING:
                    scope.pop(key, None)
                else:
                    scope[key] = value
