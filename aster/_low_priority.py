"""Routes a router tries last, after every route and the slash redirect: ``frontend()``'s.

FastAPI 0.165 calls them low-priority routes.  A router keeps two lists: its own
(``_low_priority_routes``, where ``frontend()`` puts its group and where extensions
may put any route) and the copies ``include_router`` made of its included routers'
(``_included_low_priority_routes``).  When nothing else matched, the most specific
frontend match wins (the longest prefix); otherwise the first full match, then the
first partial one (a method the route does not take), as for normal routes.

``LowPriorityRoutes`` is ``APIRouter``'s part that keeps them; it relies on the
router's ``prefix``, ``dependencies``, ``dependency_overrides_provider``, ``routes``,
``default`` and ``_include_route``.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any, Literal

from ._frontend import (
    FrontendFallback,
    _FrontendRouteGroup,
    frontend_specificity,
    join_frontend_paths,
    merge_child_scope,
    normalize_frontend_path,
    resolve_check_dir,
)
from ._routing_base import BaseRoute, Match
from .route_index import RouteList
from .staticfiles import PathLike
from .types import Receive, Scope, Send

__all__ = ["LowPriorityRoutes"]


class LowPriorityRoutes:
    """``frontend()``, and the low-priority routes it adds, for ``APIRouter``."""

    prefix: str
    dependencies: list[Any]
    max_body_size: int | None
    dependency_overrides_provider: Any
    routes: Any
    default: Any
    _include_route: Any

    def _init_low_priority(self) -> None:
        #: Tried after every route has failed to match: this router's own...
        self._low_priority_routes: RouteList = RouteList()
        #: ...then those of the routers included in it (copies with the include's settings).
        self._included_low_priority_routes: RouteList = RouteList()
        #: The group ``frontend()`` adds to (it is in ``_low_priority_routes``).
        self._frontend_routes: _FrontendRouteGroup | None = None

    def frontend(
        self,
        path: str,
        *,
        directory: PathLike,
        fallback: FrontendFallback = "auto",
        check_dir: bool | Literal["auto"] = "auto",
    ) -> None:
        """Serve a built frontend (``dist/``) below ``path``, after every path operation.

        ``fallback`` answers paths with no file: ``"auto"``, ``"index.html"`` (SPA
        client-side routes), ``"404.html"`` or ``None``; see :mod:`aster._frontend`.
        ``check_dir="auto"`` checks the directory now, except under
        ``FASTAPI_ENV=development`` (``aster dev``), where a missing one is a warning.
        """
        self._add_frontend(path, directory, fallback, check_dir, stacklevel=2)

    def _add_frontend(
        self,
        path: str,
        directory: PathLike,
        fallback: FrontendFallback,
        check_dir: bool | Literal["auto"],
        *,
        stacklevel: int,
    ) -> None:
        checked = resolve_check_dir(directory, check_dir, stacklevel=stacklevel + 1)
        full_path = join_frontend_paths(self.prefix, normalize_frontend_path(path))
        group = self._frontend_routes
        if group is None:
            group = _FrontendRouteGroup(
                dependencies=self.dependencies,
                dependency_overrides_provider=self.dependency_overrides_provider,
            )
        group.add_frontend_route(
            full_path, directory=directory, fallback=fallback, check_dir=checked
        )
        if self._frontend_routes is None:
            # Appended once it has a frontend: including routers copy it from this list.
            self._frontend_routes = group
            self._low_priority_routes.append(group)

    async def _unmatched(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The low-priority routes: the most specific frontend, or the first other match."""
        if self._low_priority_routes or self._included_low_priority_routes:
            chosen = self._match_low_priority(scope)
            if chosen is not None:
                route, child_scope = chosen
                merge_child_scope(scope, child_scope)
                await route.handle(scope, receive, send)
                return
        await self.default(scope, receive, send)

    def _match_low_priority(self, scope: Scope) -> tuple[BaseRoute, Scope] | None:
        best: dict[Match, tuple[BaseRoute, Scope]] = {}
        for route in (*self._low_priority_routes, *self._included_low_priority_routes):
            match, child_scope = route.matches(scope)
            if match is Match.NONE:
                continue
            held = best.get(match)
            if held is None or _more_specific(child_scope, held[1]):
                best[match] = (route, child_scope)
        return best.get(Match.FULL) or best.get(Match.PARTIAL)

    # -- inclusion -----------------------------------------------------------------------

    def _include_low_priority_of(self, router: Any, options: dict[str, Any]) -> None:
        """``include_router``'s part: copy ``router``'s low-priority routes, now and later."""
        low_priority = [*router._low_priority_routes, *router._included_low_priority_routes]
        self._include_low_priority(low_priority, router, options)
        live = _LiveLowPriorityInclusion(self, router, options)
        router._low_priority_routes.add_listener(live)
        router._included_low_priority_routes.add_listener(live)

    def _include_low_priority(
        self, routes: Sequence[BaseRoute], router: Any, options: dict[str, Any]
    ) -> None:
        """Copy an included router's low-priority routes into this router's included ones.

        A frontend group is shared, behind the include's prefix and dependencies; any
        other route is copied as ``include_router`` copies routes, then moved over.
        """
        copies: list[BaseRoute] = []
        for route in routes:
            if isinstance(route, _FrontendRouteGroup):
                limits = (router.max_body_size, options["max_body_size"], self.max_body_size)
                limit = next((value for value in limits if value is not None), None)
                copies.append(
                    route.included(
                        prefix=self.prefix + options["prefix"],
                        dependencies=[*self.dependencies, *(options["dependencies"] or [])],
                        dependency_overrides_provider=self.dependency_overrides_provider,
                        max_body_size=limit,
                    )
                )
                continue
            target = self.routes
            target.muted = True  # type: ignore[attr-defined]
            start = len(target)
            try:
                self._include_route(route, router, **options)
                copies += target[start:]
                del target[start:]
            finally:
                target.muted = False  # type: ignore[attr-defined]
        if copies:
            self._included_low_priority_routes.extend(copies)


def _more_specific(child_scope: Scope, than: Scope) -> bool:
    """A frontend match beats an earlier one only with a longer prefix; other routes never do."""
    specificity, held = frontend_specificity(child_scope), frontend_specificity(than)
    return specificity is not None and held is not None and specificity > held


class _LiveLowPriorityInclusion:
    """``_LiveInclusion`` for low-priority routes: a frontend declared on a router after it
    was included, or a router with one included in it later, is copied up too."""

    def __init__(self, parent: LowPriorityRoutes, router: Any, options: dict[str, Any]) -> None:
        self._parent = weakref.ref(parent)
        self._router = router
        self._options = options

    def __call__(self, routes: list[BaseRoute]) -> None:
        parent = self._parent()
        if parent is None:
            self._router._low_priority_routes.remove_listener(self)
            self._router._included_low_priority_routes.remove_listener(self)
            return
        parent._include_low_priority(routes, self._router, self._options)
