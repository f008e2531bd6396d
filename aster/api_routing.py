"""FastAPI's routes: ``APIRoute`` and ``APIWebSocketRoute``, built on Starlette's.

An ``APIRoute`` analyses its endpoint when it is created: the dependency tree
(``self.dependant``), its flattened plan, the body field, the response model
field.  Each request then runs the compiled handler of :mod:`aster.handlers`,
inside the exit stacks that dependencies with ``yield`` need (only when the
plan has such a dependency).

FastAPI's ``request_response`` and ``websocket_session`` are here too: unlike
Starlette's (:mod:`aster._routes`), they open those exit stacks
(``scope["fastapi_inner_astack"]``, ``scope["fastapi_function_astack"]``) around
the endpoint.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from enum import Enum, IntEnum
from typing import Any

from . import _telemetry_hooks, params
from ._body_limit import validate_max_body_size
from ._form_limits import _validate_form_limits
from ._response import JSONResponse, Response
from ._routes import Route, WebSocketRoute
from ._routing_base import BaseRoute, Match, compile_path, get_name
from .concurrency import is_async_callable, run_in_threadpool
from .datastructures import Default, DefaultPlaceholder
from .dependencies.analysis import (
    get_dependant,
    get_parameterless_sub_dependant,
    get_stream_item_type,
    get_typed_return_annotation,
)
from .dependencies.body_field import get_body_field
from .dependencies.models import (
    CHANGES,
    Dependant,
    OverridesDict,
    is_async_gen_callable,
    is_gen_callable,
)
from .dependencies.plan import Plan, PlanCache
from .dependencies.shapes import get_flat_body_params, should_embed_body_fields
from .exceptions import FastAPIError, WebSocketRequestValidationError
from .fields import ModelField, create_model_field, lenient_issubclass
from .handlers import (
    endpoint_context,
    get_request_handler,
    run_endpoint_function,
    serialize_response,
)
from .middleware.body_limit import RequestBodyLimitMiddleware
from .middleware.exceptions import SendTracker, handle_exception, wrap_app_handling_exceptions
from .requests import Request
from .sse import EventSourceResponse, ServerSentEvent
from .types import ASGIApp, Receive, Scope, Send
from .utils import generate_unique_id, is_body_allowed_for_status_code
from .websockets import WebSocket

__all__ = [
    "APIRoute",
    "APIWebSocketRoute",
    "get_request_handler",
    "get_websocket_app",
    "request_response",
    "run_endpoint_function",
    "serialize_response",
    "websocket_session",
]


def api_request_response(
    handler: Callable[[Request], Awaitable[Response]],
    plans: PlanCache,
    overrides_provider: Any = None,
) -> ASGIApp:
    """Run ``handler`` for a request, inside the exit stacks ``yield`` dependencies use.

    ``fastapi_function_astack`` closes right after the endpoint returns (scope
    "function"); ``fastapi_inner_astack`` after the response is sent (scope
    "request", and uploaded files).  Routes without such dependencies skip both,
    unless dependency overrides are active (those may bring ``yield`` dependencies).
    If a compiled tree changed since the route's plan was checked, the plan is
    checked (and recompiled if it is this route's tree) first: the change may have
    brought a ``yield`` dependency.
    """

    #: ``CHANGES`` when this route last found it could skip the stacks; -1 when it cannot.
    #: While nothing changed (no tree, no ``app.dependency_overrides``), one comparison
    #: is the whole check.
    fast = -1

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal fast
        request = Request(scope, receive, send)
        tracker = send if type(send) is SendTracker else SendTracker(send)
        try:
            if fast != CHANGES[0]:
                if plans.seen != CHANGES[0]:
                    plans.refresh()
                overrides = getattr(overrides_provider, "dependency_overrides", None)
                if plans.stacks_needed or overrides:
                    fast = -1
                    await _in_exit_stacks(handler, request, scope, receive, tracker)
                    return
                # An overrides mapping that does not record its changes is asked every time.
                fast = (
                    -1
                    if overrides is not None and type(overrides) is not OverridesDict
                    else plans.seen
                )
            response = await handler(request)
            await response(scope, receive, tracker)
        except Exception as exc:
            await handle_exception(
                exc, request, scope, receive, tracker, response_started=tracker.started
            )

    return app


async def _in_exit_stacks(
    handler: Callable[[Request], Awaitable[Response]],
    request: Request,
    scope: Scope,
    receive: Receive,
    send: Send,
) -> None:
    awaited = False
    async with AsyncExitStack() as request_stack:
        scope["fastapi_inner_astack"] = request_stack
        async with AsyncExitStack() as function_stack:
            scope["fastapi_function_astack"] = function_stack
            response = await handler(request)
        await response(scope, receive, send)
        awaited = True
    if not awaited:
        raise _not_awaited()


def _not_awaited() -> FastAPIError:
    return FastAPIError(
        "Response not awaited. There's a high chance that the application code "
        "is raising an exception and a dependency with yield has a block with a "
        "bare except, or a block with except Exception, and is not raising the "
        "exception again. Read more about it in the docs: https://fastapi."
        "tiangolo.com/tutorial/dependencies/dependencies-with-yield/"
        "#dependencies-with-yield-and-except"
    )


def request_response(func: Callable[[Request], Awaitable[Response] | Response]) -> ASGIApp:
    """FastAPI's: ``func(request) -> response`` as an ASGI app, inside the two exit stacks.

    Starlette's version (:func:`aster._routes.request_response`) has no exit stacks; with
    this one, dependencies with ``yield`` solved for the request can register cleanups.
    """
    handler: Callable[[Request], Awaitable[Response]] = (
        func  # type: ignore[assignment]
        if is_async_callable(func)
        else functools.partial(run_in_threadpool, func)
    )
    # A route handler (``route.get_route_handler()``) keeps its plans current through this.
    plans: PlanCache | None = getattr(func, "plan_cache", None)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        if plans is not None and plans.seen != CHANGES[0]:
            plans.refresh()

        async def respond(scope: Scope, receive: Receive, send: Send) -> None:
            await _in_exit_stacks(handler, request, scope, receive, send)

        await wrap_app_handling_exceptions(respond, request)(scope, receive, send)

    return app


_fastapi_request_response = request_response


def websocket_session(func: Callable[[WebSocket], Awaitable[None]]) -> ASGIApp:
    """FastAPI's: ``func(websocket)`` as an ASGI app, inside the two exit stacks."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        session = WebSocket(scope, receive=receive, send=send)

        async def run(scope: Scope, receive: Receive, send: Send) -> None:
            async with AsyncExitStack() as request_stack:
                scope["fastapi_inner_astack"] = request_stack
                async with AsyncExitStack() as function_stack:
                    scope["fastapi_function_astack"] = function_stack
                    await func(session)

        await wrap_app_handling_exceptions(run, session)(scope, receive, send)

    return app


class APIRoute(Route):
    def __init__(
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
        name: str | None = None,
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
        dependency_overrides_provider: Any | None = None,
        callbacks: list[BaseRoute] | None = None,
        openapi_extra: dict[str, Any] | None = None,
        generate_unique_id_function: Callable[[APIRoute], str] | DefaultPlaceholder = Default(
            generate_unique_id
        ),
        strict_content_type: bool | DefaultPlaceholder = Default(True),
        max_body_size: int | None = None,
        form_limits: dict[str, Any] | None = None,
    ) -> None:
        assert callable(endpoint), "An endpoint must be a callable"
        validate_max_body_size(max_body_size)
        self.path = path
        self.endpoint = endpoint
        self.summary = summary
        self.response_description = response_description
        self.deprecated = deprecated
        self.operation_id = operation_id
        self.response_model_include = response_model_include
        self.response_model_exclude = response_model_exclude
        self.response_model_by_alias = response_model_by_alias
        self.response_model_exclude_unset = response_model_exclude_unset
        self.response_model_exclude_defaults = response_model_exclude_defaults
        self.response_model_exclude_none = response_model_exclude_none
        self.include_in_schema = include_in_schema
        self.response_class = response_class
        self.dependency_overrides_provider = dependency_overrides_provider
        self.callbacks = callbacks
        self.openapi_extra = openapi_extra
        self.generate_unique_id_function = generate_unique_id_function
        self.strict_content_type = strict_content_type
        self.max_body_size = max_body_size
        self.form_limits = dict(_validate_form_limits(form_limits)) or None
        self.tags = tags or []
        self.responses = responses or {}
        self.name = get_name(endpoint) if name is None else name
        self.path_regex, self.path_format, self.param_convertors = compile_path(path)
        self.methods: set[str] = {method.upper() for method in (methods or ["GET"])}
        make_id = (
            generate_unique_id_function.value
            if isinstance(generate_unique_id_function, DefaultPlaceholder)
            else generate_unique_id_function
        )
        self.unique_id = self.operation_id or make_id(self)
        if isinstance(status_code, IntEnum):
            status_code = int(status_code)
        self.status_code = status_code
        self.dependencies = list(dependencies or [])
        self.description = description or inspect.cleandoc(self.endpoint.__doc__ or "")
        # A form feed ends the part of a docstring meant for the API docs.
        self.description = self.description.split("\f")[0].strip()
        self.response_fields: dict[int | str, ModelField] = {}
        for code, response in self.responses.items():
            assert isinstance(response, dict), "An additional response must be a dict"
            model = response.get("model")
            if model:
                assert is_body_allowed_for_status_code(code), (
                    f"Status code {code} must not have a response body"
                )
                self.response_fields[code] = create_model_field(
                    name=f"Response_{code}_{self.unique_id}", type_=model, mode="serialization"
                )
        self.dependant = get_dependant(path=self.path_format, call=self.endpoint, scope="function")
        for depends in self.dependencies[::-1]:
            self.dependant.dependencies.insert(
                0, get_parameterless_sub_dependant(depends=depends, path=self.path_format)
            )
        body_params = get_flat_body_params(self.dependant)
        self._embed_body_fields = should_embed_body_fields(body_params)
        self.body_field = get_body_field(
            body_params=body_params, name=self.unique_id, embed_body_fields=self._embed_body_fields
        )
        # As given: an included copy of this route must infer the same model from the endpoint.
        self._response_model_arg = response_model
        # A generator endpoint streams: JSON Lines by default, SSE with EventSourceResponse.
        is_generator = _is_generator(endpoint)
        self.is_sse_stream = is_generator and lenient_issubclass(
            response_class, EventSourceResponse
        )
        self.is_json_stream = is_generator and isinstance(response_class, DefaultPlaceholder)
        self.stream_item_type: Any = None
        if isinstance(response_model, DefaultPlaceholder):
            annotation = get_typed_return_annotation(endpoint)
            stream_item = get_stream_item_type(annotation)
            if lenient_issubclass(annotation, Response):
                response_model = None
            elif stream_item is not None and is_generator:
                # ServerSentEvent wraps the transport; it is not an item type to validate.
                if (self.is_json_stream or self.is_sse_stream) and not lenient_issubclass(
                    stream_item, ServerSentEvent
                ):
                    self.stream_item_type = stream_item
                response_model = None
            else:
                response_model = annotation
        self.response_model = response_model
        if self.response_model:
            assert is_body_allowed_for_status_code(status_code), (
                f"Status code {status_code} must not have a response body"
            )
            self.response_field: ModelField | None = create_model_field(
                name="Response_" + self.unique_id, type_=self.response_model, mode="serialization"
            )
        else:
            self.response_field = None
        self.stream_item_field: ModelField | None = None
        if self.stream_item_type:
            self.stream_item_field = create_model_field(
                name="StreamItem_" + self.unique_id,
                type_=self.stream_item_type,
                mode="serialization",
            )
        # Compiled now; recompiled when an extension changes the tree (see PlanCache).
        self._plans = PlanCache(
            self.dependant,
            embed_body_fields=self._embed_body_fields,
            form_body=self.body_field is not None
            and isinstance(self.body_field.field_info, params.Form),
        )
        handler = self.get_route_handler()
        if request_response is _fastapi_request_response:
            self.app = api_request_response(
                handler, self._plans, self.dependency_overrides_provider
            )
        else:  # replaced, by an extension, through fastapi.routing
            self.app = request_response(handler)
        if max_body_size is not None:
            self.app = RequestBodyLimitMiddleware(self.app, max_body_size=max_body_size)

    @property
    def dependant(self) -> Dependant:
        return self._dependant

    @dependant.setter
    def dependant(self, dependant: Dependant) -> None:
        # Replaced by an extension: the next request compiles the new tree.
        self._dependant = dependant
        plans: PlanCache | None = getattr(self, "_plans", None)
        if plans is not None:
            plans.retarget(dependant)

    @property
    def plan(self) -> Plan:
        """The route's current plan (recompiled first if its tree changed)."""
        return self._plans.refresh()

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        return get_request_handler(
            dependant=self.dependant,
            body_field=self.body_field,
            status_code=self.status_code,
            response_class=self.response_class,
            response_field=self.response_field,
            response_model_include=self.response_model_include,
            response_model_exclude=self.response_model_exclude,
            response_model_by_alias=self.response_model_by_alias,
            response_model_exclude_unset=self.response_model_exclude_unset,
            response_model_exclude_defaults=self.response_model_exclude_defaults,
            response_model_exclude_none=self.response_model_exclude_none,
            dependency_overrides_provider=self.dependency_overrides_provider,
            embed_body_fields=self._embed_body_fields,
            strict_content_type=self.strict_content_type,
            form_limits=self.form_limits,
            plan_cache=self._plans,
            stream_item_field=self.stream_item_field,
            is_json_stream=self.is_json_stream,
        )

    def _matches_path(self, scope: Scope, route_path: str) -> tuple[Match, Scope]:
        """``Route._matches_path`` inlined, plus ``route`` in the child scope: the hot path."""
        if scope["type"] != "http":
            return _NO_MATCH, {}
        convertors = self.param_convertors
        if convertors:
            match = self.path_regex.match(route_path)
            if match is None:
                return _NO_MATCH, {}
            params = match.groupdict()
            for key, value in params.items():
                params[key] = convertors[key].convert(value)
        elif route_path == self.path_format:  # a static path: its regex is just the path
            params = {}
        else:
            return _NO_MATCH, {}
        outer = scope.get("path_params")
        if outer:
            params = {**outer, **params}
        child_scope = {"endpoint": self.endpoint, "path_params": params, "route": self}
        if self.methods and scope["method"] not in self.methods:
            return _PARTIAL, child_scope
        return _FULL, child_scope


_NO_MATCH, _PARTIAL, _FULL = Match.NONE, Match.PARTIAL, Match.FULL


def _is_generator(call: Any) -> bool:
    return is_async_gen_callable(call) or is_gen_callable(call)


def get_websocket_app(
    dependant: Dependant,
    dependency_overrides_provider: Any | None = None,
    embed_body_fields: bool = False,
) -> Callable[[Any], Awaitable[None]]:
    plans = PlanCache(dependant, embed_body_fields=embed_body_fields)

    def validation_error(plan: Any, errors: Any, websocket: Any) -> WebSocketRequestValidationError:
        context = endpoint_context(plan.call) if plan.call else {}
        if dependant.path:
            mount_path = websocket.scope.get("root_path", "").rstrip("/")
            context["path"] = f"WS {mount_path}{dependant.path}"
        return WebSocketRequestValidationError(errors, endpoint_ctx=context)

    async def app(websocket: Any) -> None:
        if plans.seen != CHANGES[0]:
            plans.refresh()
        plan = plans.current(dependency_overrides_provider)
        if not _telemetry_hooks.active:
            values, errors, _, _ = await plan.solve(websocket)
            if errors:
                raise validation_error(plan, errors, websocket)
            await plan.call(**values)  # type: ignore[misc]
            return
        # The same, with FastAPI's telemetry steps (no-ops for a connection not recorded).
        data = _telemetry_hooks.data()
        if data is not None:
            data.websocket = websocket
        with _telemetry_hooks.operation(name="dependencies", function=plan.call):
            values, errors, _, _ = await plan.solve(websocket)
            if data is not None:
                data.values, data.errors = values, errors
        if errors:
            error = validation_error(plan, errors, websocket)
            _telemetry_hooks.validation_failed(error)
            raise error
        with _telemetry_hooks.operation(name="endpoint", function=plan.call):
            await plan.call(**values)  # type: ignore[misc]

    return app


class APIWebSocketRoute(WebSocketRoute):
    def __init__(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        name: str | None = None,
        dependencies: Sequence[params.Depends] | None = None,
        dependency_overrides_provider: Any | None = None,
    ) -> None:
        self.path = path
        self.endpoint = endpoint
        self.name = get_name(endpoint) if name is None else name
        self.dependencies = list(dependencies or [])
        self.path_regex, self.path_format, self.param_convertors = compile_path(path)
        self.dependant = get_dependant(path=self.path_format, call=self.endpoint, scope="function")
        for depends in self.dependencies[::-1]:
            self.dependant.dependencies.insert(
                0, get_parameterless_sub_dependant(depends=depends, path=self.path_format)
            )
        self._embed_body_fields = should_embed_body_fields(get_flat_body_params(self.dependant))
        session = get_websocket_app(
            dependant=self.dependant,
            dependency_overrides_provider=dependency_overrides_provider,
            embed_body_fields=self._embed_body_fields,
        )
        self.app = websocket_session(session)

    def _matches_path(self, scope: Scope, route_path: str) -> tuple[Match, Scope]:
        match, child_scope = super()._matches_path(scope, route_path)
        if match is not Match.NONE:
            child_scope["route"] = self
        return match, child_scope


def _merge_lifespan_context(original_context: Any, nested_context: Any) -> Any:
    @asynccontextmanager
    async def merged(app: Any) -> Any:
        async with (
            original_context(app) as original_state,
            nested_context(app) as nested_state,
        ):
            if nested_state is None and original_state is None:
                yield None
            else:
                yield {**(nested_state or {}), **(original_state or {})}

    return merged
