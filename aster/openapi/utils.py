"""The OpenAPI 3.1 document of an app, built from its routes, as FastAPI builds it.

``get_openapi`` walks the ``APIRoute``s (and webhooks) once: it collects every
field, generates all their JSON Schemas in one pydantic run (:mod:`._schema`),
then writes one operation per route and method.  ``FastAPI.openapi()`` calls it
once and caches the result; the output must equal FastAPI's for the same app, key
for key, because clients are generated from it and FastAPI's tests compare it.
"""

from __future__ import annotations

import copy
import http.client
import inspect
import warnings
from collections.abc import Sequence
from typing import Any, cast

from .._response import JSONResponse, Response
from .._routing_base import BaseRoute
from ..api_routing import APIRoute
from ..datastructures import DefaultPlaceholder
from ..dependencies.shapes import get_flat_params
from ..encoders import jsonable_encoder
from ..exceptions import FastAPIDeprecationWarning
from ..fields import ModelField, lenient_issubclass
from ..sse import _SSE_EVENT_SCHEMA
from ..utils import deep_dict_update, generate_unique_id, is_body_allowed_for_status_code
from ._operation_params import (
    _dependency_data,
    _DependencyData,
    _operation_parameters,
    _security_definitions,
    get_openapi_operation_request_body,
)
from ._schema import (
    FieldMapping,
    get_definitions,
    get_flat_models_from_fields,
    get_model_name_map,
    get_schema_from_model_field,
)
from .constants import METHODS_WITH_BODY, REF_PREFIX
from .models import OpenAPI

__all__ = [
    "get_fields_from_routes",
    "get_openapi",
    "get_openapi_operation_metadata",
    "get_openapi_operation_request_body",
    "get_openapi_path",
    "status_code_ranges",
    "validation_error_definition",
    "validation_error_response_definition",
]

validation_error_definition = {
    "title": "ValidationError",
    "type": "object",
    "properties": {
        "loc": {
            "title": "Location",
            "type": "array",
            "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
        },
        "msg": {"title": "Message", "type": "string"},
        "type": {"title": "Error Type", "type": "string"},
        "input": {"title": "Input"},
        "ctx": {"title": "Context", "type": "object"},
    },
    "required": ["loc", "msg", "type"],
}

validation_error_response_definition = {
    "title": "HTTPValidationError",
    "type": "object",
    "properties": {
        "detail": {
            "title": "Detail",
            "type": "array",
            "items": {"$ref": REF_PREFIX + "ValidationError"},
        }
    },
}

#: Descriptions of the status ranges OpenAPI allows as response keys.
status_code_ranges: dict[str, str] = {
    "1XX": "Information",
    "2XX": "Success",
    "3XX": "Redirection",
    "4XX": "Client Error",
    "5XX": "Server Error",
    "DEFAULT": "Default Response",
}


# -- operations -----------------------------------------------------------------------------


def generate_operation_id(*, route: Any, method: str) -> str:  # pragma: no cover
    """Deprecated in FastAPI and unused: operation ids come from ``route.unique_id``."""
    warnings.warn(
        "fastapi.openapi.utils.generate_operation_id() was deprecated, "
        "it is not used internally, and will be removed soon",
        category=FastAPIDeprecationWarning,
        stacklevel=2,
    )
    if route.operation_id:
        return cast(str, route.operation_id)
    return generate_unique_id(route)


def generate_operation_summary(*, route: Any, method: str) -> str:
    if route.summary:
        return cast(str, route.summary)
    return cast(str, route.name.replace("_", " ").title())


