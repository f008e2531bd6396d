"""``starlette.exceptions``: the routing layer's errors, under the names Starlette gives them.

They live here, below ``aster.exceptions`` (FastAPI's module, which subclasses them as
FastAPI does), so that the classes carry Starlette's own names: ``repr()``, tracebacks and
``pytest.raises`` messages say ``HTTPException(status_code=404, detail='Not Found')``, as
they do with Starlette, and the FastAPI subclasses of the same name say the same.
"""

from __future__ import annotations

import http
from collections.abc import Mapping
from typing import Any

__all__ = ["HTTPException", "StarletteDeprecationWarning", "WebSocketException"]

_PHRASES = {status.value: status.phrase for status in http.HTTPStatus}


class HTTPException(Exception):
    """An error answered with ``status_code``; ``detail`` defaults to the status phrase."""

    def __init__(
        self,
        status_code: int,
        detail: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if detail is None:
            detail = _PHRASES.get(status_code, "")
        self.status_code = status_code
        self.detail = detail
        self.headers = headers

    def __str__(self) -> str:
        return f"{self.status_code}: {self.detail}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status_code={self.status_code!r}, detail={self.detail!r})"


class WebSocketException(Exception):
    """Closes a WebSocket with ``code``; ``reason`` is sent as the close reason."""

    def __init__(self, code: int, reason: str | None = None) -> None:
        self.code = code
        self.reason = reason or ""

    def __str__(self) -> str:
        return f"{self.code}: {self.reason}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, reason={self.reason!r})"


class StarletteDeprecationWarning(UserWarning):
    """A deprecation that users see by default (``DeprecationWarning`` is hidden)."""


# The names the rest of aster imports them by (FastAPI's own spelling, in fastapi.exceptions).
StarletteHTTPException = HTTPException
StarletteWebSocketException = WebSocketException
