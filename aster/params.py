"""Parameter declarations: ``Query()``, ``Path()``, ``Body()``, ``Depends()`` and friends.

Each is a pydantic ``FieldInfo`` that also says *where* the value comes from
(``in_``), so one object carries both the validation constraints and the
extraction rule.  They are only read when a route is compiled; nothing here
runs per request.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal

from pydantic import AliasChoices, AliasPath
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from .concurrency import DependencyConcurrency
from .exceptions import FastAPIDeprecationWarning

Undefined: Any = PydanticUndefined
_Unset: Any = PydanticUndefined


class ParamTypes(Enum):
    query = "query"
    header = "header"
    path = "path"
    cookie = "cookie"


def _field_kwargs(
    *,
    default: Any,
    default_factory: Any,
    annotation: Any,
    alias: Any,
    alias_priority: Any,
    validation_alias: Any,
    serialization_alias: Any,
    title: Any,
    description: Any,
    gt: Any,
    ge: Any,
    lt: Any,
    le: Any,
    min_length: Any,
    max_length: Any,
    pattern: Any,
    regex: Any,
    discriminator: Any,
    strict: Any,
    validate_default: Any,
    union_mode: Any,
    fail_fast: Any,
    multiple_of: Any,
    allow_inf_nan: Any,
    max_digits: Any,
    decimal_places: Any,
    examples: Any,
    example: Any,
    deprecated: Any,
    json_schema_extra: Any,
) -> dict[str, Any]:
    """The ``FieldInfo`` arguments, with FastAPI's deprecations and alias defaults applied."""
    if example is not _Unset:
        warnings.warn(
            "`example` has been deprecated, please use `examples` instead",
            category=FastAPIDeprecationWarning,
            stacklevel=5,
        )
    if regex is not None:
        warnings.warn(
            "`regex` has been deprecated, please use `pattern` instead",
            category=FastAPIDeprecationWarning,
            stacklevel=5,
        )
    if serialization_alias in (_Unset, None) and isinstance(alias, str):
        serialization_alias = alias
    if validation_alias in (_Unset, None):
        validation_alias = alias
    kwargs = {
        "default": default,
        "default_factory": default_factory,
        "annotation": annotation,
        "alias": alias,
        "alias_priority": alias_priority,
        "validation_alias": validation_alias,
        "serialization_alias": serialization_alias,
        "title": title,
        "description": description,
        "gt": gt,
        "ge": ge,
        "lt": lt,
        "le": le,
        "min_length": min_length,
        "max_length": max_length,
        "pattern": pattern or regex,
        "discriminator": discriminator,
        "strict": strict,
        "validate_default": validate_default,
        "union_mode": union_mode,
        "fail_fast": fail_fast,
        "multiple_of": multiple_of,
        "allow_inf_nan": allow_inf_nan,
        "max_digits": max_digits,
        "decimal_places": decimal_places,
        "examples": examples,
        "deprecated": deprecated,
        "json_schema_extra": json_schema_extra,
    }
    return {key: value for key, value in kwargs.items() if value is not _Unset}


class Param(FieldInfo):  # type: ignore[misc]
    """A parameter read from the path, the query string, a header or a cookie."""

    in_: ParamTypes

    def __init__(
        self,
        default: Any = Undefined,
        *,
        default_factory: Callable[[], Any] | None = _Unset,
        annotation: Any | None = None,
        alias: str | None = _Unset,
        alias_priority: int | None = _Unset,
        validation_alias: str | AliasPath | AliasChoices | None = _Unset,
        serialization_alias: str | None = _Unset,
        title: str | None = _Unset,
        description: str | None = _Unset,
        gt: float | None = None,
        ge: float | None = None,
        lt: float | None = None,
        le: float | None = None,
        min_length: int | None = None,
        max_length: int | None = None,
        pattern: str | re.Pattern[str] | None = None,
        regex: str | None = None,
        discriminator: Any = _Unset,
        strict: bool | None = _Unset,
        validate_default: bool | None = _Unset,
        union_mode: Literal["smart", "left_to_right"] | None = _Unset,
        fail_fast: bool | None = _Unset,
        multiple_of: float | None = _Unset,
        allow_inf_nan: bool | None = _Unset,
        max_digits: int | None = _Unset,
        decimal_places: int | None = _Unset,
        examples: list[Any] | None = _Unset,
        example: Any = _Unset,
        openapi_examples: dict[str, Any] | None = None,
        deprecated: Any = _Unset,
        include_in_schema: bool = True,
        json_schema_extra: dict[str, Any] | Callable[[dict[str, Any]], None] | None = _Unset,
    ) -> None:
        self.example = example
        self.include_in_schema = include_in_schema
        self.openapi_examples = openapi_examples
        super().__init__(
            **_field_kwargs(
                default=default,
                default_factory=default_factory,
                annotation=annotation,
                alias=alias,
                alias_priority=alias_priority,
                validation_alias=validation_alias,
                serialization_alias=serialization_alias,
                title=title,
                description=description,
                gt=gt,
                ge=ge,
                lt=lt,
                le=le,
                min_length=min_length,
                max_length=max_length,
                pattern=pattern,
                regex=regex,
                discriminator=discriminator,
                strict=strict,
                validate_default=validate_default,
                union_mode=union_mode,
                fail_fast=fail_fast,
                multiple_of=multiple_of,
                allow_inf_nan=allow_inf_nan,
                max_digits=max_digits,
                decimal_places=decimal_places,
                examples=examples,
                example=example,
                deprecated=deprecated,
                json_schema_extra=json_schema_extra,
            )
        )

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.default})"


