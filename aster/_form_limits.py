"""``form_limits=``: per app, router, inclusion or route limits for parsed forms.

A setting given at a more specific level overrides the inherited one key by key;
a key nobody sets keeps ``Request.form()``'s default.  Limits are validated when
the app, router or route is built (strict non-negative ints, no unknown keys),
so a typo fails at startup rather than on the first form request.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field, TypeAdapter, with_config
from typing_extensions import TypedDict

__all__ = ["_FormLimits", "_merge_form_limits", "_validate_form_limits"]


@with_config(ConfigDict(strict=True, extra="forbid"))
class _FormLimits(TypedDict, total=False):
    """Limits for the automatic parsing of ``Form``, ``File`` and ``UploadFile`` parameters."""

    max_fields: Annotated[int, Field(ge=0)]
    """Maximum number of non-file form fields."""
    max_files: Annotated[int, Field(ge=0)]
    """Maximum number of files in a multipart form."""
    max_part_size: Annotated[int, Field(ge=0)]
    """Maximum size of a non-file field, in bytes."""


_form_limits_adapter = TypeAdapter(_FormLimits)


def _validate_form_limits(limits: _FormLimits | None) -> _FormLimits:
    """A validated copy of ``limits`` (``{}`` for None); raises pydantic's ``ValidationError``."""
    return {} if limits is None else _form_limits_adapter.validate_python(limits)


def _merge_form_limits(inherited: _FormLimits, overrides: _FormLimits | None) -> _FormLimits:
    """``inherited`` with the keys of ``overrides`` taking precedence."""
    return {**inherited, **overrides} if overrides else inherited