def get_openapi_operation_metadata(
    *, route: Any, method: str, operation_ids: set[str]
) -> dict[str, Any]:
    """Tags, summary, description, operationId (warning on duplicates) and deprecation."""
    operation: dict[str, Any] = {}
    if route.tags:
        operation["tags"] = route.tags
    operation["summary"] = generate_operation_summary(route=route, method=method)
    if route.description:
        operation["description"] = route.description
    operation_id = route.operation_id or route.unique_id
    if operation_id in operation_ids:
        endpoint_name = getattr(route.endpoint, "__name__", "<unnamed_endpoint>")
        message = f"Duplicate Operation ID {operation_id} for function {endpoint_name}"
        file_name = getattr(route.endpoint, "__globals__", {}).get("__file__")
        if file_name:
            message += f" at {file_name}"
        warnings.warn(message, stacklevel=1)
    operation_ids.add(operation_id)
    operation["operationId"] = operation_id
    if route.deprecated:
        operation["deprecated"] = route.deprecated
    return operation


def _default_status_code(response_class: type[Response]) -> str | None:
    """The status a response class answers with when the route sets none."""
    parameter = inspect.signature(response_class.__init__).parameters.get("status_code")
    if parameter is not None and isinstance(parameter.default, int):
        return str(parameter.default)
    return None


class _Schemas:
    """The shared state of one document: model names, generated schemas, operation ids."""

    def __init__(
        self, model_name_map: dict[Any, str], field_mapping: FieldMapping, separate: bool
    ) -> None:
        self.model_name_map = model_name_map
        self.field_mapping = field_mapping
        self.separate = separate

    def of(self, model_field: ModelField) -> dict[str, Any]:
        return get_schema_from_model_field(
            field=model_field,
            model_name_map=self.model_name_map,
            field_mapping=self.field_mapping,
            separate_input_output_schemas=self.separate,
        )


def _success_content(
    route: Any, response_class: type[Response], schemas: _Schemas
) -> tuple[str, dict[str, Any]] | None:
    """The media type and content object of the route's own (success) response."""
    if route.is_json_stream:
        item_schema = schemas.of(route.stream_item_field) if route.stream_item_field else {}
        return "application/jsonl", {"itemSchema": item_schema}
    if route.is_sse_stream:
        event_schema = copy.deepcopy(_SSE_EVENT_SCHEMA)
        if route.stream_item_field:
            event_schema["required"] = ["data"]
            event_schema["properties"]["data"] = {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": schemas.of(route.stream_item_field),
            }
        return "text/event-stream", {"itemSchema": event_schema}
    media_type = response_class.media_type
    if not media_type:
        return None
    schema: dict[str, Any] = {"type": "string"}
    if lenient_issubclass(response_class, JSONResponse):
        schema = schemas.of(route.response_field) if route.response_field else {}
    return media_type, {"schema": schema}


def _add_declared_responses(
    route: Any, responses: dict[str, Any], media_type: str | None, schemas: _Schemas
) -> None:
    """Merge the route's ``responses=`` into the operation's responses."""
    for code, declared in route.responses.items():
        response = copy.deepcopy(declared)
        response.pop("model", None)
        key = str(code).upper()
        if key == "DEFAULT":
            key = "default"
        openapi_response = responses.setdefault(key, {})
        assert isinstance(response, dict), "An additional response must be a dict"
        model_field = route.response_fields.get(code)
        if model_field:
            schema = (
                response.setdefault("content", {})
                .setdefault(media_type or "application/json", {})
                .setdefault("schema", {})
            )
            deep_dict_update(schema, schemas.of(model_field))
        status_text = status_code_ranges.get(str(code).upper()) or http.client.responses.get(
            int(code)
        )
        description = (
            response.get("description")
            or openapi_response.get("description")
            or status_text
            or "Additional Response"
        )
        deep_dict_update(openapi_response, response)
        openapi_response["description"] = description


