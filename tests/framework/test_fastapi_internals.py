"""FastAPI's internals that extensions import, under ``fastapi.*`` through aster.compat.

Extensions reach past FastAPI's public API (see docs/extensions.md for who imports
what).  Each name must be there with FastAPI 0.165's signature (``SIGNATURES`` was read
from FastAPI 0.165 with ``inspect.signature``: parameter names, kinds, defaults) and do
what FastAPI's does, which the tests below check through the pieces extensions use.
"""

# The signature table is one line per name, as read.
# ruff: noqa: E501

import builtins
import dataclasses
import inspect
import re
import warnings
from collections.abc import Iterator
from contextlib import AsyncExitStack
from typing import Annotated, Any

import pytest
from pydantic import BaseModel

from aster import compat

from .asgi import call, make_scope


@pytest.fixture(autouse=True)
def aliases() -> Iterator[None]:
    compat.uninstall()
    compat.install()
    yield
    compat.uninstall()


#: ``name: "parameters"`` as FastAPI 0.165 has them: ``*`` keyword-only, ``=`` a default.
SIGNATURES = {
    "fastapi._compat.annotation_is_pydantic_v1": "annotation",
    "fastapi._compat.copy_field_info": "*field_info, *annotation",
    "fastapi._compat.create_body_model": "*fields, *model_name, *config=None",
    "fastapi._compat.evaluate_forwardref": "value, globalns=None, localns=None",
    "fastapi._compat.field_annotation_is_scalar": "annotation",
    "fastapi._compat.field_annotation_is_scalar_sequence": "annotation",
    "fastapi._compat.field_annotation_is_sequence": "annotation",
    "fastapi._compat.get_cached_model_fields": "model",
    "fastapi._compat.get_definitions": "*fields, *model_name_map, *separate_input_output_schemas=True",
    "fastapi._compat.get_flat_models_from_fields": "fields, known_models",
    "fastapi._compat.get_missing_field_error": "loc",
    "fastapi._compat.get_model_name_map": "unique_models",
    "fastapi._compat.get_schema_from_model_field": "*field, *model_name_map, *field_mapping, *separate_input_output_schemas=True, *field_alias=None",
    "fastapi._compat.is_bytes_or_nonable_bytes_annotation": "annotation",
    "fastapi._compat.is_bytes_sequence_annotation": "annotation",
    "fastapi._compat.is_pydantic_v1_model_instance": "obj",
    "fastapi._compat.is_scalar_field": "field",
    "fastapi._compat.is_uploadfile_or_nonable_uploadfile_annotation": "annotation",
    "fastapi._compat.is_uploadfile_sequence_annotation": "annotation",
    "fastapi._compat.lenient_issubclass": "cls, class_or_tuple",
    "fastapi._compat.serialize_sequence_value": "*field, *value",
    "fastapi._compat.value_is_sequence": "value",
    "fastapi.dependencies.models._get_cache_key": "*dependant, *uses_scopes_cache=None",
    "fastapi.dependencies.models._get_computed_scope": "*dependant",
    "fastapi.dependencies.models._get_oauth_scopes": "*dependant",
    "fastapi.dependencies.models._get_security_scheme": "*dependant",
    "fastapi.dependencies.models._impartial": "func",
    "fastapi.dependencies.models._is_async_gen_callable": "call",
    "fastapi.dependencies.models._is_coroutine_callable": "call",
    "fastapi.dependencies.models._is_gen_callable": "call",
    "fastapi.dependencies.models._is_security_scheme": "*dependant",
    "fastapi.dependencies.models._unwrapped_call": "call",
    "fastapi.dependencies.models._uses_scopes": "*dependant, *cache=None",
    "fastapi.dependencies.utils._add_form_union_validators": "annotation",
    "fastapi.dependencies.utils._extract_form_body": "body_fields, received_body",
    "fastapi.dependencies.utils._extract_form_items": "body_fields, received_body",
    "fastapi.dependencies.utils._extract_form_model": "field, models, received_body",
    "fastapi.dependencies.utils._get_body_field": "*body_params, *name, *embed_body_fields",
    "fastapi.dependencies.utils._get_flat_body_params": "dependant",
    "fastapi.dependencies.utils._get_flat_fields_from_params": "fields",
    "fastapi.dependencies.utils._get_form_model": "field",
    "fastapi.dependencies.utils._get_form_models": "field",
    "fastapi.dependencies.utils._get_form_union_models": "annotation",
    "fastapi.dependencies.utils._get_model_type": "annotation",
    "fastapi.dependencies.utils._get_multidict_extras": "received_params, processed_keys",
    "fastapi.dependencies.utils._get_multidict_value": "field, values, alias",
    "fastapi.dependencies.utils._get_param_aliases": "field, *convert_underscores=False",
    "fastapi.dependencies.utils._get_param_model": "field",
    "fastapi.dependencies.utils._get_signature": "call",
    "fastapi.dependencies.utils._is_empty_file_input": "value",
    "fastapi.dependencies.utils._is_form_model_supplied": "model, received_body",
    "fastapi.dependencies.utils._is_json_field": "field",
    "fastapi.dependencies.utils._normalize_form_model": "value, *model",
    "fastapi.dependencies.utils._read_file_bytes": "file",
    "fastapi.dependencies.utils._request_param_model_to_args": "model_field, model, received_params",
    "fastapi.dependencies.utils._should_embed_body_fields": "fields",
    "fastapi.dependencies.utils._solve_generator": "*dependant, *stack, *sub_values, *request",
    "fastapi.dependencies.utils._validate_value_with_model_field": "*field, *value, *values, *loc",
    "fastapi.dependencies.utils.add_non_field_param_to_dependency": "*param_name, *type_annotation, *dependant",
    "fastapi.dependencies.utils.add_param_to_fields": "*field, *dependant",
    "fastapi.dependencies.utils.analyze_param": "*param_name, *annotation, *value, *path_param_names",
    "fastapi.dependencies.utils.ensure_multipart_is_installed": "",
    "fastapi.dependencies.utils.get_dependant": "*path, *call, *name=None, *own_oauth_scopes=None, *parent_oauth_scopes=None, *use_cache=True, *scope=None, *concurrency=None",
    "fastapi.dependencies.utils.get_flat_params": "dependant",
    "fastapi.dependencies.utils.get_parameterless_sub_dependant": "*depends, *path",
    "fastapi.dependencies.utils.get_stream_item_type": "annotation",
    "fastapi.dependencies.utils.get_typed_annotation": "annotation, globalns",
    "fastapi.dependencies.utils.get_typed_return_annotation": "call",
    "fastapi.dependencies.utils.get_typed_signature": "call",
    "fastapi.dependencies.utils.get_validation_alias": "field",
    "fastapi.dependencies.utils.request_body_to_args": "body_fields, received_body, embed_body_fields",
    "fastapi.dependencies.utils.request_params_to_args": "fields, received_params",
    "fastapi.dependencies.utils.solve_dependencies": "*request, *dependant, *body=PydanticUndefined, *background_tasks=None, *response=None, *dependency_overrides_provider=None, *dependency_cache=None, *async_exit_stack, *embed_body_fields, *_uses_scopes_cache=None",
    "fastapi.routing._iter_included_route_candidates": "routes",
    "fastapi.routing._merge_lifespan_context": "original_context, nested_context",
    "fastapi.routing.get_body_limit_error": "exc",
    "fastapi.routing.get_body_size_limit": "**limits",
    "fastapi.routing.get_request_handler": "dependant, body_field=None, status_code=None, response_class=Default, response_field=None, response_model_include=None, response_model_exclude=None, response_model_by_alias=True, response_model_exclude_unset=False, response_model_exclude_defaults=False, response_model_exclude_none=False, dependency_overrides_provider=None, embed_body_fields=False, strict_content_type=Default, stream_item_field=None, is_json_stream=False, form_limits=None",
    "fastapi.routing.get_websocket_app": "dependant, dependency_overrides_provider=None, embed_body_fields=False",
    "fastapi.routing.iter_route_contexts": "routes",
    "fastapi.routing.request_response": "func",
    "fastapi.routing.run_endpoint_function": "*dependant, *values, *is_coroutine",
    "fastapi.routing.serialize_response": "*field=None, *response_content, *include=None, *exclude=None, *by_alias=True, *exclude_unset=False, *exclude_defaults=False, *exclude_none=False, *is_coroutine=True, *endpoint_ctx=None, *dump_json=False",
    "fastapi.routing.validate_max_body_size": "max_body_size",
    "fastapi.routing.websocket_session": "func",
    "fastapi.routing.wrap_app_with_body_limit": "app, max_body_size",
    "fastapi.utils.create_model_field": "name, type_, default=PydanticUndefined, field_info=None, alias=None, mode='validation'",
    "fastapi.utils.deep_dict_update": "main_dict, update_dict",
    "fastapi.utils.generate_operation_id_for_path": "*name, *path, *method",
    "fastapi.utils.generate_unique_id": "route",
    "fastapi.utils.get_path_param_names": "path",
    "fastapi.utils.get_value_or_default": "first_item, **extra_items",
    "fastapi.utils.is_body_allowed_for_status_code": "status_code",
}


