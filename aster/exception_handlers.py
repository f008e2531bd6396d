"""FastAPI's default exception handlers: JSON ``{"detail": ...}`` bodies."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._response import JSONResponse, Response
from ._starlette_exceptions import StarletteHTTPException as HTTPException
from .encoders import jsonable_encoder
from .exceptions import RequestValidationError, WebSocketRequestValidationError
from .requests import Request

if TYPE_CHECKING:
    from .websockets import WebSocket

__all__ = [
    "http_exception_handler",
    "request_validation_exception_handler",
    "websocket_request_validation_exception_handler",
]

WS_1008_POLICY_VIOLATION = 1008


def _body_allowed(status_code: int) -> bool:
    return not (status_code < 200 or status_code in (204, 205, 304))


async def http_exception_handler(request: Request, exc: HTTPException) -> Response:
    headers = getattr(exc, "headers", None)
    if not _body_allowed(exc.status_code):
        return Response(status_code=exc.status_code, headers=headers)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)


async def request_validation_exception_handler(
    request: Request, exc: RequestValidationError
) -> JSONResponse:
    return JSONResponse(status_code=422, content={"detail": jsonable_encoder(exc.errors())})


async def websocket_request_validation_exception_handler(
    websocket: WebSocket, exc: WebSocketRequestValidationError
) -> None:
    await websocket.close(code=WS_1008_POLICY_VIOLATION, reason=jsonable_encoder(exc.errors()))
