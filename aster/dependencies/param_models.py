"""Query, header and cookie parameter *models*: one pydantic model read from many keys.

``def list_items(filters: Annotated[FilterParams, Query()])`` reads every field
of ``FilterParams`` from the query string, then validates the model as a
whole (so its ``extra`` policy and validators apply).  Error locations name
the request key (``("header", "x-token")``), as FastAPI's do.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ..datastructures import Headers, ImmutableMultiDict
from ..fields import field_annotation_is_sequence, get_cached_model_fields
from ..params import Undefined
from .param_values import read_value, validate_value
from .shapes import get_param_aliases, is_json_field


def _get_multidict_extras(
    received_params: Mapping[str, Any], processed_keys: set[str]
) -> Iterator[tuple[str, Any]]:
    """Keys the model did not claim; repeated ones become lists, as the model's extras."""
    source, processed = received_params, processed_keys
    if isinstance(source, ImmutableMultiDict):
        items = source.multi_items()
    elif isinstance(source, Headers):
        items = source.items()
    else:
        for key in source:
            if key not in processed:
                yield key, source.get(key)
        return
    grouped: dict[str, list[Any]] = {}
    for key, value in items:
        if key not in processed:
            grouped.setdefault(key, []).append(value)
    for key, values in grouped.items():
        yield key, values[0] if len(values) == 1 else values


def read_param_model(reader: Any, source: Mapping[str, Any]) -> tuple[Any, list[dict[str, Any]]]:
    model = reader.model
    field_info = reader.field.field_info
    is_headers = isinstance(source, Headers)
    default_convert = getattr(field_info, "convert_underscores", True)
    collected: dict[str, Any] = {}
    header_aliases: dict[str, str] = {}
    processed: set[str] = set()
    own_names: set[str] = set()
    for field in get_cached_model_fields(model):
        convert = is_headers and getattr(field.field_info, "convert_underscores", default_convert)
        aliases = get_param_aliases(field, convert_underscores=convert)
        own_names.update(name.lower() if is_headers else name for _, name in aliases)
        alias, request_alias = next((pair for pair in aliases if pair[1] in source), aliases[0])
        sequence = field_annotation_is_sequence(field.field_info.annotation)
        multi = not is_json_field(field) and sequence
        value = read_value(source, request_alias, multi, sequence)
        if value is not Undefined:
            collected[alias] = value
        if is_headers:
            processed.add(request_alias.lower())
            for validation_alias, header_alias in aliases:
                if validation_alias != header_alias:
                    processed.add(validation_alias.lower())  # not an extra header either
            if alias != request_alias:
                header_aliases[field.name] = request_alias
        else:
            processed.add(request_alias)
    collected.update(_get_multidict_extras(source, processed))
    value: Any = collected
    extra_policy = model.model_config.get("extra")
    if field_info.annotation is not model and not (
        own_names.intersection(source) or (extra_policy in ("allow", "forbid") and value)
    ):
        value = Undefined  # ``Model | None`` with none of its keys: the default
    result, errors = validate_value(reader, value, (reader.location,))
    if header_aliases and model.model_config.get("loc_by_alias", True):
        for error in errors:
            loc = error["loc"]
            if len(loc) > 1 and loc[1] in header_aliases:
                error["loc"] = (loc[0], header_aliases[loc[1]], *loc[2:])
    return result, errors