def _signature(obj: Any) -> str:
    parts = []
    for parameter in inspect.signature(obj).parameters.values():
        prefix = {"KEYWORD_ONLY": "*", "VAR_POSITIONAL": "**", "VAR_KEYWORD": "***"}.get(
            parameter.kind.name, "/" if parameter.kind.name == "POSITIONAL_ONLY" else ""
        )
        default = ""
        if parameter.default is not inspect.Parameter.empty:
            value = parameter.default
            default = "=" + ("<callable>" if callable(value) else repr(value))
            default = re.sub(
                r"<aster\.datastructures\.DefaultPlaceholder object at 0x[0-9a-f]+>",
                "Default",
                default,
            )
        parts.append(f"{prefix}{parameter.name}{default}")
    return ", ".join(parts)


#: aster's own additions: keyword-only, with a default, after FastAPI's parameters.
EXTRA_KEYWORDS = {"fastapi.routing.get_request_handler": "*plan_cache=None"}


@pytest.mark.parametrize("name", sorted(SIGNATURES))
def test_the_name_has_fastapis_signature(name: str) -> None:
    module_name, _, attribute = name.rpartition(".")
    module = __import__(module_name, fromlist=["_"])
    expected = SIGNATURES[name]
    if name in EXTRA_KEYWORDS:
        expected = f"{expected}, {EXTRA_KEYWORDS[name]}"
    assert _signature(getattr(module, attribute)) == expected


