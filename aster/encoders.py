"""``jsonable_encoder``: FastAPI's conversion of Python objects to JSON-compatible data.

The results match FastAPI's for every type it handles.  Most values an endpoint
returns are already JSON-native (dicts and lists of str/int/float/bool/None), so
those are copied by a fast path that checks exact types and only hands anything
else to the general, FastAPI-ordered conversion.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections import defaultdict, deque
from collections.abc import Callable
from decimal import Decimal
from enum import Enum
from ipaddress import (
    IPv4Address,
    IPv4Interface,
    IPv4Network,
    IPv6Address,
    IPv6Interface,
    IPv6Network,
)
from pathlib import Path, PurePath
from re import Pattern
from types import GeneratorType
from typing import Any
from uuid import UUID

from pydantic import BaseModel
from pydantic.networks import AnyUrl, NameEmail
from pydantic.types import SecretBytes, SecretStr
from pydantic_core import PydanticUndefinedType, Url

from .exceptions import PydanticV1NotSupportedError
from .fields import is_pydantic_v1_model_instance
from .types import IncEx

try:  # deprecated since pydantic 2.0, still encoded for backwards compatibility
    from pydantic.color import Color
except ImportError:  # pragma: no cover

    class Color:  # type: ignore[no-redef]
        pass


try:
    from pydantic_extra_types.color import Color as PyExtraColor
except ImportError:

    class PyExtraColor:  # type: ignore[no-redef]
        pass


__all__ = [
    "ENCODERS_BY_TYPE",
    "decimal_encoder",
    "encoders_by_class_tuples",
    "generate_encoders_by_class_tuples",
    "isoformat",
    "jsonable_encoder",
]


def isoformat(o: datetime.date | datetime.time) -> str:
    return o.isoformat()


def decimal_encoder(dec_value: Decimal) -> int | float:
    """An int when the Decimal has no fractional exponent (so ids round-trip), else a float."""
    exponent = dec_value.as_tuple().exponent
    if isinstance(exponent, int) and exponent >= 0:
        return int(dec_value)
    return float(dec_value)


ENCODERS_BY_TYPE: dict[type[Any], Callable[[Any], Any]] = {
    bytes: lambda o: o.decode(),
    Color: str,
    PyExtraColor: str,
    datetime.date: isoformat,
    datetime.datetime: isoformat,
    datetime.time: isoformat,
    datetime.timedelta: lambda td: td.total_seconds(),
    Decimal: decimal_encoder,
    Enum: lambda o: o.value,
    frozenset: list,
    deque: list,
    GeneratorType: list,
    IPv4Address: str,
    IPv4Interface: str,
    IPv4Network: str,
    IPv6Address: str,
    IPv6Interface: str,
    IPv6Network: str,
    NameEmail: str,
    Path: str,
    Pattern: lambda o: o.pattern,
    SecretBytes: str,
    SecretStr: str,
    set: list,
    UUID: str,
    Url: str,
    AnyUrl: str,
}


def generate_encoders_by_class_tuples(
    type_encoder_map: dict[Any, Callable[[Any], Any]],
) -> dict[Callable[[Any], Any], tuple[Any, ...]]:
    """Group classes by encoder, so subclasses are found with one isinstance per encoder."""
    by_encoder: dict[Callable[[Any], Any], tuple[Any, ...]] = defaultdict(tuple)
    for type_, encoder in type_encoder_map.items():
        by_encoder[encoder] += (type_,)
    return by_encoder


encoders_by_class_tuples = generate_encoders_by_class_tuples(ENCODERS_BY_TYPE)

_NATIVE = frozenset({str, int, float, bool, type(None)})
_SEQUENCES = (list, set, frozenset, GeneratorType, tuple, deque)


def jsonable_encoder(
    obj: Any,
    include: IncEx | None = None,
    exclude: IncEx | None = None,
    by_alias: bool = True,
    exclude_unset: bool = False,
    exclude_defaults: bool = False,
    exclude_none: bool = False,
    custom_encoder: dict[Any, Callable[[Any], Any]] | None = None,
    sqlalchemy_safe: bool = True,
) -> Any:
    """Convert ``obj`` to data ``json.dumps`` accepts, exactly as FastAPI does."""
    if include is None and exclude is None and not custom_encoder:
        cls = type(obj)
        if cls in _NATIVE:
            return obj
        if cls is dict:
            return _plain_dict(
                obj, by_alias, exclude_unset, exclude_defaults, exclude_none, sqlalchemy_safe
            )
        if cls is list:
            return _plain_list(
                obj, by_alias, exclude_unset, exclude_defaults, exclude_none, sqlalchemy_safe
            )
    return _encode(
        obj,
        include,
        exclude,
        by_alias,
        exclude_unset,
        exclude_defaults,
        exclude_none,
        custom_encoder or {},
        sqlalchemy_safe,
    )


def _plain_dict(
    obj: dict[Any, Any],
    by_alias: bool,
    exclude_unset: bool,
    exclude_defaults: bool,
    exclude_none: bool,
    sqlalchemy_safe: bool,
) -> dict[Any, Any]:
    """The common case of ``_encode`` for a dict: no include/exclude, no custom encoders."""
    encoded: dict[Any, Any] = {}
    for key, value in obj.items():
        if type(key) is not str:
            if sqlalchemy_safe and isinstance(key, str) and key.startswith("_sa"):
                continue
            key = jsonable_encoder(
                key,
                by_alias=by_alias,
                exclude_unset=exclude_unset,
                exclude_defaults=exclude_defaults,
                exclude_none=exclude_none,
                sqlalchemy_safe=sqlalchemy_safe,
            )
        elif sqlalchemy_safe and key.startswith("_sa"):
            continue
        cls = type(value)
        if cls in _NATIVE:
            if value is None and exclude_none:
                continue
            encoded[key] = value
        elif cls is dict:
            encoded[key] = _plain_dict(
                value, by_alias, exclude_unset, exclude_defaults, exclude_none, sqlalchemy_safe
            )
        elif cls is list:
            encoded[key] = _plain_list(
                value, by_alias, exclude_unset, exclude_defaults, exclude_none, sqlalchemy_safe
            )
        else:
            encoded[key] = _encode(
                value,
                None,
                None,
                by_alias,
                exclude_unset,
                exclude_defaults,
                exclude_none,
                {},
                sqlalchemy_safe,
            )
    return encoded


def _plain_list(
    obj: list[Any],
    by_alias: bool,
    exclude_unset: bool,
    exclude_defaults: bool,
    exclude_none: bool,
    sqlalchemy_safe: bool,
) -> list[Any]:
    """The common case of ``_encode`` for a list: no include/exclude, no custom encoders."""
    encoded: list[Any] = []
    append = encoded.append
    for item in obj:
        cls = type(item)
        if cls in _NATIVE:
            append(item)
        elif cls is dict:
            append(
                _plain_dict(
                    item, by_alias, exclude_unset, exclude_defaults, exclude_none, sqlalchemy_safe
                )
            )
        elif cls is list:
            append(
                _plain_list(
                    item, by_alias, exclude_unset, exclude_defaults, exclude_none, sqlalchemy_safe
                )
            )
        else:
            append(
                _encode(
                    item,
                    None,
                    None,
                    by_alias,
                    exclude_unset,
                    exclude_defaults,
                    exclude_none,
                    {},
                    sqlalchemy_safe,
                )
            )
    return encoded


def _encode(
    obj: Any,
    include: Any,
    exclude: Any,
    by_alias: bool,
    exclude_unset: bool,
    exclude_defaults: bool,
    exclude_none: bool,
    custom_encoder: dict[Any, Callable[[Any], Any]],
    sqlalchemy_safe: bool,
) -> Any:
    """The general conversion, checking types in the order FastAPI does."""
    if custom_encoder:
        if type(obj) in custom_encoder:
            return custom_encoder[type(obj)](obj)
        for encoder_type, encoder_instance in custom_encoder.items():
            if isinstance(obj, encoder_type):
                return encoder_instance(obj)
    if include is not None and not isinstance(include, (set, dict)):
        include = set(include)
    if exclude is not None and not isinstance(exclude, (set, dict)):
        exclude = set(exclude)
    if isinstance(obj, BaseModel):
        # model_dump applies the model's own serializers (and json_encoders config).
        obj_dict = obj.model_dump(
            mode="json",
            include=include,
            exclude=exclude,
            by_alias=by_alias,
            exclude_unset=exclude_unset,
            exclude_none=exclude_none,
            exclude_defaults=exclude_defaults,
        )
        return jsonable_encoder(
            obj_dict,
            exclude_none=exclude_none,
            exclude_defaults=exclude_defaults,
            sqlalchemy_safe=sqlalchemy_safe,
        )
    options = {
        "by_alias": by_alias,
        "exclude_unset": exclude_unset,
        "exclude_defaults": exclude_defaults,
        "exclude_none": exclude_none,
        "custom_encoder": custom_encoder,
        "sqlalchemy_safe": sqlalchemy_safe,
    }
    if dataclasses.is_dataclass(obj):
        assert not isinstance(obj, type)
        return jsonable_encoder(
            dataclasses.asdict(obj), include=include, exclude=exclude, **options
        )
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, PurePath):
        return str(obj)
    if isinstance(obj, (str, int, float, type(None))):
        return obj
    if isinstance(obj, PydanticUndefinedType):
        return None
    if isinstance(obj, dict):
        allowed_keys = set(obj.keys())
        if include is not None:
            allowed_keys &= set(include)
        if exclude is not None:
            allowed_keys -= set(exclude)
        encoded: dict[Any, Any] = {}
        for key, value in obj.items():
            if (
                (not sqlalchemy_safe or not isinstance(key, str) or not key.startswith("_sa"))
                and (value is not None or not exclude_none)
                and key in allowed_keys
            ):
                encoded[jsonable_encoder(key, **options)] = jsonable_encoder(value, **options)
        return encoded
    if isinstance(obj, _SEQUENCES):
        return [jsonable_encoder(item, include=include, exclude=exclude, **options) for item in obj]
    encoder = ENCODERS_BY_TYPE.get(type(obj))
    if encoder is not None:
        return encoder(obj)
    for encoder, classes in encoders_by_class_tuples.items():
        if isinstance(obj, classes):
            return encoder(obj)
    if is_pydantic_v1_model_instance(obj):
        raise PydanticV1NotSupportedError(
            "pydantic.v1 models are no longer supported by FastAPI."
            f" Please update the model {obj!r}."
        )
    try:
        data = dict(obj)
    except Exception as e:
        errors: list[Exception] = [e]
        try:
            data = vars(obj)
        except Exception as e:
            errors.append(e)
            raise ValueError(errors) from e
    return jsonable_encoder(data, include=include, exclude=exclude, **options)