def _operation(
    route: Any,
    method: str,
    data: _DependencyData,
    has_params: bool,
    response_class: type[Response],
    operation_ids: set[str],
    schemas: _Schemas,
    security_schemes: dict[str, Any],
    definitions: dict[str, Any],
) -> dict[str, Any]:
    operation = get_openapi_operation_metadata(
        route=route, method=method, operation_ids=operation_ids
    )
    scheme_definitions, requirements = _security_definitions(data.security)
    if requirements:
        operation.setdefault("security", []).extend(requirements)
    security_schemes.update(scheme_definitions)
    parameters = _operation_parameters(
        data, schemas.model_name_map, schemas.field_mapping, schemas.separate
    )
    if parameters:
        by_key = {(p["in"], p["name"]): p for p in parameters}
        # A required declaration of a parameter wins over an optional one.
        by_key.update({(p["in"], p["name"]): p for p in parameters if p.get("required")})
        operation["parameters"] = list(by_key.values())
    if method in METHODS_WITH_BODY:
        request_body = get_openapi_operation_request_body(
            body_field=route.body_field,
            model_name_map=schemas.model_name_map,
            field_mapping=schemas.field_mapping,
            separate_input_output_schemas=schemas.separate,
        )
        if request_body:
            operation["requestBody"] = request_body
    if route.callbacks:
        callbacks = {}
        for callback in route.callbacks:
            if isinstance(callback, APIRoute):
                callback_path, _, _ = _path_item(callback, operation_ids, schemas)
                callbacks[callback.name] = {callback.path: callback_path}
        operation["callbacks"] = callbacks
    if route.status_code is not None:
        status_code = str(route.status_code)
    else:
        status_code = _default_status_code(response_class)  # type: ignore[assignment]
    responses = operation.setdefault("responses", {})
    responses.setdefault(status_code, {})["description"] = route.response_description
    if is_body_allowed_for_status_code(route.status_code):
        success = _success_content(route, response_class, schemas)
        if success is not None:
            media_type, content = success
            responses[status_code].setdefault("content", {}).setdefault(media_type, {}).update(
                content
            )
    if route.responses:
        _add_declared_responses(route, responses, response_class.media_type, schemas)
    if (has_params or route.body_field) and not any(
        status in responses for status in ("422", "4XX", "default")
    ):
        responses["422"] = {
            "description": "Validation Error",
            "content": {
                "application/json": {"schema": {"$ref": REF_PREFIX + "HTTPValidationError"}}
            },
        }
        if "ValidationError" not in definitions:
            definitions["ValidationError"] = validation_error_definition
            definitions["HTTPValidationError"] = validation_error_response_definition
    if route.openapi_extra:
        deep_dict_update(operation, route.openapi_extra)
    return operation


