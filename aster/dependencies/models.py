"""The analysed form of an endpoint or dependency: what it reads, and what it depends on.

A ``Dependant`` is built once per callable at route registration
(:func:`aster.dependencies.analysis.get_dependant`).  The route then flattens the
tree into a plan (:mod:`aster.dependencies.plan`) and never inspects a
signature again.

Extensions change trees after that: they append to ``route.dependant.dependencies``
or set a field.  A compiled ``Dependant`` therefore records such changes: setting a
field, or changing one of its lists, bumps :data:`CHANGES`, and a route whose tree
really changed recompiles its plan (:class:`aster.dependencies.plan.PlanCache`).
Building trees, before they are compiled, records nothing.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from functools import lru_cache, partial
from typing import Any, Literal, SupportsIndex

from ..concurrency import DependencyConcurrency
from ..concurrency import DependencyConcurrency as _DependencyConcurrency  # noqa: F401
from ..fields import ModelField
from ..security.base import SecurityBase
from ..types import DependencyCacheKey

#: How many times a compiled ``Dependant`` (or one of its lists) was changed, in this process.
#: A one-item list, so that readers index it instead of looking a module attribute up.
CHANGES = [0]


def _changed() -> None:
    CHANGES[0] += 1


class _TrackedList(list):  # type: ignore[type-arg]
    """A compiled ``Dependant``'s list: every change is recorded in :data:`CHANGES`."""

    __slots__ = ()

    def append(self, item: Any) -> None:
        super().append(item)
        _changed()

    def extend(self, items: Any) -> None:
        super().extend(items)
        _changed()

    def insert(self, index: SupportsIndex, item: Any) -> None:
        super().insert(index, item)
        _changed()

    def remove(self, item: Any) -> None:
        super().remove(item)
        _changed()

    def pop(self, index: SupportsIndex = -1) -> Any:
        item = super().pop(index)
        _changed()
        return item

    def clear(self) -> None:
        super().clear()
        _changed()

    def sort(self, *args: Any, **kwargs: Any) -> None:
        super().sort(*args, **kwargs)
        _changed()

    def reverse(self) -> None:
        super().reverse()
        _changed()

    def __setitem__(self, index: Any, value: Any) -> None:
        super().__setitem__(index, value)
        _changed()

    def __delitem__(self, index: Any) -> None:
        super().__delitem__(index)
        _changed()

    def __iadd__(self, items: Any) -> _TrackedList:
        super().__iadd__(items)
        _changed()
        return self

    def __imul__(self, times: Any) -> _TrackedList:
        super().__imul__(times)
        _changed()
        return self


class OverridesDict(dict):  # type: ignore[type-arg]
    """``app.dependency_overrides``: every change is recorded in :data:`CHANGES`.

    So a route can tell with one comparison that no override appeared since it last
    looked, instead of asking the app on every request.
    """

    __slots__ = ()

    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(key, value)
        _changed()

    def __delitem__(self, key: Any) -> None:
        super().__delitem__(key)
        _changed()

    def __ior__(self, other: Any) -> OverridesDict:
        super().__ior__(other)
        _changed()
        return self

    def clear(self) -> None:
        super().clear()
        _changed()

    def pop(self, *args: Any) -> Any:
        value = super().pop(*args)
        _changed()
        return value

    def popitem(self) -> Any:
        item = super().popitem()
        _changed()
        return item

    def setdefault(self, key: Any, default: Any = None) -> Any:
        value = super().setdefault(key, default)
        _changed()
        return value

    def update(self, *args: Any, **kwargs: Any) -> None:
        super().update(*args, **kwargs)
        _changed()


@dataclass(slots=True)
class _DependantFields:
    """FastAPI's ``Dependant`` fields, in FastAPI's order."""

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
    scope: Literal["function", "request", "lifespan"] | None = None
    concurrency: DependencyConcurrency | None = None


