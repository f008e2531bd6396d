"""The injected ``Request``: what endpoints read from it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from aster import FastAPI, Request
from aster.requests import HTTPConnection
from aster.testclient import TestClient

from .asgi import call, make_scope


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
    yield {"db": "connection-1"}


app = FastAPI(lifespan=lifespan)
app.state.settings = {"debug": False}


@app.middleware("http")
async def mark(request: Request, call_next: Any) -> Any:
    request.state.middleware = "was here"
    return await call_next(request)


@app.get("/info/{name}")
async def info(name: str, request: Request):
    return {
        "method": request.method,
        "path_params": request.path_params,
        "query": list(request.query_params.multi_items()),
        "query_a": request.query_params.getlist("a"),
        "x_multi": request.headers.getlist("x-multi"),
        "host": request.headers["host"],
        "user_agent": request.headers.get("User-Agent"),
        "cookies": request.cookies,
        "client": list(request.client) if request.client else None,
        "url": str(request.url),
        "url_path": request.url.path,
        "url_query": request.url.query,
        "scheme": request.url.scheme,
        "base_url": str(request.base_url),
        "url_for": str(request.url_for("info", name="z")),
        "url_for_path": str(request.url_for("info", name="z").path),
    }


@app.get("/state")
async def state(request: Request):
    return {
        "db": request.state.db,
        "middleware": request.state.middleware,
        "app_state": request.app.state.settings,
    }


@app.get("/sync-state")
def sync_state(request: Request):
    return {"db": request.state.db}


@app.post("/body")
async def body(request: Request):
    raw = await request.body()
    again = await request.body()
    return {"raw": raw.decode(), "same": raw == again, "json": await request.json()}


@app.post("/stream")
async def stream(request: Request):
    sizes = [len(chunk) async for chunk in request.stream()]
    return {"total": sum(sizes), "last_empty": sizes[-1] == 0}


@app.post("/form")
async def form(request: Request):
    async with request.form() as data:
        out: dict[str, list[Any]] = {}
        for key, value in data.multi_items():
            if isinstance(value, str):
                out.setdefault(key, []).append(value)
            else:
                content = (await value.read()).decode()
                out.setdefault(key, []).append({"filename": value.filename, "data": content})
        return out


@app.get("/disconnected")
async def disconnected(request: Request):
    return {"disconnected": await request.is_disconnected()}


@app.get("/connection")
async def connection(conn: HTTPConnection):
    return {"type": type(conn).__name__, "path": conn.url.path}


@pytest.fixture(scope="module")
def client() -> Any:
    with TestClient(app) as client:  # with: runs the lifespan
        yield client


def test_request_attributes(client: TestClient) -> None:
    response = client.get(
        "/info/abc?a=1&a=2&b=%20x",
        headers=[("x-multi", "1"), ("x-multi", "2"), ("cookie", "a=1; b=two")],
    )
    assert response.json() == {
        "method": "GET",
        "path_params": {"name": "abc"},
        "query": [["a", "1"], ["a", "2"], ["b", " x"]],
        "query_a": ["1", "2"],
        "x_multi": ["1", "2"],
        "host": "testserver",
        "user_agent": "testclient",
        "cookies": {"a": "1", "b": "two"},
        "client": ["testclient", 50000],
        "url": "http://testserver/info/abc?a=1&a=2&b=%20x",
        "url_path": "/info/abc",
        "url_query": "a=1&a=2&b=%20x",
        "scheme": "http",
        "base_url": "http://testserver/",
        "url_for": "http://testserver/info/z",
        "url_for_path": "/info/z",
    }


def test_state_from_lifespan_middleware_and_app(client: TestClient) -> None:
    assert client.get("/state").json() == {
        "db": "connection-1",
        "middleware": "was here",
        "app_state": {"debug": False},
    }
    assert client.get("/sync-state").json() == {"db": "connection-1"}


def test_body_and_json_can_be_read_twice(client: TestClient) -> None:
    response = client.post("/body", json={"k": [1, 2]})
    assert response.json() == {"raw": '{"k":[1,2]}', "same": True, "json": {"k": [1, 2]}}


def test_stream(client: TestClient) -> None:
    response = client.post("/stream", content=b"x" * 100_000)
    assert response.json() == {"total": 100_000, "last_empty": True}

    def chunks() -> Any:
        yield b"a" * 10
        yield b"b" * 20

    assert client.post("/stream", content=chunks()).json()["total"] == 30


def test_form(client: TestClient) -> None:
    response = client.post(
        "/form",
        data={"a": ["1", "2"], "b": "3"},
        files={"f": ("f.txt", b"filedata", "text/plain")},
    )
    assert response.json() == {
        "a": ["1", "2"],
        "b": ["3"],
        "f": [{"filename": "f.txt", "data": "filedata"}],
    }
    response = client.post("/form", data={"a": ["1", "2"], "b": "3"})
    assert response.json() == {"a": ["1", "2"], "b": ["3"]}


def test_is_disconnected(client: TestClient) -> None:
    assert client.get("/disconnected").json() == {"disconnected": False}


def test_is_disconnected_sees_the_client_leave() -> None:
    # No middleware here: BaseHTTPMiddleware hides disconnects from the endpoint.
    plain = FastAPI()
    seen: list[bool] = []

    @plain.get("/")
    async def poll(request: Request) -> dict[str, Any]:
        for _ in range(100):
            seen.append(await request.is_disconnected())
            if seen[-1]:
                break
            await asyncio.sleep(0.01)
        return {}

    asyncio.run(call(plain, make_scope("/"), disconnect_after=0.05))
    assert seen[0] is False
    assert seen[-1] is True
    assert len(seen) < 50


def test_is_disconnected_keeps_an_unread_body() -> None:
    # aster keeps a body message the check received (Starlette drops it, and a later
    # body() then waits forever).
    plain = FastAPI()

    @plain.post("/body")
    async def late_body(request: Request) -> dict[str, Any]:
        gone = await request.is_disconnected()
        return {"gone": gone, "body": (await request.body()).decode()}

    scope = make_scope("/body", method="POST")
    result = asyncio.run(asyncio.wait_for(call(plain, scope, b"payload"), 5))
    assert json.loads(result.body) == {"gone": False, "body": "payload"}


def test_http_connection_injection(client: TestClient) -> None:
    assert client.get("/connection").json() == {"type": "Request", "path": "/connection"}


def test_state_needs_the_lifespan() -> None:
    # Without "with TestClient(...)" the lifespan never ran: no db in the state.
    response = TestClient(app, raise_server_exceptions=False).get("/state")
    assert response.status_code == 500
