"""One request parameter: where to read it, how to read its raw value, how to validate it.

Shared by the dependency plan (path, query, header and cookie parameters), parameter
models (``Annotated[Model, Query()]``) and form bodies, which all read values the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from copy import deepcopy
from typing import Any

from .. import params
from ..datastructures import FormData, Headers, ImmutableMultiDict, UploadFile
from ..fields import ModelField, field_annotation_is_sequence, get_missing_field_error
from .utils import get_param_aliases, get_param_model, is_json_field

Undefined = params.Undefined
_IMMUTABLE = (type(None), bool, int, float, str, bytes, tuple, frozenset)


class ParamReader:
    """How to read and validate one path, query, header or cookie parameter."""

    __slots__ = (
        "field",
        "name",
        "aliases",
        "location",
        "multi",
        "validate",
        "required",
        "default",
        "copy_default",
        "validate_default",
        "model",
        "simple",
        "alias",
        "validate_core",
    )

    def __init__(self, field: ModelField) -> None:
        info = field.field_info
        self.field = field
        self.name = field.name
        self.location = info.in_.value  # type: ignore[attr-defined]
        self.model = get_param_model(field)
        self.aliases = [request_key for _, request_key in get_param_aliases(field)]
        self.multi = not is_json_field(field) and field_annotation_is_sequence(info.annotation)
        self.validate = field.validate
        self.required = info.is_required()
        self.default = None if self.required else field.get_default()
        self.copy_default = not isinstance(self.default, _IMMUTABLE)
        self.validate_default = bool(info.validate_default)
        #: One key, one value, no parameter model: read with a plain ``get``.
        self.simple = self.model is None and not self.multi and len(self.aliases) == 1
        self.alias = self.aliases[0]
        self.validate_core = field._validate_python


def read_value(source: Mapping[str, Any], alias: str, multi: bool) -> Any:
    """The raw value for ``alias`` in ``source``; ``Undefined`` if absent (or empty).

    ``multi``: the annotation is a sequence, so every repeated key is collected.
    """
    if multi and isinstance(source, (ImmutableMultiDict, Headers)):
        value = source.getlist(alias)
        if isinstance(source, FormData):
            value = [item for item in value if not _is_empty_file(item)]
        if not value:
            return Undefined
        return value
    value = source.get(alias)
    if value is None:
        return Undefined
    if isinstance(source, FormData) and (value == "" or _is_empty_file(value)):
        return Undefined
    if multi and len(value) == 0:
        return Undefined
    return value


def _is_empty_file(value: Any) -> bool:
    # Browsers send an empty filename and content when no file is selected.
    return isinstance(value, UploadFile) and value.filename == "" and value.size == 0


def validate_value(
    reader: ParamReader, value: Any, loc: tuple[Any, ...]
) -> tuple[Any, list[dict[str, Any]]]:
    if value is Undefined:
        if reader.required:
            return None, [get_missing_field_error(loc)]
        value = deepcopy(reader.default) if reader.copy_default else reader.default
        if not reader.validate_default:
            return value, []
    return reader.validate(value, loc=loc)
