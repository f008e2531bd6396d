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
from .shapes import get_param_aliases, get_param_model, is_json_field

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
        "sequence",
        "validate",
        "required",
        "default",
        "copy_default",
        "default_factory",
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
        #: A sequence annotation: an empty value is no value (even for a ``Json`` field).
        self.sequence = field_annotation_is_sequence(info.annotation)
        #: ... and every repeated key is collected (a ``Json`` field reads one string).
        self.multi = not is_json_field(field) and self.sequence
        self.validate = field.validate
        self.required = info.is_required()
        #: A ``default_factory`` is called for each request that lacks the value.
        self.default_factory = not self.required and info.default_factory is not None
        self.default = None if self.required or self.default_factory else field.get_default()
        self.copy_default = self.default_factory or not isinstance(self.default, _IMMUTABLE)
        self.validate_default = bool(info.validate_default)
        #: One key, one value, no parameter model: read with a plain ``get``.
        self.simple = self.model is None and not self.sequence and len(self.aliases) == 1
        self.alias = self.aliases[0]
        self.validate_core = field._validate_python


def read_value(
    source: Mapping[str, Any], alias: str, multi: bool, sequence: bool | None = None
) -> Any:
    """The raw value for ``alias`` in ``source``; ``Undefined`` if absent (or empty).

    ``multi``: every repeated key is collected (the annotation is a sequence).
    ``sequence``: the annotation is a sequence, so an empty value is none (default:
    ``multi``; a ``Json`` field of a sequence type is one but reads one string).
    """
    if multi and isinstance(source, (ImmutableMultiDict, Headers)):
        value = source.getlist(alias)
        if isinstance(source, FormData):
            value = [item for item in value if not _is_empty_file_input(item)]
        if not value:
            return Undefined
        return value
    value = source.get(alias)
    if value is None:
        return Undefined
    if isinstance(source, FormData) and (value == "" or _is_empty_file_input(value)):
        return Undefined
    if (multi if sequence is None else sequence) and len(value) == 0:
        return Undefined
    return value


def _is_empty_file_input(value: Any) -> bool:
    # Browsers send an empty filename and content when no file is selected.
    return isinstance(value, UploadFile) and value.filename == "" and value.size == 0


def validate_value(
    reader: ParamReader, value: Any, loc: tuple[Any, ...]
) -> tuple[Any, list[dict[str, Any]]]:
    if value is Undefined:
        if reader.required:
            return None, [get_missing_field_error(loc)]
        if not reader.copy_default:
            value = reader.default
        elif reader.default_factory:
            value = deepcopy(reader.field.get_default())  # called for each request
        else:
            value = deepcopy(reader.default)
        if not reader.validate_default:
            return value, []
    return reader.validate(value, loc=loc)
