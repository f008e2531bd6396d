"""The Starlette internals and small names that libraries import.

``starlette._utils`` (``is_async_callable``, ``get_route_path``, the exception-group helpers,
``parse_host_header``), ``starlette._exception_handler``, ``formparsers.FormMessage``,
``testclient.ASGIInstance``, ``websockets.WebSocketDisconnected``, and that every new module is
reachable under its ``starlette.*`` name through ``aster.compat``.
"""

from __future__ import annotations

import asyncio
import builtins
import functools
import importlib
from collections.abc import Iterator
from typing import Any
from unittest.mock import create_autospec

import pytest

from aster import _exception_handler, _utils, compat
from aster.applications import Starlette
from aster.exceptions import StarletteDeprecationWarning, StarletteHTTPException
from aster.formparsers import FormMessage
from aster.requests import Request
from aster.responses import PlainTextResponse
from aster.routing import Route
from aster.testclient import ASGIInstance, TestClient
from aster.types import Receive, Scope, Send
from aster.websockets import WebSocket, WebSocketDisconnected

from .asgi import call, make_scope

ExceptionGroup: Any = builtins.ExceptionGroup  # Python 3.11+ (ruff targets 3.10)

# --- _utils -----------------------------------------------------------------------------------


def test_is_async_callable() -> None:
    async def coro(a: int, b: int) -> None: ...  # pragma: no cover

    def plain(a: int, b: int) -> None: ...  # pragma: no cover

    class AsyncCall:
        async def __call__(self, a: int) -> None: ...  # pragma: no cover

        async def method(self) -> None: ...  # pragma: no cover

    assert _utils.is_async_callable(coro)
    assert _utils.is_async_callable(functools.partial(functools.partial(coro, 1), b=2))
    assert _utils.is_async_callable(AsyncCall())
    assert _utils.is_async_callable(functools.partial(AsyncCall(), 1))
    assert _utils.is_async_callable(AsyncCall().method)
    assert _utils.is_async_callable(create_autospec(coro))
    assert not _utils.is_async_callable(plain)
    assert not _utils.is_async_callable(functools.partial(plain, 1))
    assert not _utils.is_async_callable(object())


@pytest.mark.parametrize(
    ("path", "root_path", "route_path"),
    [
        ("/foo-123/bar", "/foo", "/foo-123/bar"),
        ("/foo/bar", "/foo", "/bar"),
        ("/foo", "/foo", ""),
        ("/foo/bar", "/bar", "/foo/bar"),
        ("/foo/bar", "", "/foo/bar"),
    ],
)
def test_get_route_path(path: str, root_path: str, route_path: str) -> None:
    assert _utils.get_route_path({"path": path, "root_path": root_path}) == route_path


@pytest.mark.parametrize(
    ("header", "host", "port", "authority"),
    [
        ("example.org", "example.org", None, "example.org"),
        ("Example.org:8080", "Example.org", "8080", "Example.org:8080"),
        ("[::1]:443", "[::1]", "443", "[::1]:443"),
    ],
)
def test_parse_host_header(header: str, host: str, port: str | None, authority: str) -> None:
    parsed = _utils.parse_host_header(header)
    assert parsed == _utils.ParsedHost(host, port)
    assert parsed.authority == authority
    assert parsed.is_valid_port


@pytest.mark.parametrize("header", [None, "", "a b", "evil.com/x", "a@b", "[::zz]", "host:port"])
def test_parse_host_header_refuses_what_could_change_the_url(header: str | None) -> None:
    assert _utils.parse_host_header(header) is None


def test_parsed_host_port_range() -> None:
    assert _utils.ParsedHost("h", "0065535").is_valid_port
    assert not _utils.ParsedHost("h", "65536").is_valid_port
    assert not _utils.ParsedHost("h", "123456").is_valid_port


class Boom(Exception):
    pass


def test_collapse_excgroups_unwraps_single_exceptions() -> None:
    cause = ValueError("cause")
    inner = Boom("inner")
    inner.__cause__ = cause
    with pytest.raises(Boom) as caught, _utils.collapse_excgroups():
        raise ExceptionGroup("outer", [ExceptionGroup("middle", [inner])])
    assert caught.value is inner
    assert caught.value.__cause__ is cause
    with pytest.raises(ExceptionGroup), _utils.collapse_excgroups():
        raise ExceptionGroup("two", [Boom(), Boom()])
    with pytest.raises(KeyError), _utils.collapse_excgroups():
        raise KeyError("plain exceptions pass unchanged")


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_collapsing_task_group_raises_a_lone_failure_as_itself() -> None:
    async def body() -> None:
        async with _utils.create_collapsing_task_group():
            raise Boom("body")

    with pytest.raises(Boom, match="body"):
        run(body())


