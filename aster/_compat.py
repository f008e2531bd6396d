"""``fastapi._compat`` (and its ``shared`` and ``v2`` submodules): FastAPI's pydantic layer.

A face.  FastAPI keeps its pydantic helpers there, and extensions and FastAPI's own
tests import them: ``ModelField``, the annotation predicates (``field_annotation_is_*``,
``is_*_annotation``, ``is_scalar_field``), the schema functions (``get_definitions``,
``get_schema_from_model_field``...) and the version constants.  aster supports pydantic
v2 only, so the three module names are one module; the code lives in
:mod:`aster.fields` and :mod:`aster.openapi._schema`.
"""

import sys

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, create_model
from pydantic.errors import PydanticSchemaGenerationError, PydanticUndefinedAnnotation
from pydantic.fields import FieldInfo
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, Url
from pydantic_core import PydanticUndefinedType as UndefinedType
from pydantic_core.core_schema import with_info_plain_validator_function

from .datastructures import UploadFile
from .fields import _GENERIC_ALIASES as WithArgsTypes
from .fields import (
    PYDANTIC_V2,
    PYDANTIC_VERSION,
    PYDANTIC_VERSION_MINOR_TUPLE,
    ModelField,
    RequiredParam,
    Undefined,
    UnionType,
    annotation_is_pydantic_v1,
    copy_field_info,
    create_body_model,
    evaluate_forwardref,
    field_annotation_is_complex,
    field_annotation_is_scalar,
    field_annotation_is_scalar_sequence,
    field_annotation_is_sequence,
    get_cached_model_fields,
    get_missing_field_error,
    get_model_fields,
    is_bytes_or_nonable_bytes_annotation,
    is_bytes_sequence_annotation,
    is_pydantic_v1_model_class,
    is_pydantic_v1_model_instance,
    is_scalar_field,
    is_uploadfile_or_nonable_uploadfile_annotation,
    is_uploadfile_sequence_annotation,
    lenient_issubclass,
    sequence_annotation_to_type,
    sequence_types,
    serialize_sequence_value,
    value_is_sequence,
)
from .fields import _plain_is_complex as _annotation_is_complex
from .fields import _plain_is_sequence as _annotation_is_sequence
from .openapi._schema import (
    GenerateJsonSchema,
    get_definitions,
    get_flat_models_from_fields,
    get_model_name_map,
    get_schema_from_model_field,
)
from .openapi.constants import REF_TEMPLATE
from .types import IncEx, ModelNameMap

# ``fastapi._compat.shared`` and ``fastapi._compat.v2`` are aliased to this module too, and
# the import system only looks for submodules of packages: an empty search path makes it one.
__path__: list[str] = []
# ``from fastapi._compat import v2`` looks for an attribute first: this module itself.
shared = v2 = sys.modules[__name__]

__all__ = [
    "PYDANTIC_V2",
    "PYDANTIC_VERSION",
    "PYDANTIC_VERSION_MINOR_TUPLE",
    "REF_TEMPLATE",
    "BaseModel",
    "ConfigDict",
    "CoreSchema",
    "Field",
    "FieldInfo",
    "GenerateJsonSchema",
    "IncEx",
    "JsonSchemaValue",
    "ModelField",
    "ModelNameMap",
    "PydanticSchemaGenerationError",
    "PydanticUndefinedAnnotation",
    "RequiredParam",
    "TypeAdapter",
    "Undefined",
    "UndefinedType",
    "UnionType",
    "UploadFile",
    "Url",
    "WithArgsTypes",
    "_annotation_is_complex",
    "_annotation_is_sequence",
    "ValidationError",
    "annotation_is_pydantic_v1",
    "copy_field_info",
    "create_body_model",
    "create_model",
    "evaluate_forwardref",
    "field_annotation_is_complex",
    "field_annotation_is_scalar",
    "field_annotation_is_scalar_sequence",
    "field_annotation_is_sequence",
    "get_cached_model_fields",
    "get_definitions",
    "get_flat_models_from_fields",
    "get_missing_field_error",
    "get_model_fields",
    "get_model_name_map",
    "get_schema_from_model_field",
    "is_bytes_or_nonable_bytes_annotation",
    "is_bytes_sequence_annotation",
    "is_pydantic_v1_model_class",
    "is_pydantic_v1_model_instance",
    "is_scalar_field",
    "is_uploadfile_or_nonable_uploadfile_annotation",
    "is_uploadfile_sequence_annotation",
    "lenient_issubclass",
    "sequence_annotation_to_type",
    "sequence_types",
    "serialize_sequence_value",
    "value_is_sequence",
    "with_info_plain_validator_function",
]
