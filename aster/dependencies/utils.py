"""Signature analysis: turn an endpoint or dependency into a :class:`Dependant`.

This runs when a route is registered, never per request.  The rules match
FastAPI's: a parameter is a path parameter if its name is in the path; a
``Depends`` default or ``Annotated`` marker makes it a dependency; ``Request``,
``Response``, ``BackgroundTasks`` & co. are injected; otherwise scalars come
from the query string and everything else (models, dicts, lists of models)
from the body.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Generator,
    Iterable,
    Iterator,
)
from copy import copy
from typing import Annotated, Any, ForwardRef, get_args, get_origin

from pydantic import AliasChoices, AliasPath, BaseModel
from pydantic.fields import FieldInfo

from .. import params
from .._response import Response
from ..background import BackgroundTasks
from ..exceptions import DependencyScopeError
from ..fields import (
    ModelField,
    _is_union,
    copy_field_info,
    create_model_field,
    field_annotation_is_scalar,
    field_annotation_is_scalar_sequence,
    get_cached_model_fields,
    is_scalar_field,
    is_uploadfile_or_nonable_uploadfile_annotation,
    is_uploadfile_sequence_annotation,
    lenient_issubclass,
)
from ..requests import HTTPConnection, Request
from ..security.oauth2 import SecurityScopes
from ..websockets import WebSocket
from .models import (
    Dependant,
    get_cache_key,
    get_computed_scope,
    is_async_gen_callable,
    is_gen_callable,
)

Undefined = params.Undefined
RequiredParam: Any = params.Undefined  # "no default": required


#: Parameters of these types are given the request's object, not read from it.
_INJECTED_TYPES = (Request, WebSocket, HTTPConnection, Response, BackgroundTasks, SecurityScopes)


def get_path_param_names(path: str) -> set[str]:
    return set(re.findall("{(.*?)}", path))


# -- signatures ---------------------------------------------------------------------


def _signature(call: Any) -> inspect.Signature:
    try:
        return inspect.signature(call, eval_str=True)
    except NameError:
        # Names only imported under TYPE_CHECKING (e.g. in a dependency's return type).
        return inspect.signature(call)


def get_typed_annotation(annotation: Any, globalns: dict[str, Any]) -> Any:
    if isinstance(annotation, str):
        ref = ForwardRef(annotation)
        annotation = ref._evaluate(globalns, globalns, recursive_guard=frozenset())  # type: ignore[call-arg]
        if annotation is type(None):
            return None
    return annotation


def get_typed_signature(call: Any) -> inspect.Signature:
    signature = _signature(call)
    globalns = getattr(inspect.unwrap(call), "__globals__", {})
    return inspect.Signature(
        [
            inspect.Parameter(
                name=param.name,
                kind=param.kind,
                default=param.default,
                annotation=get_typed_annotation(param.annotation, globalns),
            )
            for param in signature.parameters.values()
        ]
    )


def get_typed_return_annotation(call: Any) -> Any:
    annotation = _signature(call).return_annotation
    if annotation is inspect.Signature.empty:
        return None
    return get_typed_annotation(annotation, getattr(inspect.unwrap(call), "__globals__", {}))


_STREAM_ORIGINS = {AsyncIterable, AsyncIterator, AsyncGenerator, Iterable, Iterator, Generator}


def get_stream_item_type(annotation: Any) -> Any | None:
    """``AsyncIterable[Item]`` and friends -> ``Item`` (for JSON Lines / SSE streams)."""
    origin = get_origin(annotation)
    if origin is not None and origin in _STREAM_ORIGINS:
        args = get_args(annotation)
        if args:
            return args[0]
        return Any
    return None


# -- building Dependants ------------------------------------------------------------------


def get_parameterless_sub_dependant(*, depends: params.Depends, path: str) -> Dependant:
    assert callable(depends.dependency), (
        "A parameter-less dependency must have a callable dependency"
    )
    own_scopes = list(depends.scopes or []) if isinstance(depends, params.Security) else []
    return get_dependant(
        path=path,
        call=depends.dependency,
        scope=depends.scope,
        concurrency=depends._concurrency,
        own_oauth_scopes=own_scopes,
    )


def get_dependant(
    *,
    path: str,
    call: Any,
    name: str | None = None,
    own_oauth_scopes: list[str] | None = None,
    parent_oauth_scopes: list[str] | None = None,
    use_cache: bool = True,
    scope: Any = None,
    concurrency: Any = None,
) -> Dependant:
    dependant = Dependant(
        call=call,
        name=name,
        path=path,
        use_cache=use_cache,
        scope=scope,
        concurrency=concurrency,
        own_oauth_scopes=own_oauth_scopes,
        parent_oauth_scopes=parent_oauth_scopes,
    )
    current_scopes = (parent_oauth_scopes or []) + (own_oauth_scopes or [])
    path_param_names = get_path_param_names(path)
    for param_name, param in get_typed_signature(call).parameters.items():
        annotation, depends, field = analyze_param(
            param_name=param_name,
            annotation=param.annotation,
            value=param.default,
            path_param_names=path_param_names,
        )
        if depends is not None:
            if (
                (is_gen_callable(call) or is_async_gen_callable(call))
                and get_computed_scope(dependant) == "request"
                and depends.scope == "function"
            ):
                call_name = getattr(call, "__name__", "<unnamed_callable>")
                raise DependencyScopeError(
                    f'The dependency "{call_name}" has a scope of "request", '
                    'it cannot depend on dependencies with scope "function".'
                )
            sub_scopes = (
                list(depends.scopes)
                if isinstance(depends, params.Security) and depends.scopes
                else []
            )
            dependant.dependencies.append(
                get_dependant(
                    path=path,
                    call=depends.dependency,
                    name=param_name,
                    own_oauth_scopes=sub_scopes,
                    parent_oauth_scopes=current_scopes,
                    use_cache=depends.use_cache,
                    scope=depends.scope,
                    concurrency=depends._concurrency,
                )
            )
            continue
        if _add_injected_param(param_name, annotation, dependant):
            assert field is None, f"Cannot specify multiple FastAPI annotations for {param_name!r}"
            continue
        assert field is not None
        if isinstance(field.field_info, params.Body):
            dependant.body_params.append(field)
        else:
            _add_param_field(field, dependant)
    return dependant


def _add_injected_param(param_name: str, annotation: Any, dependant: Dependant) -> bool:
    if lenient_issubclass(annotation, Request):
        dependant.request_param_name = param_name
    elif lenient_issubclass(annotation, WebSocket):
        dependant.websocket_param_name = param_name
    elif lenient_issubclass(annotation, HTTPConnection):
        dependant.http_connection_param_name = param_name
    elif lenient_issubclass(annotation, Response):
        dependant.response_param_name = param_name
    elif lenient_issubclass(annotation, BackgroundTasks):
        dependant.background_tasks_param_name = param_name
    elif lenient_issubclass(annotation, SecurityScopes):
        dependant.security_scopes_param_name = param_name
    else:
        return False
    return True


def _add_param_field(field: ModelField, dependant: Dependant) -> None:
    location = getattr(field.field_info, "in_", None)
    if location == params.ParamTypes.path:
        dependant.path_params.append(field)
    elif location == params.ParamTypes.query:
        dependant.query_params.append(field)
    elif location == params.ParamTypes.header:
        dependant.header_params.append(field)
    else:
        assert location == params.ParamTypes.cookie, (
            f"non-body parameters must be in path, query, header or cookie: {field.name}"
        )
        dependant.cookie_params.append(field)


def analyze_param(
    *, param_name: str, annotation: Any, value: Any, path_param_names: set[str]
) -> tuple[Any, params.Depends | None, ModelField | None]:
    """Decide what one parameter is: (its type, a dependency, or a validated field)."""
    is_path_param = param_name in path_param_names
    field_info: FieldInfo | None = None
    depends: params.Depends | None = None
    type_annotation: Any = Any
    use_annotation: Any = Any
    if hasattr(annotation, "__value__") and type(annotation).__name__ == "TypeAliasType":
        annotation = annotation.__value__  # PEP 695 ``type X = ...``
    if annotation is not inspect.Signature.empty:
        use_annotation = type_annotation = annotation
    if get_origin(use_annotation) is Annotated:
        args = get_args(annotation)
        type_annotation = args[0]
        markers = [
            arg for arg in args[1:] if isinstance(arg, (params.Param, params.Body, params.Depends))
        ]
        marker = markers[-1] if markers else None
        if isinstance(marker, FieldInfo):
            # Copied, because the default is set on it below.
            field_info = copy_field_info(field_info=marker, annotation=use_annotation)
            assert field_info.default in (Undefined, RequiredParam), (
                f"`{field_info.__class__.__name__}` default value cannot be set in"
                f" `Annotated` for {param_name!r}. Set the default value with `=` instead."
            )
            if value is not inspect.Signature.empty:
                assert not is_path_param, "Path parameters cannot have default values"
                field_info.default = value
            else:
                field_info.default = RequiredParam
        elif isinstance(marker, params.Depends):
            depends = marker
    if isinstance(value, params.Depends):
        assert depends is None, (
            f"Cannot specify `Depends` in `Annotated` and default value together for {param_name!r}"
        )
        assert field_info is None, (
            "Cannot specify a FastAPI annotation in `Annotated` and `Depends` as a"
            f" default value together for {param_name!r}"
        )
        depends = value
    elif isinstance(value, FieldInfo):
        assert field_info is None, (
            "Cannot specify FastAPI annotations in `Annotated` and default value"
            f" together for {param_name!r}"
        )
        field_info = value
        field_info.annotation = type_annotation
    if depends is not None and depends.dependency is None:
        depends = dataclasses.replace(copy(depends), dependency=type_annotation)
    if depends is None and lenient_issubclass(type_annotation, _INJECTED_TYPES):
        assert field_info is None, f"Cannot specify FastAPI annotation for type {type_annotation!r}"
    elif field_info is None and depends is None:
        field_info = _inferred_field_info(
            type_annotation, use_annotation, value, is_path_param=is_path_param
        )
    field = None
    if field_info is not None:
        field = _make_param_field(
            param_name, field_info, use_annotation, path_param_names, is_path_param
        )
    return type_annotation, depends, field


def _inferred_field_info(
    type_annotation: Any, use_annotation: Any, value: Any, *, is_path_param: bool
) -> FieldInfo:
    """No marker: path if named in the path, File for UploadFile, Body if complex, else Query."""
    default = value if value is not inspect.Signature.empty else RequiredParam
    field_info: FieldInfo
    if is_path_param:
        field_info = params.Path(annotation=use_annotation)
    elif is_uploadfile_or_nonable_uploadfile_annotation(
        type_annotation
    ) or is_uploadfile_sequence_annotation(type_annotation):
        field_info = params.File(annotation=use_annotation, default=default)
    elif not field_annotation_is_scalar(annotation=type_annotation):
        field_info = params.Body(annotation=use_annotation, default=default)
    else:
        field_info = params.Query(annotation=use_annotation, default=default)
    if get_origin(use_annotation) is Annotated:
        inferred_default = field_info.default
        field_info = copy_field_info(field_info=field_info, annotation=use_annotation)
        field_info.default = inferred_default
        if is_path_param:
            field_info.default_factory = None  # path parameters are always required
    return field_info


def _make_param_field(
    param_name: str,
    field_info: FieldInfo,
    use_annotation: Any,
    path_param_names: set[str],
    is_path_param: bool,
) -> ModelField:
    if is_path_param:
        assert isinstance(field_info, params.Path), (
            f"Cannot use `{field_info.__class__.__name__}` for path param {param_name!r}"
        )
    elif isinstance(field_info, params.Param) and getattr(field_info, "in_", None) is None:
        field_info.in_ = params.ParamTypes.query
    if isinstance(field_info, params.Form):
        _ensure_multipart_is_installed()
    validation_alias = field_info.validation_alias
    if (
        isinstance(field_info, params.Path)
        and isinstance(validation_alias, AliasChoices)
        and all(isinstance(choice, str) for choice in validation_alias.choices)
    ):
        for choice in validation_alias.choices:
            if choice in path_param_names:
                field_info = copy(field_info)
                field_info.validation_alias = choice
                break
    if not field_info.alias and getattr(field_info, "convert_underscores", None):
        alias = param_name.replace("_", "-")
    else:
        alias = field_info.alias or param_name
    field_info.alias = alias
    field = create_model_field(
        name=param_name,
        type_=use_annotation,
        default=field_info.default,
        alias=alias,
        field_info=field_info,
    )
    if is_path_param:
        assert is_scalar_field(field), "Path params must be of one of the supported types"
    elif isinstance(field_info, params.Query):
        assert (
            is_scalar_field(field)
            or field_annotation_is_scalar_sequence(field.field_info.annotation)
            or get_model_type(field.field_info.annotation) is not None
        ), f"Query parameter {param_name!r} must be one of the supported types"
    return field


def _ensure_multipart_is_installed() -> None:
    try:
        from python_multipart import __version__

        assert __version__ > "0.0.12"
    except (ImportError, AssertionError):
        message = (
            'Form data requires "python-multipart" to be installed. \n'
            'You can install "python-multipart" with: \n\npip install python-multipart\n'
        )
        raise RuntimeError(message) from None


# -- shapes of parameters and bodies (also used by the plan and by OpenAPI) --------------


def get_model_type(annotation: Any) -> type[BaseModel] | None:
    """``Model`` or ``Model | None`` -> ``Model``."""
    if _is_union(get_origin(annotation)):
        args = get_args(annotation)
        if len(args) == 2 and type(None) in args:
            annotation = next(arg for arg in args if arg is not type(None))
    return annotation if lenient_issubclass(annotation, BaseModel) else None


def is_json_field(field: ModelField) -> bool:
    from pydantic import Json

    return any(type(item) is Json for item in field.field_info.metadata)


def get_param_model(field: ModelField) -> type[BaseModel] | None:
    """The model behind a ``Query``/``Header``/``Cookie`` parameter model, if it is one."""
    annotation = field.field_info.annotation
    if isinstance(field.field_info, (params.Query, params.Header, params.Cookie)):
        annotation = get_model_type(annotation)
    if lenient_issubclass(annotation, BaseModel) and not is_json_field(field):
        return annotation
    return None


def get_validation_alias(field: ModelField) -> str:
    return field.validation_alias or field.alias


def get_param_aliases(
    field: ModelField, *, convert_underscores: bool = False
) -> list[tuple[str, str]]:
    """(validation alias, request key) pairs, in preference order."""
    alias = get_validation_alias(field)
    request_alias = alias
    if convert_underscores and alias == field.name:
        request_alias = alias.replace("_", "-")
    validation_alias = field.field_info.validation_alias
    if isinstance(field.field_info, params.Path) or isinstance(validation_alias, AliasPath):
        return [(alias, request_alias)]
    aliases = [(alias, request_alias)]
    if isinstance(validation_alias, AliasChoices):
        if any(isinstance(choice, AliasPath) for choice in validation_alias.choices):
            return aliases
        aliases = [(choice, choice) for choice in validation_alias.choices]  # type: ignore[misc]
    config = field.config or {}
    if config.get("validate_by_alias") is False or config.get(
        "validate_by_name", config.get("populate_by_name", False)
    ):
        request_name = field.name.replace("_", "-") if convert_underscores else field.name
        if config.get("validate_by_alias") is False:
            return [(field.name, request_name)]
        if field.name not in [a for a, _ in aliases]:
            aliases.append((field.name, request_name))
    return aliases


def get_flat_dependants(dependant: Dependant) -> list[Dependant]:
    """Every dependant in the tree, each distinct cache key once, parents first."""
    seen: list[Any] = []
    result = []
    stack = [dependant]
    while stack:
        current = stack.pop()
        key = get_cache_key(current)
        if key in seen:
            continue
        seen.append(key)
        result.append(current)
        stack.extend(reversed(current.dependencies))
    return result


def get_flat_params(dependant: Dependant) -> list[ModelField]:
    """All path, query, header and cookie fields (parameter models expanded), for OpenAPI."""
    groups: list[list[ModelField]] = [[], [], [], []]
    for current in get_flat_dependants(dependant):
        groups[0] += current.path_params
        groups[1] += current.query_params
        groups[2] += current.header_params
        groups[3] += current.cookie_params
    return [field for group in groups for field in flat_param_fields(group)]


def flat_param_fields(fields: Iterable[ModelField]) -> list[ModelField]:
    """``fields``, each parameter model (``Annotated[Model, Query()]``) expanded into its fields."""
    flat: list[ModelField] = []
    for field in fields:
        model = get_param_model(field)
        flat.extend(get_cached_model_fields(model) if model is not None else [field])
    return flat


def get_flat_body_params(dependant: Dependant) -> list[ModelField]:
    body: list[ModelField] = []
    stack = [dependant]
    while stack:
        current = stack.pop()
        body.extend(current.body_params)
        stack.extend(reversed(current.dependencies))
    return body


def get_form_models(field: ModelField) -> list[type[BaseModel]]:
    """Form-model(s) a ``Form`` body parameter is read into (one model, or a union of them)."""
    info = field.field_info
    if not isinstance(info, params.Form) or info.embed or is_json_field(field):
        return []
    model = get_model_type(info.annotation)
    if model is not None:
        return [model]
    annotation = info.annotation
    if not _is_union(get_origin(annotation)):
        return []
    models = []
    for arg in get_args(annotation):
        if arg is type(None):
            continue
        if get_origin(arg) is Annotated:
            arg = get_args(arg)[0]
        if not lenient_issubclass(arg, BaseModel):
            return []
        models.append(arg)
    return models if len(models) > 1 else []


def should_embed_body_fields(fields: list[ModelField]) -> bool:
    """Whether the JSON body is an object keyed by parameter name (several bodies, embed=True)."""
    if not fields:
        return False
    if len({field.name for field in fields}) > 1:
        return True
    first = fields[0]
    if get_form_models(first) and any(
        not get_form_models(other) or other.field_info.annotation is not first.field_info.annotation
        for other in fields[1:]
    ):
        return True
    if getattr(first.field_info, "embed", None):
        return True
    return (
        isinstance(first.field_info, params.Form)
        and not lenient_issubclass(first.field_info.annotation, BaseModel)
        and not get_form_models(first)
    )