# -- what they do --------------------------------------------------------------------------


def test_dependant_is_fastapis_dataclass() -> None:
    from fastapi.dependencies.models import Dependant, _get_cache_key

    assert dataclasses.is_dataclass(Dependant)
    assert [f.name for f in dataclasses.fields(Dependant)] == [
        "path_params", "query_params", "header_params", "cookie_params", "body_params",
        "dependencies", "name", "call", "request_param_name", "websocket_param_name",
        "http_connection_param_name", "response_param_name", "background_tasks_param_name",
        "security_scopes_param_name", "own_oauth_scopes", "parent_oauth_scopes", "use_cache",
        "path", "scope", "concurrency",
    ]  # fmt: skip

    def call() -> None:
        pass

    dependant = Dependant(call=call, own_oauth_scopes=["b", "a", "b"])
    assert dependant.cache_key == _get_cache_key(dependant=dependant) == (call, ("a", "b"), "")
    cache: dict[int, Any] = {}
    assert _get_cache_key(dependant=dependant, uses_scopes_cache=cache) == (call, ("a", "b"), "")
    assert cache == {id(dependant): (dependant, True)}
    copied = dataclasses.replace(dependant, name="other")
    assert (copied.call, copied.name, copied.own_oauth_scopes) == (call, "other", ["b", "a", "b"])


