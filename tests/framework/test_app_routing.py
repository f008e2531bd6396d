"""Routing: APIRouter and include_router, order, redirects, convertors, mounts, url_for, scale.

``REQUESTS`` are answered byte for byte as FastAPI 0.165 answers them (``EXPECTED``
was recorded from it: see tests/framework/recorded.py).
"""

from __future__ import annotations

import asyncio
import time
import uuid
import warnings
from typing import Annotated, Any

import pytest

from aster import APIRouter, Depends, FastAPI, Header, HTTPException, Request
from aster.exceptions import FastAPIError
from aster.responses import PlainTextResponse
from aster.routing import APIRoute, Mount, NoMatchFound
from aster.testclient import TestClient

from .recorded import Expected, check, ids
from .recorded import Request as Req

app = FastAPI()


@app.get("/users/{user_id}")
def user(user_id: str):
    return {"user_id": user_id}


@app.get("/users/me")
def me():
    return {"user_id": "the current user"}


@app.get("/files/me")
def my_files():
    return {"files": "mine"}


@app.get("/files/{name}")
def files(name: str):
    return {"name": name}


@app.get("/conv/int/{v:int}")
def convert_int(v: int):
    return {"v": v, "type": type(v).__name__}


@app.get("/conv/float/{v:float}")
def convert_float(v: float):
    return {"v": v}


@app.get("/conv/uuid/{v:uuid}")
def convert_uuid(v: uuid.UUID):
    return {"v": str(v), "type": type(v).__name__}


@app.get("/conv/path/{v:path}")
def convert_path(v: str):
    return {"v": v}


@app.get("/conv/str/{v:str}/x")
def convert_str(v: str):
    return {"v": v}


@app.get("/conv/many/{a:int}-{b}/{rest:path}")
def convert_many(a: int, b: str, rest: str):
    return {"a": a, "b": b, "rest": rest}


@app.get("/slash/")
def slash():
    return {"slash": True}


@app.get("/no-slash")
def no_slash():
    return {"slash": False}


@app.post("/post-slash/")
def post_slash():
    return {"post": True}


@app.get("/later/{x}")
def later_get(x: str):
    return {"route": "get", "x": x}


@app.post("/later/special")
def later_post():
    return {"route": "post-special"}


items = APIRouter(prefix="/items", tags=["items"], responses={404: {"description": "Not found"}})


@items.get("/")
async def read_items():
    return {"items": ["a"]}


@items.get("/{item_id}", tags=["one"], responses={403: {"description": "Forbidden"}})
async def read_item(item_id: str, request: Request):
    route = request.scope["route"]
    return {
        "item_id": item_id,
        "path": route.path,
        "tags": route.tags,
        "responses": {str(code): value for code, value in route.responses.items()},
    }


inner = APIRouter()


@inner.get("/leaf", name="leaf-route")
async def leaf(request: Request):
    return {
        "url": str(request.url_for("leaf-route")),
        "path": app.url_path_for("leaf-route"),
        "other": str(request.url_for("convert_int", v=5)),
    }


outer = APIRouter(prefix="/outer")
outer.include_router(inner, prefix="/inner")
app.include_router(items)
app.include_router(outer, prefix="/api", tags=["api"])


async def raw_asgi(scope: Any, receive: Any, send: Any) -> None:
    body = f"{scope['path']}|{scope['root_path']}|{scope.get('app_root_path')}".encode()
    await send(
        {"type": "http.response.start", "status": 200,
         "headers": [(b"content-type", b"text/plain")]}
    )  # fmt: skip
    await send({"type": "http.response.body", "body": body})


app.mount("/raw", raw_asgi)

sub = FastAPI()


@sub.get("/sub")
def sub_route(request: Request):
    return {
        "path": request.url.path,
        "root_path": request.scope["root_path"],
        "url_for": str(request.url_for("sub_route")),
    }


app.mount("/subapi", sub)

with warnings.catch_warnings():  # FastAPI 0.165 deprecates root_path=
    warnings.simplefilter("ignore")
    proxied = FastAPI(root_path="/proxy")


@proxied.get("/x")
def proxied_x(request: Request):
    return {
        "root_path": request.scope["root_path"],
        "url": str(request.url),
        "url_for": str(request.url_for("proxied_x")),
    }


