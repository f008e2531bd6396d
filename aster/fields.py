"""Validated fields: one pydantic ``TypeAdapter`` per parameter, built once at start-up.

``ModelField`` is what a compiled route holds for each parameter, body and
response model (FastAPI calls it the same).  The type predicates below decide,
from an annotation alone, how a parameter is read (a scalar from the query
string, a list of repeated keys, a JSON body, a file...).
"""

from __future__ import annotations

import sys
import types
import typing
import warnings
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from copy import copy
from dataclasses import dataclass, is_dataclass
from functools import lru_cache
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, create_model
from pydantic.errors import PydanticSchemaGenerationError
from pydantic.fields import FieldInfo
from pydantic.version import VERSION as PYDANTIC_VERSION
from pydantic.warnings import UnsupportedFieldAttributeWarning
from pydantic_core import PydanticUndefined, SchemaSerializer, SchemaValidator

from .datastructures import UploadFile
from .exceptions import FastAPIError, PydanticV1NotSupportedError
from .params import Body

Undefined: Any = PydanticUndefined
UnionType = types.UnionType
PYDANTIC_VERSION_MINOR_TUPLE = tuple(int(x) for x in PYDANTIC_VERSION.split(".")[:2])
PYDANTIC_V2 = PYDANTIC_VERSION_MINOR_TUPLE[0] == 2
#: "No default": pydantic's own sentinel, so it round-trips through ``FieldInfo`` unchanged.
RequiredParam: Any = PydanticUndefined

_GENERIC_ALIASES: tuple[Any, ...] = (
    typing._GenericAlias,  # type: ignore[attr-defined]
    types.GenericAlias,
    types.UnionType,
)
sequence_annotation_to_type: dict[Any, type] = {
    Sequence: list,
    list: list,
    tuple: tuple,
    set: set,
    frozenset: frozenset,
    deque: deque,
}
sequence_types: tuple[type[Any], ...] = tuple(sequence_annotation_to_type)

_INVALID_RESPONSE_FIELD = (
    "Invalid args for response field! Hint: check that {type_} is a valid Pydantic field "
    "type. If you are using a return type annotation that is not a valid Pydantic field "
    "(e.g. Union[Response, dict, None]) you can disable generating the response model from "
    "the type annotation with the path operation decorator parameter response_model=None. "
    "Read more: https://fastapi.tiangolo.com/tutorial/response-model/"
)


# -- type predicates ----------------------------------------------------------------


def lenient_issubclass(cls: Any, class_or_tuple: Any) -> bool:
    """``issubclass`` that answers False for non-classes instead of raising."""
    try:
        return isinstance(cls, type) and issubclass(cls, class_or_tuple)
    except TypeError:
        if isinstance(cls, _GENERIC_ALIASES):
            return False
        raise


def _is_union(origin: Any) -> bool:
    return origin is Union or origin is UnionType


def _plain_is_sequence(annotation: Any) -> bool:
    if lenient_issubclass(annotation, (str, bytes)):
        return False
    return lenient_issubclass(annotation, sequence_types)


def field_annotation_is_sequence(annotation: Any) -> bool:
    origin = get_origin(annotation)
    if origin is Annotated:
        return field_annotation_is_sequence(get_args(annotation)[0])
    if _is_union(origin):
        return any(field_annotation_is_sequence(arg) for arg in get_args(annotation))
    return _plain_is_sequence(annotation) or _plain_is_sequence(origin)


def value_is_sequence(value: Any) -> bool:
    return isinstance(value, sequence_types) and not isinstance(value, (str, bytes))


def _plain_is_complex(annotation: Any) -> bool:
    return (
        lenient_issubclass(annotation, (BaseModel, Mapping, UploadFile))
        or _plain_is_sequence(annotation)
        or is_dataclass(annotation)
    )


def field_annotation_is_complex(annotation: Any) -> bool:
    origin = get_origin(annotation)
    if _is_union(origin):
        return any(field_annotation_is_complex(arg) for arg in get_args(annotation))
    if origin is Annotated:
        return field_annotation_is_complex(get_args(annotation)[0])
    return (
        _plain_is_complex(annotation)
        or _plain_is_complex(origin)
        or hasattr(origin, "__pydantic_core_schema__")
        or hasattr(origin, "__get_pydantic_core_schema__")
    )


def field_annotation_is_scalar(annotation: Any) -> bool:
    return annotation is Ellipsis or not field_annotation_is_complex(annotation)


def field_annotation_is_scalar_sequence(annotation: Any) -> bool:
    origin = get_origin(annotation)
    if origin is Annotated:
        return field_annotation_is_scalar_sequence(get_args(annotation)[0])
    if _is_union(origin):
        found = False
        for arg in get_args(annotation):
            if field_annotation_is_scalar_sequence(arg):
                found = True
            elif not field_annotation_is_scalar(arg):
                return False
        return found
    return field_annotation_is_sequence(annotation) and all(
        field_annotation_is_scalar(arg) for arg in get_args(annotation)
    )


