"""Middleware as FastAPI apps use it: pure ASGI classes, ``@app.middleware("http")``,
``BaseHTTPMiddleware`` subclasses, and the order they run in."""

from __future__ import annotations

from typing import Any

import pytest

from aster import FastAPI, HTTPException, Request
from aster.middleware import Middleware
from aster.middleware.base import BaseHTTPMiddleware
from aster.responses import JSONResponse, PlainTextResponse, Response
from aster.testclient import TestClient

EVENTS: list[str] = []


class PureASGI:
    """Records when it is entered and tags the response with its name."""

    def __init__(self, app: Any, tag: str) -> None:
        self.app = app
        self.tag = tag

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        EVENTS.append(f"enter {self.tag}")

        async def tagged(message: Any) -> None:
            if message["type"] == "http.response.start":
                message = {
                    **message,
                    "headers": [*message["headers"], (b"x-order", self.tag.encode())],
                }
            await send(message)

        await self.app(scope, receive, tagged)
        EVENTS.append(f"exit {self.tag}")


class Dispatch(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: Any) -> Response:
        EVENTS.append("enter dispatch")
        response = await call_next(request)
        response.headers["X-Dispatch"] = request.url.path
        EVENTS.append("exit dispatch")
        return response


def build() -> FastAPI:
    app = FastAPI(middleware=[Middleware(PureASGI, tag="constructor")])
    app.add_middleware(PureASGI, tag="first-added")
    app.add_middleware(PureASGI, tag="second-added")

    @app.middleware("http")
    async def decorated(request: Request, call_next: Any) -> Response:
        EVENTS.append("enter decorated")
        request.state.seen_by = "decorated"
        if request.url.path == "/short":
            return PlainTextResponse("short-circuited", status_code=299)
        response = await call_next(request)
        response.headers.append("X-Seen", "decorated")
        EVENTS.append("exit decorated")
        return response

    app.add_middleware(Dispatch)

    @app.get("/")
    async def root(request: Request) -> dict[str, Any]:
        EVENTS.append("endpoint")
        return {"seen_by": request.state.seen_by}

    @app.get("/short")
    async def short() -> dict[str, bool]:
        return {"never": True}

    @app.get("/http-error")
    async def http_error() -> None:
        raise HTTPException(status_code=409, detail="conflict", headers={"X-H": "1"})

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    return app


@pytest.fixture
def client() -> TestClient:
    EVENTS.clear()
    return TestClient(build(), raise_server_exceptions=False)


def test_order_last_added_is_outermost(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.json() == {"seen_by": "decorated"}
    # call_next returns as soon as the response starts, so only the way in is ordered.
    assert EVENTS[:6] == [
        "enter dispatch",
        "enter decorated",
        "enter second-added",
        "enter first-added",
        "enter constructor",
        "endpoint",
    ]
    assert sorted(EVENTS[6:]) == [
        "exit constructor",
        "exit decorated",
        "exit dispatch",
        "exit first-added",
        "exit second-added",
    ]
    assert EVENTS.index("exit constructor") < EVENTS.index("exit first-added")
    assert EVENTS.index("exit first-added") < EVENTS.index("exit second-added")
    assert response.headers.multi_items() == [
        ("content-length", "23"),
        ("content-type", "application/json"),
        ("x-order", "constructor"),
        ("x-order", "first-added"),
        ("x-order", "second-added"),
        ("x-seen", "decorated"),
        ("x-dispatch", "/"),
    ]


def test_short_circuit_skips_inner_middleware(client: TestClient) -> None:
    response = client.get("/short")
    assert (response.status_code, response.text) == (299, "short-circuited")
    assert response.headers["x-dispatch"] == "/short"
    assert "x-order" not in response.headers
    assert EVENTS == ["enter dispatch", "enter decorated", "exit dispatch"]


def test_errors_are_rendered_inside_user_middleware(client: TestClient) -> None:
    # 404s, HTTPExceptions and validation errors are responses by the time the
    # middleware sees them, so they get the middleware's headers.
    response = client.get("/nope")
    assert (response.status_code, response.json()) == (404, {"detail": "Not Found"})
    assert response.headers.get_list("x-order") == ["constructor", "first-added", "second-added"]
    assert response.headers["x-dispatch"] == "/nope"
    response = client.get("/http-error")
    assert (response.status_code, response.headers["x-h"]) == (409, "1")
    assert response.headers["x-dispatch"] == "/http-error"
    # An unhandled error is a 500 from the outermost layer, without middleware headers.
    response = client.get("/boom")
    assert (response.status_code, response.text) == (500, "Internal Server Error")
    assert "x-dispatch" not in response.headers


def test_middleware_cannot_be_added_after_start() -> None:
    app = build()
    TestClient(app).get("/")
    with pytest.raises(
        RuntimeError, match="Cannot add middleware after an application has started"
    ):
        app.add_middleware(PureASGI, tag="late")


def test_middleware_sees_handler_responses() -> None:
    app = FastAPI()

    @app.exception_handler(KeyError)
    async def key_error(request: Request, exc: KeyError) -> JSONResponse:
        return JSONResponse({"missing": str(exc)}, status_code=400)

    @app.middleware("http")
    async def add_header(request: Request, call_next: Any) -> Response:
        response = await call_next(request)
        response.headers["X-Wrapped"] = str(response.status_code)
        return response

    @app.get("/")
    async def endpoint() -> None:
        raise KeyError("k")

    response = TestClient(app).get("/")
    assert response.status_code == 400
    assert response.json() == {"missing": "'k'"}
    assert response.headers["x-wrapped"] == "400"


def test_middleware_can_read_the_body_before_the_endpoint() -> None:
    app = FastAPI()

    @app.middleware("http")
    async def peek(request: Request, call_next: Any) -> Response:
        body = await request.body()
        response = await call_next(request)
        response.headers["X-Body-Length"] = str(len(body))
        return response

    @app.post("/")
    async def endpoint(payload: dict[str, int]) -> dict[str, int]:
        return payload

    response = TestClient(app).post("/", json={"a": 1})
    assert response.json() == {"a": 1}
    assert response.headers["x-body-length"] == "7"  # {"a":1}