class Path(Param):  # type: ignore[misc]
    in_ = ParamTypes.path

    def __init__(self, default: Any = ..., **kwargs: Any) -> None:
        assert default is ..., "Path parameters cannot have a default value"
        super().__init__(default, **kwargs)
        self.in_ = self.in_


class Query(Param):  # type: ignore[misc]
    in_ = ParamTypes.query


class Header(Param):  # type: ignore[misc]
    """A header; ``user_agent`` is read from ``user-agent`` unless ``convert_underscores=False``."""

    in_ = ParamTypes.header

    def __init__(
        self, default: Any = Undefined, *, convert_underscores: bool = True, **kwargs: Any
    ) -> None:
        self.convert_underscores = convert_underscores
        super().__init__(default, **kwargs)


class Cookie(Param):  # type: ignore[misc]
    in_ = ParamTypes.cookie


class Body(FieldInfo):  # type: ignore[misc]
    """The request body, or (``embed=True`` or several of them) one key of a JSON object."""

    def __init__(
        self,
        default: Any = Undefined,
        *,
        default_factory: Callable[[], Any] | None = _Unset,
        annotation: Any | None = None,
        embed: bool | None = None,
        media_type: str = "application/json",
        alias: str | None = _Unset,
        alias_priority: int | None = _Unset,
        validation_alias: str | AliasPath | AliasChoices | None = _Unset,
        serialization_alias: str | None = _Unset,
        title: str | None = _Unset,
        description: str | None = _Unset,
        gt: float | None = None,
        ge: float | None = None,
        lt: float | None = None,
        le: float | None = None,
        min_length: int | None = None,
        max_length: int | None = None,
        pattern: str | re.Pattern[str] | None = None,
        regex: str | None = None,
        discriminator: Any = _Unset,
        strict: bool | None = _Unset,
        validate_default: bool | None = _Unset,
        union_mode: Literal["smart", "left_to_right"] | None = _Unset,
        fail_fast: bool | None = _Unset,
        multiple_of: float | None = _Unset,
        allow_inf_nan: bool | None = _Unset,
        max_digits: int | None = _Unset,
        decimal_places: int | None = _Unset,
        examples: list[Any] | None = _Unset,
        example: Any = _Unset,
        openapi_examples: dict[str, Any] | None = None,
        deprecated: Any = _Unset,
        include_in_schema: bool = True,
        json_schema_extra: dict[str, Any] | Callable[[dict[str, Any]], None] | None = _Unset,
    ) -> None:
        self.embed = embed
        self.media_type = media_type
        self.example = example
        self.include_in_schema = include_in_schema
        self.openapi_examples = openapi_examples
        super().__init__(
            **_field_kwargs(
                default=default,
                default_factory=default_factory,
                annotation=annotation,
                alias=alias,
                alias_priority=alias_priority,
                validation_alias=validation_alias,
                serialization_alias=serialization_alias,
                title=title,
                description=description,
                gt=gt,
                ge=ge,
                lt=lt,
                le=le,
                min_length=min_length,
                max_length=max_length,
                pattern=pattern,
                regex=regex,
                discriminator=discriminator,
                strict=strict,
                validate_default=validate_default,
                union_mode=union_mode,
                fail_fast=fail_fast,
                multiple_of=multiple_of,
                allow_inf_nan=allow_inf_nan,
                max_digits=max_digits,
                decimal_places=decimal_places,
                examples=examples,
                example=example,
                deprecated=deprecated,
                json_schema_extra=json_schema_extra,
            )
        )

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.default})"


class Form(Body):  # type: ignore[misc]
    def __init__(
        self,
        default: Any = Undefined,
        *,
        media_type: str = "application/x-www-form-urlencoded",
        **kwargs: Any,
    ) -> None:
        super().__init__(default, media_type=media_type, **kwargs)


class File(Form):  # type: ignore[misc]
    def __init__(
        self, default: Any = Undefined, *, media_type: str = "multipart/form-data", **kwargs: Any
    ) -> None:
        super().__init__(default, media_type=media_type, **kwargs)


@dataclass(frozen=True)
class Depends:
    """A dependency: a callable whose result (or yielded value) becomes the parameter."""

    dependency: Callable[..., Any] | None = None
    use_cache: bool = True
    scope: Literal["function", "request", "lifespan"] | None = None
    max_concurrency: int | None = field(default=None, kw_only=True)
    _concurrency: DependencyConcurrency | None = field(default=None, repr=False, kw_only=True)

    def __post_init__(self) -> None:
        if self.max_concurrency is None:
            object.__setattr__(self, "_concurrency", None)
            return
        if type(self.max_concurrency) is not int or self.max_concurrency < 1:
            raise ValueError("max_concurrency must be a positive integer or None")
        if self._concurrency is None or self._concurrency.max_concurrency != self.max_concurrency:
            object.__setattr__(self, "_concurrency", DependencyConcurrency(self.max_concurrency))


@dataclass(frozen=True)
class Security(Depends):
    """A dependency that also declares the OAuth2 scopes it requires."""

    scopes: Sequence[str] | None = None
