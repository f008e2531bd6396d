"""The parameters, security requirements and request body of one OpenAPI operation.

Parameters come from the route's whole dependency tree, each distinct dependency
once (as the request is solved), with OAuth2 scopes inherited from the parents;
a security scheme met on the way becomes a requirement of the operation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..dependencies.models import Dependant, get_cache_key, get_oauth_scopes, is_security_scheme
from ..dependencies.models import _unwrapped as _unwrapped_call
from ..dependencies.shapes import flat_param_fields, get_param_aliases, get_param_model
from ..encoders import jsonable_encoder
from ..fields import ModelField
from ..params import ParamTypes, _Unset
from ._schema import FieldMapping, get_schema_from_model_field

__all__ = ["get_openapi_operation_request_body"]


@dataclass
class _DependencyData:
    """The parameters and security schemes of a route's whole dependency tree."""

    path_params: list[ModelField] = field(default_factory=list)
    query_params: list[ModelField] = field(default_factory=list)
    header_params: list[ModelField] = field(default_factory=list)
    cookie_params: list[ModelField] = field(default_factory=list)
    security: list[tuple[Dependant, list[str]]] = field(default_factory=list)

    def has_params(self) -> bool:
        """Whether any parameter is read (then a 422 can happen)."""
        groups = self.path_params + self.query_params + self.header_params + self.cookie_params
        return bool(flat_param_fields(groups))


def _dependency_data(dependant: Dependant) -> _DependencyData:
    """Walk the tree depth first, each distinct dependency once, scopes inherited downwards."""
    data = _DependencyData()
    visited: list[Any] = []
    stack: list[tuple[Dependant, list[str], bool]] = [(dependant, [], True)]
    while stack:
        current, parent_scopes, is_root = stack.pop()
        key = get_cache_key(current)
        if key in visited:
            continue
        visited.append(key)
        data.path_params.extend(current.path_params)
        data.query_params.extend(current.query_params)
        data.header_params.extend(current.header_params)
        data.cookie_params.extend(current.cookie_params)
        scopes = parent_scopes.copy()
        for scope in get_oauth_scopes(current):
            if scope not in scopes:
                scopes.append(scope)
        if not is_root and is_security_scheme(current.call):
            data.security.append((current, scopes))
        stack.extend((sub, scopes, False) for sub in reversed(current.dependencies))
    return data


def _security_definitions(
    security: list[tuple[Dependant, list[str]]],
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The schemes to define, and the operation's requirements (scopes merged per scheme)."""
    definitions: dict[str, Any] = {}
    requirements: dict[str, list[str]] = {}
    for dependant, scopes in security:
        scheme = _unwrapped_call(dependant.call)
        definitions[scheme.scheme_name] = jsonable_encoder(
            scheme.model, by_alias=True, exclude_none=True
        )
        merged = requirements.setdefault(scheme.scheme_name, [])
        merged.extend(scope for scope in scopes if scope not in merged)
    return definitions, [{name: scopes} for name, scopes in requirements.items()]


def _operation_parameters(
    data: _DependencyData,
    model_name_map: dict[Any, str],
    field_mapping: FieldMapping,
    separate_input_output_schemas: bool,
) -> list[dict[str, Any]]:
    parameters = []
    groups = (
        (ParamTypes.path, data.path_params),
        (ParamTypes.query, data.query_params),
        (ParamTypes.header, data.header_params),
        (ParamTypes.cookie, data.cookie_params),
    )
    for location, group in groups:
        for parent in group:
            if not getattr(parent.field_info, "include_in_schema", True):
                continue
            model = get_param_model(parent)
            # An optional parameter model makes all its fields optional.
            optional_model = (
                model is not None
                and parent.field_info.annotation is not model
                and not parent.field_info.is_required()
            )
            for param in flat_param_fields([parent]):
                info = param.field_info
                convert_underscores = location == ParamTypes.header and getattr(
                    info,
                    "convert_underscores",
                    getattr(parent.field_info, "convert_underscores", True),
                )
                alias, name = get_param_aliases(param, convert_underscores=convert_underscores)[0]
                parameter: dict[str, Any] = {
                    "name": name,
                    "in": location.value,
                    "required": info.is_required() and not optional_model,
                    "schema": get_schema_from_model_field(
                        field=param,
                        model_name_map=model_name_map,
                        field_mapping=field_mapping,
                        separate_input_output_schemas=separate_input_output_schemas,
                        field_alias=alias,
                    ),
                }
                if info.description:
                    parameter["description"] = info.description
                openapi_examples = getattr(info, "openapi_examples", None)
                example = getattr(info, "example", None)
                if openapi_examples:
                    parameter["examples"] = jsonable_encoder(openapi_examples)
                elif example is not _Unset:
                    parameter["example"] = jsonable_encoder(example)
                if getattr(info, "deprecated", None):
                    parameter["deprecated"] = True
                parameters.append(parameter)
    return parameters


def get_openapi_operation_request_body(
    *,
    body_field: ModelField | None,
    model_name_map: dict[Any, str],
    field_mapping: FieldMapping,
    separate_input_output_schemas: bool = True,
) -> dict[str, Any] | None:
    """The ``requestBody`` object of an operation, or ``None`` without a body."""
    if not body_field:
        return None
    schema = get_schema_from_model_field(
        field=body_field,
        model_name_map=model_name_map,
        field_mapping=field_mapping,
        separate_input_output_schemas=separate_input_output_schemas,
    )
    info: Any = body_field.field_info
    request_body: dict[str, Any] = {}
    if info.is_required():
        request_body["required"] = True
    content: dict[str, Any] = {"schema": schema}
    if info.openapi_examples:
        content["examples"] = jsonable_encoder(info.openapi_examples)
    elif info.example is not _Unset:
        content["example"] = jsonable_encoder(info.example)
    request_body["content"] = {info.media_type: content}
    return request_body
