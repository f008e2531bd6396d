"""From request to response for one path operation: body, dependencies, endpoint, serialisation.

``get_request_handler`` builds, once per route, an ``async (request) -> Response``
closure over everything the route needs (its compiled plan, how to read its body,
how to serialise its result).  Custom route classes can wrap it, as in FastAPI
(``APIRoute.get_route_handler``).

Serialisation takes the fastest path that gives FastAPI's output:

* a ``response_model`` and the default response class: pydantic-core validates
  and dumps straight to JSON bytes;
* otherwise ``jsonable_encoder`` then the response class (``JSONResponse``...).
"""

from __future__ import annotations

import email.message
import functools
import inspect
import json
from collections.abc import Callable, Coroutine
from typing import Any

from . import _telemetry_hooks, params
from ._endpoint_streams import item_serializer, stream_response
from ._response import JSONResponse, Response, json_response_from_bytes, plain_json
from .concurrency import run_in_threadpool
from .datastructures import DefaultPlaceholder
from .dependencies.models import (
    Dependant,
    is_async_gen_callable,
    is_coroutine_callable,
    is_gen_callable,
)
from .dependencies.plan import PlanCache
from .encoders import jsonable_encoder
from .exceptions import (
    EndpointContext,
    RequestValidationError,
    ResponseValidationError,
)
from .exceptions import (
    StarletteHTTPException as HTTPException,
)
from .fields import ModelField, lenient_issubclass
from .requests import Request, json_loads
from .sse import EventSourceResponse

Undefined = params.Undefined


def endpoint_context(call: Any) -> EndpointContext:
    """Where the endpoint is defined, for error messages (FastAPI's EndpointContext)."""
    context: EndpointContext = {}
    try:
        source = inspect.getsourcefile(call)
        if source:
            context["file"] = source
        _, line = inspect.getsourcelines(call)
        context["line"] = line
    except (OSError, TypeError):
        pass
    name = getattr(call, "__name__", None)
    if name:
        context["function"] = name
    return context


async def serialize_response(
    *,
    field: ModelField | None = None,
    response_content: Any,
    include: Any = None,
    exclude: Any = None,
    by_alias: bool = True,
    exclude_unset: bool = False,
    exclude_defaults: bool = False,
    exclude_none: bool = False,
    is_coroutine: bool = True,
    endpoint_ctx: EndpointContext | None = None,
    dump_json: bool = False,
) -> Any:
    if field is None:
        return jsonable_encoder(response_content)
    if is_coroutine:
        value, errors = field.validate(response_content, {}, loc=("response",))
    else:
        value, errors = await run_in_threadpool(
            field.validate, response_content, {}, loc=("response",)
        )
    if errors:
        raise ResponseValidationError(
            errors=errors, body=response_content, endpoint_ctx=endpoint_ctx or {}
        )
    serializer = field.serialize_json if dump_json else field.serialize
    return serializer(
        value,
        include=include,
        exclude=exclude,
        by_alias=by_alias,
        exclude_unset=exclude_unset,
        exclude_defaults=exclude_defaults,
        exclude_none=exclude_none,
    )


async def run_endpoint_function(
    *, dependant: Dependant, values: dict[str, Any], is_coroutine: bool
) -> Any:
    assert dependant.call is not None, "dependant.call must be a function"
    if is_coroutine:
        return await dependant.call(**values)
    return await run_in_threadpool(dependant.call, **values)


_json_content_types: dict[str, bool] = {}


def _is_json_content_type(content_type: str) -> bool:
    """``application/json`` or ``application/*+json``, parsed as the email package does.

    Clients send the same few values, so the (slow) parse is cached per value.
    """
    known = _json_content_types.get(content_type)
    if known is not None:
        return known
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    result = message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )
    if len(_json_content_types) < 256:
        _json_content_types[content_type] = result
    return result


def _content_type(request: Request) -> str | None:
    """The Content-Type, without building ``request.headers`` when nothing else needs it."""
    if request._headers is not None or type(request).headers is not Request.headers:
        return request.headers.get("content-type")
    for name, value in request.scope["headers"]:  # ASGI servers send lowercase names
        if name == b"content-type":
            return value.decode("latin-1")  # type: ignore[no-any-return]
    return None


