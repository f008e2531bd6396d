"""Body parameters: validating the parsed JSON or form data into endpoint arguments.

One body parameter that is not embedded gets the whole body (error locations
start at ``("body",)``); otherwise the body is an object and each parameter
reads its own key (``("body", "item")``).  Form bodies are read field by field
from the ``FormData``; ``bytes`` parameters read an uploaded file's content.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from copy import deepcopy
from functools import partial
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, BeforeValidator, Tag

from .. import params
from ..datastructures import FormData, UploadFile
from ..fields import (
    ModelField,
    field_annotation_is_sequence,
    get_cached_model_fields,
    get_missing_field_error,
    is_bytes_or_nonable_bytes_annotation,
    is_bytes_sequence_annotation,
    serialize_sequence_value,
    value_is_sequence,
)
from .param_models import _get_multidict_extras
from .param_values import read_value
from .shapes import (
    get_form_models,
    get_param_aliases,
    is_json_field,
    should_embed_body_fields,
)

Undefined = params.Undefined


def _validate(field: ModelField, value: Any, loc: tuple[Any, ...]) -> tuple[Any, list[Any]]:
    if value is Undefined:
        if field.field_info.is_required():
            return None, [get_missing_field_error(loc)]
        value = deepcopy(field.get_default())
        if not field.field_info.validate_default:
            return value, []
    return field.validate(value, loc=loc)


def _extract_form_items(body_fields: list[ModelField], received_body: FormData) -> Any:
    """(alias, raw value, field) for each field present, then the form's other keys."""
    form = received_body
    claimed: set[str] = set()
    for field in body_fields:
        sequence = field_annotation_is_sequence(field.field_info.annotation)
        multi = not is_json_field(field) and sequence
        for alias, _ in get_param_aliases(field):
            claimed.add(alias)
            value = read_value(form, alias, multi, sequence)
            if value is not Undefined:
                yield alias, value, field
                break  # later aliases stay available to other fields or as extras
    for key, value in _get_multidict_extras(form, claimed):
        yield key, value, None


async def _read_file_bytes(file: UploadFile) -> bytes:
    # Reading must not consume a file another parameter also receives.
    position = file.file.tell()
    try:
        return await file.read()
    finally:
        await file.seek(position)


async def _extract_form_body(
    body_fields: list[ModelField], received_body: FormData
) -> AsyncIterator[tuple[str, Any, ModelField | None]]:
    for alias, value, field in _extract_form_items(body_fields, received_body):
        if field is not None and isinstance(field.field_info, params.File):
            annotation = field.field_info.annotation
            if is_bytes_or_nonable_bytes_annotation(annotation) and isinstance(value, UploadFile):
                value = await _read_file_bytes(value)
            elif is_bytes_sequence_annotation(annotation) and value_is_sequence(value):
                contents = [
                    await _read_file_bytes(item) if isinstance(item, UploadFile) else item
                    for item in value
                ]
                value = serialize_sequence_value(field=field, value=contents)
        yield alias, value, field


def _is_form_model_supplied(model: Any, received_body: FormData) -> bool:
    form = received_body
    names = {
        alias for item in get_cached_model_fields(model) for alias, _ in get_param_aliases(item)
    }
    return bool(
        names.intersection(form)
        or (model.model_config.get("extra") in ("allow", "forbid") and form)
    )


async def _extract_form_model(field: ModelField, models: list[Any], received_body: FormData) -> Any:
    """The raw values of a form model (or a union of them) from the form, as a dict.

    A union's branches each read the raw values their own way (see
    :func:`_add_form_union_validators`), so they get every key as it came.
    """
    form = received_body
    if type(None) in get_args(field.field_info.annotation) and not any(
        _is_form_model_supplied(model, form) for model in models
    ):
        return Undefined
    model_fields = get_cached_model_fields(models[0]) if len(models) == 1 else []
    return {alias: item async for alias, item, _ in _extract_form_body(model_fields, form)}