def test_analyze_param_and_get_dependant() -> None:
    from fastapi import Depends, Query, Request
    from fastapi.dependencies.utils import ParamDetails, analyze_param, get_dependant

    details = analyze_param(
        param_name="q", annotation=Annotated[int, Query(ge=1)], value=3, path_param_names=set()
    )
    assert isinstance(details, ParamDetails)
    assert details.type_annotation is int and details.depends is None
    assert details.field is not None and details.field.name == "q"
    assert details.field.field_info.default == 3

    def common(q: int = 1) -> int:
        return q

    def endpoint(item_id: int, request: Request, c: Annotated[int, Depends(common)]) -> None:
        pass

    dependant = get_dependant(path="/items/{item_id}", call=endpoint)
    assert [f.name for f in dependant.path_params] == ["item_id"]
    assert dependant.request_param_name == "request"
    assert [(sub.name, sub.call) for sub in dependant.dependencies] == [("c", common)]
    assert [f.name for f in dependant.dependencies[0].query_params] == ["q"]


def test_flat_params_and_bodies() -> None:
    from fastapi import Body, Depends
    from fastapi.dependencies.utils import (
        _get_body_field,
        _get_flat_body_params,
        _should_embed_body_fields,
        get_body_field,
        get_dependant,
        get_flat_dependant,
        get_flat_params,
    )

    class Item(BaseModel):
        name: str

    def extra(note: Annotated[str, Body()], limit: int = 10) -> None:
        pass

    def endpoint(item: Item, e: Annotated[None, Depends(extra)], q: str = "") -> None:
        pass

    dependant = get_dependant(path="/", call=endpoint)
    bodies = _get_flat_body_params(dependant)
    assert [f.name for f in bodies] == ["item", "note"]
    assert _should_embed_body_fields(bodies) is True
    assert [f.name for f in get_flat_params(dependant)] == ["q", "limit"]
    flat = get_flat_dependant(dependant)
    assert [f.name for f in flat.query_params] == ["q", "limit"]
    assert [f.name for f in flat.body_params] == ["item", "note"]
    body = _get_body_field(body_params=bodies, name="op", embed_body_fields=True)
    assert body is not None and body.name == "body"
    assert body.field_info.annotation.__name__ == "Body_op"
    assert list(body.field_info.annotation.model_fields) == ["item", "note"]
    older = get_body_field(flat_dependant=flat, name="op", embed_body_fields=True)
    assert older is not None and older.field_info.annotation.__name__ == "Body_op"


async def test_request_params_and_body_to_args() -> None:
    from fastapi import Query
    from fastapi.datastructures import FormData, QueryParams
    from fastapi.dependencies.utils import (
        get_dependant,
        request_body_to_args,
        request_params_to_args,
    )

    class Item(BaseModel):
        name: str
        price: float

    def endpoint(
        item: Item,
        n: Annotated[int, Query(ge=1)],
        tags: Annotated[list[str], Query()] = [],  # noqa: B006
    ) -> None:
        pass

    dependant = get_dependant(path="/", call=endpoint)
    values, errors = request_params_to_args(
        dependant.query_params, QueryParams("n=2&tags=a&tags=b")
    )
    assert (values, errors) == ({"n": 2, "tags": ["a", "b"]}, [])
    values, errors = request_params_to_args(dependant.query_params, QueryParams("n=0"))
    assert values == {"tags": []}
    assert [(e["type"], e["loc"]) for e in errors] == [("greater_than_equal", ("query", "n"))]
    values, errors = await request_body_to_args(
        dependant.body_params, {"name": "x", "price": "1.5"}, embed_body_fields=False
    )
    assert values == {"item": Item(name="x", price=1.5)} and errors == []
    values, errors = await request_body_to_args(
        dependant.body_params, {"name": "x"}, embed_body_fields=False
    )
    assert values == {"item": None}  # FastAPI names the one field even when it failed
    assert [(e["type"], e["loc"]) for e in errors] == [("missing", ("body", "price"))]
    values, errors = await request_body_to_args(
        dependant.body_params, {"item": {"name": "y", "price": 2}}, embed_body_fields=True
    )
    assert values == {"item": Item(name="y", price=2)}
    assert await request_body_to_args(
        dependant.body_params, FormData([("name", "f"), ("price", "3")]), embed_body_fields=False
    ) == ({"item": Item(name="f", price=3)}, [])


