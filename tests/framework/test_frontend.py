"""``app.frontend()`` / ``router.frontend()``: a built frontend served after the path operations.

Statuses, bodies and headers are FastAPI 0.165's: this module also runs on the real FastAPI
(``scripts/record_fastapi_expectations.py`` as a pytest plugin) and passes there, except
``test_other_methods_are_refused`` on its ``Allow`` header, which aster adds to the 405 as
RFC 9110 (15.5.6) requires and FastAPI leaves out, and
``test_an_includes_body_limit_covers_its_frontend``: FastAPI answers 413 too (its own
test says so) but its limit also raises "response already started" into the TestClient.
FastAPI's own tests for the feature (tests/test_frontend.py of its sdist) run through
``make compat``.  Over a real socket: tests/test_frontend_server.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import mimetypes
import os
import warnings
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest

from aster import APIRouter, BackgroundTasks, Depends, FastAPI, HTTPException, Request, Response
from aster.testclient import TestClient
from aster.websockets import WebSocket, WebSocketDisconnect

from .asgi import call, make_scope

MTIME = 1_381_448_400.0  # 2013-10-10 23:40:00 UTC
LAST_MODIFIED = "Thu, 10 Oct 2013 23:40:00 GMT"
HTML = "text/html; charset=utf-8"
NOT_FOUND = {"detail": "Not Found"}
SHELL = "<html>shell</html>"
MISSING_PAGE = "<h1>no such page</h1>"
APP_JS = "console.log('app')"
NAVIGATION = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.utime(path, (MTIME, MTIME))
    return path


def etag_of(path: Path) -> str:
    st = path.stat()
    return '"' + hashlib.md5(f"{st.st_mtime}-{st.st_size}".encode()).hexdigest() + '"'


def build(root: Path, *, index: bool = True, page_404: bool = False) -> Path:
    """A build output: assets, a nested page, an empty folder, optionally the fallbacks."""
    dist = root / "dist"
    write(dist / "assets" / "app.js", APP_JS)
    write(dist / "about" / "index.html", "<p>about</p>")
    (dist / "empty").mkdir()
    if index:
        write(dist / "index.html", SHELL)
    if page_404:
        write(dist / "404.html", MISSING_PAGE)
    return dist


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    return build(tmp_path)


def client_for(dist: Path, **frontend: Any) -> TestClient:
    app = FastAPI()
    app.frontend("/", directory=dist, **frontend)
    return TestClient(app)


# -- files -------------------------------------------------------------------------------------


def test_a_file_is_served_with_its_type_and_validators(dist: Path) -> None:
    response = client_for(dist).get("/assets/app.js")
    assert response.status_code == 200
    assert response.text == APP_JS
    media_type = mimetypes.guess_type("app.js")[0]
    assert response.headers["content-type"] == f"{media_type}; charset=utf-8"
    assert response.headers["content-length"] == str(len(APP_JS))
    assert response.headers["etag"] == etag_of(dist / "assets" / "app.js")
    assert response.headers["last-modified"] == LAST_MODIFIED
    assert "cache-control" not in response.headers


def test_head_sends_the_headers_without_the_body(dist: Path) -> None:
    client = client_for(dist)
    head = client.head("/assets/app.js")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == str(len(APP_JS))
    assert head.headers["etag"] == client.get("/assets/app.js").headers["etag"]


def test_a_current_etag_gets_304(dist: Path) -> None:
    client = client_for(dist)
    etag = etag_of(dist / "assets" / "app.js")
    response = client.get("/assets/app.js", headers={"if-none-match": etag})
    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == etag
    stale = client.get("/assets/app.js", headers={"if-none-match": '"stale"'})
    assert stale.status_code == 200


def test_directories_serve_their_index_after_a_slash_redirect(dist: Path) -> None:
    client = client_for(dist)
    root = client.get("/")
    assert (root.status_code, root.text, root.headers["content-type"]) == (200, SHELL, HTML)
    redirect = client.get("/about", follow_redirects=False)
    assert redirect.status_code == 307
    assert redirect.headers["location"] == "http://testserver/about/"
    page = client.get("/about/")
    assert (page.status_code, page.text) == (200, "<p>about</p>")


def test_a_directory_without_index_is_not_found(dist: Path) -> None:
    response = client_for(dist, fallback=None).get("/empty/")
    assert (response.status_code, response.json()) == (404, NOT_FOUND)


# -- fallbacks -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "accept",
    [
        "text/html",
        "application/xhtml+xml",
        "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        "TEXT/HTML; charset=utf-8; q=0.5",
        "text/html; q=wat",
        "application/json, text/html;q=0.1",
    ],
)
def test_index_fallback_answers_browser_navigation(dist: Path, accept: str) -> None:
    response = client_for(dist, fallback="index.html").get(
        "/dashboard/settings", headers={"accept": accept}
    )
    assert (response.status_code, response.text) == (200, SHELL)
    assert response.headers["content-type"] == HTML


@pytest.mark.parametrize(
    ("path", "accept"),
    [
        ("/dashboard", "*/*"),
        ("/dashboard", ""),
        ("/dashboard", "application/json"),
        ("/dashboard", "text/html;q=0"),
        ("/dashboard", "text/html; q=0.0, */*"),
        ("/dashboard", "application/xhtml+xml;q=0, */*;q=1"),
        ("/assets/missing.js", "*/*"),
        ("/assets/missing.css", "text/css,*/*;q=0.1"),
    ],
)
def test_index_fallback_leaves_other_requests_a_404(dist: Path, path: str, accept: str) -> None:
    response = client_for(dist, fallback="index.html").get(path, headers={"accept": accept})
    assert (response.status_code, response.json()) == (404, NOT_FOUND)


def test_404_fallback_serves_the_page_with_status_404(tmp_path: Path) -> None:
    client = client_for(build(tmp_path, page_404=True), fallback="404.html")
    for headers in ({}, NAVIGATION):
        response = client.get("/assets/missing.js", headers=headers)
        assert (response.status_code, response.text) == (404, MISSING_PAGE)
        assert response.headers["content-type"] == HTML


def test_auto_prefers_the_404_page_then_the_index(tmp_path: Path) -> None:
    with_both = client_for(build(tmp_path / "a", page_404=True))
    response = with_both.get("/dashboard", headers=NAVIGATION)
    assert (response.status_code, response.text) == (404, MISSING_PAGE)

    index_only = client_for(build(tmp_path / "b"))
    response = index_only.get("/dashboard", headers=NAVIGATION)
    assert (response.status_code, response.text) == (200, SHELL)
    response = index_only.get("/assets/missing.js")
    assert (response.status_code, response.json()) == (404, NOT_FOUND)

    neither = client_for(build(tmp_path / "c", index=False))
    response = neither.get("/dashboard", headers=NAVIGATION)
    assert (response.status_code, response.json()) == (404, NOT_FOUND)


def test_no_fallback_is_the_apps_404(dist: Path) -> None:
    response = client_for(dist, fallback=None).get("/dashboard", headers=NAVIGATION)
    assert (response.status_code, response.json()) == (404, NOT_FOUND)


def test_head_of_a_fallback_has_its_length(dist: Path) -> None:
    response = client_for(dist, fallback="index.html").head("/dashboard", headers=NAVIGATION)
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == str(len(SHELL))


# -- methods ---------------------------------------------------------------------------------------


def test_other_methods_are_refused(dist: Path) -> None:
    client = client_for(dist, fallback="index.html")
    for method, path in [("POST", "/assets/app.js"), ("DELETE", "/"), ("PUT", "/about/")]:
        response = client.request(method, path)
        assert (response.status_code, response.json()) == (405, {"detail": "Method Not Allowed"})
        assert response.headers["allow"] == "GET, HEAD"


@pytest.mark.parametrize("fallback", ["auto", "index.html", "404.html", None])
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_other_methods_on_fallback_paths_are_not_found(
    tmp_path: Path, method: str, fallback: Any
) -> None:
    client = client_for(build(tmp_path, page_404=True), fallback=fallback)
    response = client.request(method, "/dashboard", headers=NAVIGATION)
    assert (response.status_code, response.json()) == (404, NOT_FOUND)
    response = client.request(method, "/empty/")
    assert (response.status_code, response.json()) == (404, NOT_FOUND)


# -- path operations first ---------------------------------------------------------------------


def test_path_operations_win_wherever_they_are_declared(dist: Path) -> None:
    app = FastAPI()

    @app.get("/about/")
    def before() -> dict[str, str]:
        return {"from": "api"}

    app.frontend("/", directory=dist, fallback="index.html")

    @app.get("/assets/app.js")
    def after() -> dict[str, str]:
        return {"from": "api, declared later"}

    @app.get("/users/{user_id}")
    def user(user_id: str) -> dict[str, str]:
        raise HTTPException(status_code=404, detail=f"no user {user_id}")

    client = TestClient(app)
    assert client.get("/assets/app.js").json() == {"from": "api, declared later"}
    assert client.get("/about/").json() == {"from": "api"}
    # The API route's slash redirect comes before the frontend's own.
    redirect = client.get("/about", follow_redirects=False)
    assert (redirect.status_code, redirect.headers["location"]) == (
        307,
        "http://testserver/about/",
    )
    # Wrong method on an API path: the API's 405, not a frontend answer.
    refused = client.post("/assets/app.js")
    assert (refused.status_code, refused.headers["allow"]) == (405, "GET")
    # An API 404 is not replaced by the SPA shell.
    missing = client.get("/users/7", headers=NAVIGATION)
    assert (missing.status_code, missing.json()) == (404, {"detail": "no user 7"})
    assert client.get("/dashboard", headers=NAVIGATION).text == SHELL


def test_websockets_never_reach_the_frontend(dist: Path) -> None:
    app = FastAPI()
    app.frontend("/", directory=dist)

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("hello")
        await websocket.close()

    client = TestClient(app)
    with client.websocket_connect("/ws") as session:
        assert session.receive_text() == "hello"
    with pytest.raises(WebSocketDisconnect), client.websocket_connect("/index.html") as session:
        session.receive_text()


def test_frontends_are_not_in_the_openapi_schema(dist: Path) -> None:
    app = FastAPI()

    @app.get("/api/items")
    def items() -> list[int]:
        return [1]

    app.frontend("/", directory=dist, fallback="index.html")
    schema = TestClient(app).get("/openapi.json").json()
    assert list(schema["paths"]) == ["/api/items"]
    assert [route.path for route in app.routes][-1] == "/api/items"


# -- prefixes ------------------------------------------------------------------------------------


def test_prefixes_match_whole_segments(dist: Path) -> None:
    app = FastAPI()
    app.frontend("/app/", directory=dist, fallback="index.html")
    client = TestClient(app)
    for path in ("/app", "/app/", "/app/settings"):
        response = client.get(path, headers=NAVIGATION)
        assert (response.status_code, response.text) == (200, SHELL), path
    assert client.get("/app/assets/app.js").text == APP_JS
    response = client.get("/application", headers=NAVIGATION)
    assert (response.status_code, response.json()) == (404, NOT_FOUND)


def test_the_longest_prefix_wins_in_any_order(tmp_path: Path) -> None:
    site, admin = build(tmp_path / "site"), tmp_path / "admin"
    write(admin / "index.html", "<html>admin</html>")
    write(site / "admin" / "report.txt", "site's file")
    for order in ("site first", "admin first"):
        app = FastAPI()
        if order == "site first":
            app.frontend("/", directory=site, fallback="index.html")
        app.frontend("/admin", directory=admin, fallback="index.html")
        if order == "admin first":
            app.frontend("/", directory=site, fallback="index.html")
        client = TestClient(app)
        assert client.get("/admin/users", headers=NAVIGATION).text == "<html>admin</html>"
        response = client.get("/admin/report.txt")
        assert (response.status_code, response.json()) == (404, NOT_FOUND), order
        assert client.get("/adminx", headers=NAVIGATION).text == SHELL
        # A method other than GET/HEAD is judged by the most specific frontend too.
        assert client.post("/admin/report.txt").status_code == 404


def test_router_and_include_prefixes_add_up(dist: Path) -> None:
    inner = APIRouter(prefix="/inner")
    inner.frontend("/ui", directory=dist, fallback="index.html")
    middle = APIRouter()
    middle.include_router(inner, prefix="/middle")
    app = FastAPI()
    app.include_router(middle, prefix="/outer")
    client = TestClient(app)
    assert client.get("/outer/middle/inner/ui/assets/app.js").text == APP_JS
    assert client.get("/outer/middle/inner/ui/x/y", headers=NAVIGATION).text == SHELL
    response = client.get("/inner/ui/assets/app.js")
    assert (response.status_code, response.json()) == (404, NOT_FOUND)


def test_root_path_is_taken_off_before_matching(dist: Path) -> None:
    app = FastAPI()
    app.frontend("/app", directory=dist)
    response = TestClient(app, root_path="/proxy").get("/app/assets/app.js")
    assert (response.status_code, response.text) == (200, APP_JS)


def test_a_mounted_app_serves_its_frontend_below_the_mount(dist: Path) -> None:
    inner = FastAPI()
    inner.frontend("/", directory=dist, fallback="index.html")
    app = FastAPI()
    app.mount("/spa", inner)
    client = TestClient(app)
    assert client.get("/spa/assets/app.js").text == APP_JS
    assert client.get("/spa/deep/link", headers=NAVIGATION).text == SHELL
    assert client.get("/deep/link", headers=NAVIGATION).status_code == 404


def test_an_includes_body_limit_covers_its_frontend(dist: Path) -> None:
    router = APIRouter()
    router.frontend("/", directory=dist)
    app = FastAPI()
    app.include_router(router, prefix="/strict", max_body_size=0)
    app.include_router(router, prefix="/lax")
    client = TestClient(app)
    refused = client.request("GET", "/strict/assets/app.js", content=b"x")
    assert refused.status_code == 413
    assert client.request("GET", "/lax/assets/app.js", content=b"x").text == APP_JS
    assert client.get("/strict/assets/app.js").text == APP_JS


# -- declared late -------------------------------------------------------------------------------


def test_what_an_included_router_gets_later_is_served_too(dist: Path) -> None:
    router = APIRouter()
    app = FastAPI()
    app.include_router(router, prefix="/app")
    router.frontend("/", directory=dist, fallback="index.html")
    client = TestClient(app)
    assert client.get("/app/dashboard", headers=NAVIGATION).text == SHELL

    @router.get("/dashboard")
    def dashboard() -> dict[str, str]:
        return {"from": "api"}

    assert client.get("/app/dashboard", headers=NAVIGATION).json() == {"from": "api"}


def test_a_router_with_a_frontend_included_after_its_parent_was(dist: Path) -> None:
    child, parent, app = APIRouter(), APIRouter(), FastAPI()
    app.include_router(parent, prefix="/parent")
    child.frontend("/", directory=dist)
    parent.include_router(child, prefix="/child")
    assert TestClient(app).get("/parent/child/assets/app.js").text == APP_JS


# -- dependencies --------------------------------------------------------------------------------


def require_session(request: Request) -> None:
    if request.cookies.get("session") != "ok":
        raise HTTPException(status_code=401, detail="log in first")


def test_app_dependencies_guard_files_and_fallbacks(dist: Path) -> None:
    app = FastAPI(dependencies=[Depends(require_session)])
    app.frontend("/", directory=dist, fallback="index.html")
    client = TestClient(app)
    for path in ("/", "/assets/app.js", "/dashboard"):
        refused = client.get(path, headers=NAVIGATION)
        assert (refused.status_code, refused.json()) == (401, {"detail": "log in first"})
    client.cookies.set("session", "ok")
    assert client.get("/assets/app.js").text == APP_JS
    assert client.get("/dashboard", headers=NAVIGATION).text == SHELL


def test_router_and_include_dependencies_run_outermost_first(dist: Path) -> None:
    calls: list[str] = []

    def record(name: str) -> Any:
        def dependency() -> None:
            calls.append(name)

        return Depends(dependency)

    child = APIRouter(dependencies=[record("child router")])
    child.frontend("/", directory=dist)
    parent = APIRouter(dependencies=[record("parent router")])
    parent.include_router(child, prefix="/c", dependencies=[record("parent includes child")])
    app = FastAPI(dependencies=[record("app")])
    app.include_router(parent, prefix="/p", dependencies=[record("app includes parent")])
    client = TestClient(app)
    assert client.get("/p/c/assets/app.js").text == APP_JS
    assert calls == [
        "app",
        "app includes parent",
        "parent router",
        "parent includes child",
        "child router",
    ]


def test_dependencies_run_only_when_a_file_is_served(dist: Path) -> None:
    calls: list[str] = []

    def record(request: Request) -> None:
        calls.append(f"{request.method} {request.url.path}")

    router = APIRouter(dependencies=[Depends(record)])
    router.frontend("/", directory=dist)
    app = FastAPI()

    @app.get("/api")
    def api() -> str:
        return "api"

    app.include_router(router)
    client = TestClient(app)
    assert client.get("/api").json() == "api"
    assert client.post("/assets/app.js").status_code == 405
    assert client.get("/assets/app.js").status_code == 200
    assert calls == ["GET /assets/app.js"]


def test_only_the_chosen_frontends_dependencies_run(tmp_path: Path) -> None:
    calls: list[str] = []
    site, admin = build(tmp_path / "site"), build(tmp_path / "admin")
    app = FastAPI()
    for directory, prefix in ((site, ""), (admin, "/admin")):
        router = APIRouter()
        router.frontend("/", directory=directory)
        name = prefix or "/"
        app.include_router(
            router,
            prefix=prefix,
            dependencies=[Depends(lambda name=name: calls.append(name))],
        )
    client = TestClient(app)
    assert client.get("/admin/assets/app.js").status_code == 200
    assert client.get("/assets/app.js").status_code == 200
    assert calls == ["/admin", "/"]


def test_dependency_headers_cookies_and_background_tasks_reach_the_file(dist: Path) -> None:
    done: list[str] = []

    def decorate(response: Response, tasks: BackgroundTasks) -> None:
        response.headers["x-frontend"] = "yes"
        response.set_cookie("seen", "1")
        tasks.add_task(done.append, "background")

    app = FastAPI(dependencies=[Depends(decorate)])
    app.frontend("/", directory=dist)
    response = TestClient(app).get("/assets/app.js")
    assert (response.status_code, response.text) == (200, APP_JS)
    assert response.headers["x-frontend"] == "yes"
    assert response.headers["set-cookie"] == "seen=1; Path=/; SameSite=lax"
    assert done == ["background"]


def test_yield_dependencies_close_after_the_file_is_sent(dist: Path) -> None:
    events: list[str] = []

    async def session() -> Any:
        events.append("open")
        yield
        events.append("close")

    class Recorder:
        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            async def record(message: Any) -> None:
                if message["type"] == "http.response.body":
                    events.append("body sent")
                await send(message)

            await self.app(scope, receive, record)

    app = FastAPI(dependencies=[Depends(session)])
    app.frontend("/", directory=dist)
    app.add_middleware(Recorder)
    assert TestClient(app).get("/assets/app.js").status_code == 200
    assert events == ["open", "body sent", "close"]


def test_dependency_validation_errors_are_422(dist: Path) -> None:
    def needs_token(token: str) -> None:
        raise AssertionError("not reached")  # pragma: no cover

    app = FastAPI(dependencies=[Depends(needs_token)])
    app.frontend("/", directory=dist)
    response = TestClient(app).get("/assets/app.js")
    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {"type": "missing", "loc": ["query", "token"], "msg": "Field required", "input": None}
        ]
    }


def test_dependency_overrides_apply(dist: Path) -> None:
    def allow() -> None:
        pass

    app = FastAPI(dependencies=[Depends(require_session)])
    app.frontend("/", directory=dist)
    client = TestClient(app)
    assert client.get("/assets/app.js").status_code == 401
    app.dependency_overrides[require_session] = allow
    assert client.get("/assets/app.js").status_code == 200
    app.dependency_overrides.clear()
    assert client.get("/assets/app.js").status_code == 401


def test_middleware_wraps_frontend_requests(dist: Path) -> None:
    app = FastAPI()
    app.frontend("/", directory=dist, fallback="index.html")

    @app.middleware("http")
    async def tag(request: Request, call_next: Any) -> Any:
        response = await call_next(request)
        response.headers["x-middleware"] = request.url.path
        return response

    response = TestClient(app).get("/deep/link", headers=NAVIGATION)
    assert (response.text, response.headers["x-middleware"]) == (SHELL, "/deep/link")


# -- declaring -----------------------------------------------------------------------------------


def test_a_missing_directory_fails_at_declaration(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.delenv("FASTAPI_ENV", raising=False)
    monkeypatch.chdir(tmp_path)
    for check_dir in ("auto", True):
        with pytest.raises(RuntimeError) as raised:
            FastAPI().frontend("/", directory="dist", check_dir=check_dir)
        assert "'dist'" in str(raised.value)
        assert "does not exist" in str(raised.value)
        assert str(tmp_path / "dist") in str(raised.value)


def test_in_development_a_missing_directory_is_a_warning(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("FASTAPI_ENV", "development")
    app = FastAPI()
    with pytest.warns(UserWarning, match="does not exist") as caught:
        app.frontend("/", directory=tmp_path / "dist")
    assert caught[0].filename == __file__
    router = APIRouter()
    with pytest.warns(UserWarning, match="does not exist") as caught:
        router.frontend("/", directory=tmp_path / "dist")
    assert caught[0].filename == __file__
    with pytest.raises(RuntimeError, match="does not exist"):
        app.frontend("/", directory=tmp_path / "dist", check_dir=True)
    # Built after the app was created: served from then on.
    build(tmp_path)
    assert TestClient(app).get("/assets/app.js").text == APP_JS


def test_unchecked_directory_fails_on_the_first_request(tmp_path: Path) -> None:
    app = FastAPI()
    app.frontend("/", directory=tmp_path / "dist", check_dir=False)
    with pytest.raises(RuntimeError, match="does not exist"):
        TestClient(app).get("/assets/app.js")
    response = TestClient(app, raise_server_exceptions=False).get("/assets/app.js")
    assert (response.status_code, response.text) == (500, "Internal Server Error")


def test_a_named_fallback_must_exist(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    build(tmp_path, index=False)
    with pytest.raises(RuntimeError, match="index.html") as raised:
        FastAPI().frontend("/", directory="dist", fallback="index.html")
    assert "directory 'dist'" in str(raised.value)
    assert str(tmp_path / "dist") in str(raised.value)
    app = FastAPI()
    app.frontend("/", directory="dist", fallback="404.html", check_dir=False)
    with pytest.raises(RuntimeError, match="404.html"):
        TestClient(app).get("/nothing")


@pytest.mark.parametrize(
    ("path", "fallback"), [("", "auto"), ("app", "auto"), ("/", "index"), ("/", "spa")]
)
def test_bad_arguments_are_refused(dist: Path, path: str, fallback: str) -> None:
    with pytest.raises(AssertionError):
        FastAPI().frontend(path, directory=dist, fallback=fallback)  # type: ignore[arg-type]


# -- escaping the directory ----------------------------------------------------------------------


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[Any]:
    dist = build(tmp_path)
    write(tmp_path / "secret.txt", "SECRET")
    os.symlink(tmp_path / "secret.txt", dist / "link.txt")
    app = FastAPI()
    app.frontend("/", directory=dist)
    yield app


@pytest.mark.parametrize(
    "path", ["/../secret.txt", "/assets/../../secret.txt", "/\\..\\secret.txt", "/link.txt"]
)
def test_nothing_outside_the_directory_is_served(guarded: Any, path: str) -> None:
    result = asyncio.run(call(guarded, make_scope(path)))
    assert result.status == 404
    assert result.body == b'{"detail":"Not Found"}'


def test_encoded_traversal_through_the_client(guarded: Any) -> None:
    client = TestClient(guarded)
    for path in ("/%2e%2e/secret.txt", "/..%2fsecret.txt", "/..%5csecret.txt"):
        response = client.get(path)
        assert (response.status_code, response.json()) == (404, NOT_FOUND), path


def test_no_warning_when_the_directory_exists(dist: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("FASTAPI_ENV", "development")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        FastAPI().frontend("/", directory=dist)


def test_last_modified_is_the_files_mtime(dist: Path) -> None:
    response = client_for(dist).get("/about/")
    assert response.headers["last-modified"] == formatdate(MTIME, usegmt=True)
