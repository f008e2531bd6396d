"""Small helpers FastAPI exposes in ``fastapi.utils``."""

from __future__ import annotations

import re
import warnings
from typing import Any

from pydantic.errors import PydanticSchemaGenerationError
from pydantic.fields import FieldInfo

from .datastructures import DefaultPlaceholder, DefaultType
from .dependencies.analysis import get_path_param_names
from .exceptions import FastAPIDeprecationWarning, PydanticV1NotSupportedError
from .fields import _INVALID_RESPONSE_FIELD as _invalid_args_message
from .fields import ModelField, Undefined, annotation_is_pydantic_v1, create_model_field

__all__ = [
    "DefaultPlaceholder",
    "DefaultType",
    "FastAPIDeprecationWarning",
    "FieldInfo",
    "ModelField",
    "PydanticSchemaGenerationError",
    "PydanticV1NotSupportedError",
    "Undefined",
    "_invalid_args_message",
    "annotation_is_pydantic_v1",
    "create_model_field",
    "deep_dict_update",
    "generate_operation_id_for_path",
    "generate_unique_id",
    "get_path_param_names",
    "get_value_or_default",
    "is_body_allowed_for_status_code",
]


def is_body_allowed_for_status_code(status_code: int | str | None) -> bool:
    if status_code is None:
        return True
    if status_code in {"default", "1XX", "2XX", "3XX", "4XX", "5XX"}:
        return True
    code = int(status_code)
    return not (code < 200 or code in {204, 205, 304})


def generate_unique_id(route: Any) -> str:
    """``read_items_items__get`` from a route's name, path and (first) method."""
    operation_id = re.sub(r"\W", "_", f"{route.name}{route.path_format}")
    assert route.methods
    return f"{operation_id}_{list(route.methods)[0].lower()}"


def generate_operation_id_for_path(*, name: str, path: str, method: str) -> str:
    """Deprecated in FastAPI (unused there, and here): ``name`` + ``path``, then the method."""
    warnings.warn(
        message="fastapi.utils.generate_operation_id_for_path() was deprecated, "
        "it is not used internally, and will be removed soon",
        category=FastAPIDeprecationWarning,
        stacklevel=2,
    )
    operation_id = re.sub(r"\W", "_", f"{name}{path}")
    return f"{operation_id}_{method.lower()}"


def deep_dict_update(main_dict: dict[Any, Any], update_dict: dict[Any, Any]) -> None:
    for key, value in update_dict.items():
        current = main_dict.get(key)
        if key in main_dict and isinstance(current, dict) and isinstance(value, dict):
            deep_dict_update(current, value)
        elif key in main_dict and isinstance(current, list) and isinstance(value, list):
            main_dict[key] = current + value
        else:
            main_dict[key] = value


def get_value_or_default(first_item: Any, *extra_items: Any) -> Any:
    """The first item that is not a ``DefaultPlaceholder``, else the first item."""
    for item in (first_item, *extra_items):
        if not isinstance(item, DefaultPlaceholder):
            return item
    return first_item
