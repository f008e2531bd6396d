"""``Depends(..., scope="lifespan")``: created once at startup, shared, closed at shutdown."""

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import pytest

from aster import Depends, FastAPI, WebSocket
from aster.exceptions import DependencyScopeError
from aster.testclient import TestClient


def make_app(events: list[str]) -> tuple[FastAPI, Any]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        events.append("app startup")
        yield
        events.append("app shutdown")

    async def get_settings() -> dict[str, str]:
        events.append("settings")
        return {"dsn": "postgresql://example"}

    async def get_pool(
        settings: Annotated[dict[str, str], Depends(get_settings, scope="lifespan")],
    ) -> AsyncIterator[dict[str, Any]]:
        events.append(f"pool open {settings['dsn']}")
        pool = {"name": "pool", "thread": threading.get_ident()}
        yield pool
        events.append("pool close")

    Pool = Annotated[dict[str, Any], Depends(get_pool, scope="lifespan")]
    app = FastAPI(lifespan=lifespan)

    @app.get("/a")
    async def route_a(pool: Pool) -> dict[str, Any]:
        return {"route": "a", "pool": pool["name"], "id": id(pool)}

    @app.get("/b")
    def route_b(pool: Pool, q: int = 0) -> dict[str, Any]:
        return {"route": "b", "pool": pool["name"], "id": id(pool), "q": q}

    @app.websocket("/ws")
    async def ws(websocket: WebSocket, pool: Pool) -> None:
        await websocket.accept()
        await websocket.send_json({"pool": pool["name"], "id": id(pool)})
        await websocket.close()

    return app, get_pool


def test_created_once_at_startup_shared_by_every_route_and_closed_at_shutdown() -> None:
    events: list[str] = []
    app, _ = make_app(events)
    with TestClient(app) as client:
        # Before any request: after the app's own startup, with its lifespan dependency.
        assert events == ["app startup", "settings", "pool open postgresql://example"]
        answers = [client.get("/a").json() for _ in range(5)] + [
            client.get("/b", params={"q": 3}).json() for _ in range(5)
        ]
        with client.websocket_connect("/ws") as websocket:
            answers.append(websocket.receive_json())
        assert len({a["id"] for a in answers}) == 1
        assert {a["pool"] for a in answers} == {"pool"}
        assert answers[5] == {"route": "b", "pool": "pool", "id": answers[0]["id"], "q": 3}
        assert events == ["app startup", "settings", "pool open postgresql://example"]
    # Closed before the app's own shutdown, so what it needs still exists.
    assert events[3:] == ["pool close", "app shutdown"]


def test_a_validation_error_still_gets_the_422_and_no_new_value() -> None:
    events: list[str] = []
    app, _ = make_app(events)
    with TestClient(app) as client:
        response = client.get("/b", params={"q": "x"})
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["query", "q"]
    assert events.count("pool open postgresql://example") == 1


def test_an_override_set_before_startup_is_what_startup_creates() -> None:
    events: list[str] = []
    app, get_pool = make_app(events)

    async def fake_pool() -> AsyncIterator[dict[str, Any]]:
        events.append("fake open")
        yield {"name": "fake"}
        events.append("fake close")

    app.dependency_overrides[get_pool] = fake_pool
    with TestClient(app) as client:
        assert client.get("/a").json()["pool"] == "fake"
        assert client.get("/b").json()["pool"] == "fake"
    # The real pool (and its settings) never opened.
    assert events == ["app startup", "fake open", "fake close", "app shutdown"]


def test_an_override_set_after_startup_is_created_on_first_use_and_closed_at_shutdown() -> None:
    events: list[str] = []
    app, get_pool = make_app(events)

    def fake_pool() -> Iterator[dict[str, Any]]:  # a sync generator: run on the worker pool
        events.append("fake open")
        yield {"name": "fake"}
        events.append("fake close")

    with TestClient(app) as client:
        assert client.get("/a").json()["pool"] == "pool"
        app.dependency_overrides[get_pool] = fake_pool
        assert [client.get("/a").json()["pool"] for _ in range(3)] == ["fake"] * 3
        app.dependency_overrides.clear()
        assert client.get("/a").json()["pool"] == "pool"
    assert events.count("fake open") == 1
    assert events[-3:] == ["fake close", "pool close", "app shutdown"] or events[-3:] == [
        "pool close",
        "fake close",
        "app shutdown",
    ]