def test_collapsing_task_group_keeps_two_failures_grouped() -> None:
    """A child started just before the body fails still runs to its first await (anyio's rule)."""

    async def fail() -> None:
        raise Boom("child")

    async def body() -> None:
        async with _utils.create_collapsing_task_group() as group:
            group.start_soon(fail)
            raise Boom("body")

    with pytest.raises(ExceptionGroup) as caught:
        run(body())
    assert [str(exc) for exc in caught.value.exceptions] == ["body", "child"]


def test_a_failing_child_cancels_the_body_and_its_siblings() -> None:
    events: list[str] = []

    async def sibling() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            events.append("sibling cancelled")
            raise

    async def fail() -> None:
        await asyncio.sleep(0)
        raise Boom("child")

    async def body() -> None:
        async with _utils.create_collapsing_task_group() as group:
            group.start_soon(sibling)
            group.create_task(fail())
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                events.append("body cancelled")
                raise

    async def main() -> str:
        with pytest.raises(Boom, match="child"):
            await body()
        # The cancellation the group sent its parent is taken back: the task goes on.
        await asyncio.sleep(0)
        return "still running"

    assert run(asyncio.wait_for(main(), 10)) == "still running"
    assert sorted(events) == ["body cancelled", "sibling cancelled"]


def test_task_group_waits_for_children_and_passes_outside_cancellation() -> None:
    results: list[int] = []

    async def child(n: int) -> None:
        await asyncio.sleep(0.01 * n)
        results.append(n)

    async def ok() -> None:
        async with _utils.create_collapsing_task_group() as group:
            for n in (2, 1):
                group.start_soon(child, n)

    run(ok())
    assert results == [1, 2]

    async def cancelled_from_outside() -> None:
        ready = asyncio.Event()

        async def forever() -> None:
            ready.set()
            await asyncio.sleep(60)

        async def inner() -> None:
            async with _utils.create_collapsing_task_group() as group:
                group.start_soon(forever)

        task = asyncio.ensure_future(inner())
        await ready.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(asyncio.wait_for(cancelled_from_outside(), 10))


def test_task_group_refuses_tasks_after_it_closed() -> None:
    async def body() -> None:
        async with _utils.create_collapsing_task_group() as group:
            pass
        with pytest.raises(RuntimeError, match="not active"):
            group.start_soon(asyncio.sleep, 0)

    run(body())


# --- _exception_handler -----------------------------------------------------------------------


def test_lookup_follows_the_class_hierarchy() -> None:
    def for_lookup(request: Request, exc: Exception) -> None: ...  # pragma: no cover

    def for_base(request: Request, exc: Exception) -> None: ...  # pragma: no cover

    handlers = {LookupError: for_lookup, Exception: for_base}
    assert _exception_handler._lookup_exception_handler(handlers, KeyError()) is for_lookup
    assert _exception_handler._lookup_exception_handler(handlers, Boom()) is for_base
    assert _exception_handler._lookup_exception_handler({}, Boom()) is None


def test_the_face_has_the_names_starlettes_module_imports() -> None:
    from aster.concurrency import run_in_threadpool

    # Starlette's tests patch it there to check that async handlers never use the pool.
    assert _exception_handler.run_in_threadpool is run_in_threadpool


def handlers_scope(exception_handlers: dict[Any, Any], status_handlers: dict[int, Any]) -> Scope:
    return make_scope(**{"starlette.exception_handlers": (exception_handlers, status_handlers)})


