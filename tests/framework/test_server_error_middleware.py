"""ServerErrorMiddleware: 500 responses, debug tracebacks, custom handlers, and re-raising."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx
import pytest

from aster.middleware.errors import ServerErrorMiddleware
from aster.requests import Request
from aster.responses import JSONResponse, PlainTextResponse

from .asgi import make_scope, run


class Kaboom(Exception):
    pass


async def failing(scope: Any, receive: Any, send: Any) -> None:
    raise Kaboom("<bad> thing")


async def fails_after_start(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"partial", "more_body": True})
    raise Kaboom("late")


def test_plain_500_then_reraise() -> None:
    result = run(ServerErrorMiddleware(failing), raise_errors=False)
    assert isinstance(result.error, Kaboom)
    assert result.status == 500
    assert result.body == b"Internal Server Error"
    assert result.headers == [
        (b"content-length", b"21"),
        (b"content-type", b"text/plain; charset=utf-8"),
    ]


def test_nothing_sent_once_the_response_started() -> None:
    result = run(ServerErrorMiddleware(fails_after_start), raise_errors=False)
    assert isinstance(result.error, Kaboom)
    assert [m["type"] for m in result.messages] == ["http.response.start", "http.response.body"]
    assert result.body == b"partial"


@pytest.mark.parametrize("is_async", [True, False])
def test_custom_handler(is_async: bool) -> None:
    seen: list[Any] = []

    def build(request: Request, exc: Exception) -> JSONResponse:
        seen.append((request.url.path, type(exc), threading.current_thread().name))
        return JSONResponse({"error": str(exc)}, status_code=503)

    async def async_handler(request: Request, exc: Exception) -> JSONResponse:
        return build(request, exc)

    handler = async_handler if is_async else build
    result = run(
        ServerErrorMiddleware(failing, handler=handler), make_scope("/x"), raise_errors=False
    )
    assert isinstance(result.error, Kaboom)
    assert (result.status, result.body) == (503, b'{"error":"<bad> thing"}')
    assert seen[0][:2] == ("/x", Kaboom)
    on_loop_thread = seen[0][2] == threading.current_thread().name
    assert on_loop_thread is is_async


def test_debug_html_traceback() -> None:
    scope = make_scope(headers=[("accept", "text/html,application/xhtml+xml")])
    result = run(ServerErrorMiddleware(failing, debug=True), scope, raise_errors=False)
    assert result.status == 500
    assert result.header("content-type") == "text/html; charset=utf-8"
    page = result.body.decode()
    assert "<title>500 Server Error</title>" in page
    assert "Kaboom: &lt;bad&gt; thing" in page  # escaped
    assert "test_server_error_middleware.py" in page
    assert "raise Kaboom(&quot;&lt;bad&gt; thing&quot;)" in page  # the failing line, escaped
    assert page.count('class="frame') >= 1


def test_debug_plain_traceback_without_html_accept() -> None:
    result = run(ServerErrorMiddleware(failing, debug=True), raise_errors=False)
    assert result.header("content-type") == "text/plain; charset=utf-8"
    text = result.body.decode()
    assert text.startswith("Traceback (most recent call last):")
    assert text.rstrip().endswith("Kaboom: <bad> thing")


def test_non_http_scopes_pass_through() -> None:
    calls: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        calls.append(scope["type"])
        raise Kaboom()

    with pytest.raises(Kaboom):
        run(ServerErrorMiddleware(app), {"type": "lifespan"})
    assert calls == ["lifespan"]


def test_successful_responses_are_untouched() -> None:
    result = run(ServerErrorMiddleware(PlainTextResponse("fine")))
    assert (result.status, result.body) == (200, b"fine")


def test_httpx_sees_the_exception_or_the_500() -> None:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=ServerErrorMiddleware(failing))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            with pytest.raises(Kaboom):
                await client.get("/")
        quiet = httpx.ASGITransport(app=ServerErrorMiddleware(failing), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=quiet, base_url="http://t") as client:
            return await client.get("/")

    response = asyncio.run(go())
    assert (response.status_code, response.text) == (500, "Internal Server Error")
