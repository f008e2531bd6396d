"""Small helpers FastAPI exposes in ``fastapi.utils``."""

from __future__ import annotations

import re
from typing import Any

from .datastructures import DefaultPlaceholder
from .dependencies.utils import get_path_param_names
from .fields import create_model_field

__all__ = [
    "create_model_field",
    "deep_dict_update",
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