async def read_body(
    request: Request,
    is_form: bool,
    strict_content_type: bool,
    form_limits: dict[str, Any] | None,
    endpoint_ctx: Callable[[Request], EndpointContext],
) -> Any:
    """The parsed body: FormData, decoded JSON, or raw bytes for other content types."""
    try:
        if is_form:
            form = await request.form(**(form_limits or {}))
            stack = request.scope.get("fastapi_inner_astack")
            if stack is not None:
                stack.push_async_callback(form.close)
            return form
        body_bytes = await request.body()
        if not body_bytes:
            return Undefined
        content_type = _content_type(request)
        if content_type:
            if not _is_json_content_type(content_type):
                return body_bytes
        elif strict_content_type:
            return body_bytes
        if type(request).json is not Request.json:  # a subclass may decode its own way
            return await request.json()
        return json_loads(body_bytes)
        return body_bytes
    except json.JSONDecodeError as exc:
        error = RequestValidationError(
            [
                {
                    "type": "json_invalid",
                    "loc": ("body", exc.pos),
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": exc.msg},
                }
            ],
            body=exc.doc,
            endpoint_ctx=endpoint_ctx(request),
        )
        raise error from exc
    except HTTPException:
        raise  # e.g. the body size limit, or a form limit
    except Exception as exc:
        raise HTTPException(status_code=400, detail="There was an error parsing the body") from exc


def _resolve_form_limits(scope: dict[str, Any], route_limits: dict[str, Any] | None) -> Any:
    """Limits inherited from enclosing apps (``scope["fastapi"]``) overridden by the route's."""
    fastapi_scope = scope.get("fastapi")
    inherited = fastapi_scope.get("form_limits") if fastapi_scope else None
    if not inherited:
        return route_limits
    return {**inherited, **route_limits} if route_limits else inherited


def _finish(response: Response, sub: Response | None) -> Response:
    """No body where the status forbids one; headers set on an injected ``Response``."""
    status = response.status_code
    if status < 200 or status in (204, 205, 304):
        response.body = b""
    if sub is not None:
        response.headers.raw.extend(sub.headers.raw)
    return response


