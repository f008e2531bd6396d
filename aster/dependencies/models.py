"""The analysed form of an endpoint or dependency: what it reads, and what it depends on.

A ``Dependant`` is built once per callable at route registration
(:func:`aster.dependencies.utils.get_dependant`).  The route then flattens the
tree into a plan (:mod:`aster.dependencies.plan`) and never inspects a
signature again.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import Any, Literal

from ..fields import ModelField
from ..params import DependencyConcurrency
from ..security.base import SecurityBase

DependencyCacheKey = tuple[Any, tuple[str, ...], str]


@dataclass(slots=True)
class Dependant:
    path_params: list[ModelField] = field(default_factory=list)
    query_params: list[ModelField] = field(default_factory=list)
    header_params: list[ModelField] = field(default_factory=list)
    cookie_params: list[ModelField] = field(default_factory=list)
    body_params: list[ModelField] = field(default_factory=list)
    dependencies: list[Dependant] = field(default_factory=list)
    name: str | None = None
    call: Callable[..., Any] | None = None
    request_param_name: str | None = None
    websocket_param_name: str | None = None
    http_connection_param_name: str | None = None
    response_param_name: str | None = None
    background_tasks_param_name: str | None = None
    security_scopes_param_name: str | None = None
    own_oauth_scopes: list[str] | None = None
    parent_oauth_scopes: list[str] | None = None
    use_cache: bool = True
    path: str | None = None
    scope: Literal["function", "request"] | None = None
    concurrency: DependencyConcurrency | None = None

    @property
    def oauth_scopes(self) -> list[str]:
        return get_oauth_scopes(self)

    @property
    def cache_key(self) -> DependencyCacheKey:
        return get_cache_key(self)

    @property
    def computed_scope(self) -> str | None:
        return get_computed_scope(self)


def get_oauth_scopes(dependant: Dependant) -> list[str]:
    """Parent scopes then own scopes, without duplicates, in declaration order."""
    scopes = list(dependant.parent_oauth_scopes or [])
    for scope in dependant.own_oauth_scopes or []:
        if scope not in scopes:
            scopes.append(scope)
    return scopes


def uses_scopes(dependant: Dependant) -> bool:
    """Whether the result can depend on the OAuth2 scopes (so they belong in the cache key)."""
    if dependant.own_oauth_scopes or dependant.security_scopes_param_name is not None:
        return True
    if is_security_scheme(dependant.call):
        return True
    return any(uses_scopes(sub) for sub in dependant.dependencies)


def get_cache_key(dependant: Dependant) -> DependencyCacheKey:
    scopes = tuple(sorted(set(get_oauth_scopes(dependant)))) if uses_scopes(dependant) else ()
    return (dependant.call, scopes, get_computed_scope(dependant) or "")


def get_computed_scope(dependant: Dependant) -> str | None:
    if dependant.scope:
        return dependant.scope
    if is_gen_callable(dependant.call) or is_async_gen_callable(dependant.call):
        return "request"
    return None


def is_security_scheme(call: Any) -> bool:
    if call is None:
        return False
    return isinstance(_unwrapped(call), SecurityBase)


# -- what kind of callable is it? (asked at compile time only, cached) ------------------


def _impartial(func: Any) -> Any:
    while isinstance(func, partial):
        func = func.func
    return func


def _unwrapped(call: Any) -> Any:
    return inspect.unwrap(_impartial(call))


class _Identity:
    """Hash callables by identity: some (e.g. dataclass instances) are unhashable."""

    __slots__ = ("call",)

    def __init__(self, call: Any) -> None:
        self.call = call

    def __hash__(self) -> int:
        return id(self.call)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Identity) and self.call is other.call


def _classify(call: Any, test: Callable[[Any], bool], *, routine_only: bool = False) -> bool:
    """Apply ``test`` to the callable, its unwrapped form, and their ``__call__`` methods."""

    def check(func: Any) -> bool:
        if routine_only and not inspect.isroutine(func):
            return False
        return test(func)

    if check(_impartial(call)) or check(_unwrapped(call)):
        return True
    if inspect.isclass(_unwrapped(call)):
        return False
    for owner in (_impartial(call), _unwrapped(call)):
        dunder = getattr(owner, "__call__", None)  # noqa: B004 - classes are callable too
        if dunder is not None and (test(_impartial(dunder)) or test(_unwrapped(dunder))):
            return True
    return False


@lru_cache(maxsize=4096)
def _is_gen(identity: _Identity) -> bool:
    return _classify(identity.call, inspect.isgeneratorfunction)


@lru_cache(maxsize=4096)
def _is_async_gen(identity: _Identity) -> bool:
    return _classify(identity.call, inspect.isasyncgenfunction)


@lru_cache(maxsize=4096)
def _is_coroutine(identity: _Identity) -> bool:
    # asyncio's check also honours the legacy ``_is_coroutine`` marker on 3.11/3.12.
    return _classify(identity.call, asyncio.iscoroutinefunction, routine_only=True)


def is_gen_callable(call: Any) -> bool:
    return call is not None and _is_gen(_Identity(call))


def is_async_gen_callable(call: Any) -> bool:
    return call is not None and _is_async_gen(_Identity(call))


def is_coroutine_callable(call: Any) -> bool:
    return call is not None and _is_coroutine(_Identity(call))
