"""Extensions change routes after they were built; the change takes effect.

The patterns are the ones real extensions use: fastapi-pagination appends a ``yield``
dependency to ``route.dependant.dependencies``, recomputes ``route.body_field`` and sets
``route.app = request_response(route.get_route_handler())``; others only append, or
replace ``route.dependant`` (or its ``call``), and rely on the app picking it up; sentry-sdk
replaces ``fastapi.routing.get_request_handler``.  Routes stay compiled once: a changed
tree is recompiled at startup or on its next request, and a route whose tree did not
change keeps its plan.
"""

from collections.abc import Iterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import pytest

from aster import Depends, FastAPI, Query, Request, WebSocket
from aster.dependencies.models import CHANGES

# The imports fastapi-pagination makes (fastapi.dependencies.utils is this module).
from aster.dependencies.utils import _get_body_field as get_body_field
from aster.dependencies.utils import _get_flat_body_params as get_flat_body_params
from aster.dependencies.utils import get_dependant, get_parameterless_sub_dependant
from aster.routing import APIRoute, request_response
from aster.testclient import TestClient

EVENTS: list[str] = []


@pytest.fixture(autouse=True)
def clear_events() -> Iterator[None]:
    EVENTS.clear()
    yield
    EVENTS.clear()


def route_of(app: FastAPI, path: str) -> APIRoute:
    return next(r for r in app.routes if isinstance(r, APIRoute) and r.path == path)


async def paging(page: Annotated[int, Query(ge=1)] = 1):
    EVENTS.append(f"enter {page}")
    try:
        yield {"page": page}
    finally:
        EVENTS.append("exit")


def make_app() -> FastAPI:
    app = FastAPI()

    @app.get("/items")
    async def items(request: Request):
        return {"paging": request.scope.get("paging")}

    @app.get("/other")
    async def other():
        return {"ok": True}

    return app


def paging_into_scope():
    """A dependency that records what the appended one produced (it has no parameter)."""

    async def dependency(request: Request, value: Annotated[dict, Depends(paging)]):
        request.scope["paging"] = value

    return dependency


def test_pagination_pattern_append_recompute_body_and_rebuild_app() -> None:
    app = make_app()
    route = route_of(app, "/items")
    with TestClient(app) as client:
        assert client.get("/items").json() == {"paging": None}
        dep = Depends(paging_into_scope())
        route.dependencies.append(dep)
        route.dependant.dependencies.append(
            get_parameterless_sub_dependant(depends=dep, path=route.path_format)
        )
        route.body_field = get_body_field(
            body_params=get_flat_body_params(route.dependant),
            name=route.unique_id,
            embed_body_fields=route._embed_body_fields,
        )
        route.app = request_response(route.get_route_handler())
        response = client.get("/items", params={"page": 3})
        assert response.status_code == 200
        assert response.json() == {"paging": {"page": 3}}
        assert EVENTS == ["enter 3", "exit"]
        bad = client.get("/items", params={"page": 0})
        assert bad.status_code == 422
        assert bad.json()["detail"][0]["loc"] == ["query", "page"]


def test_appending_a_dependency_is_picked_up_without_rebuilding() -> None:
    app = make_app()
    route = route_of(app, "/items")
    with TestClient(app) as client:
        assert client.get("/items").json() == {"paging": None}  # the fast path, no stacks
        route.dependant.dependencies.append(
            get_parameterless_sub_dependant(depends=Depends(paging_into_scope()), path="/items")
        )
        assert client.get("/items", params={"page": 2}).json() == {"paging": {"page": 2}}
        # A yield dependency: the exit stacks opened although the route had none before.
        assert EVENTS == ["enter 2", "exit"]
        assert client.get("/items", params={"page": "x"}).status_code == 422


def test_a_change_deep_in_the_tree_is_picked_up() -> None:
    app = FastAPI()

    async def inner():
        return "inner"

    async def outer(value: Annotated[str, Depends(inner)]):
        return value

    @app.get("/")
    async def endpoint(value: Annotated[str, Depends(outer)]):
        return value

    route = route_of(app, "/")
    with TestClient(app) as client:
        assert client.get("/").json() == "inner"
        leaf = route.dependant.dependencies[0].dependencies[0]

        async def replacement():
            return "replaced"

        leaf.call = replacement
        assert client.get("/").json() == "replaced"