async def test_solve_dependencies_in_a_route_of_ones_own() -> None:
    """What a custom route or WebSocket handler does: solve a dependant by hand."""
    from fastapi import BackgroundTasks, Depends, Query, Request
    from fastapi.dependencies.utils import get_dependant, solve_dependencies
    from fastapi.responses import JSONResponse
    from fastapi.routing import SolvedDependency

    events: list[str] = []

    def user(token: Annotated[str, Query()]) -> str:
        return token.upper()

    async def session() -> Any:
        events.append("open")
        yield "session"
        events.append("close")

    def handler(
        u: Annotated[str, Depends(user)],
        s: Annotated[str, Depends(session)],
        tasks: BackgroundTasks,
        page: int = 1,
    ) -> None:
        pass

    dependant = get_dependant(path="/", call=handler)
    results: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        request = Request(scope, receive)
        async with AsyncExitStack() as request_stack, AsyncExitStack() as function_stack:
            scope["fastapi_inner_astack"] = request_stack
            scope["fastapi_function_astack"] = function_stack
            cache: dict[Any, Any] = {}
            solved = await solve_dependencies(
                request=request,
                dependant=dependant,
                async_exit_stack=request_stack,
                embed_body_fields=False,
                dependency_cache=cache,
            )
            results.append((solved, dict(cache)))
            await JSONResponse(solved.values.get("u"), status_code=422 if solved.errors else 200)(
                scope, receive, send
            )

    result = await call(app, make_scope("/", query_string=b"token=abc&page=2"))
    assert (result.status, result.body) == (200, b'"ABC"')
    solved, cache = results[0]
    assert isinstance(solved, SolvedDependency)
    assert solved.errors == []
    assert {k: v for k, v in solved.values.items() if k != "tasks"} == {
        "u": "ABC",
        "s": "session",
        "page": 2,
    }
    assert solved.values["tasks"] is solved.background_tasks
    assert solved.response.status_code is None  # the sub-response a handler may change
    assert cache == {(user, (), ""): "ABC", (session, (), "request"): "session"}
    assert events == ["open", "close"]
    results.clear()
    await call(app, make_scope("/", query_string=b"page=x"))
    errors = results[0][0].errors
    assert [(e["type"], e["loc"]) for e in errors] == [
        ("missing", ("query", "token")),
        ("int_parsing", ("query", "page")),
    ]


def test_route_contexts_of_included_routes() -> None:
    from fastapi import APIRouter, FastAPI
    from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
    from starlette.routing import Match

    router = APIRouter()

    @router.get("/items/{item_id}", name="read_item")
    async def read_item(item_id: int) -> dict[str, int]:
        return {"item_id": item_id}

    app = FastAPI()
    app.include_router(router, prefix="/api", tags=["api"])
    contexts = [c for c in iter_route_contexts(app.routes) if c.name == "read_item"]
    assert len(contexts) == 1
    context = contexts[0]
    assert isinstance(context, RouteContext)
    assert context.original_route is router.routes[0]
    assert (context.path, context.path_format, context.methods) == (
        "/api/items/{item_id}",
        "/api/items/{item_id}",
        {"GET"},
    )
    assert context.endpoint is read_item and context.tags == ["api"]
    match, child = context.matches(make_scope("/api/items/3"))
    assert match is Match.FULL and child["path_params"] == {"item_id": "3"}
    assert [type(c.route) for c in iter_route_contexts(router.routes)] == [APIRoute]
    assert list(iter_route_contexts([context])) == [context]