class Dependant(_DependantFields):
    """One callable's parameters and sub-dependencies (FastAPI's dataclass, and its fields).

    Once compiled into a plan (:func:`seal`), setting a field or changing one of its
    lists is recorded in :data:`CHANGES`.
    """

    #: ``_sealed``: compiled into a plan.  ``_solve_plans``: the plans FastAPI's
    #: ``solve_dependencies`` compiled for this dependant, when an extension calls it.
    __slots__ = ("_sealed", "_solve_plans")

    def __setattr__(self, name: str, value: Any) -> None:
        if getattr(self, "_sealed", False) and getattr(self, name) is not value:
            if type(value) is list:
                value = _TrackedList(value)
            object.__setattr__(self, name, value)
            _changed()
            return
        object.__setattr__(self, name, value)

    @property
    def oauth_scopes(self) -> list[str]:
        return get_oauth_scopes(self)

    @property
    def cache_key(self) -> DependencyCacheKey:
        return get_cache_key(self)

    @property
    def computed_scope(self) -> str | None:
        return get_computed_scope(self)


#: FastAPI's ``Dependant`` fields, by name.
_FIELD_NAMES = tuple(f.name for f in fields(_DependantFields))


def seal(dependant: Dependant) -> None:
    """Mark ``dependant`` as compiled: from now on its changes are recorded."""
    if getattr(dependant, "_sealed", False):
        return
    for name in _FIELD_NAMES:
        value = getattr(dependant, name)
        if type(value) is list:
            object.__setattr__(dependant, name, _TrackedList(value))
    object.__setattr__(dependant, "_sealed", True)


def snapshot(dependant: Dependant) -> list[Any]:
    """Every node of the tree with each field's value and each list's items, in order.

    Two snapshots of one tree are equal item by item (``is``) unless the tree changed.
    The snapshot holds what it saw, so no object in it can be freed and its address reused.
    """
    items: list[Any] = []
    stack = [dependant]
    while stack:
        node = stack.pop()
        items.append(node)
        for name in _FIELD_NAMES:
            value = getattr(node, name)
            items.append(value)
            if type(value) is _TrackedList or type(value) is list:
                items.append(len(value))
                items.extend(value)
        stack.extend(reversed(node.dependencies))
    return items


def same_snapshot(first: list[Any], second: list[Any]) -> bool:
    return len(first) == len(second) and all(a is b for a, b in zip(first, second, strict=True))


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


# -- FastAPI's names for the above (``fastapi.dependencies.models``), which extensions import --

_CALLABLE_CLASSIFICATION_CACHE_SIZE = 4096
_CallIdentity = _Identity
#: ``id(dependant) -> (dependant, uses scopes)``: FastAPI's memo for one tree walk.
_UsesScopesCache = dict[int, tuple[Dependant, bool]]
_is_gen_callable_cached = _is_gen
_is_async_gen_callable_cached = _is_async_gen
_is_coroutine_callable_cached = _is_coroutine
_is_gen_callable = is_gen_callable
_is_async_gen_callable = is_async_gen_callable
_is_coroutine_callable = is_coroutine_callable
iscoroutinefunction = asyncio.iscoroutinefunction


def _unwrapped_call(call: Callable[..., Any] | None) -> Any:
    return call if call is None else _unwrapped(call)


def _get_oauth_scopes(*, dependant: Dependant) -> list[str]:
    return get_oauth_scopes(dependant)


def _uses_scopes(*, dependant: Dependant, cache: _UsesScopesCache | None = None) -> bool:
    if cache is None:
        return uses_scopes(dependant)
    cached = cache.get(id(dependant))
    if cached is not None and cached[0] is dependant:
        return cached[1]
    result = bool(
        dependant.own_oauth_scopes
        or dependant.security_scopes_param_name is not None
        or is_security_scheme(dependant.call)
        or any(_uses_scopes(dependant=sub, cache=cache) for sub in dependant.dependencies)
    )
    cache[id(dependant)] = (dependant, result)
    return result


def _get_cache_key(
    *, dependant: Dependant, uses_scopes_cache: _UsesScopesCache | None = None
) -> DependencyCacheKey:
    scopes = (
        tuple(sorted(set(get_oauth_scopes(dependant))))
        if _uses_scopes(dependant=dependant, cache=uses_scopes_cache)
        else ()
    )
    return (dependant.call, scopes, get_computed_scope(dependant) or "")


def _is_security_scheme(*, dependant: Dependant) -> bool:
    return is_security_scheme(dependant.call)


def _get_security_scheme(*, dependant: Dependant) -> SecurityBase:
    scheme = _unwrapped_call(dependant.call)
    assert isinstance(scheme, SecurityBase)
    return scheme


def _get_computed_scope(*, dependant: Dependant) -> str | None:
    return get_computed_scope(dependant)