def test_replacing_route_dependant_and_its_call() -> None:
    app = FastAPI()

    @app.get("/")
    async def endpoint():
        return "original"

    async def with_query(q: int):
        return {"q": q}

    route = route_of(app, "/")
    with TestClient(app) as client:
        assert client.get("/").json() == "original"
        route.dependant = get_dependant(path="/", call=with_query)
        assert client.get("/", params={"q": 5}).json() == {"q": 5}
        assert client.get("/").status_code == 422

        async def again(q: int):
            return {"again": q}

        route.dependant.call = again  # the same parameters, read as before
        assert client.get("/", params={"q": 6}).json() == {"again": 6}


def test_changes_made_in_the_lifespan_are_compiled_at_startup() -> None:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        route = route_of(app, "/items")
        route.dependant.dependencies.append(
            get_parameterless_sub_dependant(depends=Depends(paging_into_scope()), path="/items")
        )
        yield

    app = FastAPI(lifespan=lifespan)

    @app.get("/items")
    async def items(request: Request):
        return {"paging": request.scope.get("paging")}

    route = route_of(app, "/items")
    before = route._plans.plan
    with TestClient(app) as client:
        # Compiled when the startup finished, not at the first request.
        compiled = route._plans.plan
        assert compiled is not before
        assert len(compiled.steps) == len(before.steps) + 2
        assert route._plans.seen == CHANGES[0]
        assert client.get("/items", params={"page": 4}).json() == {"paging": {"page": 4}}
        assert route._plans.plan is compiled


def test_a_route_whose_tree_did_not_change_keeps_its_plan() -> None:
    app = make_app()
    changed, untouched = route_of(app, "/items"), route_of(app, "/other")
    with TestClient(app) as client:
        kept = untouched._plans.plan
        changed.dependant.dependencies.append(
            get_parameterless_sub_dependant(depends=Depends(paging_into_scope()), path="/items")
        )
        assert client.get("/other").json() == {"ok": True}
        assert untouched._plans.plan is kept
        assert untouched._plans.seen == CHANGES[0]


def test_dependency_overrides_set_after_requests_apply() -> None:
    app = FastAPI()

    async def original():
        return "original"

    @app.get("/")
    async def endpoint(value: Annotated[str, Depends(original)]):
        return value

    async def replacement():
        return "replacement"

    async def yielding():
        EVENTS.append("enter")
        yield "yielding"
        EVENTS.append("exit")

    with TestClient(app) as client:
        assert client.get("/").json() == "original"
        assert client.get("/").json() == "original"  # now on the fast path
        app.dependency_overrides[original] = replacement
        assert client.get("/").json() == "replacement"
        app.dependency_overrides = {original: yielding}  # replaced, not changed
        assert client.get("/").json() == "yielding"
        assert EVENTS == ["enter", "exit"]
        app.dependency_overrides.clear()
        assert client.get("/").json() == "original"
        app.dependency_overrides = {}
        assert client.get("/").json() == "original"
        app.dependency_overrides.update({original: replacement})
        assert client.get("/").json() == "replacement"
        del app.dependency_overrides[original]
        assert client.get("/").json() == "original"


class UntrackedOverrides:
    """A dependency-overrides provider that is not a FastAPI app (its dict is plain)."""

    def __init__(self) -> None:
        self.dependency_overrides: dict[Any, Any] = {}


def test_an_untracked_overrides_provider_is_asked_on_every_request() -> None:
    from aster import APIRouter

    provider = UntrackedOverrides()
    router = APIRouter(dependency_overrides_provider=provider)

    async def original():
        return "original"

    @router.get("/")
    async def endpoint(value: Annotated[str, Depends(original)]):
        return value

    async def replacement():
        return "replacement"

    app = FastAPI()
    app.router.routes.extend(router.routes)
    with TestClient(app) as client:
        assert client.get("/").json() == "original"
        assert client.get("/").json() == "original"
        provider.dependency_overrides[original] = replacement  # records nothing
        assert client.get("/").json() == "replacement"