def get_request_handler(
    dependant: Dependant,
    body_field: ModelField | None = None,
    status_code: int | None = None,
    response_class: type[Response] | DefaultPlaceholder = DefaultPlaceholder(JSONResponse),
    response_field: ModelField | None = None,
    response_model_include: Any = None,
    response_model_exclude: Any = None,
    response_model_by_alias: bool = True,
    response_model_exclude_unset: bool = False,
    response_model_exclude_defaults: bool = False,
    response_model_exclude_none: bool = False,
    dependency_overrides_provider: Any | None = None,
    embed_body_fields: bool = False,
    strict_content_type: bool | DefaultPlaceholder = DefaultPlaceholder(True),
    stream_item_field: ModelField | None = None,
    is_json_stream: bool = False,
    form_limits: dict[str, Any] | None = None,
    *,
    plan_cache: PlanCache | None = None,
) -> Callable[[Request], Coroutine[Any, Any, Response]]:
    """Compile everything the route needs into one ``handler(request) -> Response``."""
    assert dependant.call is not None, "dependant.call must be a function"
    call = dependant.call
    is_coroutine = is_coroutine_callable(call)
    is_generator = is_gen_callable(call) or is_async_gen_callable(call)
    is_form = body_field is not None and isinstance(body_field.field_info, params.Form)
    actual_class = (
        response_class.value if isinstance(response_class, DefaultPlaceholder) else response_class
    )
    strict = (
        strict_content_type.value
        if isinstance(strict_content_type, DefaultPlaceholder)
        else strict_content_type
    )
    use_dump_json = response_field is not None and isinstance(response_class, DefaultPlaceholder)
    default_json = actual_class is JSONResponse
    dump_options = {
        "include": response_model_include,
        "exclude": response_model_exclude,
        "by_alias": response_model_by_alias,
        "exclude_unset": response_model_exclude_unset,
        "exclude_defaults": response_model_exclude_defaults,
        "exclude_none": response_model_exclude_none,
    }
    serializer = None
    if response_field is not None:
        # Bound once with its options: a JSON dump is then a single call into pydantic-core.
        serializer = functools.partial(
            response_field.json_serializer() if use_dump_json else response_field.serialize,
            **dump_options,
        )
    stream_kind = None
    if is_generator:
        sse_class = lenient_issubclass(actual_class, EventSourceResponse)
        stream_kind = "sse" if sse_class else "jsonl" if is_json_stream else "raw"
    plans = plan_cache
    if plans is None or plans.dependant is not dependant:
        plans = PlanCache(dependant, embed_body_fields=embed_body_fields, form_body=is_form)
    else:
        plans.refresh()  # an extension may have changed the tree before rebuilding the handler
    context: EndpointContext | None = None

    def ctx(request: Request) -> EndpointContext:
        nonlocal context
        if context is None:
            context = endpoint_context(call)
        result = dict(context)
        if dependant.path:
            mount_path = request.scope.get("root_path", "").rstrip("/")
            result["path"] = f"{request.method} {mount_path}{dependant.path}"
        return result  # type: ignore[return-value]

    def respond(
        request: Request, raw: Any, background: Any, sub: Response | None, validated: Any
    ) -> Response:
        """The endpoint's return value as the response: validated, serialised.

        ``validated`` is ``(value, errors)`` when the response model was already checked (in a
        worker thread, for a sync endpoint), else ``None``: synchronous, so both paths share
        it without an extra await on the hot one.
        """
        if isinstance(raw, Response):
            if raw.background is None:
                raw.background = background
            return raw
        code = status_code
        if sub is not None and sub.status_code:
            code = sub.status_code
        if response_field is None:
            rendered = plain_json(raw) if default_json else None
            if rendered is not None:
                response = json_response_from_bytes(rendered, code or 200, background)
                return response if code is None and sub is None else _finish(response, sub)
            content = jsonable_encoder(raw)
            use_bytes = False
        else:
            use_bytes = use_dump_json
            if validated is None:
                validated = response_field.validate(raw, {}, loc=("response",))
            value, errors = validated
            if errors:
                raise ResponseValidationError(errors=errors, body=raw, endpoint_ctx=ctx(request))
            content = serializer(value)  # type: ignore[misc]
        if use_bytes:
            response = json_response_from_bytes(content, code or 200, background)
            if code is None and sub is None:
                return response
        elif code is None:
            response = actual_class(content, background=background)
        else:
            response = actual_class(content, status_code=code, background=background)
        return _finish(response, sub)

    async def validate_in_thread(raw: Any) -> Any:
        """A sync endpoint's result may be an ORM object that does blocking I/O when read."""
        if response_field is None or isinstance(raw, Response):
            return None
        return await run_in_threadpool(response_field.validate, raw, {}, loc=("response",))

    def stream(
        plan: Any, values: dict[str, Any], request: Request, background: Any, sub: Any
    ) -> Response:
        return stream_response(
            plan.call(**values),
            kind=stream_kind,
            response_class=actual_class,
            encode=item_serializer(stream_item_field, dump_options, lambda: ctx(request)),
            status_code=status_code,
            sub=sub,
            background=background,
        )

    def request_plan() -> Any:
        # Current: whatever runs this handler (``request_response``...) checks for changes.
        if (
            dependency_overrides_provider is not None
            and dependency_overrides_provider.dependency_overrides
        ):
            return plans.current(dependency_overrides_provider)
        return plans.plan

    async def app(request: Request) -> Response:
        if _telemetry_hooks.active:  # some app in the process records telemetry
            return await traced(request)
        body: Any = Undefined
        if body_field is not None:
            limits = _resolve_form_limits(request.scope, form_limits) if is_form else None
            body = await read_body(request, is_form, strict, limits, ctx)
        plan = request_plan()
        values, errors, background, sub = await plan.solve(request, body)
        if errors:
            raise RequestValidationError(
                errors, body=None if body is Undefined else body, endpoint_ctx=ctx(request)
            )
        # ``plan.call``: an extension may have replaced ``route.dependant.call`` since.
        if stream_kind is not None:
            return stream(plan, values, request, background, sub)
        if is_coroutine:
            return respond(request, await plan.call(**values), background, sub, None)
        raw = await run_in_threadpool(plan.call, **values)
        return respond(request, raw, background, sub, await validate_in_thread(raw))

    async def traced(request: Request) -> Response:
        """``app`` with FastAPI's telemetry steps, once some app in the process records it.

        Each step is a no-op for a request that is not recorded.
        """
        data = _telemetry_hooks.data()
        if data is not None:
            data.request = request
        body: Any = Undefined
        if body_field is not None:
            limits = _resolve_form_limits(request.scope, form_limits) if is_form else None
            try:
                body = await read_body(request, is_form, strict, limits, ctx)
            except RequestValidationError as exc:  # invalid JSON
                _telemetry_hooks.validation_failed(exc)
                raise
        if data is not None:
            data.body = None if body is Undefined else body
        plan = request_plan()
        with _telemetry_hooks.operation(name="dependencies", function=plan.call):
            values, errors, background, sub = await plan.solve(request, body)
            if data is not None:
                data.values, data.errors = values, errors
        if errors:
            error = RequestValidationError(
                errors, body=None if body is Undefined else body, endpoint_ctx=ctx(request)
            )
            _telemetry_hooks.validation_failed(error)
            raise error
        if stream_kind is not None:
            return stream(plan, values, request, background, sub)
        validated = None
        if is_coroutine:
            with _telemetry_hooks.operation(name="endpoint", function=plan.call):
                raw = await plan.call(**values)
        else:  # the span starts in the worker thread, around the call itself
            raw = await run_in_threadpool(
                _telemetry_hooks.run_sync_endpoint, function=plan.call, arguments=values
            )
        if isinstance(raw, Response):
            return respond(request, raw, background, sub, None)
        with _telemetry_hooks.operation(name="serialization", function=plan.call):
            if not is_coroutine:
                validated = await validate_in_thread(raw)
            return respond(request, raw, background, sub, validated)

    app.plan_cache = plans  # type: ignore[attr-defined]
    return app