def _is_or_unions_to(annotation: Any, cls: type) -> bool:
    if lenient_issubclass(annotation, cls):
        return True
    if _is_union(get_origin(annotation)):
        return any(lenient_issubclass(arg, cls) for arg in get_args(annotation))
    return False


def is_bytes_or_nonable_bytes_annotation(annotation: Any) -> bool:
    return _is_or_unions_to(annotation, bytes)


def is_uploadfile_or_nonable_uploadfile_annotation(annotation: Any) -> bool:
    return _is_or_unions_to(annotation, UploadFile)


def _sequence_of(annotation: Any, item_test: Any) -> bool:
    if _is_union(get_origin(annotation)):
        return any(_sequence_of(arg, item_test) for arg in get_args(annotation))
    return field_annotation_is_sequence(annotation) and all(
        item_test(arg) for arg in get_args(annotation)
    )


def is_bytes_sequence_annotation(annotation: Any) -> bool:
    return _sequence_of(annotation, is_bytes_or_nonable_bytes_annotation)


def is_uploadfile_sequence_annotation(annotation: Any) -> bool:
    return _sequence_of(annotation, is_uploadfile_or_nonable_uploadfile_annotation)


def _pydantic_v1_base() -> Any:
    """``pydantic.v1.BaseModel`` if anything imported ``pydantic.v1`` (else no v1 model exists)."""
    v1 = sys.modules.get("pydantic.v1")
    return getattr(v1, "BaseModel", None)


def is_pydantic_v1_model_class(cls: Any) -> bool:
    """A ``pydantic.v1`` model class (which aster, like FastAPI 0.165, does not accept)."""
    base = _pydantic_v1_base()
    return base is not None and lenient_issubclass(cls, base)


def is_pydantic_v1_model_instance(obj: Any) -> bool:
    base = _pydantic_v1_base()
    return base is not None and isinstance(obj, base)


def annotation_is_pydantic_v1(annotation: Any) -> bool:
    """Whether the annotation is, or unions or contains, a ``pydantic.v1`` model."""
    if is_pydantic_v1_model_class(annotation):
        return True
    if _is_union(get_origin(annotation)) and any(
        is_pydantic_v1_model_class(arg) for arg in get_args(annotation)
    ):
        return True
    if field_annotation_is_sequence(annotation):
        return any(annotation_is_pydantic_v1(arg) for arg in get_args(annotation))
    return False


def evaluate_forwardref(
    value: Any, globalns: dict[str, Any] | None = None, localns: dict[str, Any] | None = None
) -> Any:
    """A forward reference evaluated, or left as it is when it cannot be (pydantic's rule)."""
    from pydantic._internal import _typing_extra

    try_eval_type = getattr(_typing_extra, "try_eval_type", None)
    if try_eval_type is not None:
        return try_eval_type(value, globalns, localns)[0]
    return _typing_extra.eval_type_lenient(value, globalns, localns)  # pragma: no cover


# -- fields ---------------------------------------------------------------------------


@dataclass
class ModelField:
    """A named, validated value: a parameter, a body, or a response model."""

    field_info: FieldInfo
    name: str
    mode: Literal["validation", "serialization"] = "validation"
    config: ConfigDict | None = None

    def __post_init__(self) -> None:
        info = self.field_info.asdict()
        # The FieldInfo is rebuilt from its attributes so its old metadata is not doubled.
        args = (info["annotation"], *info["metadata"], Field(**info["attributes"]))
        with warnings.catch_warnings():
            # Aliases and such have no meaning on a bare TypeAdapter; we handle them.
            warnings.simplefilter("ignore", UnsupportedFieldAttributeWarning)
            self._type_adapter: TypeAdapter[Any] = TypeAdapter(
                Annotated[args],  # type: ignore[valid-type]
                config=self.config,
            )
        validator = self._type_adapter.validator
        # The core validator directly: the adapter's wrapper costs more than a simple
        # validation.  Plugin-wrapped or deferred validators keep the adapter's path.
        self._validate_python = (
            validator.validate_python
            if isinstance(validator, SchemaValidator)
            else self._type_adapter.validate_python
        )
        serializer = self._type_adapter.serializer
        self._to_json = (
            serializer.to_json
            if isinstance(serializer, SchemaSerializer)
            else self._type_adapter.dump_json
        )

    @property
    def alias(self) -> str:
        alias = self.field_info.alias
        return alias if alias is not None else self.name

    @property
    def validation_alias(self) -> str | None:
        alias = self.field_info.validation_alias
        return alias if isinstance(alias, str) and alias else None

    @property
    def serialization_alias(self) -> str | None:
        return self.field_info.serialization_alias or None

    @property
    def required(self) -> bool:
        return self.field_info.is_required()

    @property
    def default(self) -> Any:
        return self.get_default()

    @property
    def type_(self) -> Any:
        return self.field_info.annotation

    def get_default(self) -> Any:
        if self.field_info.is_required():
            return Undefined
        return self.field_info.get_default(call_default_factory=True)

    def validate(
        self,
        value: Any,
        values: dict[str, Any] | None = None,
        *,
        loc: tuple[int | str, ...] = (),
    ) -> tuple[Any, list[dict[str, Any]]]:
        try:
            return self._validate_python(value, from_attributes=True), []
        except ValidationError as exc:
            return None, errors_with_loc(exc.errors(include_url=False), loc)

    def serialize(
        self,
        value: Any,
        *,
        mode: Literal["json", "python"] = "json",
        include: Any = None,
        exclude: Any = None,
        by_alias: bool = True,
        exclude_unset: bool = False,
        exclude_defaults: bool = False,
        exclude_none: bool = False,
    ) -> Any:
        return self._type_adapter.dump_python(
            value,
            mode=mode,
            include=include,
            exclude=exclude,
            by_alias=by_alias,
            exclude_unset=exclude_unset,
            exclude_defaults=exclude_defaults,
            exclude_none=exclude_none,
        )

    def json_serializer(self) -> Callable[..., bytes]:
        """``serialize_json`` as pydantic-core's own callable, for binding options once."""
        return self._to_json  # type: ignore[no-any-return]

    def serialize_json(
        self,
        value: Any,
        *,
        include: Any = None,
        exclude: Any = None,
        by_alias: bool = True,
        exclude_unset: bool = False,
        exclude_defaults: bool = False,
        exclude_none: bool = False,
    ) -> bytes:
        """Straight to JSON bytes in pydantic-core: no Python dict, no ``json.dumps``."""
        return self._to_json(  # type: ignore[no-any-return]
            value,
            include=include,
            exclude=exclude,
            by_alias=by_alias,
            exclude_unset=exclude_unset,
            exclude_defaults=exclude_defaults,
            exclude_none=exclude_none,
        )

    def __hash__(self) -> int:
        return id(self)


