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
    Callable,
    Generator,
    Iterable,
    Iterator,
    Mapping,
)
from copy import copy
from dataclasses import dataclass
from typing import Annotated, Any, ForwardRef, Literal, get_args, get_origin

from pydantic import AliasChoices
from pydantic.fields import FieldInfo

from .. import params
from .._response import Response
from ..background import BackgroundTasks
from ..concurrency import DependencyConcurrency
from ..exceptions import DependencyScopeError
from ..fields import (
    ModelField,
    copy_field_info,
    create_model_field,
    field_annotation_is_scalar,
    field_annotation_is_scalar_sequence,
    is_scalar_field,
    is_uploadfile_or_nonable_uploadfile_annotation,
    is_uploadfile_sequence_annotation,
    lenient_issubclass,
)
from ..logger import logger
from ..requests import HTTPConnection, Request
from ..security.oauth2 import SecurityScopes
from ..websockets import WebSocket
from .body import _add_form_union_validators
from .models import (
    Dependant,
    get_computed_scope,
    get_oauth_scopes,
    is_async_gen_callable,
    is_gen_callable,
)
from .shapes import get_form_union_models, get_model_type

Undefined = params.Undefined
RequiredParam: Any = params.Undefined  # "no default": required


#: Parameters of these types are given the request's object, not read from it.
_INJECTED_TYPES = (Request, WebSocket, HTTPConnection, Response, BackgroundTasks, SecurityScopes)


def is_typealiastype(annotation: Any) -> bool:
    """A PEP 695 alias (``type X = ...``, or typing_extensions' ``TypeAliasType``)."""
    return hasattr(annotation, "__value__") and type(annotation).__name__ == "TypeAliasType"


def get_path_param_names(path: str) -> set[str]:
    return set(re.findall("{(.*?)}", path))


# -- signatures ---------------------------------------------------------------------


def _get_signature(call: Callable[..., Any]) -> inspect.Signature:
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
    signature = _get_signature(call)
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
    annotation = _get_signature(call).return_annotation
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


#: The scope of a dependency created once at startup (aster/dependencies/lifespan.py).
LIFESPAN = "lifespan"


