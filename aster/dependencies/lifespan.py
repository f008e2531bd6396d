"""``Depends(get_pool, scope="lifespan")``: created once at startup, shared, closed at shutdown.

FastAPI's dependencies live for one request (``"function"``/``"request"``), so a
connection pool is usually kept in a module global or ``app.state`` by hand
(fastapi#617).  A lifespan-scoped dependency is the same declaration with a
longer life:

* at lifespan startup (after the app's own ``lifespan`` has entered) every
  lifespan dependency of the app's routes is called once; a ``yield`` one stays
  open until shutdown, when the code after its ``yield`` runs (before the app's
  own ``lifespan`` exits, so the pool closes while what it needs still exists);
* a request gets the stored value: one dict lookup, no call and no exit stack;
* ``app.dependency_overrides`` applies: an override set before startup is what
  startup creates (a test never opens the real pool); one set later is created
  on first use, once, and closed at shutdown with the rest;
* without a lifespan (a TestClient not used as a context manager) the value is
  created on first use and kept for the app's life.

A lifespan dependency can depend only on other lifespan dependencies, and takes no
request parameters: there is no request when it runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping
from contextlib import AsyncExitStack
from typing import Any

from ..concurrency import run_in_threadpool
from .analysis import LIFESPAN, overridden_dependant
from .exits import enter_generator
from .models import Dependant, is_async_gen_callable, is_coroutine_callable, is_gen_callable

#: Where the app keeps its store.  Not in the lifespan state: that dict is the app's own,
#: and apps (and FastAPI's tests) compare it whole.
STORE_ATTRIBUTE = "_aster_lifespan_values"


class LifespanValues:
    """The values of one app's lifespan dependencies, by (effective) callable, and their exits."""

    def __init__(self) -> None:
        self.values: dict[Callable[..., Any], Any] = {}
        self.stack = AsyncExitStack()
        self._lock = asyncio.Lock()

    async def get(self, dependant: Dependant, overrides: Mapping[Any, Any] | None = None) -> Any:
        try:
            return self.values[dependant.call]  # type: ignore[index]
        except KeyError:
            pass
        async with self._lock:  # two first requests at once: one call
            return await self._value(dependant, overrides or {})

    async def _value(self, dependant: Dependant, overrides: Mapping[Any, Any]) -> Any:
        call = dependant.call
        if call not in self.values:
            self.values[call] = await self._create(dependant, overrides)  # type: ignore[index]
        return self.values[call]  # type: ignore[index]

    async def _create(self, dependant: Dependant, overrides: Mapping[Any, Any]) -> Any:
        values = {}
        for sub in dependant.dependencies:
            value = await self._value(overridden_dependant(sub, overrides), overrides)
            if sub.name is not None:
                values[sub.name] = value
        call = dependant.call
        assert call is not None
        if is_async_gen_callable(call) or is_gen_callable(call):
            return await enter_generator(
                call, values, is_async=is_async_gen_callable(call), stack=self.stack, scope={}
            )
        if is_coroutine_callable(call):
            return await call(**values)
        return await run_in_threadpool(call, **values)

    async def aclose(self) -> None:
        self.values.clear()
        await self.stack.aclose()


def lifespan_dependants(routes: Any, overrides: Mapping[Any, Any]) -> Iterator[Dependant]:
    """Every lifespan dependency in the routes' trees (overrides applied), in tree order."""
    seen: set[int] = set()
    for route in routes:
        root = getattr(route, "dependant", None)
        if not isinstance(root, Dependant):
            continue
        pending = [root]
        while pending:
            node = pending.pop(0)
            for sub in node.dependencies:
                if sub.scope == LIFESPAN:
                    use = overridden_dependant(sub, overrides)
                    if id(use.call) not in seen:
                        seen.add(id(use.call))
                        yield use
                else:
                    pending.append(sub)


def store_for(scope: Mapping[str, Any]) -> LifespanValues:
    """The app's store (``scope["app"]``): the one its lifespan startup opened, or, when no
    lifespan ran, one made now and kept on the app."""
    app = scope.get("app")
    store = getattr(app, STORE_ATTRIBUTE, None)
    if store is None:
        store = LifespanValues()
        try:
            setattr(app, STORE_ATTRIBUTE, store)
        except AttributeError:  # pragma: no cover - an app object that takes no attributes
            pass
    return store  # type: ignore[no-any-return]
