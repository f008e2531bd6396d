"""FastAPI's request-time dependency functions, for extensions that call them themselves.

aster's routes never call these: a request runs the route's compiled plan
(:mod:`.plan`).  Extensions, though, resolve dependants on their own, with FastAPI's
functions, signatures and results: ``solve_dependencies`` in a custom route class or a
WebSocket handler, ``request_params_to_args`` and ``request_body_to_args`` to validate
parameters.  Here they run on the same plans and readers as the routes, so they give
the routes' answers; a dependant solved repeatedly is compiled once (and again only if
it changed).

Below them, the names older FastAPI releases had and extensions written for them still
import (``get_flat_dependant``, ``get_body_field``, ``solve_generator``...).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from copy import deepcopy
from dataclasses import dataclass
from typing import Any

from .. import params
from .._response import Response
from ..background import BackgroundTasks
from ..fields import ModelField, field_annotation_is_sequence, get_missing_field_error
from ..requests import Request
from ..websockets import WebSocket
from .analysis import get_dependant
from .body import BodyReader
from .body_field import get_body_field as _get_body_field
from .exits import enter_generator
from .models import (
    CHANGES,
    Dependant,
    DependencyCacheKey,
    _UsesScopesCache,
    get_cache_key,
    is_async_gen_callable,
    is_gen_callable,
)
from .param_models import read_param_model
from .param_values import ParamReader, read_value
from .plan import PlanCache, read_params, sub_response
from .shapes import is_json_field

Undefined = params.Undefined


@dataclass
class SolvedDependency:
    """What :func:`solve_dependencies` found: the dependant's arguments, or the errors."""

    values: dict[str, Any]
    errors: list[Any]
    background_tasks: BackgroundTasks | None
    response: Response
    dependency_cache: dict[DependencyCacheKey, Any]


def _plans_for(dependant: Dependant, embed_body_fields: bool) -> PlanCache:
    """The plans compiled for ``dependant``, kept on it (recompiled if it changed)."""
    plans: dict[bool, PlanCache] | None = getattr(dependant, "_solve_plans", None)
    if plans is None:
        plans = {}
        object.__setattr__(dependant, "_solve_plans", plans)
    cache = plans.get(embed_body_fields)
    if cache is None:
        cache = plans[embed_body_fields] = PlanCache(dependant, embed_body_fields=embed_body_fields)
    elif cache.seen != CHANGES[0]:
        cache.refresh()
    return cache


async def solve_dependencies(
    *,
    request: Request | WebSocket,
    dependant: Dependant,
    body: Any = Undefined,
    background_tasks: BackgroundTasks | None = None,
    response: Response | None = None,
    dependency_overrides_provider: Any | None = None,
    dependency_cache: dict[DependencyCacheKey, Any] | None = None,
    async_exit_stack: AsyncExitStack,
    embed_body_fields: bool,
    _uses_scopes_cache: _UsesScopesCache | None = None,
) -> SolvedDependency:
    """Solve ``dependant``'s dependencies and read its own parameters (it is not called).

    As FastAPI's: the request's two exit stacks must be in its scope (``yield``
    dependencies register their exits there; ``async_exit_stack`` is not used), results
    are cached in ``dependency_cache`` by cache key, and a dependency whose inputs failed
    is not called.
    """
    request_stack = request.scope.get("fastapi_inner_astack")
    assert isinstance(request_stack, AsyncExitStack), (
        "fastapi_inner_astack not found in request scope"
    )
    function_stack = request.scope.get("fastapi_function_astack")
    assert isinstance(function_stack, AsyncExitStack), (
        "fastapi_function_astack not found in request scope"
    )
    if response is None:
        response = sub_response()
    if dependency_cache is None:
        dependency_cache = {}
    plan = _plans_for(dependant, embed_body_fields).current(dependency_overrides_provider)
    values, errors, background, _ = await plan.solve(
        request, body, response=response, cache=dependency_cache, background=background_tasks
    )
    return SolvedDependency(
        values=values,
        errors=errors,
        background_tasks=background,
        response=response,
        dependency_cache=dependency_cache,
    )


async def _solve_generator(
    *,
    dependant: Dependant,
    stack: AsyncExitStack,
    sub_values: dict[str, Any],
    request: Request | WebSocket,
) -> Any:
    """Enter a ``yield`` dependency on ``stack`` (exit shielded, concurrency limited)."""
    assert dependant.call
    return await enter_generator(
        dependant.call,
        sub_values,
        is_async=is_async_gen_callable(dependant.call),
        stack=stack,
        scope=request.scope,
        concurrency=dependant.concurrency,
    )


def _validate_value_with_model_field(
    *, field: ModelField, value: Any, values: dict[str, Any], loc: tuple[Any, ...]
) -> tuple[Any, list[Any]]:
    if value is Undefined:
        if field.field_info.is_required():
            return None, [get_missing_field_error(loc=loc)]
        value = deepcopy(field.default)
        if not field.field_info.validate_default:
            return value, []
    return field.validate(value, values, loc=loc)


