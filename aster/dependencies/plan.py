"""A route's dependency tree, flattened at start-up into a list of steps run per request.

The :class:`Dependant` tree is walked once, post-order, into :class:`Step`\\ s:
every sub-dependency comes before the dependant that uses it, and the endpoint
is the last step.  Each step carries precomputed readers for its parameters
(which key, which getter, list or scalar, what a missing value means), so a
request runs one flat loop, with no recursion and no introspection.

Semantics follow FastAPI's ``solve_dependencies``:

* errors are collected in tree order (a sub-dependency's errors before its
  parent's own), and a dependency whose inputs failed is not called;
* results are cached per request by ``(call, scopes, scope)`` when
  ``use_cache`` is set (a repeated dependency still appears as several steps,
  each consulting the cache, exactly as the recursive walk would);
* ``app.dependency_overrides`` swap a sub-dependency's callable (recursively);
  a plan is compiled once per distinct overrides mapping.

A route keeps its plans in a :class:`PlanCache`, which recompiles them when an
extension changed the route's tree after it was compiled (appended a dependency,
replaced a callable).  The per-request check is one integer comparison with
:data:`aster.dependencies.models.CHANGES`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError

from .. import params
from .._response import Response
from ..background import BackgroundTasks
from ..concurrency import run_in_threadpool
from ..fields import (
    errors_with_loc,
)
from ..requests import Request
from ..security.oauth2 import SecurityScopes
from .analysis import LIFESPAN, overridden_dependant
from .body import BodyReader
from .exits import enter_generator
from .lifespan import store_for
from .models import (
    CHANGES,
    Dependant,
    get_cache_key,
    get_oauth_scopes,
    is_async_gen_callable,
    is_coroutine_callable,
    is_gen_callable,
    same_snapshot,
    seal,
    snapshot,
)
from .param_models import read_param_model
from .param_values import ParamReader, read_value, validate_value

Undefined = params.Undefined
CALL_ASYNC, CALL_SYNC, CALL_ASYNC_GEN, CALL_GEN = 0, 1, 2, 3


def read_params(
    readers: list[ParamReader], source: Mapping[str, Any], values: dict[str, Any]
) -> list[dict[str, Any]]:
    """Validate every parameter of one location into ``values``; return the errors."""
    errors: list[dict[str, Any]] = []
    for reader in readers:
        if reader.simple:
            value = source.get(reader.alias)
            if value is not None:
                try:
                    values[reader.name] = reader.validate_core(value, from_attributes=True)
                except ValidationError as exc:
                    errors += errors_with_loc(
                        exc.errors(include_url=False), (reader.location, reader.alias)
                    )
                continue
            loc = (reader.location, reader.alias)
            value, reader_errors = validate_value(reader, Undefined, loc)
        elif reader.model is not None:
            value, reader_errors = read_param_model(reader, source)
        else:
            aliases = reader.aliases
            alias = aliases[0]
            if len(aliases) > 1:
                alias = next((a for a in aliases if a in source), alias)
            value, reader_errors = validate_value(
                reader,
                read_value(source, alias, reader.multi, reader.sequence),
                (reader.location, alias),
            )
        if reader_errors:
            errors.extend(reader_errors)
        else:
            values[reader.name] = value
    return errors


class Step:
    """One dependant of the flattened tree: its inputs, and how to call it."""

    __slots__ = (
        "dependant",
        "call",
        "kind",
        "name",
        "children",
        "cache_key",
        "use_cache",
        "function_scoped",
        "lifespan",
        "concurrency",
        "path_params",
        "query_params",
        "header_params",
        "cookie_params",
        "body_params",
        "body_reader",
        "request_name",
        "websocket_name",
        "connection_name",
        "response_name",
        "background_name",
        "scopes_name",
        "oauth_scopes",
        "has_params",
        "has_injections",
    )

    def __init__(
        self,
        dependant: Dependant,
        original: Dependant,
        children: list[int],
        embed_body_fields: bool = False,
    ) -> None:
        call = dependant.call
        self.dependant = dependant
        self.call = call
        if is_async_gen_callable(call):
            self.kind = CALL_ASYNC_GEN
        elif is_gen_callable(call):
            self.kind = CALL_GEN
        elif is_coroutine_callable(call):
            self.kind = CALL_ASYNC
        else:
            self.kind = CALL_SYNC
        self.name = original.name
        self.children = children
        # The cache key and use_cache come from the declaration, even when overridden.
        self.cache_key = get_cache_key(original)
        self.use_cache = original.use_cache
        self.function_scoped = original.scope == "function"
        #: Created once at startup (``scope="lifespan"``): looked up, never called per request.
        self.lifespan = original.scope == LIFESPAN
        self.concurrency = dependant.concurrency
        self.path_params = [ParamReader(f) for f in dependant.path_params]
        self.query_params = [ParamReader(f) for f in dependant.query_params]
        self.header_params = [ParamReader(f) for f in dependant.header_params]
        self.cookie_params = [ParamReader(f) for f in dependant.cookie_params]
        self.body_params = dependant.body_params
        self.body_reader = (
            BodyReader(dependant.body_params, embed_body_fields) if dependant.body_params else None
        )
        self.request_name = dependant.request_param_name
        self.websocket_name = dependant.websocket_param_name
        self.connection_name = dependant.http_connection_param_name
        self.response_name = dependant.response_param_name
        self.background_name = dependant.background_tasks_param_name
        self.scopes_name = dependant.security_scopes_param_name
        self.oauth_scopes = get_oauth_scopes(dependant)
        self.has_params = bool(
            self.path_params or self.query_params or self.header_params or self.cookie_params
        )
        self.has_injections = any(
            (
                self.request_name,
                self.websocket_name,
                self.connection_name,
                self.response_name,
                self.background_name,
                self.scopes_name,
            )
        )


#: What solving a plan produced for one request: a plain tuple, the cheapest to build,
#: ``(values, errors, background_tasks, response)``.
Solved = tuple[dict[str, Any], list[dict[str, Any]], "BackgroundTasks | None", "Response | None"]


class Plan:
    """The flattened dependency tree of one endpoint (the last step)."""

    def __init__(
        self,
        dependant: Dependant,
        overrides: Mapping[Callable[..., Any], Callable[..., Any]] | None = None,
        *,
        embed_body_fields: bool = False,
    ) -> None:
        self.embed_body_fields = embed_body_fields
        self.overrides: Mapping[Any, Any] = overrides or {}
        self.steps: list[Step] = []
        self._add(dependant, dependant, self.overrides, is_root=True)
        self.endpoint = self.steps[-1]
        self.call = self.endpoint.call
        self.needs_exit_stacks = any(
            s.kind in (CALL_GEN, CALL_ASYNC_GEN) and not s.lifespan for s in self.steps[:-1]
        )
        self.needs_response = any(s.response_name for s in self.steps)
        #: Only the endpoint, no dependencies: the common case, solved without the loop.
        self.simple = len(self.steps) == 1

    def _add(
        self,
        dependant: Dependant,
        original: Dependant,
        overrides: Mapping[Any, Any],
        *,
        is_root: bool = False,
    ) -> int:
        seal(dependant)
        seal(original)
        children = []
        # A lifespan dependency's own dependencies are solved with it, at startup.
        for sub in dependant.dependencies if original.scope != LIFESPAN else ():
            use = overridden_dependant(sub, overrides)
            children.append(self._add(use, sub, overrides))
        self.steps.append(Step(dependant, original, children, self.embed_body_fields))
        return len(self.steps) - 1

    async def solve(
        self,
        request: Any,
        body: Any = Undefined,
        *,
        response: Response | None = None,
        cache: dict[Any, Any] | None = None,
        background: BackgroundTasks | None = None,
    ) -> Solved:
        """Solve every dependency and read the last step's inputs (the last step is not called).

        ``cache`` (results by cache key) and ``background`` may be shared with the
        caller, as FastAPI's ``solve_dependencies`` shares them.
        """
        if self.simple:
            values: dict[str, Any] = {}
            endpoint = self.endpoint
            errors = await _read_inputs(endpoint, request, body, values)
            if not endpoint.has_injections:
                return values, errors, background, response
            if response is None and self.needs_response:
                response = sub_response()
            background = _inject(endpoint, request, values, background, response)
            return values, errors, background, response
        steps = self.steps
        last = len(steps) - 1
        results: list[Any] = [None] * len(steps)
        failed = [False] * len(steps)
        errors = []
        if cache is None:
            cache = {}
        if response is None and self.needs_response:
            response = sub_response()
        values = {}
        for index, step in enumerate(steps):
            values = {}
            inputs_failed = False
            for child in step.children:
                if failed[child]:
                    inputs_failed = True
                elif steps[child].name is not None:  # dependencies=[...] have no parameter
                    values[steps[child].name] = results[child]  # type: ignore[index]
            step_errors = await _read_inputs(step, request, body, values)
            if step.has_injections:
                background = _inject(step, request, values, background, response)
            if step_errors:
                errors += step_errors
            if step_errors or inputs_failed:
                failed[index] = True
                continue
            if index == last:
                break
            if step.lifespan:
                store = store_for(request.scope)
                results[index] = await store.get(step.dependant, self.overrides)
                continue
            if step.use_cache and step.cache_key in cache:
                results[index] = cache[step.cache_key]
                continue
            result = await _call(step, values, request)
            results[index] = result
            if step.cache_key not in cache:
                cache[step.cache_key] = result
        return values, errors, background, response


class PlanCache:
    """A route's plans: the default one, one per dependency-overrides mapping, kept current.

    Compiled when the route is built.  An extension may change the route's ``Dependant``
    tree afterwards (``route.dependant.dependencies.append(...)``, or replace
    ``route.dependant``); any change to a compiled tree bumps ``CHANGES``, and the next
    request that sees a new count compares the tree with the snapshot taken when it was
    compiled, recompiling only if this route's tree is the one that changed.
    """

    __slots__ = (
        "dependant",
        "embed_body_fields",
        "form_body",
        "plan",
        "seen",
        "stacks_needed",
        "_snapshot",
        "_override_plans",
    )

    def __init__(
        self, dependant: Dependant, *, embed_body_fields: bool = False, form_body: bool = False
    ) -> None:
        self.dependant = dependant
        self.embed_body_fields = embed_body_fields
        #: Uploaded files are closed by the request's exit stack, after the response.
        self.form_body = form_body
        self._compile()

    def _compile(self) -> None:
        self.plan = Plan(self.dependant, embed_body_fields=self.embed_body_fields)
        self._snapshot = snapshot(self.dependant)
        self._override_plans: dict[Any, Plan] = {}
        #: Whether requests need the exit stacks (dependencies with ``yield``, uploads).
        self.stacks_needed = self.plan.needs_exit_stacks or self.form_body
        self._checked()

    def _checked(self) -> None:
        self.seen = CHANGES[0]

    def retarget(self, dependant: Dependant) -> None:
        """The route's ``dependant`` was replaced: compile the new one at the next check."""
        self.dependant = dependant
        self.seen = -1
        CHANGES[0] += 1  # routes that skip checks while nothing changed must look again

    def refresh(self) -> Plan:
        """The default plan, recompiled first if this route's tree changed."""
        if self.seen != CHANGES[0]:
            if self.seen != -1 and same_snapshot(self._snapshot, snapshot(self.dependant)):
                self._override_plans.clear()  # an override's own tree may have changed
                self._checked()
            else:
                self._compile()
        return self.plan

    def current(self, overrides_provider: Any) -> Plan:
        """The plan for the active overrides (or the default plan, if there are none)."""
        plan = self.plan
        overrides = getattr(overrides_provider, "dependency_overrides", None)
        if not overrides:
            return plan
        try:
            key: Any = tuple(overrides.items())
            cached = self._override_plans.get(key)
        except TypeError:  # an unhashable override: compile for this request only
            return Plan(self.dependant, overrides, embed_body_fields=self.embed_body_fields)
        if cached is None:
            cached = self._override_plans[key] = Plan(
                self.dependant, overrides, embed_body_fields=self.embed_body_fields
            )
        return cached