app.mount("/proxied", proxied)

strict_slashes = FastAPI(redirect_slashes=False)


@strict_slashes.get("/a/")
def strict_a():
    return {}


app.mount("/strict", strict_slashes)


@app.get("/url-for-unknown")
def url_for_unknown(request: Request):
    return {"x": str(request.url_for("nope"))}


@app.get("/url")
def url(request: Request):
    return {"url": str(request.url), "base": str(request.base_url)}


REQUESTS: list[Req] = [
    ("first-registered-wins", "GET", "/users/me", {}),
    ("param-route", "GET", "/users/1", {}),
    ("static-first", "GET", "/files/me", {}),
    ("static-first-param", "GET", "/files/other", {}),
    ("int", "GET", "/conv/int/42", {}),
    ("int-negative", "GET", "/conv/int/-1", {}),
    ("int-no-match", "GET", "/conv/int/x", {}),
    ("float", "GET", "/conv/float/1.5", {}),
    ("float-needs-a-dot", "GET", "/conv/float/2", {}),
    ("uuid", "GET", "/conv/uuid/12345678-1234-5678-1234-567812345678", {}),
    ("uuid-no-match", "GET", "/conv/uuid/123", {}),
    ("path", "GET", "/conv/path/a/b/c", {}),
    ("path-empty", "GET", "/conv/path/", {}),
    ("str", "GET", "/conv/str/hello/x", {}),
    ("str-no-slash", "GET", "/conv/str/a/b/x", {}),
    ("many", "GET", "/conv/many/3-b/c/d", {}),
    ("redirect-add-slash", "GET", "/slash", {"follow_redirects": False}),
    ("redirect-followed", "GET", "/slash", {}),
    ("redirect-strip-slash", "GET", "/no-slash/", {"follow_redirects": False}),
    ("redirect-keeps-query", "GET", "/slash?a=1", {"follow_redirects": False}),
    ("redirect-post", "POST", "/post-slash", {"follow_redirects": False}),
    ("later-full-match-beats-partial", "POST", "/later/special", {}),
    ("later-get", "GET", "/later/special", {}),
    ("later-405", "PUT", "/later/special", {}),
    ("router", "GET", "/items/", {}),
    ("router-redirect", "GET", "/items", {"follow_redirects": False}),
    ("router-param", "GET", "/items/foo", {}),
    ("nested-routers", "GET", "/api/outer/inner/leaf", {}),
    ("mount-asgi", "GET", "/raw/a/b?x=1", {}),
    ("mount-asgi-root", "GET", "/raw", {}),
    ("mount-asgi-root-slash", "GET", "/raw/", {}),
    ("mount-app", "GET", "/subapi/sub", {}),
    ("mount-app-404", "GET", "/subapi/nope", {}),
    ("root-path", "GET", "/proxied/x", {}),
    ("no-redirect-slashes", "GET", "/strict/a", {}),
    ("no-redirect-slashes-ok", "GET", "/strict/a/", {}),
    ("url", "GET", "/url?a=1&b=%20", {}),
    ("double-slash", "GET", "//users/me", {}),
    ("encoded-space", "GET", "/users/a%20b", {}),
    ("encoded-slash", "GET", "/users/a%2Fb", {}),
]  # fmt: skip

