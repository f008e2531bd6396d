"""The field that describes a route's whole body: its media type and its OpenAPI schema.

Requests are read by :mod:`.body`; this field only documents the body, and tells
the handler whether it is a form.  Several body parameters (or ``embed=True``)
make one ``Body_<operation id>`` model.

A form is one flat set of keys, so ``profile: Annotated[Profile, Form()]`` next to
``token: Annotated[str, Form()]`` is *not* an object with a ``profile`` property:
the model's fields sit beside ``token``.  The combined ``Body_…`` model therefore
describes each model as an ``allOf`` member (by reference) and only the plain
fields as its own properties, as FastAPI documents it.  A model's fields appear
under the key the request really uses (their validation alias).
"""

from __future__ import annotations

from copy import copy, deepcopy
from functools import partial
from typing import Annotated, Any, get_args

from pydantic import AliasChoices, BaseModel, ConfigDict, GetJsonSchemaHandler, GetPydanticSchema
from pydantic_core import CoreSchema

from .. import params
from ..fields import ModelField, create_body_model, create_model_field, get_cached_model_fields
from .shapes import get_form_models, get_param_aliases, get_validation_alias

__all__ = ["get_body_field"]


def _get_form_model_schema(
    model: type[BaseModel], core_schema: CoreSchema, handler: GetJsonSchemaHandler
) -> dict[str, Any]:
    """``model``'s schema with its properties renamed to the keys a form must use."""

    schema = handler(core_schema)
    model_schema = handler.resolve_ref_schema(schema)
    properties = model_schema.get("properties", {})
    required = model_schema.get("required", [])
    aliases: dict[str, list[str]] = {}
    for model_field in get_cached_model_fields(model):
        validation_alias = model_field.field_info.validation_alias
        schema_name = (
            validation_alias.choices[0]
            if isinstance(validation_alias, AliasChoices)
            else get_validation_alias(model_field)
        )
        names = [alias for alias, _ in get_param_aliases(model_field)]
        if (
            isinstance(schema_name, str)
            and schema_name in properties
            and (names[0] != schema_name or (len(names) > 1 and schema_name in required))
        ):
            aliases[schema_name] = names
    if not aliases:
        return schema  # type: ignore[no-any-return]
    # A copy: the shared component schema of the model stays as it is.
    model_schema = deepcopy(model_schema)
    model_schema["properties"] = {
        aliases.get(name, [name])[0]: value for name, value in model_schema["properties"].items()
    }
    model_schema["required"] = []
    for name in required:
        names = aliases.get(name, [name])
        if len(names) == 1:
            model_schema["required"].append(names[0])
        else:
            model_schema.setdefault("allOf", []).append(
                {"anyOf": [{"required": [choice]} for choice in names]}
            )
    return model_schema  # type: ignore[no-any-return]


def _absent(models: list[type[BaseModel]]) -> dict[str, Any]:
    """The schema of a form where none of ``models``' keys is present."""

    if any(model.model_config.get("extra") in ("allow", "forbid") for model in models):
        return {"maxProperties": 0}
    names = sorted(
        {
            alias
            for model in models
            for model_field in get_cached_model_fields(model)
            for alias, _ in get_param_aliases(model_field)
        }
    )
    return {"not": {"anyOf": [{"required": [name]} for name in names]}} if names else {}


def _apply_form_body_schema(body_params: list[ModelField], schema: dict[str, Any]) -> None:
    """``json_schema_extra`` of the body model: ``field_N`` properties become the form's keys."""

    parameter_schemas = schema.pop("properties")
    schema.pop("required", None)
    properties: dict[str, Any] = {}
    required: list[str] = []
    conditions: list[dict[str, Any]] = []
    for index, param in enumerate(body_params):
        field_schema = parameter_schemas[f"field_{index}"]
        models = get_form_models(param)
        if not models:
            alias = get_param_aliases(param)[0][0]
            if alias in properties:
                conditions.append({"properties": {alias: field_schema}})
            else:
                properties[alias] = field_schema
            if param.field_info.is_required() and alias not in required:
                required.append(alias)
            continue
        field_schema.pop("default", None)
        if type(None) in get_args(param.field_info.annotation):
            # An optional form model is left out by omitting its keys, not by a null.
            field_schema["anyOf"] = [
                choice for choice in field_schema["anyOf"] if choice.get("type") != "null"
            ]
            absent = _absent(models)
            if param.field_info.is_required():
                conditions.append({"not": absent})
            else:
                field_schema = {"anyOf": [absent, field_schema]}
        conditions.append(field_schema)
    if properties:
        schema["properties"] = properties
    if required:
        schema["required"] = required
    schema["allOf"] = conditions


def _form_body_model_fields(
    body_params: list[ModelField],
) -> tuple[list[ModelField], ConfigDict]:
    """The fields and config of the ``Body_…`` model of a form that has form models."""

    fields = []
    for index, param in enumerate(body_params):
        info = copy(param.field_info)
        models = get_form_models(param)
        if len(models) == 1:
            model = models[0]
            annotated: Any = Annotated[
                model,
                GetPydanticSchema(get_pydantic_json_schema=partial(_get_form_model_schema, model)),
            ]
            info.annotation = annotated if info.annotation is model else annotated | None
        info.alias = info.validation_alias = info.serialization_alias = f"field_{index}"
        info.title = info.title or param.name.replace("_", " ").title()
        fields.append(ModelField(name=f"field_{index}", field_info=info))
    config = ConfigDict(json_schema_extra=partial(_apply_form_body_schema, body_params))  # type: ignore[typeddict-item]
    return fields, config


def get_body_field(
    *, body_params: list[ModelField], name: str, embed_body_fields: bool
) -> ModelField | None:
    """One field describing the whole body: its media type and (for OpenAPI) its schema."""
    if not body_params:
        return None
    first = body_params[0]
    nullable_form_model = any(
        get_form_models(f) and type(None) in get_args(f.field_info.annotation) for f in body_params
    )
    if not embed_body_fields and not nullable_form_model:
        return first
    fields, config = body_params, None
    if any(get_form_models(field) for field in body_params):
        fields, config = _form_body_model_fields(body_params)
    body_model = create_body_model(fields=fields, model_name="Body_" + name, config=config)
    if not embed_body_fields:
        info = copy(first.field_info)
        info.annotation = body_model
        info.metadata = []  # the form field itself carries the validation metadata
        info.discriminator = None
        return ModelField(name=first.name, field_info=info)
    required = any(field.field_info.is_required() for field in body_params)
    kwargs: dict[str, Any] = {"annotation": body_model, "alias": "body"}
    if not required:
        kwargs["default"] = None
    field_class: type[params.Body]
    if any(isinstance(f.field_info, params.File) for f in body_params):
        field_class = params.File
    elif any(isinstance(f.field_info, params.Form) for f in body_params):
        field_class = params.Form
    else:
        field_class = params.Body
    if field_class is not params.File:
        media_types = [
            f.field_info.media_type for f in body_params if isinstance(f.field_info, field_class)
        ]
        if field_class is params.Form and "multipart/form-data" in media_types:
            kwargs["media_type"] = "multipart/form-data"
        elif len(set(media_types)) == 1:
            kwargs["media_type"] = media_types[0]
    return create_model_field(
        name="body", type_=body_model, alias="body", field_info=field_class(**kwargs)
    )