async def _read_inputs(
    step: Step, request: Any, body: Any, values: dict[str, Any]
) -> list[dict[str, Any]]:
    """Read and validate one step's path, query, header, cookie and body parameters."""
    errors: list[dict[str, Any]] = []
    if step.has_params:
        if step.path_params:
            errors = read_params(step.path_params, request.path_params, values)
        if step.query_params:
            errors += read_params(step.query_params, request.query_params, values)
        if step.header_params:
            errors += read_params(step.header_params, request.headers, values)
        if step.cookie_params:
            errors += read_params(step.cookie_params, request.cookies, values)
    if step.body_reader is not None:
        errors += await step.body_reader.read(body, values)
    return errors


def sub_response() -> Response:
    """The ``Response`` a handler may take to set status, headers and cookies."""
    response = Response()
    del response.headers["content-length"]
    response.status_code = None  # type: ignore[assignment]
    return response


def _inject(
    step: Step,
    request: Any,
    values: dict[str, Any],
    background: BackgroundTasks | None,
    response: Response | None,
) -> BackgroundTasks | None:
    if step.connection_name:
        values[step.connection_name] = request
    if step.request_name and isinstance(request, Request):
        values[step.request_name] = request
    elif step.websocket_name and not isinstance(request, Request):
        values[step.websocket_name] = request
    if step.background_name:
        if background is None:
            background = BackgroundTasks()
        values[step.background_name] = background
    if step.response_name:
        values[step.response_name] = response
    if step.scopes_name:
        values[step.scopes_name] = SecurityScopes(scopes=list(step.oauth_scopes))
    return background


async def _call(step: Step, values: dict[str, Any], request: Any) -> Any:
    call = step.call
    kind = step.kind
    if kind in (CALL_ASYNC, CALL_SYNC):
        if step.concurrency is None:
            if kind == CALL_ASYNC:
                return await call(**values)  # type: ignore[misc]
            return await run_in_threadpool(call, **values)  # type: ignore[arg-type]
        async with step.concurrency.get_semaphore():
            if kind == CALL_ASYNC:
                return await call(**values)  # type: ignore[misc]
            return await run_in_threadpool(call, **values)  # type: ignore[arg-type]
    scope = request.scope
    return await enter_generator(
        call,
        values,
        is_async=kind == CALL_ASYNC_GEN,
        stack=scope["fastapi_function_astack" if step.function_scoped else "fastapi_inner_astack"],
        scope=scope,
        concurrency=step.concurrency,
    )
