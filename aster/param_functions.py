"""``Path()``, ``Query()``, ``Header()``, ``Cookie()``, ``Body()``, ``Form()``, ``File()``,
``Depends()`` and ``Security()``: the functions users put in signatures.

They return the declaration objects of :mod:`aster.params`; the return type is
``Any`` so that ``q: str = Query(None)`` type-checks like FastAPI's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

from . import params
from .params import Undefined


def Path(default: Any = ..., **kwargs: Any) -> Any:
    return params.Path(default, **kwargs)


def Query(default: Any = Undefined, **kwargs: Any) -> Any:
    return params.Query(default, **kwargs)


def Header(default: Any = Undefined, *, convert_underscores: bool = True, **kwargs: Any) -> Any:
    return params.Header(default, convert_underscores=convert_underscores, **kwargs)


def Cookie(default: Any = Undefined, **kwargs: Any) -> Any:
    return params.Cookie(default, **kwargs)


def Body(
    default: Any = Undefined,
    *,
    embed: bool | None = None,
    media_type: str = "application/json",
    **kwargs: Any,
) -> Any:
    return params.Body(default, embed=embed, media_type=media_type, **kwargs)


def Form(
    default: Any = Undefined,
    *,
    media_type: str = "application/x-www-form-urlencoded",
    **kwargs: Any,
) -> Any:
    return params.Form(default, media_type=media_type, **kwargs)


def File(
    default: Any = Undefined, *, media_type: str = "multipart/form-data", **kwargs: Any
) -> Any:
    return params.File(default, media_type=media_type, **kwargs)


def Depends(
    dependency: Callable[..., Any] | None = None,
    *,
    use_cache: bool = True,
    scope: Literal["function", "request", "lifespan"] | None = None,
    max_concurrency: int | None = None,
) -> Any:
    return params.Depends(
        dependency=dependency, use_cache=use_cache, scope=scope, max_concurrency=max_concurrency
    )


def Security(
    dependency: Callable[..., Any] | None = None,
    *,
    scopes: Sequence[str] | None = None,
    use_cache: bool = True,
) -> Any:
    return params.Security(dependency=dependency, scopes=scopes, use_cache=use_cache)