class LoggingRoute(APIRoute):
    """FastAPI's documented custom route class: wraps the original handler."""

    def get_route_handler(self):
        original = super().get_route_handler()

        async def handler(request: Request):
            EVENTS.append("custom")
            return await original(request)

        return handler


def test_a_custom_route_class_picks_up_changes() -> None:
    app = FastAPI()
    app.router.route_class = LoggingRoute

    @app.get("/items")
    async def items(request: Request):
        return {"paging": request.scope.get("paging")}

    route = route_of(app, "/items")
    with TestClient(app) as client:
        assert client.get("/items").json() == {"paging": None}
        route.dependant.dependencies.append(
            get_parameterless_sub_dependant(depends=Depends(paging_into_scope()), path="/items")
        )
        assert client.get("/items", params={"page": 7}).json() == {"paging": {"page": 7}}
        assert EVENTS == ["custom", "custom", "enter 7", "exit"]


def test_a_websocket_route_picks_up_an_appended_dependency() -> None:
    app = FastAPI()

    @app.websocket("/ws")
    async def ws(websocket: WebSocket):
        await websocket.accept()
        await websocket.send_json(websocket.scope.get("paging"))
        await websocket.close()

    route = next(r for r in app.routes if getattr(r, "path", None) == "/ws")
    with TestClient(app) as client:
        with client.websocket_connect("/ws") as session:
            assert session.receive_json() is None

        async def into_scope(websocket: WebSocket, value: Annotated[dict, Depends(paging)]):
            websocket.scope["paging"] = value

        route.dependant.dependencies.append(
            get_parameterless_sub_dependant(depends=Depends(into_scope), path="/ws")
        )
        with client.websocket_connect("/ws?page=9") as session:
            assert session.receive_json() == {"page": 9}
    assert EVENTS == ["enter 9", "exit"]


def test_fastapi_routing_get_request_handler_replaced_like_sentry_does() -> None:
    import aster.routing as fastapi_routing

    original = fastapi_routing.get_request_handler

    def wrapping_get_request_handler(*args: Any, **kwargs: Any) -> Any:
        dependant = kwargs["dependant"]
        inner_call = dependant.call

        async def wrapped(**values: Any) -> Any:
            EVENTS.append("wrapped call")
            return await inner_call(**values)

        dependant.call = wrapped
        handler = original(*args, **kwargs)

        async def outer(request: Request) -> Any:
            EVENTS.append("wrapped handler")
            return await handler(request)

        return outer

    fastapi_routing.get_request_handler = wrapping_get_request_handler
    try:
        app = FastAPI()

        @app.get("/")
        async def endpoint(q: int = 1):
            return {"q": q}

        with TestClient(app) as client:
            assert client.get("/", params={"q": 2}).json() == {"q": 2}
    finally:
        fastapi_routing.get_request_handler = original
    import aster.api_routing

    assert aster.api_routing.get_request_handler is original
    assert EVENTS == ["wrapped handler", "wrapped call"]


def test_starlette_routing_request_response_replaced_like_sentry_does() -> None:
    import aster._routes
    import aster._starlette_routing as starlette_routing
    from aster._response import PlainTextResponse
    from aster._routes import Route
    from aster._starlette_applications import Starlette

    original = starlette_routing.request_response

    def patched(func: Any) -> Any:
        app = original(func)

        async def wrapped(scope: Any, receive: Any, send: Any) -> None:
            EVENTS.append("patched")
            await app(scope, receive, send)

        return wrapped

    starlette_routing.request_response = patched
    try:
        app = Starlette(routes=[Route("/", lambda request: PlainTextResponse("hi"))])
        with TestClient(app) as client:
            assert client.get("/").text == "hi"
    finally:
        starlette_routing.request_response = original
    assert aster._routes.request_response is original
    assert EVENTS == ["patched"]