# BEGIN RECORDED (scripts/record_fastapi_expectations.py; fastapi 0.165.0, starlette 1.10.0)
EXPECTED: dict[str, Expected] = {
    "first-registered-wins": (200, "application/json", b'{"user_id":"me"}'),
    "param-route": (200, "application/json", b'{"user_id":"1"}'),
    "static-first": (200, "application/json", b'{"files":"mine"}'),
    "static-first-param": (200, "application/json", b'{"name":"other"}'),
    "int": (200, "application/json", b'{"v":42,"type":"int"}'),
    "int-negative": (404, "application/json", b'{"detail":"Not Found"}'),
    "int-no-match": (404, "application/json", b'{"detail":"Not Found"}'),
    "float": (200, "application/json", b'{"v":1.5}'),
    "float-needs-a-dot": (200, "application/json", b'{"v":2.0}'),
    "uuid": (
        200,
        "application/json",
        b'{"v":"12345678-1234-5678-1234-567812345678","type":"UUID"}',
    ),
    "uuid-no-match": (404, "application/json", b'{"detail":"Not Found"}'),
    "path": (200, "application/json", b'{"v":"a/b/c"}'),
    "path-empty": (200, "application/json", b'{"v":""}'),
    "str": (200, "application/json", b'{"v":"hello"}'),
    "str-no-slash": (404, "application/json", b'{"detail":"Not Found"}'),
    "many": (200, "application/json", b'{"a":3,"b":"b","rest":"c/d"}'),
    "redirect-add-slash": (307, None, b""),
    "redirect-followed": (200, "application/json", b'{"slash":true}'),
    "redirect-strip-slash": (307, None, b""),
    "redirect-keeps-query": (307, None, b""),
    "redirect-post": (307, None, b""),
    "later-full-match-beats-partial": (200, "application/json", b'{"route":"post-special"}'),
    "later-get": (200, "application/json", b'{"route":"get","x":"special"}'),
    "later-405": (405, "application/json", b'{"detail":"Method Not Allowed"}'),
    "router": (200, "application/json", b'{"items":["a"]}'),
    "router-redirect": (307, None, b""),
    "router-param": (
        200,
        "application/json",
        (
            b'{"item_id":"foo","path":"/items/{item_id}","tags":["items","one"'
            b'],"responses":{"404":{"description":"Not found"},"403":{"descrip'
            b'tion":"Forbidden"}}}'
        ),
    ),
    "nested-routers": (
        200,
        "application/json",
        (
            b'{"url":"http://testserver/api/outer/inner/leaf","path":"/api/out'
            b'er/inner/leaf","other":"http://testserver/conv/int/5"}'
        ),
    ),
    "mount-asgi": (200, "text/plain", b"/raw/a/b|/raw|"),
    "mount-asgi-root": (200, "text/plain", b"/raw/|/raw|"),
    "mount-asgi-root-slash": (200, "text/plain", b"/raw/|/raw|"),
    "mount-app": (
        200,
        "application/json",
        (b'{"path":"/subapi/sub","root_path":"/subapi","url_for":"http://testserver/subapi/sub"}'),
    ),
    "mount-app-404": (404, "application/json", b'{"detail":"Not Found"}'),
    "root-path": (404, "application/json", b'{"detail":"Not Found"}'),
    "no-redirect-slashes": (404, "application/json", b'{"detail":"Not Found"}'),
    "no-redirect-slashes-ok": (200, "application/json", b"{}"),
    "url": (
        200,
        "application/json",
        (b'{"url":"http://testserver/url?a=1&b=%20","base":"http://testserver/"}'),
    ),
    "double-slash": (404, "application/json", b'{"detail":"Not Found"}'),
    "encoded-space": (200, "application/json", b'{"user_id":"a b"}'),
    "encoded-slash": (404, "application/json", b'{"detail":"Not Found"}'),
}
# END RECORDED


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize("request_", REQUESTS, ids=ids(REQUESTS))
def test_answers_as_fastapi_does(client: TestClient, request_: Req) -> None:
    check(client, request_, EXPECTED)


def test_every_request_was_recorded() -> None:
    assert sorted(EXPECTED) == sorted(ids(REQUESTS))


# -- beyond the table ----------------------------------------------------------------------


