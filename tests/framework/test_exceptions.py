"""aster.exceptions, aster.exception_handlers and the exception-handling middleware.

Expected strings and reprs are what FastAPI 0.165 / Starlette 1.10 produce.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx
import pytest

from aster import exceptions
from aster.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from aster.exceptions import (
    DependencyScopeError,
    FastAPIError,
    HTTPException,
    PydanticV1NotSupportedError,
    RequestErrorModel,
    RequestValidationError,
    ResponseValidationError,
    StarletteHTTPException,
    ValidationException,
    WebSocketErrorModel,
    WebSocketException,
    WebSocketRequestValidationError,
)
from aster.middleware import Middleware
from aster.middleware.exceptions import (
    ExceptionMiddleware,
    handle_exception,
    lookup_exception_handler,
    wrap_app_handling_exceptions,
)
from aster.requests import Request
from aster.responses import JSONResponse, PlainTextResponse, StreamingResponse

from .asgi import make_scope, run

# -- the exception classes ------------------------------------------------------------


def test_fastapi_classes_subclass_the_starlette_ones() -> None:
    # As in FastAPI: a handler for the Starlette class also catches the application's.
    assert issubclass(HTTPException, StarletteHTTPException)
    assert HTTPException is not StarletteHTTPException
    assert issubclass(WebSocketException, exceptions.StarletteWebSocketException)
    assert WebSocketException is not exceptions.StarletteWebSocketException


@pytest.mark.parametrize(
    ("status", "detail"),
    [(404, "Not Found"), (418, "I'm a Teapot"), (500, "Internal Server Error"), (599, "")],
)
def test_http_exception_detail_defaults_to_the_phrase(status: int, detail: str) -> None:
    exc = HTTPException(status)
    assert exc.detail == detail
    assert exc.headers is None
    assert str(exc) == f"{status}: {detail}"
    assert repr(exc) == f"HTTPException(status_code={status}, detail={detail!r})"


def test_http_exception_keeps_any_detail_and_headers() -> None:
    exc = HTTPException(status_code=400, detail={"x": 1}, headers={"X-Error": "yes"})
    assert exc.detail == {"x": 1}
    assert exc.headers == {"X-Error": "yes"}
    assert repr(exc) == "HTTPException(status_code=400, detail={'x': 1})"

    class Custom(HTTPException):
        pass

    assert repr(Custom(401)) == "Custom(status_code=401, detail='Unauthorized')"


def test_websocket_exception() -> None:
    assert repr(WebSocketException(1008)) == "WebSocketException(code=1008, reason='')"
    assert str(WebSocketException(1000, "bye")) == "1000: bye"


def test_validation_errors_format_like_fastapi() -> None:
    error = {"type": "missing", "loc": ("query", "q"), "msg": "Field required", "input": None}
    exc = RequestValidationError(
        [error],
        body={"a": 1},
        endpoint_ctx={"function": "read", "path": "GET /items", "file": "main.py", "line": 12},
    )
    assert exc.errors() == [error]
    assert exc.body == {"a": 1}
    assert exc.args == ([error],)
    assert (exc.endpoint_function, exc.endpoint_path) == ("read", "GET /items")
    assert (exc.endpoint_file, exc.endpoint_line) == ("main.py", 12)
    assert str(exc) == (
        "1 validation error:\n"
        "  {'type': 'missing', 'loc': ('query', 'q'), 'msg': 'Field required', 'input': None}\n"
        "\n"
        '  File "main.py", line 12, in read\n'
        "    GET /items"
    )
    assert str(RequestValidationError([])) == "0 validation errors:"
    response_error = ResponseValidationError([1, 2], endpoint_ctx={"path": "GET /x"})
    assert str(response_error) == "2 validation errors:\n  1\n  2\n\n  Endpoint: GET /x"
    ws_error = WebSocketRequestValidationError(["e"], endpoint_ctx={"function": "f"})
    assert str(ws_error) == "1 validation error:\n  e"
    assert ResponseValidationError([], body="b").body == "b"


def test_class_hierarchy() -> None:
    assert issubclass(FastAPIError, RuntimeError)
    assert issubclass(DependencyScopeError, FastAPIError)
    assert issubclass(PydanticV1NotSupportedError, FastAPIError)
    for cls in (RequestValidationError, ResponseValidationError, WebSocketRequestValidationError):
        assert issubclass(cls, ValidationException)
    assert issubclass(exceptions.FastAPIDeprecationWarning, UserWarning)
    assert issubclass(exceptions.StarletteDeprecationWarning, UserWarning)
    assert RequestErrorModel.__name__ == "Request"
    assert WebSocketErrorModel.__name__ == "WebSocket"


# -- default handlers -------------------------------------------------------------------


def _request() -> Request:
    return Request(make_scope())


def _render(response: Any) -> tuple[int, dict[str, str], bytes]:
    result = run(response)
    headers = {k.decode(): v.decode() for k, v in result.headers}
    return result.status, headers, result.body


def test_http_exception_handler_json_with_headers() -> None:
    exc = HTTPException(403, "No way", headers={"X-Why": "because"})
    response = asyncio.run(http_exception_handler(_request(), exc))
    assert _render(response) == (
        403,
        {"x-why": "because", "content-length": "19", "content-type": "application/json"},
        b'{"detail":"No way"}',
    )


@pytest.mark.parametrize("status", [204, 304, 101])
def test_http_exception_handler_bodyless_statuses(status: int) -> None:
    exc = HTTPException(status, headers={"ETag": '"x"'})
    response = asyncio.run(http_exception_handler(_request(), exc))
    assert _render(response) == (status, {"etag": '"x"'}, b"")


def test_request_validation_exception_handler() -> None:
    exc = RequestValidationError(
        [{"type": "int_parsing", "loc": ("path", "id"), "msg": "bad", "input": "x", "ctx": {}}]
    )
    response = asyncio.run(request_validation_exception_handler(_request(), exc))
    status, headers, body = _render(response)
    assert status == 422
    assert body == (
        b'{"detail":[{"type":"int_parsing","loc":["path","id"],"msg":"bad","input":"x","ctx":{}}]}'
    )
    assert headers["content-type"] == "application/json"


# -- ExceptionMiddleware and the shared lookup -----------------------------------------------


class Boom(Exception):
    pass


class SubBoom(Boom):
    pass


def _raising(exc: Exception) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise exc

    return app


def test_default_http_exception_response_is_plain_text() -> None:
    result = run(ExceptionMiddleware(_raising(HTTPException(404, headers={"X-A": "1"}))))
    assert result.status == 404
    assert result.body == b"Not Found"
    assert result.headers == [
        (b"x-a", b"1"),
        (b"content-length", b"9"),
        (b"content-type", b"text/plain; charset=utf-8"),
    ]
    assert run(ExceptionMiddleware(_raising(HTTPException(304)))).body == b""


def test_handlers_are_found_by_mro_and_status() -> None:
    async def on_boom(request: Request, exc: Exception) -> PlainTextResponse:
        return PlainTextResponse(f"boom handler: {type(exc).__name__}", status_code=599)

    def on_418(request: Request, exc: Exception) -> PlainTextResponse:  # sync: threadpool
        return PlainTextResponse(threading.current_thread().name, status_code=418)

    handlers: dict[Any, Any] = {Boom: on_boom, 418: on_418}
    sub = run(ExceptionMiddleware(_raising(SubBoom()), handlers=handlers))
    assert (sub.status, sub.body) == (599, b"boom handler: SubBoom")
    teapot = run(ExceptionMiddleware(_raising(HTTPException(418)), handlers=handlers))
    assert teapot.status == 418
    assert teapot.body.decode() != threading.current_thread().name
    with pytest.raises(ValueError):
        run(ExceptionMiddleware(_raising(ValueError()), handlers=handlers))


def test_lookup_prefers_status_handlers_for_http_exceptions() -> None:
    by_class, by_status = object(), object()
    tables: tuple[dict[Any, Any], dict[int, Any]] = ({HTTPException: by_class}, {404: by_status})
    assert lookup_exception_handler(HTTPException(404), *tables) is by_status
    assert lookup_exception_handler(HTTPException(400), *tables) is by_class
    assert lookup_exception_handler(KeyError(), *tables) is None


def test_handled_exception_after_response_started() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise Boom()

    async def handler(request: Request, exc: Exception) -> PlainTextResponse:
        return PlainTextResponse("unused")  # pragma: no cover

    with pytest.raises(RuntimeError, match="response already started") as info:
        run(ExceptionMiddleware(app, handlers={Boom: handler}))
    assert isinstance(info.value.__cause__, Boom)


def test_route_level_helpers_use_the_handlers_in_the_scope() -> None:
    """What a router does: wrap its endpoint, with the tables ExceptionMiddleware put in scope."""

    async def handler(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"handled": str(exc)}, status_code=409)

    async def router(scope: Any, receive: Any, send: Any) -> None:
        request = Request(scope, receive, send)
        if scope["path"] == "/wrapped":
            await wrap_app_handling_exceptions(_raising(Boom("w")), request)(scope, receive, send)
        else:
            try:
                raise Boom("direct")
            except Boom as exc:
                await handle_exception(exc, request, scope, receive, send)

    app = ExceptionMiddleware(router, handlers={Boom: handler})
    assert run(app, make_scope("/wrapped")).body == b'{"handled":"w"}'
    direct = run(app, make_scope("/direct"))
    assert (direct.status, direct.body) == (409, b'{"handled":"direct"}')


def test_handle_exception_without_tables_reraises() -> None:
    async def go() -> None:
        exc = Boom()
        with pytest.raises(Boom) as info:
            await handle_exception(exc, _request(), make_scope(), _never, _never)
        assert info.value is exc

    asyncio.run(go())


async def _never(*args: Any) -> Any:  # pragma: no cover
    raise AssertionError("not called")


def test_streaming_error_reaches_the_handler_only_before_start() -> None:
    async def handler(request: Request, exc: Exception) -> PlainTextResponse:
        return PlainTextResponse("handled", status_code=500)

    async def fails_late() -> Any:
        yield b"partial"
        raise Boom()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await StreamingResponse(fails_late())(scope, receive, send)

    with pytest.raises(RuntimeError, match="already started"):
        run(ExceptionMiddleware(app, handlers={Boom: handler}), make_scope(method="POST"))


def test_through_httpx() -> None:
    app = ExceptionMiddleware(
        _raising(HTTPException(401, "who?", headers={"WWW-Authenticate": "x"}))
    )

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.get("/")

    response = asyncio.run(go())
    assert response.status_code == 401
    assert response.text == "who?"
    assert response.headers["www-authenticate"] == "x"


# -- Middleware --------------------------------------------------------------------------


def test_middleware_spec_unpacks_and_reprs() -> None:
    def factory(app: Any, *args: Any, **kwargs: Any) -> Any:
        return app

    spec = Middleware(factory, 1, "two", flag=True)
    cls, args, kwargs = spec
    assert (cls, args, kwargs) == (factory, (1, "two"), {"flag": True})
    assert repr(spec) == "Middleware(factory, 1, 'two', flag=True)"
    assert repr(Middleware(ExceptionMiddleware)) == "Middleware(ExceptionMiddleware)"