def test_wrap_app_handling_exceptions() -> None:
    async def on_boom(request: Request, exc: Exception) -> PlainTextResponse:
        return PlainTextResponse(f"handled {exc}", status_code=418)

    def on_404(request: Request, exc: Exception) -> PlainTextResponse:  # sync: threadpool
        return PlainTextResponse("no such thing", status_code=404)

    async def raises(scope: Scope, receive: Receive, send: Send) -> None:
        raise Boom("boom") if scope["path"] == "/boom" else StarletteHTTPException(404)

    for path, status, body in (("/boom", 418, b"handled boom"), ("/x", 404, b"no such thing")):
        scope = handlers_scope({Boom: on_boom}, {404: on_404})
        scope["path"] = path
        wrapped = _exception_handler.wrap_app_handling_exceptions(raises, Request(scope))
        result = run(call(wrapped, scope))
        assert (result.status, result.body) == (status, body)

    scope = handlers_scope({}, {})
    wrapped = _exception_handler.wrap_app_handling_exceptions(raises, Request(scope))
    scope["path"] = "/boom"
    with pytest.raises(Boom):
        run(call(wrapped, scope))


def test_wrap_app_after_the_response_started_raises_runtime_error() -> None:
    async def on_boom(request: Request, exc: Exception) -> None: ...  # pragma: no cover

    async def half_sent(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise Boom("late")

    scope = handlers_scope({Boom: on_boom}, {})
    wrapped = _exception_handler.wrap_app_handling_exceptions(half_sent, Request(scope))
    with pytest.raises(RuntimeError, match="response already started") as caught:
        run(call(wrapped, scope))
    assert isinstance(caught.value.__cause__, Boom)


# --- the smaller names --------------------------------------------------------------------------


def test_form_message_is_deprecated() -> None:
    assert FormMessage.FIELD_START.value == 1 and FormMessage.END.value == 5
    with pytest.warns(StarletteDeprecationWarning, match="`FormMessage` is deprecated"):
        assert FormMessage(3) is FormMessage.FIELD_DATA


def test_starlette_deprecation_warning_is_shown_by_default() -> None:
    assert issubclass(StarletteDeprecationWarning, UserWarning)
    assert not issubclass(StarletteDeprecationWarning, DeprecationWarning)


def test_asgi2_app_typed_with_asgi_instance() -> None:
    def app(scope: Scope) -> ASGIInstance:
        async def instance(receive: Receive, send: Send) -> None:
            await PlainTextResponse(f"asgi2 {scope['path']}")(scope, receive, send)

        return instance

    assert TestClient(app).get("/x").text == "asgi2 /x"


def test_websocket_disconnected_is_a_runtime_error() -> None:
    errors: list[BaseException] = []

    async def endpoint(websocket: WebSocket) -> None:
        with pytest.raises(WebSocketDisconnected, match='Need to call "accept" first'):
            await websocket.receive_text()
        await websocket.accept()
        await websocket.close()
        try:
            await websocket.send_text("too late")
        except RuntimeError as exc:  # what older code catches
            errors.append(exc)

    app = Starlette(routes=[Route("/", PlainTextResponse("x"))])
    app.add_websocket_route("/ws", endpoint)
    with TestClient(app).websocket_connect("/ws"):
        pass
    assert len(errors) == 1 and isinstance(errors[0], WebSocketDisconnected)
    assert str(errors[0]) == 'Cannot call "send" once a close message has been sent.'


# --- aster.compat -------------------------------------------------------------------------------

NEW_MODULES = [
    "endpoints",
    "authentication",
    "config",
    "schemas",
    "_utils",
    "_exception_handler",
    "middleware.authentication",
    "middleware.sessions",
    "middleware.opentelemetry",
    "middleware.wsgi",
]


@pytest.fixture
def aliases() -> Iterator[None]:
    compat.uninstall()
    compat.install()
    yield
    compat.uninstall()


@pytest.mark.filterwarnings("ignore::aster.exceptions.StarletteDeprecationWarning")
@pytest.mark.parametrize("name", NEW_MODULES)
def test_new_modules_resolve_under_starlette(aliases: None, name: str) -> None:
    assert compat.target_for(f"starlette.{name}") == f"aster.{name}"
    assert importlib.import_module(f"starlette.{name}") is importlib.import_module(f"aster.{name}")


def test_starlette_style_imports_work(aliases: None) -> None:
    from starlette.authentication import requires
    from starlette.endpoints import HTTPEndpoint
    from starlette.middleware.sessions import SessionMiddleware
    from starlette.websockets import WebSocketDisconnected as Alias

    import aster.authentication
    import aster.endpoints
    import aster.middleware.sessions

    assert requires is aster.authentication.requires
    assert HTTPEndpoint is aster.endpoints.HTTPEndpoint
    assert SessionMiddleware is aster.middleware.sessions.SessionMiddleware
    assert Alias is WebSocketDisconnected
