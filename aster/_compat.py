"""What FastAPI's test suite imports from ``fastapi._compat``, for ``aster.compat``'s aliases.

FastAPI keeps a pydantic-compatibility layer at ``fastapi._compat`` and its tests reach into it
for version gates (``PYDANTIC_VERSION_MINOR_TUPLE >= (2, 10)`` picks the expected error body) and
a few helpers. aster only supports pydantic v2, so this is a small, self-contained module rather
than a layer: the constants, the ``Undefined`` sentinel, and the annotation predicates the tests
call. ``aster.compat`` maps ``fastapi._compat`` (and its ``shared``/``v2`` submodules) here.
FastAPI internals such as ``v2.ModelField`` are deliberately not reproduced.
"""

from __future__ import annotations

import types
from collections.abc import Sequence
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic.version import VERSION as PYDANTIC_VERSION
from pydantic_core import PydanticUndefined, PydanticUndefinedType

from .datastructures import UploadFile

__all__ = [
    "PYDANTIC_V2",
    "PYDANTIC_VERSION",
    "PYDANTIC_VERSION_MINOR_TUPLE",
    "RequiredParam",
    "Undefined",
    "UndefinedType",
    "field_annotation_is_sequence",
    "is_bytes_sequence_annotation",
    "is_uploadfile_sequence_annotation",
    "lenient_issubclass",
]

# ``fastapi._compat.shared`` and ``fastapi._compat.v2`` are aliased to this module too, and the
# import system only looks for submodules of packages: an empty search path makes it one.
__path__: list[str] = []

PYDANTIC_VERSION_MINOR_TUPLE: tuple[int, ...] = tuple(
    int(part) for part in PYDANTIC_VERSION.split(".")[:2]
)
PYDANTIC_V2 = PYDANTIC_VERSION_MINOR_TUPLE[0] == 2

#: "No default": pydantic's own sentinel, so it round-trips through ``FieldInfo`` unchanged.
Undefined = PydanticUndefined
UndefinedType = PydanticUndefinedType
RequiredParam = PydanticUndefined

_UNION_TYPES: tuple[Any, ...] = (Union, types.UnionType)
_SEQUENCE_TYPES: tuple[type, ...] = (list, set, frozenset, tuple, Sequence)


def lenient_issubclass(cls: Any, class_or_tuple: type | tuple[type, ...]) -> bool:
    """``issubclass`` that answers False, instead of raising, for non-classes and generics."""
    try:
        return isinstance(cls, type) and issubclass(cls, class_or_tuple)
    except TypeError:  # e.g. a parametrised generic alias
        return False


def _strip_annotated(annotation: Any) -> Any:
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation


def field_annotation_is_sequence(annotation: Any) -> bool:
    """Whether the annotation is a sequence type, or a union with a sequence member."""
    annotation = _strip_annotated(annotation)
    origin = get_origin(annotation)
    if origin in _UNION_TYPES:
        return any(field_annotation_is_sequence(arg) for arg in get_args(annotation))
    return lenient_issubclass(origin or annotation, _SEQUENCE_TYPES) and not lenient_issubclass(
        origin or annotation, (str, bytes)
    )


def _is_sequence_of(annotation: Any, predicate: Any) -> bool:
    annotation = _strip_annotated(annotation)
    origin = get_origin(annotation)
    if origin in _UNION_TYPES:
        return any(_is_sequence_of(arg, predicate) for arg in get_args(annotation))
    if not field_annotation_is_sequence(annotation):
        return False
    return any(predicate(_strip_annotated(arg)) for arg in get_args(annotation))


def _is_bytes(annotation: Any) -> bool:
    if get_origin(annotation) in _UNION_TYPES:
        return any(_is_bytes(arg) for arg in get_args(annotation))
    return lenient_issubclass(annotation, bytes)


def _is_uploadfile(annotation: Any) -> bool:
    if get_origin(annotation) in _UNION_TYPES:
        return any(_is_uploadfile(arg) for arg in get_args(annotation))
    return lenient_issubclass(annotation, UploadFile)


def is_bytes_sequence_annotation(annotation: Any) -> bool:
    """Whether the annotation is (or unions in) a sequence of ``bytes``, e.g. ``list[bytes]``."""
    return _is_sequence_of(annotation, _is_bytes)


def is_uploadfile_sequence_annotation(annotation: Any) -> bool:
    """Whether the annotation is (or unions in) a sequence of ``UploadFile``."""
    return _is_sequence_of(annotation, _is_uploadfile)