async def test_an_included_router_node_routes_like_fastapis() -> None:
    from fastapi import APIRouter, Depends, FastAPI
    from fastapi.routing import _IncludedRouter, _RouterIncludeContext, iter_route_contexts

    seen: list[str] = []

    def marker() -> None:
        seen.append("dependency")

    router = APIRouter()

    @router.get("/hello")
    async def hello() -> str:
        return "hi"

    node = _IncludedRouter(
        original_router=router,
        include_context=_RouterIncludeContext(
            included_router=router, prefix="/v2", dependencies=[Depends(marker)]
        ),
    )
    app = FastAPI()
    app.router.routes.append(node)
    result = await call(app, make_scope("/v2/hello"))
    assert (result.status, result.body) == (200, b'"hi"')
    assert seen == ["dependency"]
    assert [
        c.path for c in iter_route_contexts(app.routes) if c.original_route is router.routes[0]
    ] == ["/v2/hello"]
    assert app.url_path_for("hello") == "/v2/hello"


def test_body_limit_helpers() -> None:
    from fastapi.routing import (
        get_body_limit_error,
        get_body_size_limit,
        validate_max_body_size,
        wrap_app_with_body_limit,
    )
    from starlette.middleware.body_limit import RequestBodyLimitMiddleware

    assert get_body_size_limit(None, 5, 10) == 5
    assert get_body_size_limit(None, None) is None
    for bad in (-1, True, 1.5, "5"):
        with pytest.raises(ValueError, match="non-negative integer or None"):
            validate_max_body_size(bad)  # type: ignore[arg-type]
    validate_max_body_size(0)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        pass

    assert wrap_app_with_body_limit(app, None) is app
    wrapped = wrap_app_with_body_limit(app, 7)
    assert isinstance(wrapped, RequestBodyLimitMiddleware) and wrapped.max_body_size == 7
    from aster.middleware.body_limit import RequestBodyTooLarge

    error = RequestBodyTooLarge()
    assert get_body_limit_error(error) is error
    assert get_body_limit_error(ValueError()) is None
    group = getattr(builtins, "ExceptionGroup", None)  # Python 3.11+
    if group is not None:
        assert get_body_limit_error(group("g", [error])) is error
        assert get_body_limit_error(group("g", [error, ValueError()])) is None


def test_compat_types_and_aliases() -> None:
    import types as std_types

    import fastapi
    import fastapi._compat
    import fastapi.types
    from fastapi._compat import ModelField, v2
    from fastapi.background import BackgroundTasks, StarletteBackgroundTasks
    from fastapi.datastructures import StarletteUploadFile, UploadFile
    from fastapi.logger import logger
    from fastapi.middleware.asyncexitstack import AsyncExitStackMiddleware
    from fastapi.utils import generate_operation_id_for_path

    import aster.fields

    assert ModelField is aster.fields.ModelField and v2 is fastapi._compat
    assert fastapi._compat.is_scalar_field(aster.fields.create_model_field("n", int))
    assert fastapi.types.UnionType is std_types.UnionType
    assert fastapi.types.DependencyCacheKey.__origin__ is tuple
    assert StarletteBackgroundTasks is BackgroundTasks and StarletteUploadFile is UploadFile
    assert logger.name == "fastapi"
    assert fastapi.routing.APIRoute is fastapi.routing.APIRoute  # an attribute of the package
    with pytest.warns(fastapi.exceptions.FastAPIDeprecationWarning):
        assert generate_operation_id_for_path(name="read", path="/a/{b}", method="GET") == (
            "read_a__b__get"
        )
    assert AsyncExitStackMiddleware.__init__.__defaults__ == ("fastapi_middleware_astack",)


async def test_async_exit_stack_middleware() -> None:
    from fastapi.middleware.asyncexitstack import AsyncExitStackMiddleware
    from fastapi.responses import PlainTextResponse

    closed: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        scope["fastapi_middleware_astack"].callback(closed.append, "closed")
        await PlainTextResponse("ok")(scope, receive, send)
        assert closed == []

    result = await call(AsyncExitStackMiddleware(app), make_scope("/"))
    assert result.body == b"ok" and closed == ["closed"]


def test_pydantic_v1_models_are_refused() -> None:
    from fastapi import FastAPI
    from fastapi.exceptions import PydanticV1NotSupportedError

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pydantic import v1

    class Legacy(v1.BaseModel):
        name: str

    app = FastAPI()
    with pytest.raises(PydanticV1NotSupportedError):

        @app.post("/")
        def endpoint(item: Legacy) -> None:
            pass