def _get_multidict_value(field: ModelField, values: Mapping[str, Any], alias: str) -> Any:
    """The raw value of ``field`` under ``alias``; ``Undefined`` when absent or empty."""
    sequence = field_annotation_is_sequence(field.field_info.annotation)
    return read_value(values, alias, not is_json_field(field) and sequence, sequence)


def _request_param_model_to_args(
    model_field: ModelField, model: type[Any], received_params: Mapping[str, Any]
) -> tuple[Any, list[Any]]:
    """A parameter model (``Annotated[Model, Query()]``) read from all its keys."""
    reader = ParamReader(model_field)
    reader.model = model
    return read_param_model(reader, received_params)


def request_params_to_args(
    fields: Sequence[ModelField], received_params: Mapping[str, Any]
) -> tuple[dict[str, Any], list[Any]]:
    """Validate path, query, header or cookie fields from one source: (values, errors)."""
    values: dict[str, Any] = {}
    if not fields:
        return values, []
    errors = read_params([ParamReader(field) for field in fields], received_params, values)
    return values, errors


async def request_body_to_args(
    body_fields: list[ModelField], received_body: Any, embed_body_fields: bool
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Validate the body parameters from the parsed body (JSON or ``FormData``)."""
    assert body_fields, "request_body_to_args() should be called with fields"
    reader = BodyReader(body_fields, embed_body_fields)
    values: dict[str, Any] = {}
    errors = await reader.read(received_body, values)
    if reader.single and errors:
        values[reader.first.name] = None  # FastAPI names the one field even when it failed
    return values, errors


# -- the names of earlier FastAPI releases ---------------------------------------------------


def get_flat_dependant(
    dependant: Dependant,
    *,
    skip_repeats: bool = False,
    visited: list[DependencyCacheKey] | None = None,
) -> Dependant:
    """One ``Dependant`` with the parameters of the whole tree (earlier FastAPI releases)."""
    if visited is None:
        visited = []
    visited.append(get_cache_key(dependant))
    flat = Dependant(
        path_params=list(dependant.path_params),
        query_params=list(dependant.query_params),
        header_params=list(dependant.header_params),
        cookie_params=list(dependant.cookie_params),
        body_params=list(dependant.body_params),
        use_cache=dependant.use_cache,
        path=dependant.path,
    )
    for sub in dependant.dependencies:
        if skip_repeats and get_cache_key(sub) in visited:
            continue
        flat_sub = get_flat_dependant(sub, skip_repeats=skip_repeats, visited=visited)
        flat.path_params.extend(flat_sub.path_params)
        flat.query_params.extend(flat_sub.query_params)
        flat.header_params.extend(flat_sub.header_params)
        flat.cookie_params.extend(flat_sub.cookie_params)
        flat.body_params.extend(flat_sub.body_params)
    return flat


def get_body_field(
    *,
    name: str,
    embed_body_fields: bool,
    flat_dependant: Dependant | None = None,
    body_params: list[ModelField] | None = None,
) -> ModelField | None:
    """``_get_body_field``, also under its earlier name and ``flat_dependant=`` argument."""
    if body_params is None:
        assert flat_dependant is not None, "pass body_params= (or flat_dependant=)"
        body_params = flat_dependant.body_params
    return _get_body_field(body_params=body_params, name=name, embed_body_fields=embed_body_fields)


def get_sub_dependant(
    *,
    depends: params.Depends,
    dependency: Callable[..., Any],
    path: str,
    name: str | None = None,
    security_scopes: list[str] | None = None,
) -> Dependant:
    """The ``Dependant`` of one ``Depends`` (earlier FastAPI releases)."""
    own_scopes = list(depends.scopes or []) if isinstance(depends, params.Security) else []
    return get_dependant(
        path=path,
        call=dependency,
        name=name,
        own_oauth_scopes=own_scopes,
        parent_oauth_scopes=list(security_scopes or []),
        use_cache=depends.use_cache,
        scope=depends.scope,
        concurrency=depends._concurrency,
    )


def get_param_sub_dependant(
    *,
    param_name: str,
    depends: params.Depends,
    path: str,
    security_scopes: list[str] | None = None,
) -> Dependant:
    assert depends.dependency
    return get_sub_dependant(
        depends=depends,
        dependency=depends.dependency,
        path=path,
        name=param_name,
        security_scopes=security_scopes,
    )


async def solve_generator(
    *, call: Callable[..., Any], stack: AsyncExitStack, sub_values: dict[str, Any]
) -> Any:
    """Enter a ``yield`` dependency on ``stack`` (earlier FastAPI releases: no request)."""
    assert is_gen_callable(call) or is_async_gen_callable(call)
    return await enter_generator(
        call, sub_values, is_async=is_async_gen_callable(call), stack=stack, scope={}
    )
