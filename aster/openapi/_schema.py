"""JSON Schemas of fields and models, as they appear in an OpenAPI document.

All the fields of an app (parameters, bodies, response models) are handed to one
pydantic ``GenerateJsonSchema`` run, so every model referenced anywhere gets one
entry under ``components.schemas`` and every field a schema that may ``$ref`` it.
A model used both as input and output gets two entries (``Item-Input`` and
``Item-Output``) only when the two schemas differ, which is pydantic's rule and
FastAPI's with ``separate_input_output_schemas=True``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from enum import Enum
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic.json_schema import GenerateJsonSchema as _PydanticGenerateJsonSchema
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from ..fields import ModelField, get_model_fields, lenient_issubclass
from .constants import REF_TEMPLATE

__all__ = [
    "FieldMapping",
    "GenerateJsonSchema",
    "get_definitions",
    "get_flat_models_from_fields",
    "get_model_name_map",
    "get_schema_from_model_field",
]

Mode = Literal["validation", "serialization"]
FieldMapping = dict[tuple[ModelField, Mode], JsonSchemaValue]
ModelOrEnum = type[BaseModel] | type[Enum]


class GenerateJsonSchema(_PydanticGenerateJsonSchema):
    """Pydantic's generator, with ``bytes`` as an octet stream rather than a base64 string.

    A ``bytes`` body or form field is raw binary in practice (an upload), and
    ``contentMediaType`` is how OpenAPI 3.1 says so; ``contentEncoding: base64`` is
    only claimed when the model's config really encodes bytes that way.
    """

    def bytes_schema(self, schema: CoreSchema) -> JsonSchemaValue:
        json_schema: JsonSchemaValue = {
            "type": "string",
            "contentMediaType": "application/octet-stream",
        }
        config = self._config
        encoding = config.ser_json_bytes if self.mode == "serialization" else config.val_json_bytes
        if encoding == "base64":
            json_schema["contentEncoding"] = "base64"
        self.update_with_validations(json_schema, schema, self.ValidationsMapping.bytes)
        return json_schema


# -- which models an app uses -----------------------------------------------------------


def _add_model(model: Any, known: set[ModelOrEnum]) -> None:
    if model in known:
        return
    known.add(model)
    if lenient_issubclass(model, BaseModel):
        get_flat_models_from_fields(get_model_fields(model), known)


def _add_from_annotation(annotation: Any, known: set[ModelOrEnum]) -> None:
    if get_origin(annotation) is None:
        return
    for arg in get_args(annotation):
        if lenient_issubclass(arg, (BaseModel, Enum)):
            _add_model(arg, known)
        else:
            _add_from_annotation(arg, known)


def get_flat_models_from_fields(
    fields: Sequence[ModelField], known_models: set[ModelOrEnum]
) -> set[ModelOrEnum]:
    """Every model and enum reachable from ``fields`` (nested fields included)."""
    for field in fields:
        annotation = field.field_info.annotation
        if lenient_issubclass(annotation, (BaseModel, Enum)):
            _add_model(annotation, known_models)
        else:
            _add_from_annotation(annotation, known_models)
    return known_models


def _normalize_name(name: str) -> str:
    return re.sub(r"[^a-zA-Z0-9.\-_]", "_", name)


def get_model_name_map(unique_models: set[ModelOrEnum]) -> dict[ModelOrEnum, str]:
    """Model -> component name (characters OpenAPI refuses in a name become ``_``)."""
    by_name = {_normalize_name(model.__name__): model for model in unique_models}
    return {model: name for name, model in by_name.items()}


# -- schemas ------------------------------------------------------------------------------


def _annotation_has_computed_fields(annotation: Any, seen: set[type[BaseModel]]) -> bool:
    if lenient_issubclass(annotation, BaseModel):
        if annotation in seen:
            return False
        seen.add(annotation)
        if annotation.model_computed_fields:
            return True
        return any(
            _annotation_has_computed_fields(info.annotation, seen)
            for info in annotation.model_fields.values()
        )
    return any(_annotation_has_computed_fields(arg, seen) for arg in get_args(annotation))


def _has_computed_fields(field: ModelField) -> bool:
    """Whether ``field``'s output differs from its input by computed fields.

    Such a field keeps its serialization schema even when input and output schemas
    are merged (``separate_input_output_schemas=False``): a validation schema would
    leave the computed values out of the documented response.
    """
    core_schema = field._type_adapter.core_schema
    if core_schema.get("schema", {}).get("computed_fields", []):  # dataclasses
        return True
    return _annotation_has_computed_fields(field.field_info.annotation, set())


def _schema_mode(field: ModelField, separate_input_output_schemas: bool) -> Mode:
    if separate_input_output_schemas or _has_computed_fields(field):
        return field.mode
    return "validation"


def get_definitions(
    *,
    fields: Sequence[ModelField],
    model_name_map: dict[ModelOrEnum, str],
    separate_input_output_schemas: bool = True,
) -> tuple[FieldMapping, dict[str, dict[str, Any]]]:
    """One schema generation run for ``fields``: their schemas and the shared definitions.

    Models only reachable through other models are added as fields of their own, so
    they are defined even where pydantic would inline them.
    """
    generator = GenerateJsonSchema(ref_template=REF_TEMPLATE)
    extra_fields: list[ModelField] = []
    for mode in ("validation", "serialization"):
        models = get_flat_models_from_fields(
            [field for field in fields if field.mode == mode], known_models=set()
        )
        extra_fields += [
            ModelField(field_info=FieldInfo(annotation=model), name=model.__name__, mode=mode)
            for model in models
        ]
    field_types = {field.field_info.annotation for field in fields}
    unique_extra = {
        field for field in extra_fields if field.field_info.annotation not in field_types
    }
    inputs = [
        (
            field,
            _schema_mode(field, separate_input_output_schemas),
            field._type_adapter.core_schema,
        )
        for field in [*fields, *unique_extra]
    ]
    field_mapping, definitions = generator.generate_definitions(inputs=inputs)  # type: ignore[arg-type]
    for definition in definitions.values():
        if "description" in definition:
            # A docstring's text after a form feed is for the code's readers only.
            definition["description"] = definition["description"].split("\f")[0]
    return field_mapping, dict(definitions)  # type: ignore[arg-type]


def get_schema_from_model_field(
    *,
    field: ModelField,
    model_name_map: dict[ModelOrEnum, str],
    field_mapping: FieldMapping,
    separate_input_output_schemas: bool = True,
    field_alias: str | None = None,
) -> dict[str, Any]:
    """The schema of ``field`` from a ``get_definitions`` run, titled as FastAPI titles it."""
    mode: Mode = field.mode
    if not separate_input_output_schemas and not _has_computed_fields(field):
        mode = "validation"
    if field_alias is None:
        if field.mode == "validation":
            field_alias = field.validation_alias or field.alias
        else:
            field_alias = field.serialization_alias or field.alias
    json_schema = field_mapping[(field, mode)].copy()
    if "$ref" not in json_schema:
        json_schema["title"] = field.field_info.title or field_alias.title().replace("_", " ")
    return json_schema
