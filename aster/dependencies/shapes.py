"""The shapes of parameters and bodies, read off their fields.

Asked when a route is compiled (by the signature analysis, the plan and the body
readers) and by OpenAPI: is a parameter a model read from many keys, under which
keys does a request carry it, which fields make the body, is the body an object
keyed by parameter name.  Nothing here runs per request.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, get_args, get_origin

from pydantic import AliasChoices, AliasPath, BaseModel, Json

from .. import params
from ..fields import ModelField, _is_union, get_cached_model_fields, lenient_issubclass
from .models import Dependant, get_cache_key


def get_model_type(annotation: Any) -> type[BaseModel] | None:
    """``Model`` or ``Model | None`` -> ``Model``."""
    if _is_union(get_origin(annotation)):
        args = get_args(annotation)
        if len(args) == 2 and type(None) in args:
            annotation = next(arg for arg in args if arg is not type(None))
    return annotation if lenient_issubclass(annotation, BaseModel) else None


def is_json_field(field: ModelField) -> bool:
    return any(type(item) is Json for item in field.field_info.metadata)


def get_param_model(field: ModelField) -> type[BaseModel] | None:
    """The model behind a ``Query``/``Header``/``Cookie`` parameter model, if it is one."""
    annotation = field.field_info.annotation
    if isinstance(field.field_info, (params.Query, params.Header, params.Cookie)):
        annotation = get_model_type(annotation)
    if lenient_issubclass(annotation, BaseModel) and not is_json_field(field):
        return annotation
    return None


def get_validation_alias(field: ModelField) -> str:
    return field.validation_alias or field.alias


def get_param_aliases(
    field: ModelField, *, convert_underscores: bool = False
) -> list[tuple[str, str]]:
    """(validation alias, request key) pairs, in preference order."""
    alias = get_validation_alias(field)
    request_alias = alias
    if convert_underscores and alias == field.name:
        request_alias = alias.replace("_", "-")
    validation_alias = field.field_info.validation_alias
    if isinstance(field.field_info, params.Path) or isinstance(validation_alias, AliasPath):
        return [(alias, request_alias)]
    aliases = [(alias, request_alias)]
    if isinstance(validation_alias, AliasChoices):
        if any(isinstance(choice, AliasPath) for choice in validation_alias.choices):
            return aliases
        aliases = [(choice, choice) for choice in validation_alias.choices]  # type: ignore[misc]
    config = field.config or {}
    if config.get("validate_by_alias") is False or config.get(
        "validate_by_name", config.get("populate_by_name", False)
    ):
        request_name = field.name.replace("_", "-") if convert_underscores else field.name
        if config.get("validate_by_alias") is False:
            return [(field.name, request_name)]
        if field.name not in [a for a, _ in aliases]:
            aliases.append((field.name, request_name))
    return aliases


def get_flat_dependants(dependant: Dependant) -> list[Dependant]:
    """Every dependant in the tree, each distinct cache key once, parents first."""
    seen: list[Any] = []
    result = []
    stack = [dependant]
    while stack:
        current = stack.pop()
        key = get_cache_key(current)
        if key in seen:
            continue
        seen.append(key)
        result.append(current)
        stack.extend(reversed(current.dependencies))
    return result


def get_flat_params(dependant: Dependant) -> list[ModelField]:
    """All path, query, header and cookie fields (parameter models expanded), for OpenAPI."""
    groups: list[list[ModelField]] = [[], [], [], []]
    for current in get_flat_dependants(dependant):
        groups[0] += current.path_params
        groups[1] += current.query_params
        groups[2] += current.header_params
        groups[3] += current.cookie_params
    return [field for group in groups for field in flat_param_fields(group)]


def flat_param_fields(fields: Iterable[ModelField]) -> list[ModelField]:
    """``fields``, each parameter model (``Annotated[Model, Query()]``) expanded into its fields."""
    flat: list[ModelField] = []
    for field in fields:
        model = get_param_model(field)
        flat.extend(get_cached_model_fields(model) if model is not None else [field])
    return flat


def get_flat_body_params(dependant: Dependant) -> list[ModelField]:
    body: list[ModelField] = []
    stack = [dependant]
    while stack:
        current = stack.pop()
        body.extend(current.body_params)
        stack.extend(reversed(current.dependencies))
    return body


def get_form_union_models(annotation: Any) -> list[type[BaseModel]]:
    """The models of a union of two or more models (``A | B | None``); else none."""
    if not _is_union(get_origin(annotation)):
        return []
    models = []
    for arg in get_args(annotation):
        if arg is type(None):
            continue
        if get_origin(arg) is Annotated:
            arg = get_args(arg)[0]
        if not lenient_issubclass(arg, BaseModel):
            return []
        models.append(arg)
    # ``Model | None`` is one model, read as such.
    return models if len(models) > 1 else []


def get_form_models(field: ModelField) -> list[type[BaseModel]]:
    """Form-model(s) a ``Form`` body parameter is read into (one model, or a union of them)."""
    info = field.field_info
    if not isinstance(info, params.Form) or info.embed or is_json_field(field):
        return []
    model = get_model_type(info.annotation)
    if model is not None:
        return [model]
    return get_form_union_models(info.annotation)


def get_form_model(field: ModelField) -> type[BaseModel] | None:
    """The one form model a ``Form`` parameter is read into, if it is one (not a union)."""
    models = get_form_models(field)
    return models[0] if len(models) == 1 else None


def should_embed_body_fields(fields: list[ModelField]) -> bool:
    """Whether the JSON body is an object keyed by parameter name (several bodies, embed=True)."""
    if not fields:
        return False
    if len({field.name for field in fields}) > 1:
        return True
    first = fields[0]
    if get_form_models(first) and any(
        not get_form_models(other) or other.field_info.annotation is not first.field_info.annotation
        for other in fields[1:]
    ):
        return True
    if getattr(first.field_info, "embed", None):
        return True
    return (
        isinstance(first.field_info, params.Form)
        and not lenient_issubclass(first.field_info.annotation, BaseModel)
        and not get_form_models(first)
    )