def get_dependant(
    *,
    path: str,
    call: Callable[..., Any],
    name: str | None = None,
    own_oauth_scopes: list[str] | None = None,
    parent_oauth_scopes: list[str] | None = None,
    use_cache: bool = True,
    scope: Literal["function", "request", "lifespan"] | None = None,
    concurrency: DependencyConcurrency | None = None,
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
        details = analyze_param(
            param_name=param_name,
            annotation=param.annotation,
            value=param.default,
            path_param_names=path_param_names,
        )
        depends, field = details.depends, details.field
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
        if add_non_field_param_to_dependency(
            param_name=param_name, type_annotation=details.type_annotation, dependant=dependant
        ):
            assert field is None, f"Cannot specify multiple FastAPI annotations for {param_name!r}"
            continue
        assert field is not None
        if isinstance(field.field_info, params.Body):
            dependant.body_params.append(field)
        else:
            add_param_to_fields(field=field, dependant=dependant)
    if scope == LIFESPAN:
        check_lifespan_dependant(dependant)
    return dependant


def overridden_dependant(sub: Dependant, overrides: Mapping[Any, Any]) -> Dependant:
    """``sub``, or, when ``app.dependency_overrides`` swaps its callable, the override's
    ``Dependant`` in its place (same name, scope, OAuth2 scopes and concurrency limit)."""
    override = overrides.get(sub.call, sub.call) if overrides else sub.call
    if override is sub.call:
        return sub
    return get_dependant(
        path=sub.path or "",
        call=override,
        name=sub.name,
        parent_oauth_scopes=get_oauth_scopes(sub),
        scope=sub.scope,
        concurrency=sub.concurrency,
    )


def check_lifespan_dependant(dependant: Dependant) -> None:
    """Refuse, at route definition, what a dependency without a request cannot have."""
    name = getattr(dependant.call, "__name__", repr(dependant.call))
    inputs = [
        f.alias if hasattr(f, "alias") else str(f)
        for f in (
            *dependant.path_params,
            *dependant.query_params,
            *dependant.header_params,
            *dependant.cookie_params,
            *dependant.body_params,
        )
    ]
    inputs += [
        n
        for n in (
            dependant.request_param_name,
            dependant.websocket_param_name,
            dependant.http_connection_param_name,
            dependant.response_param_name,
            dependant.background_tasks_param_name,
            dependant.security_scopes_param_name,
        )
        if n
    ]
    if inputs:
        raise DependencyScopeError(
            f'The dependency "{name}" has a scope of "lifespan": it runs once at startup,'
            f" without a request, so it cannot take request parameters ({', '.join(inputs)})."
        )
    for sub in dependant.dependencies:
        if sub.scope != LIFESPAN:
            sub_name = getattr(sub.call, "__name__", repr(sub.call))
            raise DependencyScopeError(
                f'The dependency "{name}" has a scope of "lifespan", it cannot depend on'
                f' "{sub_name}", whose scope is not "lifespan".'
            )


def add_non_field_param_to_dependency(
    *, param_name: str, type_annotation: Any, dependant: Dependant
) -> bool | None:
    """Record a parameter the request's own object fills (``Request``, ``Response``...)."""
    if lenient_issubclass(type_annotation, Request):
        dependant.request_param_name = param_name
    elif lenient_issubclass(type_annotation, WebSocket):
        dependant.websocket_param_name = param_name
    elif lenient_issubclass(type_annotation, HTTPConnection):
        dependant.http_connection_param_name = param_name
    elif lenient_issubclass(type_annotation, Response):
        dependant.response_param_name = param_name
    elif lenient_issubclass(type_annotation, BackgroundTasks):
        dependant.background_tasks_param_name = param_name
    elif lenient_issubclass(type_annotation, SecurityScopes):
        dependant.security_scopes_param_name = param_name
    else:
        return None
    return True


def add_param_to_fields(*, field: ModelField, dependant: Dependant) -> None:
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


@dataclass
class ParamDetails:
    """What one parameter is: its type, and a dependency or a field to validate."""

    type_annotation: Any
    depends: params.Depends | None
    field: ModelField | None


def analyze_param(
    *, param_name: str, annotation: Any, value: Any, path_param_names: set[str]
) -> ParamDetails:
    """Decide what one parameter is: a dependency, an injected object, or a field."""
    is_path_param = param_name in path_param_names
    field_info: FieldInfo | None = None
    depends: params.Depends | None = None
    type_annotation: Any = Any
    use_annotation: Any = Any
    if is_typealiastype(annotation):
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
    return ParamDetails(type_annotation=type_annotation, depends=depends, field=field)


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
        ensure_multipart_is_installed()
        if get_form_union_models(field_info.annotation):
            field_info.annotation = _add_form_union_validators(field_info.annotation)
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


multipart_not_installed_error = (
    'Form data requires "python-multipart" to be installed. \n'
    'You can install "python-multipart" with: \n\npip install python-multipart\n'
)
multipart_incorrect_install_error = (
    'Form data requires "python-multipart" to be installed. '
    'It seems you installed "multipart" instead. \n'
    'You can remove "multipart" with: \n\npip uninstall multipart\n\n'
    'And then install "python-multipart" with: \n\npip install python-multipart\n'
)


def ensure_multipart_is_installed() -> None:
    """Form parameters need python-multipart (older releases install as ``multipart``)."""
    try:
        from python_multipart import __version__

        assert __version__ > "0.0.12"
        return
    except (ImportError, AssertionError):
        pass
    try:
        from multipart import __version__ as legacy_version  # type: ignore[import-untyped]
    except ImportError:
        logger.error(multipart_not_installed_error)
        raise RuntimeError(multipart_not_installed_error) from None
    assert legacy_version
    try:
        # Only python-multipart's old ``multipart`` has this, not the other "multipart".
        from multipart.multipart import parse_options_header  # type: ignore[import-untyped]
    except ImportError:
        logger.error(multipart_incorrect_install_error)
        raise RuntimeError(multipart_incorrect_install_error) from None
    assert parse_options_header