def test_without_a_lifespan_the_value_is_created_once_on_first_use() -> None:
    calls: list[int] = []

    def get_client() -> dict[str, int]:  # a plain sync function
        calls.append(1)
        return {"n": len(calls)}

    app = FastAPI()

    @app.get("/")
    async def root(client: Annotated[dict[str, int], Depends(get_client, scope="lifespan")]) -> Any:
        await asyncio.sleep(0.01)
        return client

    client = TestClient(app)  # not entered: no lifespan
    assert [client.get("/").json() for _ in range(3)] == [{"n": 1}] * 3
    assert calls == [1]


async def test_two_first_requests_at_once_make_one_call() -> None:
    calls: list[int] = []

    async def slow_resource() -> int:
        calls.append(1)
        await asyncio.sleep(0.05)
        return 42

    app = FastAPI()

    @app.get("/")
    async def root(value: Annotated[int, Depends(slow_resource, scope="lifespan")]) -> int:
        return value

    import httpx

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        answers = await asyncio.gather(*(client.get("/") for _ in range(10)))
    assert [a.json() for a in answers] == [42] * 10
    assert calls == [1]


def test_a_failing_lifespan_dependency_fails_the_startup() -> None:
    async def broken() -> AsyncIterator[None]:
        raise ConnectionRefusedError("database unreachable")
        yield  # pragma: no cover

    app = FastAPI()

    @app.get("/")
    async def root(value: Annotated[None, Depends(broken, scope="lifespan")]) -> None:
        return value

    with pytest.raises(ConnectionRefusedError, match="database unreachable"):
        with TestClient(app):
            pass


def test_request_parameters_are_refused_at_definition() -> None:
    def per_request(q: int) -> int:
        return q

    app = FastAPI()
    with pytest.raises(
        DependencyScopeError, match=r'"per_request" has a scope of "lifespan".*\(q\)'
    ):

        @app.get("/")
        async def root(value: Annotated[int, Depends(per_request, scope="lifespan")]) -> int:
            return value


def test_a_lifespan_dependency_cannot_depend_on_a_request_one() -> None:
    def per_request() -> int:
        return 1

    def pool(value: Annotated[int, Depends(per_request)]) -> int:
        return value

    app = FastAPI()
    with pytest.raises(DependencyScopeError, match=r'cannot depend on\s+"per_request"'):

        @app.get("/")
        async def root(value: Annotated[int, Depends(pool, scope="lifespan")]) -> int:
            return value


def test_request_scoped_dependencies_may_use_a_lifespan_one() -> None:
    events: list[str] = []

    async def pool() -> AsyncIterator[str]:
        events.append("pool open")
        yield "pool"
        events.append("pool close")

    async def connection(
        p: Annotated[str, Depends(pool, scope="lifespan")],
    ) -> AsyncIterator[str]:
        events.append("acquire")
        yield f"connection from {p}"
        events.append("release")

    app = FastAPI()

    @app.get("/")
    async def root(conn: Annotated[str, Depends(connection)]) -> str:
        return conn

    with TestClient(app) as client:
        assert client.get("/").json() == "connection from pool"
        assert client.get("/").json() == "connection from pool"
    assert events == ["pool open", "acquire", "release", "acquire", "release", "pool close"]


def test_the_openapi_document_does_not_show_lifespan_dependencies() -> None:
    app, _ = make_app([])
    paths = TestClient(app).get("/openapi.json").json()["paths"]
    assert [p["name"] for p in paths["/b"]["get"]["parameters"]] == ["q"]
    assert "parameters" not in paths["/a"]["get"]