def _add_form_union_validators(annotation: Any) -> Any:
    """``A | B | None`` for a form: each model first reads the raw form values its own way.

    A form is flat strings: which keys are lists, which empty values count as absent,
    depends on the model.  So each branch gets a validator that reshapes the raw
    values for its model before the union tries it; errors name each branch by its
    model (or its existing ``Tag``).
    """
    choices: list[Any] = []
    for choice in get_args(annotation):
        if choice is type(None):
            choices.append(choice)
            continue
        model = choice
        metadata: Sequence[Any] = ()
        if get_origin(choice) is Annotated:
            model, *metadata = get_args(choice)
        validator = BeforeValidator(partial(_normalize_form_model, model=model))
        tag = next(
            (item for item in reversed(metadata) if isinstance(item, Tag)), Tag(model.__name__)
        )
        choices.append(Annotated[choice, validator, tag])
    return Union[tuple(choices)]  # noqa: UP007 - built at runtime from a tuple


def _normalize_form_model(value: Any, *, model: type[BaseModel]) -> Any:
    """Raw form values (``{key: value or [values]}``) as ``model`` reads them."""
    if not isinstance(value, dict):
        return value
    # Repeated keys are read separately by each branch: back to form entries first.
    form = FormData(
        [
            (key, item)
            for key, items in value.items()
            for item in (items if isinstance(items, list) else [items])
        ]
    )
    normalized = {
        alias: item for alias, item, _ in _extract_form_items(get_cached_model_fields(model), form)
    }
    # No browser sends these, but a validator before this one may have.
    for key, item in value.items():
        if item is None or (isinstance(item, list) and not item):
            normalized[key] = item
    return normalized


class BodyReader:
    """How one dependant's body parameters read the request body, decided once per route."""

    def __init__(self, fields: list[ModelField], embed_body_fields: bool) -> None:
        self.fields = fields
        self.first = fields[0]
        form_models = [get_form_models(field) for field in fields]
        self.single = (
            len(fields) == 1
            and not embed_body_fields
            and not should_embed_body_fields(fields)
            and not form_models[0]
        )
        self.plain = [
            field for field, models in zip(fields, form_models, strict=True) if not models
        ]
        self.entries = [
            (field, [alias for alias, _ in get_param_aliases(field)], models)
            for field, models in zip(fields, form_models, strict=True)
        ]

    async def read(self, body: Any, values: dict[str, Any]) -> list[dict[str, Any]]:
        """Validate the parameters from the request ``body`` into ``values``; return the errors."""
        to_process = body
        form_values: dict[str, tuple[str, Any]] = {}
        # (A JSON object skips the isinstance: FormData is a Mapping, an ABC check.)
        is_form = type(body) is not dict and isinstance(body, FormData)
        if is_form:
            to_process = {}
            if self.plain:
                async for alias, value, field in _extract_form_body(self.plain, body):
                    to_process[alias] = value
                    if field is not None:
                        form_values[field.name] = (alias, value)
        if self.single:
            first = self.first
            value, field_errors = _validate(first, to_process, ("body",))
            if field_errors:
                return field_errors
            values[first.name] = value
            return []
        errors: list[dict[str, Any]] = []
        for field, aliases, models in self.entries:
            loc: tuple[Any, ...] = ("body", aliases[0])
            value = Undefined
            if is_form and models:
                value = await _extract_form_model(field, models, body)
                loc = ("body",)
            elif is_form:
                alias, value = form_values.get(field.name, (aliases[0], Undefined))
                loc = ("body", alias)
            elif to_process is not Undefined and not isinstance(to_process, bytes):
                try:
                    for alias in aliases:
                        value = to_process.get(alias, Undefined)
                        if value is not Undefined:
                            loc = ("body", alias)
                            break
                except AttributeError:
                    # Embedded fields need an object, not a list, a scalar or null.
                    errors.append(get_missing_field_error(loc))
                    continue
            value, field_errors = _validate(field, value, loc)
            if field_errors:
                errors.extend(field_errors)
            else:
                values[field.name] = value
        return errors


async def read_body_params(
    fields: list[ModelField], body: Any, embed_body_fields: bool, values: dict[str, Any]
) -> list[dict[str, Any]]:
    """Validate ``fields`` from ``body`` into ``values`` (compiles a reader: for one-offs)."""
    return await BodyReader(fields, embed_body_fields).read(body, values)
