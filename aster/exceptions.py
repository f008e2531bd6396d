"""The exceptions of ``fastapi.exceptions``; Starlette's are in :mod:`aster._starlette_exceptions`.

As in FastAPI, there are two HTTP exception classes.  The routing layer raises
``StarletteHTTPException`` (404, 405, 413, bad forms) and the default handler is
registered for it; ``HTTPException``, what applications raise, is a subclass.  So
a handler for ``StarletteHTTPException`` catches everything, while a handler for
``HTTPException`` only catches what the application raised, exactly as FastAPI.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypedDict

from pydantic import BaseModel, create_model

from ._starlette_exceptions import (
    StarletteDeprecationWarning,
    StarletteHTTPException,
    StarletteWebSocketException,
)

__all__ = [
    "DependencyScopeError",
    "EndpointContext",
    "FastAPIDeprecationWarning",
    "FastAPIError",
    "HTTPException",
    "PydanticV1NotSupportedError",
    "RequestErrorModel",
    "RequestValidationError",
    "ResponseValidationError",
    "StarletteDeprecationWarning",
    "StarletteHTTPException",
    "StarletteWebSocketException",
    "ValidationException",
    "WebSocketErrorModel",
    "WebSocketException",
    "WebSocketRequestValidationError",
]


class HTTPException(StarletteHTTPException):
    """The HTTP error applications raise: ``raise HTTPException(404, "Item not found")``."""


class WebSocketException(StarletteWebSocketException):
    """The WebSocket error applications raise: closes the connection with ``code``."""


class FastAPIDeprecationWarning(UserWarning):
    """A deprecation that users see by default (``DeprecationWarning`` is hidden)."""


class FastAPIError(RuntimeError):
    """A generic framework error (misuse detected at setup or at run time)."""


class DependencyScopeError(FastAPIError):
    """A dependency depends on another one with a narrower scope."""


class PydanticV1NotSupportedError(FastAPIError):
    """A ``pydantic.v1`` model was used; only pydantic v2 models are supported."""


class EndpointContext(TypedDict, total=False):
    """Where an endpoint is defined, for validation error messages."""

    function: str
    path: str
    file: str
    line: int


# Models named like the loc roots of request errors; OpenAPI generation uses them.
RequestErrorModel: type[BaseModel] = create_model("Request")
WebSocketErrorModel: type[BaseModel] = create_model("WebSocket")


class ValidationException(Exception):
    """Validation failed; ``errors()`` returns pydantic-style error dicts."""

    def __init__(self, errors: Sequence[Any], *, endpoint_ctx: EndpointContext | None = None):
        self._errors = errors
        self.endpoint_ctx = endpoint_ctx
        ctx = endpoint_ctx or {}
        self.endpoint_function = ctx.get("function")
        self.endpoint_path = ctx.get("path")
        self.endpoint_file = ctx.get("file")
        self.endpoint_line = ctx.get("line")

    def errors(self) -> Sequence[Any]:
        return self._errors

    def _format_endpoint_context(self) -> str:
        if not (self.endpoint_file and self.endpoint_line and self.endpoint_function):
            return f"\n  Endpoint: {self.endpoint_path}" if self.endpoint_path else ""
        where = (
            f'\n  File "{self.endpoint_file}", line {self.endpoint_line}, '
            f"in {self.endpoint_function}"
        )
        if self.endpoint_path:
            where += f"\n    {self.endpoint_path}"
        return where

    def __str__(self) -> str:
        count = len(self._errors)
        lines = [f"{count} validation error{'s' if count != 1 else ''}:\n"]
        lines.extend(f"  {error}\n" for error in self._errors)
        lines.append(self._format_endpoint_context())
        return "".join(lines).rstrip()


class RequestValidationError(ValidationException):
    """The request did not validate; ``body`` is the request body as received."""

    def __init__(
        self,
        errors: Sequence[Any],
        *,
        body: Any = None,
        endpoint_ctx: EndpointContext | None = None,
    ) -> None:
        super().__init__(errors, endpoint_ctx=endpoint_ctx)
        self.body = body


class WebSocketRequestValidationError(ValidationException):
    """A WebSocket's handshake parameters did not validate."""


class ResponseValidationError(ValidationException):
    """The endpoint's return value did not match its response model (a server bug)."""

    def __init__(
        self,
        errors: Sequence[Any],
        *,
        body: Any = None,
        endpoint_ctx: EndpointContext | None = None,
    ) -> None:
        super().__init__(errors, endpoint_ctx=endpoint_ctx)
        self.body = body
