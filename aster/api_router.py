"""``APIRouter``: a group of path operations with shared prefix, tags, dependencies...

The decorators (``@router.get(...)`` and friends) all go through
``add_api_route``, which merges the router's own settings into the route.

Besides its routes, a router has *low-priority* routes, tried only when no route
matched (``frontend()``'s): :mod:`aster._low_priority`.  ``include_router`` copies
both kinds, and keeps copying what the included router gets later.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import AsyncIterator, Callable, Sequence
from enum import Enum
from typing import Any

from . import params
from ._body_limit import get_body_size_limit, validate_max_body_size
from ._form_limits import _validate_form_limits
from ._low_priority import LowPriorityRoutes
from ._response import JSONResponse, Response
from ._router import Mount, Router
from ._routes import Route, WebSocketRoute
from ._routing_base import BaseRoute
from .api_routing import APIRoute, APIWebSocketRoute, _merge_lifespan_context
from .datastructures import Default, DefaultPlaceholder
from .dependencies.lifespan import STORE_ATTRIBUTE as LIFESPAN_STORE_ATTRIBUTE
from .dependencies.lifespan import LifespanValues, lifespan_dependants
from .exceptions import FastAPIError
from .types import ASGIApp, DecoratedCallable, Lifespan, Scope
from .utils import generate_unique_id, get_value_or_default

_METHOD_DEFAULTS: dict[str, Any] = {
    "response_model": Default(None),
    "status_code": None,
    "tags": None,
    "dependencies": None,
    "summary": None,
    "description": None,
    "response_description": "Successful Response",
    "responses": None,
    "deprecated": None,
    "operation_id": None,
    "response_model_include": None,
    "response_model_exclude": None,
    "response_model_by_alias": True,
    "response_model_exclude_unset": False,
    "response_model_exclude_defaults": False,
    "response_model_exclude_none": False,
    "include_in_schema": True,
    "response_class": Default(JSONResponse),
    "name": None,
    "callbacks": None,
    "openapi_extra": None,
    "generate_unique_id_function": Default(generate_unique_id),
    "max_body_size": None,
    "form_limits": None,
}


class APIRouter(LowPriorityRoutes, Router):
    def __init__(
        self,
        *,
        prefix: str = "",
        tags: list[str | Enum] | None = None,
        dependencies: Sequence[params.Depends] | None = None,
        default_response_class: type[Response] = Default(JSONResponse),
        responses: dict[int | str, dict[str, Any]] | None = None,
        callbacks: list[BaseRoute] | None = None,
        routes: list[BaseRoute] | None = None,
        redirect_slashes: bool = True,
        default: ASGIApp | None = None,
        dependency_overrides_provider: Any | None = None,
        route_class: type[APIRoute] = APIRoute,
        on_startup: Sequence[Callable[[], Any]] | None = None,
        on_shutdown: Sequence[Callable[[], Any]] | None = None,
        lifespan: Lifespan[Any] | None = None,
        deprecated: bool | None = None,
        include_in_schema: bool = True,
        generate_unique_id_function: Callable[[APIRoute], str] = Default(generate_unique_id),
        strict_content_type: bool | DefaultPlaceholder = Default(True),
        max_body_size: int | None = None,
        form_limits: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            routes=routes,
            redirect_slashes=redirect_slashes,
            default=default,
            lifespan=lifespan,
            on_startup=on_startup,
            on_shutdown=on_shutdown,
        )
        if prefix:
            assert prefix.startswith("/"), "A path prefix must start with '/'"
            assert not prefix.endswith("/"), (
                "A path prefix must not end with '/', as the routes will start with '/'"
            )
        validate_max_body_size(max_body_size)
        self.prefix = prefix
        self.tags: list[str | Enum] = tags or []
        self.dependencies = list(dependencies or [])
        self.deprecated = deprecated
        self.include_in_schema = include_in_schema
        self.responses = responses or {}
        self.callbacks = callbacks or []
        self.dependency_overrides_provider = dependency_overrides_provider
        self.route_class = route_class
        #: The routers included into this one (a router must not end up including itself).
        self._included_routers: list[APIRouter] = []
        self.default_response_class = default_response_class
        self.generate_unique_id_function = generate_unique_id_function
        self.strict_content_type = strict_content_type
        self.max_body_size = max_body_size
        # Validated here, as FastAPI does, so a bad limit fails at startup, not per request.
        self.form_limits = dict(_validate_form_limits(form_limits))
        self._init_low_priority()

    def _contains_router(self, router: APIRouter, seen: set[int] | None = None) -> bool:
        """Whether ``router`` is included in this one, directly or through others."""
        seen = set() if seen is None else seen
        if id(self) in seen:
            return False
        seen.add(id(self))
        return any(
            included is router or included._contains_router(router, seen)
            for included in getattr(self, "_included_routers", ())
        )

    def _started(self) -> None:
        # Compile now what the startup changed (extensions change routes in the lifespan),
        # rather than on each route's first request.
        for route in self.routes:
            if isinstance(route, APIRoute):
                route._plans.refresh()

    @contextlib.asynccontextmanager
    async def _lifespan_resources(self, scope: Scope) -> AsyncIterator[None]:
        """Create every ``Depends(..., scope="lifespan")`` of the app's routes, once, before
        the first request; close them (the code after their ``yield``) at shutdown."""
        app = scope.get("app")
        overrides = getattr(app, "dependency_overrides", None) or {}
        store = LifespanValues()
        if app is not None:
            setattr(app, LIFESPAN_STORE_ATTRIBUTE, store)
        try:
            for dependant in lifespan_dependants(self.routes, overrides):
                await store.get(dependant, overrides)
            yield
        finally:
            await store.aclose()

    @property
    def form_limits(self) -> dict[str, Any]:
        """Limits for parsed forms on this router's routes and on apps mounted below it."""
        return self._scope_form_limits

    @form_limits.setter
    def form_limits(self, limits: dict[str, Any]) -> None:
        self._scope_form_limits = limits

    def _mark_routes_changed(self) -> None:
        """Tell the route index that the routes changed (FastAPI's name, used by extensions)."""
        self.routes._changed()  # type: ignore[attr-defined]

    # -- adding routes -------------------------------------------------------------------

    def add_api_route(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        response_model: Any = Default(None),
        status_code: int | None = None,
        tags: list[str | Enum] | None = None,
        dependencies: Sequence[params.Depends] | None = None,
        summary: str | None = None,
        description: str | None = None,
        response_description: str = "Successful Response",
        responses: dict[int | str, dict[str, Any]] | None = None,
        deprecated: bool | None = None,
        methods: set[str] | list[str] | None = None,
        operation_id: str | None = None,
        response_model_include: Any = None,
        response_model_exclude: Any = None,
        response_model_by_alias: bool = True,
        response_model_exclude_unset: bool = False,
        response_model_exclude_defaults: bool = False,
        response_model_exclude_none: bool = False,
        include_in_schema: bool = True,
        response_class: type[Response] | DefaultPlaceholder = Default(JSONResponse),
        name: str | None = None,
        route_class_override: type[APIRoute] | None = None,
        callbacks: list[BaseRoute] | None = None,
        openapi_extra: dict[str, Any] | None = None,
        generate_unique_id_function: Callable[[APIRoute], str] | DefaultPlaceholder = Default(
            generate_unique_id
        ),
        strict_content_type: bool | DefaultPlaceholder = Default(True),
        max_body_size: int | None = None,
        form_limits: dict[str, Any] | None = None,
    ) -> None:
        route_class = route_class_override or self.route_class
        tags_ = [*self.tags, *(tags or [])]
        dependencies_ = [*self.dependencies, *(dependencies or [])]
        callbacks_ = [*self.callbacks, *(callbacks or [])]
        route = route_class(
            self.prefix + path,
            endpoint=endpoint,
            response_model=response_model,
            status_code=status_code,
            tags=tags_,
            dependencies=dependencies_,
            summary=summary,
            description=description,
            response_description=response_description,
            responses={**self.responses, **(responses or {})},
            deprecated=deprecated or self.deprecated,
            methods=methods,
            operation_id=operation_id,
            response_model_include=response_model_include,
            response_model_exclude=response_model_exclude,
            response_model_by_alias=response_model_by_alias,
            response_model_exclude_unset=response_model_exclude_unset,
            response_model_exclude_defaults=response_model_exclude_defaults,
            response_model_exclude_none=response_model_exclude_none,
            include_in_schema=include_in_schema and self.include_in_schema,
            response_class=get_value_or_default(response_class, self.default_response_class),
            name=name,
            dependency_overrides_provider=self.dependency_overrides_provider,
            callbacks=callbacks_,
            openapi_extra=openapi_extra,
            generate_unique_id_function=get_value_or_default(
                generate_unique_id_function, self.generate_unique_id_function
            ),
            strict_content_type=get_value_or_default(strict_content_type, self.strict_content_type),
            max_body_size=get_body_size_limit(max_body_size, self.max_body_size),
            form_limits={**self.form_limits, **_validate_form_limits(form_limits)} or None,
        )
        self.routes.append(route)

    def api_route(
        self, path: str, *, methods: list[str] | None = None, **kwargs: Any
    ) -> Callable[[DecoratedCallable], DecoratedCallable]:
        def decorator(func: DecoratedCallable) -> DecoratedCallable:
            self.add_api_route(path, func, methods=methods, **kwargs)
            return func

        return decorator

    def _method(self, method: str, path: str, kwargs: dict[str, Any]) -> Any:
        unknown = set(kwargs) - set(_METHOD_DEFAULTS)
        if unknown:
            raise TypeError(
                f"{method.lower()}() got unexpected keyword argument(s): {sorted(unknown)}"
            )
        return self.api_route(path, methods=[method], **kwargs)

    def get(self, path: str, **kwargs: Any) -> Callable[[DecoratedCallable], DecoratedCallable]:
        return self._method("GET", path, kwargs)  # type: ignore[no-any-return]

    def put(self, path: str, **kwargs: Any) -> Callable[[DecoratedCallable], DecoratedCallable]:
        return self._method("PUT", path, kwargs)  # type: ignore[no-any-return]

    def post(self, path: str, **kwargs: Any) -> Callable[[DecoratedCallable], DecoratedCallable]:
        return self._method("POST", path, kwargs)  # type: ignore[no-any-return]

    def delete(self, path: str, **kwargs: Any) -> Callable[[DecoratedCallable], DecoratedCallable]:
        return self._method("DELETE", path, kwargs)  # type: ignore[no-any-return]

    def options(self, path: str, **kwargs: Any) -> Callable[[DecoratedCallable], DecoratedCallable]:
        return self._method("OPTIONS", path, kwargs)  # type: ignore[no-any-return]

    def head(self, path: str, **kwargs: Any) -> Callable[[DecoratedCallable], DecoratedCallable]:
        return self._method("HEAD", path, kwargs)  # type: ignore[no-any-return]

    def patch(self, path: str, **kwargs: Any) -> Callable[[DecoratedCallable], DecoratedCallable]:
        return self._method("PATCH", path, kwargs)  # type: ignore[no-any-return]

    def trace(self, path: str, **kwargs: Any) -> Callable[[DecoratedCallable], DecoratedCallable]:
        return self._method("TRACE", path, kwargs)  # type: ignore[no-any-return]

    def add_api_websocket_route(
        self,
        path: str,
        endpoint: Callable[..., Any],
        name: str | None = None,
        *,
        dependencies: Sequence[params.Depends] | None = None,
    ) -> None:
        self.routes.append(
            APIWebSocketRoute(
                self.prefix + path,
                endpoint=endpoint,
                name=name,
                dependencies=[*self.dependencies, *(dependencies or [])],
                dependency_overrides_provider=self.dependency_overrides_provider,
            )
        )

    def websocket(
        self,
        path: str,
        name: str | None = None,
        *,
        dependencies: Sequence[params.Depends] | None = None,
    ) -> Callable[[DecoratedCallable], DecoratedCallable]:
        def decorator(func: DecoratedCallable) -> DecoratedCallable:
            self.add_api_websocket_route(path, func, name=name, dependencies=dependencies)
            return func

        return decorator

    def websocket_route(
        self, path: str, name: str | None = None
    ) -> Callable[[DecoratedCallable], DecoratedCallable]:
        def decorator(func: DecoratedCallable) -> DecoratedCallable:
            self.add_websocket_route(path, func, name=name)
            return func

        return decorator

    def route(
        self,
        path: str,
        methods: list[str] | None = None,
        name: str | None = None,
        include_in_schema: bool = True,
    ) -> Callable[[DecoratedCallable], DecoratedCallable]:
        def decorator(func: DecoratedCallable) -> DecoratedCallable:
            self.add_route(
                path, func, methods=methods, name=name, include_in_schema=include_in_schema
            )
            return func

        return decorator

    # -- including other routers -------------------------------------------------------------

    def include_router(
        self,
        router: APIRouter,
        *,
        prefix: str = "",
        tags: list[str | Enum] | None = None,
        dependencies: Sequence[params.Depends] | None = None,
        default_response_class: type[Response] = Default(JSONResponse),
        responses: dict[int | str, dict[str, Any]] | None = None,
        callbacks: list[BaseRoute] | None = None,
        deprecated: bool | None = None,
        include_in_schema: bool = True,
        generate_unique_id_function: Callable[[APIRoute], str] = Default(generate_unique_id),
        max_body_size: int | None = None,
        form_limits: dict[str, Any] | None = None,
    ) -> None:
        assert self is not router, (
            "Cannot include the same APIRouter instance into itself. "
            "Did you mean to include a different router?"
        )
        assert not router._contains_router(self), (
            "Cannot include an APIRouter instance that already includes this router. "
            "Did you mean to include a different router?"
        )
        validate_max_body_size(max_body_size)
        form_limits = _validate_form_limits(form_limits) or None  # fail at startup
        if prefix:
            assert prefix.startswith("/"), "A path prefix must start with '/'"
            assert not prefix.endswith("/"), (
                "A path prefix must not end with '/', as the routes will start with '/'"
            )
        else:
            _check_paths_not_empty(router.routes)
        options: dict[str, Any] = {
            "prefix": prefix,
            "tags": tags,
            "dependencies": dependencies,
            "default_response_class": default_response_class,
            "responses": responses,
            "callbacks": callbacks,
            "deprecated": deprecated,
            "include_in_schema": include_in_schema,
            "generate_unique_id_function": generate_unique_id_function,
            "max_body_size": max_body_size,
            "form_limits": form_limits,
        }
        for route in router.routes:
            self._include_route(route, router, **options)
        anchor = self.routes[-1] if self.routes else None
        router.routes.add_listener(_LiveInclusion(self, router, options, anchor))
        self._included_routers.append(router)
        self._include_low_priority_of(router, options)
        for handler in router.on_startup:
            self.add_event_handler("startup", handler)
        for handler in router.on_shutdown:
            self.add_event_handler("shutdown", handler)
        self.lifespan_context = _merge_lifespan_context(
            self.lifespan_context, router.lifespan_context
        )

    def _include_late_routes(
        self,
        routes: list[BaseRoute],
        router: APIRouter,
        options: dict[str, Any],
        anchor: Any,
    ) -> list[BaseRoute]:
        """Copy routes added to an included ``router`` next to its earlier copies; return them."""
        if not options["prefix"]:
            _check_paths_not_empty(routes)
        target = self.routes
        target.muted = True  # type: ignore[attr-defined]
        try:
            start = len(target)
            for route in routes:
                self._include_route(route, router, **options)
            added = target[start:]
            del target[start:]
            if anchor is None:
                position = 0
            else:
                position = next(
                    (i + 1 for i, route in enumerate(target) if route is anchor), len(target)
                )
            target[position:position] = added
        finally:
            target.muted = False  # type: ignore[attr-defined]
        target._added(added)  # type: ignore[attr-defined]
        return added

    def _include_route(
        self, route: BaseRoute, router: APIRouter, *, prefix: str, **options: Any
    ) -> None:
        start = len(self.routes)
        self._copy_route(route, router, prefix=prefix, **options)
        for copy in self.routes[start:]:
            # What was declared, for ``RouteContext.original_route`` (copies of copies too).
            copy._included_from = getattr(route, "_included_from", route)  # type: ignore[attr-defined]

    def _copy_route(
        self, route: BaseRoute, router: APIRouter, *, prefix: str, **options: Any
    ) -> None:
        if isinstance(route, APIRoute):
            self.add_api_route(
                prefix + route.path,
                route.endpoint,
                response_model=getattr(route, "_response_model_arg", route.response_model),
                status_code=route.status_code,
                tags=[*(options["tags"] or []), *route.tags],
                dependencies=[*(options["dependencies"] or []), *route.dependencies],
                summary=route.summary,
                description=route.description,
                response_description=route.response_description,
                responses={**(options["responses"] or {}), **route.responses},
                deprecated=route.deprecated or options["deprecated"] or self.deprecated,
                methods=route.methods,
                operation_id=route.operation_id,
                response_model_include=route.response_model_include,
                response_model_exclude=route.response_model_exclude,
                response_model_by_alias=route.response_model_by_alias,
                response_model_exclude_unset=route.response_model_exclude_unset,
                response_model_exclude_defaults=route.response_model_exclude_defaults,
                response_model_exclude_none=route.response_model_exclude_none,
                include_in_schema=route.include_in_schema
                and self.include_in_schema
                and options["include_in_schema"],
                response_class=get_value_or_default(
                    route.response_class,
                    router.default_response_class,
                    options["default_response_class"],
                    self.default_response_class,
                ),
                name=route.name,
                route_class_override=type(route),
                callbacks=[*(options["callbacks"] or []), *(route.callbacks or [])],
                openapi_extra=route.openapi_extra,
                generate_unique_id_function=get_value_or_default(
                    route.generate_unique_id_function,
                    router.generate_unique_id_function,
                    options["generate_unique_id_function"],
                    self.generate_unique_id_function,
                ),
                strict_content_type=get_value_or_default(
                    route.strict_content_type, router.strict_content_type, self.strict_content_type
                ),
                max_body_size=get_body_size_limit(
                    route.max_body_size,
                    router.max_body_size,
                    options["max_body_size"],
                    self.max_body_size,
                ),
                form_limits={
                    **self.form_limits,
                    **(options["form_limits"] or {}),
                    **router.form_limits,
                    **(route.form_limits or {}),
                }
                or None,
            )
        elif isinstance(route, Route):
            methods = list(route.methods or [])
            self.add_route(
                prefix + route.path,
                route.endpoint,
                methods=methods,
                include_in_schema=route.include_in_schema,
                name=route.name,
            )
        elif isinstance(route, APIWebSocketRoute):
            self.add_api_websocket_route(
                prefix + route.path,
                route.endpoint,
                dependencies=[*(options["dependencies"] or []), *route.dependencies],
                name=route.name,
            )
        elif isinstance(route, WebSocketRoute):
            self.add_websocket_route(prefix + route.path, route.endpoint, name=route.name)
        elif isinstance(route, Mount):
            # The include's (or the router's) body limit covers what is mounted below it too.
            limit = get_body_size_limit(router.max_body_size, options["max_body_size"])
            self.routes.append(
                Mount(prefix + route.path, app=route.app, name=route.name, max_body_size=limit)
            )
        else:
            self.routes.append(route)


def _check_paths_not_empty(routes: Sequence[BaseRoute]) -> None:
    for route in routes:
        path = getattr(route, "path", None)
        if path is not None and not path:
            name = getattr(route, "name", "unknown")
            raise FastAPIError(f"Prefix and path cannot be both empty (path operation: {name})")


class _LiveInclusion:
    """Keeps an ``include_router`` live: routes added to the included router later are copied
    into the including one too, right after the routes copied before, as FastAPI serves them.

    Removing a route from the included router does not remove its copy.  The including
    router is held weakly, so a shared router does not keep every app it was included in alive.
    """

    def __init__(
        self, parent: APIRouter, router: APIRouter, options: dict[str, Any], anchor: Any
    ) -> None:
        self._parent = weakref.ref(parent)
        self._router = router
        self._options = options
        self._anchor = anchor

    def __call__(self, routes: list[BaseRoute]) -> None:
        parent = self._parent()
        if parent is None:
            self._router.routes.remove_listener(self)  # type: ignore[attr-defined]
            return
        added = parent._include_late_routes(routes, self._router, self._options, self._anchor)
        if added:
            self._anchor = added[-1]