def test_redirect_location(client: TestClient) -> None:
    response = client.get("/slash?a=1", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (
        307,
        "http://testserver/slash/?a=1",
    )
    response = client.get("/no-slash/", follow_redirects=False)
    assert response.headers["location"] == "http://testserver/no-slash"


def test_convertors_give_typed_values(client: TestClient) -> None:
    assert client.get("/conv/int/42").json() == {"v": 42, "type": "int"}
    assert client.get("/conv/float/1.5").json() == {"v": 1.5}
    value = "12345678-1234-5678-1234-567812345678"
    assert client.get(f"/conv/uuid/{value}").json() == {"v": value, "type": "UUID"}
    assert client.get("/conv/path/a/b/").json() == {"v": "a/b/"}


def test_include_router_merges_prefix_tags_and_responses(client: TestClient) -> None:
    # The route a request reaches carries the merged settings of every level.
    assert client.get("/items/foo").json() == {
        "item_id": "foo",
        "path": "/items/{item_id}",
        "tags": ["items", "one"],
        "responses": {"404": {"description": "Not found"}, "403": {"description": "Forbidden"}},
    }
    assert client.get("/api/outer/inner/leaf").json()["path"] == "/api/outer/inner/leaf"


def test_mount_of_asgi_app_scope(client: TestClient) -> None:
    assert client.get("/raw/a/b").text == "/raw/a/b|/raw|"
    assert client.get("/subapi/sub").json() == {
        "path": "/subapi/sub",
        "root_path": "/subapi",
        "url_for": "http://testserver/subapi/sub",
    }


def test_root_path_setting() -> None:
    response = TestClient(proxied).get("/x")
    assert response.json() == {
        "root_path": "/proxy",
        # The request was for /x: root_path names where the app is mounted.
        "url": "http://testserver/x",
        "url_for": "http://testserver/proxy/x",
    }
    # A client-side root_path (a proxy stripping a prefix) is honoured as well.
    response = TestClient(sub, root_path="/mounted").get("/sub")
    assert response.json()["url_for"] == "http://testserver/mounted/sub"


def test_url_path_for() -> None:
    assert app.url_path_for("convert_int", v=3) == "/conv/int/3"
    assert app.url_path_for("leaf-route") == "/api/outer/inner/leaf"
    assert app.url_path_for("convert_path", v="a/b") == "/conv/path/a/b"
    with pytest.raises(NoMatchFound):
        app.url_path_for("nope")
    with pytest.raises(NoMatchFound):
        app.url_path_for("convert_int")  # missing parameter
    other = FastAPI()
    other.mount("/static", raw_asgi, name="static")
    assert other.url_path_for("static", path="/css/a.css") == "/static/css/a.css"
    assert isinstance(other.routes[-1], Mount)


def test_routes_added_after_the_first_request_are_served() -> None:
    other = FastAPI()

    @other.get("/a")
    def first() -> str:
        return "a"

    client = TestClient(other)
    assert client.get("/b").status_code == 404

    @other.get("/b")
    def second() -> str:
        return "b"

    assert client.get("/b").json() == "b"
    other.router.routes.insert(0, APIRoute("/b", lambda: "inserted", methods=["GET"]))
    assert client.get("/b").json() == "inserted"


def _asgi_get(target: Any, path: str) -> Any:
    """One GET through the ASGI app, without a client: returns the response body."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"t")],
        "client": ("127.0.0.1", 1),
        "server": ("t", 80),
    }
    body: list[bytes] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            body.append(message.get("body", b""))

    async def run() -> None:
        await target(scope, receive, send)

    return run, body


def test_thousands_of_routes_match_in_flat_time() -> None:
    big = FastAPI()
    count = 1000  # 2000 routes
    for i in range(count):

        async def endpoint(item_id: int, i: int = i) -> PlainTextResponse:
            return PlainTextResponse(f"{i}:{item_id}")

        big.add_api_route(f"/r{i}/items/{{item_id}}", endpoint, methods=["GET"])
        big.add_api_route(f"/s{i}/static", endpoint, methods=["GET"])

    first, first_body = _asgi_get(big, "/r0/items/7")
    last, last_body = _asgi_get(big, f"/r{count - 1}/items/7")
    miss, miss_body = _asgi_get(big, "/zzz/nothing")

    async def timed(run: Any, n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            await run()
        return time.perf_counter() - start

    async def measure() -> tuple[float, float, float]:
        for run in (first, last, miss):  # warm up (builds the index)
            await run()
        best = [float("inf")] * 3
        for _ in range(5):
            for k, run in enumerate((first, last, miss)):
                best[k] = min(best[k], await timed(run, 1000))
        return best[0], best[1], best[2]

    t_first, t_last, t_miss = asyncio.run(measure())
    assert first_body[-1] == b"0:7"
    assert last_body[-1] == f"{count - 1}:7".encode()
    assert b"Not Found" in miss_body[-1]
    # An index lookup costs the same wherever the route is; a scan of 2000 routes would
    # make the last one (and a miss) tens of times slower than the first.
    assert t_last < 3 * t_first, (t_first, t_last)
    assert t_miss < 3 * t_first, (t_first, t_miss)


def test_first_registered_wins_among_thousands() -> None:
    big = FastAPI()
    for i in range(500):
        big.add_api_route(f"/n{i}/{{x}}", lambda x, i=i: {"param": i}, methods=["GET"])
        big.add_api_route(f"/n{i}/me", lambda i=i: {"static": i}, methods=["GET"])
    big.add_api_route("/{anything:path}", lambda anything: {"catch": anything}, methods=["GET"])
    client = TestClient(big)
    assert client.get("/n499/me").json() == {"param": 499}
    assert client.get("/n250/x").json() == {"param": 250}
    assert client.get("/n500/me").json() == {"catch": "n500/me"}
    assert client.post("/n3/me").status_code == 405


@pytest.mark.parametrize("where", ["route", "router", "include", "app"])
def test_parameterless_dependencies(where: str) -> None:
    calls: list[str] = []

    async def verify_token(x_token: Annotated[str, Header()]) -> None:
        calls.append(x_token)
        if x_token != "secret":
            raise HTTPException(status_code=400, detail="X-Token header invalid")

    deps = [Depends(verify_token)]
    other = FastAPI(dependencies=deps if where == "app" else None)
    router = APIRouter(dependencies=deps if where == "router" else None)

    @router.get("/items", dependencies=deps if where == "route" else None)
    async def read_items() -> dict[str, list[str]]:
        return {"items": ["a"]}

    other.include_router(router, dependencies=deps if where == "include" else None)
    client = TestClient(other)
    response = client.get("/items", headers={"x-token": "bad"})
    assert (response.status_code, response.json()) == (400, {"detail": "X-Token header invalid"})
    response = client.get("/items")
    assert response.status_code == 422
    response = client.get("/items", headers={"x-token": "secret"})
    assert (response.status_code, response.json()) == (200, {"items": ["a"]})
    assert calls == ["bad", "secret"]


def test_routes_added_to_an_included_router_later_are_served() -> None:
    router = APIRouter(prefix="/r")
    other = FastAPI()
    other.include_router(router, prefix="/p")

    @router.get("/late")
    async def late() -> dict[str, bool]:
        return {"late": True}

    assert TestClient(other).get("/p/r/late").json() == {"late": True}


def test_late_routes_keep_their_place_and_reach_every_level() -> None:
    inner = APIRouter()
    middle = APIRouter()
    middle.include_router(inner, prefix="/in")
    outer = FastAPI()
    outer.include_router(middle, prefix="/mid")

    @outer.get("/mid/in/{item}")
    async def catch_all(item: str) -> str:
        return "outer"

    @inner.get("/{item}")
    async def late(item: str) -> str:
        return f"inner {item}"

    @middle.get("/direct")
    async def direct() -> str:
        return "middle"

    client = TestClient(outer)
    # The late inner route sits where ``include_router`` put inner's block, before the
    # outer route registered after the inclusion, so it wins as it does in FastAPI.
    assert client.get("/mid/in/x").json() == "inner x"
    assert client.get("/mid/direct").json() == "middle"
    paths = [route.path for route in outer.routes if isinstance(route, APIRoute)]
    assert paths == ["/mid/in/{item}", "/mid/direct", "/mid/in/{item}"]
    assert [r.endpoint for r in outer.routes if getattr(r, "path", "") == "/mid/in/{item}"] == [
        late,
        catch_all,
    ]


def test_late_routes_with_empty_path_and_prefix_are_refused() -> None:
    router = APIRouter()
    app = FastAPI()  # kept alive: an inclusion into an app that was collected stops
    app.include_router(router)
    with pytest.raises(FastAPIError, match="Prefix and path cannot be both empty"):
        router.get("")(lambda: None)


def test_root_path_parameter_is_deprecated() -> None:
    from aster.exceptions import FastAPIDeprecationWarning

    with pytest.warns(FastAPIDeprecationWarning, match="The `root_path` parameter is deprecated"):
        FastAPI(root_path="/api")
