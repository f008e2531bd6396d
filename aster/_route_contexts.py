"""FastAPI 0.165's route contexts: ``RouteContext``, ``iter_route_contexts``, ``_IncludedRouter``.

FastAPI 0.137 stopped copying routes on ``include_router``: the including router holds
an ``_IncludedRouter`` node, and each included route is served through an
``_EffectiveRouteContext`` (its path with the prefix, its merged dependencies...).
Extensions that look for the route matching a request (OpenTelemetry's, Prometheus
exporters) walk ``app.routes`` with :func:`iter_route_contexts`; fastapi-pagination
looks for ``_IncludedRouter`` nodes to reach the included ``APIRoute`` objects.

aster's ``include_router`` copies routes into the including router (as FastAPI did
before 0.137), so ``app.routes`` already holds every matchable route and no
``_IncludedRouter``: :func:`iter_route_contexts` gives a :class:`RouteContext` for each.
An ``_IncludedRouter`` built by hand works as FastAPI's: it routes to the included
router's routes with the inclusion's prefix and options (it includes them into a
private router to do so, rebuilt when the included router's routes change).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from . import params
from ._response import JSONResponse, Response
from ._routing_base import BaseRoute, Match, NoMatchFound
from .api_router import APIRouter
from .api_routing import APIRoute
from .datastructures import Default, DefaultPlaceholder, URLPath
from .types import Receive, Scope, Send
from .utils import generate_unique_id

__all__ = [
    "RouteContext",
    "_EffectiveRouteContext",
    "_IncludedRouter",
    "_iter_included_route_candidates",
    "_iter_routes_with_context",
    "_restore_fastapi_scope_key",
    "iter_route_contexts",
]


@dataclass
class _RouterIncludeContext:
    """What one ``include_router`` call said: the prefix and the options it adds."""

    included_router: APIRouter
    prefix: str = ""
    tags: list[str | Enum] = field(default_factory=list)
    dependencies: list[params.Depends] = field(default_factory=list)
    default_response_class: type[Response] | DefaultPlaceholder = field(
        default_factory=lambda: Default(JSONResponse)
    )
    responses: dict[int | str, dict[str, Any]] = field(default_factory=dict)
    callbacks: list[BaseRoute] = field(default_factory=list)
    deprecated: bool | None = None
    include_in_schema: bool = True
    generate_unique_id_function: Callable[[APIRoute], str] | DefaultPlaceholder = field(
        default_factory=lambda: Default(generate_unique_id)
    )
    strict_content_type: bool | DefaultPlaceholder = field(default_factory=lambda: Default(True))
    dependency_overrides_provider: Any | None = None
    max_body_size: int | None = None
    form_limits: dict[str, Any] = field(default_factory=dict)

    def path_for(self, route: Any) -> str:
        return self.prefix + route.path


@dataclass
class _EffectiveRouteContext:
    """One included route as it is served: the original, and its prefixed, merged copy."""

    original_route: BaseRoute
    starlette_route: BaseRoute | None = None
    effective_route: BaseRoute | None = field(default=None, repr=False)

    def _route(self) -> BaseRoute:
        return self.effective_route or self.starlette_route or self.original_route

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        return self._route().matches(scope)

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        return self._route().url_path_for(name, **path_params)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("original_route", "starlette_route"):
            raise AttributeError(name)
        return getattr(self._route(), name)


@dataclass
class _IncludedRouter(BaseRoute):
    """``router`` included with ``include_context``: a route that serves the router's routes."""

    original_router: APIRouter
    include_context: _RouterIncludeContext
    _contexts: list[_EffectiveRouteContext] = field(default_factory=list, repr=False)
    _version: Any = field(default=None, repr=False)

    def effective_route_contexts(self) -> Iterator[_EffectiveRouteContext]:
        routes = self.original_router.routes
        version = (id(routes), getattr(routes, "version", None), len(routes))
        if version != self._version:
            self._contexts = self._build()
            self._version = version
        yield from self._contexts

    def _build(self) -> list[_EffectiveRouteContext]:
        context = self.include_context
        holder = APIRouter(
            dependency_overrides_provider=context.dependency_overrides_provider,
        )
        contexts = []
        for route in self.original_router.routes:
            start = len(holder.routes)
            # The same copy include_router makes: prefix, tags, dependencies, responses...
            holder._include_route(
                route,
                self.original_router,
                prefix=context.prefix,
                tags=context.tags,
                dependencies=context.dependencies,
                default_response_class=context.default_response_class,
                responses=context.responses,
                callbacks=context.callbacks,
                deprecated=context.deprecated,
                include_in_schema=context.include_in_schema,
                generate_unique_id_function=context.generate_unique_id_function,
                max_body_size=context.max_body_size,
                form_limits=context.form_limits or None,
            )
            for copy in holder.routes[start:]:
                is_api = isinstance(copy, APIRoute)
                contexts.append(
                    _EffectiveRouteContext(
                        original_route=route,
                        starlette_route=None if is_api else copy,
                        effective_route=copy,
                    )
                )
        return contexts

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        partial: tuple[Match, Scope] | None = None
        for context in self.effective_route_contexts():
            match, child_scope = context.matches(scope)
            if match is Match.FULL:
                return match, {**child_scope, "_aster_included": context}
            if match is Match.PARTIAL and partial is None:
                partial = (match, {**child_scope, "_aster_included": context})
        return partial or (Match.NONE, {})

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        context = scope.pop("_aster_included", None)
        if context is None:
            match, child_scope = self.matches(scope)
            if match is Match.NONE:
                await self.original_router.default(scope, receive, send)
                return
            scope.update(child_scope)
            context = scope.pop("_aster_included")
        await context._route().handle(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        for context in self.effective_route_contexts():
            try:
                return context.url_path_for(name, **path_params)
            except NoMatchFound:
                pass
        raise NoMatchFound(name, path_params)


@dataclass(frozen=True)
class RouteContext:
    """A route as a request meets it: ``path``, ``name``, ``methods``, ``matches()``...

    For a route of the list itself, that is the route; for one reached through an
    ``_IncludedRouter``, its effective (prefixed) form.  ``original_route`` is the route
    that was declared.
    """

    route: BaseRoute
    _route_context: _EffectiveRouteContext | None = field(default=None, repr=False)

    @property
    def original_route(self) -> BaseRoute:
        if self._route_context is not None:
            return self._route_context.original_route
        return self.route

    @property
    def _effective_route(self) -> Any:
        if self._route_context is not None:
            return self._route_context._route()
        return self.route

    @property
    def path(self) -> str | None:
        return getattr(self._effective_route, "path", None)

    @property
    def path_format(self) -> str | None:
        return getattr(self._effective_route, "path_format", None)

    @property
    def name(self) -> str | None:
        return getattr(self._effective_route, "name", None)

    @property
    def methods(self) -> set[str] | None:
        return getattr(self._effective_route, "methods", None)

    @property
    def endpoint(self) -> Callable[..., Any] | None:
        return getattr(self._effective_route, "endpoint", None)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self._effective_route, name)


