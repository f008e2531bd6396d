"""``WSGIMiddleware`` (deprecated, as in Starlette): a WSGI app served from ASGI.

Over a real server (streamed chunks, a POST body): tests/test_starlette_server.py.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from aster.exceptions import StarletteDeprecationWarning

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from aster.middleware import wsgi as wsgi_module
    from aster.middleware.wsgi import WSGIMiddleware, build_environ

from aster.applications import Starlette
from aster.routing import Mount
from aster.testclient import TestClient

from .asgi import call, make_scope

Environ = dict[str, Any]
StartResponse = Callable[..., Any]


def hello(environ: Environ, start_response: StartResponse) -> list[bytes]:
    body = f"{environ['SCRIPT_NAME']}|{environ['PATH_INFO']}|{environ['QUERY_STRING']}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def echo(environ: Environ, start_response: StartResponse) -> list[bytes]:
    body = environ["wsgi.input"].read()
    start_response("201 Created", [("Content-Type", environ.get("CONTENT_TYPE", ""))])
    return [body]


def fails(environ: Environ, start_response: StartResponse) -> list[bytes]:
    raise RuntimeError("the WSGI app failed")


def error_page(environ: Environ, start_response: StartResponse) -> list[bytes]:
    try:
        raise RuntimeError("handled by the WSGI app")
    except RuntimeError:
        start_response(
            "500 Internal Server Error", [("Content-Type", "text/plain")], sys.exc_info()
        )
        return [b"Internal Server Error"]


def test_deprecated_on_import() -> None:
    with pytest.warns(
        StarletteDeprecationWarning,
        match=r"^starlette\.middleware\.wsgi is deprecated .*/a2wsgi as a replacement\.$",
    ):
        importlib.reload(wsgi_module)


def test_get_with_root_path_and_query() -> None:
    client = TestClient(Starlette(routes=[Mount("/legacy", WSGIMiddleware(hello))]))
    response = client.get("/legacy/users?page=2")
    assert response.status_code == 200
    assert response.text == "/legacy|/users|page=2"
    assert response.headers["content-type"] == "text/plain"


def test_post_body_reaches_the_app() -> None:
    client = TestClient(WSGIMiddleware(echo))
    response = client.post("/", content=b'{"example": 123}', headers={"content-type": "x/y"})
    assert (response.status_code, response.content) == (201, b'{"example": 123}')
    assert response.headers["content-type"] == "x/y"


def test_exception_propagates() -> None:
    with pytest.raises(RuntimeError, match="the WSGI app failed"):
        TestClient(WSGIMiddleware(fails)).get("/")
    response = TestClient(WSGIMiddleware(fails), raise_server_exceptions=False).get("/")
    assert response.status_code == 500


def test_exc_info_sends_the_page_then_raises() -> None:
    with pytest.raises(RuntimeError, match="handled by the WSGI app"):
        TestClient(WSGIMiddleware(error_page)).get("/")
    response = TestClient(WSGIMiddleware(error_page), raise_server_exceptions=False).get("/")
    assert (response.status_code, response.text) == (500, "Internal Server Error")


def test_chunks_are_sent_as_they_come_from_a_worker_thread() -> None:
    threads: list[str] = []

    def stream(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        threads.append(threading.current_thread().name)
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"one,"
        yield b""  # empty chunks are skipped
        yield b"two"

    result = asyncio.run(call(WSGIMiddleware(stream)))
    assert result.status == 200
    assert [m.get("body") for m in result.messages[1:]] == [b"one,", b"two", b""]
    assert [m.get("more_body", False) for m in result.messages[1:]] == [True, True, False]
    assert threads and threads[0] != threading.main_thread().name


def test_write_callable_and_close() -> None:
    closed: list[bool] = []

    class Body:
        def __iter__(self) -> Iterator[bytes]:
            yield b" and yielded"

        def close(self) -> None:
            closed.append(True)

    def legacy(environ: Environ, start_response: StartResponse) -> Body:
        write = start_response("200 OK", [])
        write(b"written")
        return Body()

    response = TestClient(WSGIMiddleware(legacy)).get("/")
    assert response.text == "written and yielded"
    assert closed == [True]


def test_status_can_change_until_the_first_chunk() -> None:
    def changes_its_mind(environ: Environ, start_response: StartResponse) -> list[bytes]:
        start_response("200 OK", [("X-First", "1")])
        try:
            raise ValueError("late failure")
        except ValueError:
            start_response("503 Service Unavailable", [("X-Second", "1")], sys.exc_info())
        return [b"unavailable"]

    result = asyncio.run(call(WSGIMiddleware(changes_its_mind), raise_errors=False))
    assert result.status == 503
    assert result.headers == [(b"x-second", b"1")]
    assert result.body == b"unavailable"
    assert isinstance(result.error, ValueError)


def test_start_response_twice_without_exc_info_is_an_error() -> None:
    def twice(environ: Environ, start_response: StartResponse) -> list[bytes]:
        start_response("200 OK", [])
        start_response("200 OK", [])
        return []  # pragma: no cover

    with pytest.raises(AssertionError, match="start_response was already called"):
        asyncio.run(call(WSGIMiddleware(twice)))


def test_build_environ() -> None:
    scope = make_scope(
        "/sub/path",
        "POST",
        headers=[
            ("host", "www.example.org"),
            ("content-type", "application/json"),
            ("content-length", "18"),
            ("accept", "text/html"),
            ("accept", "text/plain"),
            ("x-request-id", "abc"),
        ],
        root_path="/sub",
        scheme="https",
        query_string=b"a=1&b=2",
        client=("134.56.78.4", 1453),
        server=("www.example.org", 443),
    )
    environ = build_environ(scope, b'{"example":"body"}')
    assert environ.pop("wsgi.input").read() == b'{"example":"body"}'
    assert environ == {
        "CONTENT_LENGTH": "18",
        "CONTENT_TYPE": "application/json",
        "HTTP_ACCEPT": "text/html,text/plain",
        "HTTP_HOST": "www.example.org",
        "HTTP_X_REQUEST_ID": "abc",
        "PATH_INFO": "/path",
        "QUERY_STRING": "a=1&b=2",
        "REMOTE_ADDR": "134.56.78.4",
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "/sub",
        "SERVER_NAME": "www.example.org",
        "SERVER_PORT": 443,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.errors": sys.stdout,
        "wsgi.multiprocess": True,
        "wsgi.multithread": True,
        "wsgi.run_once": False,
        "wsgi.url_scheme": "https",
        "wsgi.version": (1, 0),
    }


@pytest.mark.parametrize(
    ("root_path", "path", "path_info"),
    [
        ("/app", "/application", "/application"),  # a prefix of a segment is not the root
        ("/app", "/app/users", "/users"),
        ("/app", "/app", ""),
        ("/app/", "/app/users", "users"),
        ("", "/x", "/x"),
    ],
)
def test_build_environ_splits_script_name(root_path: str, path: str, path_info: str) -> None:
    environ = build_environ(make_scope(path, root_path=root_path), b"")
    assert environ["PATH_INFO"] == path_info


def test_build_environ_encodes_paths_as_wsgi_latin1() -> None:
    scope = make_scope("/中国/小星", root_path="/中国")
    del scope["client"], scope["server"]
    environ = build_environ(scope, b"")
    assert environ["SCRIPT_NAME"] == "/中国".encode().decode("latin-1")
    assert environ["PATH_INFO"] == "/小星".encode().decode("latin-1")
    assert (environ["SERVER_NAME"], environ["SERVER_PORT"]) == ("localhost", 80)
    assert "REMOTE_ADDR" not in environ