def errors_with_loc(errors: Sequence[Any], loc: tuple[int | str, ...]) -> list[dict[str, Any]]:
    return [{**error, "loc": loc + tuple(error.get("loc", ()))} for error in errors]


def get_missing_field_error(loc: tuple[int | str, ...]) -> dict[str, Any]:
    """FastAPI's error for an absent required value: ``input`` is None, not the container."""
    return {"type": "missing", "loc": loc, "msg": "Field required", "input": None}


def create_model_field(
    name: str,
    type_: Any,
    default: Any = Undefined,
    field_info: FieldInfo | None = None,
    alias: str | None = None,
    mode: Literal["validation", "serialization"] = "validation",
) -> ModelField:
    if annotation_is_pydantic_v1(type_):
        raise PydanticV1NotSupportedError(
            "pydantic.v1 models are no longer supported by FastAPI."
            f" Please update the response model {type_!r}."
        )
    field_info = field_info or FieldInfo(annotation=type_, default=default, alias=alias)
    try:
        return ModelField(mode=mode, name=name, field_info=field_info)
    except PydanticSchemaGenerationError:
        raise FastAPIError(_INVALID_RESPONSE_FIELD.format(type_=type_)) from None


def copy_field_info(*, field_info: FieldInfo, annotation: Any) -> FieldInfo:
    """A copy of ``field_info`` that also carries what ``Annotated[...]`` adds around it."""
    merged = type(field_info).from_annotation(annotation)
    new = copy(field_info)
    for name, value in merged.asdict()["attributes"].items():
        setattr(new, name, value)
    new._attributes_set = merged._attributes_set.copy()
    new.metadata = merged.metadata
    new.annotation = merged.annotation
    return new


def is_scalar_field(field: ModelField) -> bool:
    return field_annotation_is_scalar(field.field_info.annotation) and not isinstance(
        field.field_info, Body
    )


def serialize_sequence_value(*, field: ModelField, value: Any) -> Sequence[Any]:
    """Rebuild a list of values as the sequence type the annotation asks for."""
    annotation = field.field_info.annotation
    origin = get_origin(annotation) or annotation
    if _is_union(origin):
        for arg in get_args(annotation):
            if arg is not type(None):
                origin = get_origin(arg) or arg
                break
    return sequence_annotation_to_type[origin](value)


def create_body_model(
    *, fields: Sequence[ModelField], model_name: str, config: ConfigDict | None = None
) -> type[BaseModel]:
    definitions = {f.name: (f.field_info.annotation, f.field_info) for f in fields}
    return create_model(model_name, __config__=config, **definitions)  # type: ignore[call-overload,no-any-return]


def get_model_fields(model: type[BaseModel]) -> list[ModelField]:
    fields = []
    for name, field_info in model.model_fields.items():
        annotation = field_info.annotation
        nested = lenient_issubclass(annotation, (BaseModel, dict)) or is_dataclass(annotation)
        fields.append(
            ModelField(
                field_info=field_info, name=name, config=None if nested else model.model_config
            )
        )
    return fields


@lru_cache
def get_cached_model_fields(model: type[BaseModel]) -> list[ModelField]:
    return get_model_fields(model)