def _iter_routes_with_context(
    routes: Sequence[BaseRoute],
) -> Iterator[tuple[BaseRoute, _EffectiveRouteContext | None]]:
    """(declared route, its effective context or None) for every route of ``routes``.

    A route ``include_router`` copied here is effective as it is; the route it was
    copied from is the declared one.
    """
    for route in routes:
        if isinstance(route, _IncludedRouter):
            for context in route.effective_route_contexts():
                yield context.original_route, context
            continue
        original = getattr(route, "_included_from", None)
        if original is None:
            yield route, None
        else:
            starlette_route = None if isinstance(route, APIRoute) else route
            yield original, _EffectiveRouteContext(original, starlette_route, route)


def _iter_included_route_candidates(routes: Sequence[BaseRoute]) -> Iterator[BaseRoute]:
    """The routes a request is matched against, an included Starlette route as its copy."""
    for route, context in _iter_routes_with_context(routes):
        if context is not None and context.starlette_route is not None:
            yield context.starlette_route
        else:
            yield route


def iter_route_contexts(routes: Sequence[BaseRoute | RouteContext]) -> Iterator[RouteContext]:
    """Every matchable route of ``routes``, included routers' routes flattened in place."""
    for route in routes:
        if isinstance(route, RouteContext):
            yield route
            continue
        for original, context in _iter_routes_with_context([route]):
            yield RouteContext(original, context)


def _restore_fastapi_scope_key(scope: Scope, key: str, previous: Any) -> None:
    """Put ``scope["fastapi"][key]`` back as it was (``_SCOPE_MISSING``: absent)."""
    fastapi_scope = scope.get("fastapi")
    if not isinstance(fastapi_scope, dict):
        return
    if previous is _SCOPE_MISSING:
        fastapi_scope.pop(key, None)
    else:
        fastapi_scope[key] = previous


_SCOPE_MISSING = object()