def _path_item(
    route: Any, operation_ids: set[str], schemas: _Schemas
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The operations of ``route`` by method, its security schemes and extra definitions."""
    path: dict[str, Any] = {}
    security_schemes: dict[str, Any] = {}
    definitions: dict[str, Any] = {}
    assert route.methods is not None, "Methods must be a list"
    response_class = route.response_class
    if isinstance(response_class, DefaultPlaceholder):
        response_class = response_class.value
    assert response_class, "A response class is needed to generate OpenAPI"
    if not route.include_in_schema:
        return path, security_schemes, definitions
    data = _dependency_data(route.dependant)
    has_params = data.has_params()
    for method in route.methods:
        path[method.lower()] = _operation(
            route,
            method,
            data,
            has_params,
            response_class,
            operation_ids,
            schemas,
            security_schemes,
            definitions,
        )
    return path, security_schemes, definitions


def get_openapi_path(
    *,
    route: Any,
    operation_ids: set[str],
    model_name_map: dict[Any, str],
    field_mapping: FieldMapping,
    separate_input_output_schemas: bool = True,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The path item of one route: (operations, security schemes, definitions it needs)."""
    schemas = _Schemas(model_name_map, field_mapping, separate_input_output_schemas)
    return _path_item(route, operation_ids, schemas)


# -- the document ---------------------------------------------------------------------------


def get_fields_from_routes(routes: Sequence[BaseRoute]) -> list[ModelField]:
    """Every field the document describes: bodies, responses, stream items and parameters."""
    bodies: list[ModelField] = []
    responses: list[ModelField] = []
    params: list[ModelField] = []
    from_callbacks: list[ModelField] = []
    for route in routes:
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        if route.body_field:
            assert isinstance(route.body_field, ModelField), (
                "A request body must be a Pydantic Field"
            )
            bodies.append(route.body_field)
        if route.response_field:
            responses.append(route.response_field)
        if route.response_fields:
            responses.extend(route.response_fields.values())
        if route.stream_item_field:
            responses.append(route.stream_item_field)
        if route.callbacks:
            from_callbacks.extend(get_fields_from_routes(route.callbacks))
        params.extend(get_flat_params(route.dependant))
    return from_callbacks + bodies + responses + params


def _collect_paths(
    routes: Sequence[BaseRoute],
    target: dict[str, dict[str, Any]],
    components: dict[str, dict[str, Any]],
    definitions: dict[str, Any],
    operation_ids: set[str],
    schemas: _Schemas,
) -> None:
    for route in routes:
        if not isinstance(route, APIRoute):
            continue
        path, security_schemes, path_definitions = _path_item(route, operation_ids, schemas)
        if path:
            target.setdefault(route.path_format, {}).update(path)
        if security_schemes:
            components.setdefault("securitySchemes", {}).update(security_schemes)
        definitions.update(path_definitions)


def get_openapi(
    *,
    title: str,
    version: str,
    openapi_version: str = "3.1.0",
    summary: str | None = None,
    description: str | None = None,
    routes: Sequence[BaseRoute],
    webhooks: Sequence[BaseRoute] | None = None,
    tags: list[dict[str, Any]] | None = None,
    servers: list[dict[str, str | Any]] | None = None,
    terms_of_service: str | None = None,
    contact: dict[str, str | Any] | None = None,
    license_info: dict[str, str | Any] | None = None,
    separate_input_output_schemas: bool = True,
    external_docs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The OpenAPI document (a JSON-ready dict) of ``routes`` and ``webhooks``."""
    info: dict[str, Any] = {"title": title, "version": version}
    if summary:
        info["summary"] = summary
    if description:
        info["description"] = description
    if terms_of_service:
        info["termsOfService"] = terms_of_service
    if contact:
        info["contact"] = contact
    if license_info:
        info["license"] = license_info
    output: dict[str, Any] = {"openapi": openapi_version, "info": info}
    if servers:
        output["servers"] = servers
    # ``fastapi.routing.RouteContext`` objects (from ``iter_route_contexts``) stand for
    # their effective route.
    routes = [getattr(route, "_effective_route", route) for route in routes]
    webhooks = [getattr(route, "_effective_route", route) for route in webhooks or []]
    all_fields = get_fields_from_routes([*routes, *webhooks])
    model_name_map = get_model_name_map(get_flat_models_from_fields(all_fields, known_models=set()))
    field_mapping, definitions = get_definitions(
        fields=all_fields,
        model_name_map=model_name_map,
        separate_input_output_schemas=separate_input_output_schemas,
    )
    schemas = _Schemas(model_name_map, field_mapping, separate_input_output_schemas)
    components: dict[str, dict[str, Any]] = {}
    paths: dict[str, dict[str, Any]] = {}
    webhook_paths: dict[str, dict[str, Any]] = {}
    operation_ids: set[str] = set()
    _collect_paths(routes, paths, components, definitions, operation_ids, schemas)
    _collect_paths(webhooks, webhook_paths, components, definitions, operation_ids, schemas)
    if definitions:
        components["schemas"] = {name: definitions[name] for name in sorted(definitions)}
    if components:
        output["components"] = components
    output["paths"] = paths
    if webhook_paths:
        output["webhooks"] = webhook_paths
    if tags:
        output["tags"] = tags
    if external_docs:
        output["externalDocs"] = external_docs
    return jsonable_encoder(OpenAPI(**output), by_alias=True, exclude_none=True)  # type: ignore[no-any-return]
