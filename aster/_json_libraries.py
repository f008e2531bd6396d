"""FastAPI's ``UJSONResponse`` and ``ORJSONResponse``: JSON rendered by a third-party library.

Deprecated in FastAPI (a response model's JSON is already rendered by pydantic-core);
the library is imported on first use, so neither is a dependency.
"""

from __future__ import annotations

from typing import Any

from typing_extensions import deprecated

from ._response import JSONResponse
from .exceptions import FastAPIDeprecationWarning

__all__ = ["ORJSONResponse", "UJSONResponse"]


#: FastAPI's deprecation of the third-party JSON response classes, after their name.
_JSON_CLASS_DEPRECATED = (
    " is deprecated, FastAPI now serializes data directly to JSON "
    "bytes via Pydantic when a return type or response model is set, which is "
    "faster and doesn't need a custom response class. Read more in the FastAPI "
    "docs: https://fastapi.tiangolo.com/advanced/custom-response/#orjson-or-response-model "
    "and https://fastapi.tiangolo.com/tutorial/response-model/"
)


@deprecated(
    "UJSONResponse" + _JSON_CLASS_DEPRECATED,
    category=FastAPIDeprecationWarning,
    stacklevel=2,
)
class UJSONResponse(JSONResponse):
    """JSON rendered by ``ujson`` (deprecated in FastAPI; ``ujson`` is imported on first use)."""

    def render(self, content: Any) -> bytes:
        ujson = _optional_module("ujson")
        assert ujson is not None, "ujson must be installed to use UJSONResponse"
        return ujson.dumps(content, ensure_ascii=False).encode("utf-8")  # type: ignore[no-any-return]


@deprecated(
    "ORJSONResponse" + _JSON_CLASS_DEPRECATED,
    category=FastAPIDeprecationWarning,
    stacklevel=2,
)
class ORJSONResponse(JSONResponse):
    """JSON rendered by ``orjson`` (deprecated in FastAPI; ``orjson`` is imported on first use)."""

    def render(self, content: Any) -> bytes:
        orjson = _optional_module("orjson")
        assert orjson is not None, "orjson must be installed to use ORJSONResponse"
        return orjson.dumps(  # type: ignore[no-any-return]
            content, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
        )


_optional_modules: dict[str, Any] = {}


def _optional_module(name: str) -> Any:
    """Import ``name`` once, or return None if it is not installed."""
    try:
        return _optional_modules[name]
    except KeyError:
        pass
    try:
        module = __import__(name)
    except ModuleNotFoundError:
        module = None
    _optional_modules[name] = module
    return module
