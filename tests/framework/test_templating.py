"""aster.templating: Jinja2Templates with Starlette 1.10's API (and its pre-1.0 call order).

Jinja2 is optional for aster, so this module is skipped without it; the "jinja2 missing"
behaviour is checked in a subprocess that blocks the import.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path
from typing import Any

import pytest

jinja2 = pytest.importorskip("jinja2")

from aster import FastAPI, Request  # noqa: E402
from aster.applications import Starlette  # noqa: E402
from aster.background import BackgroundTask  # noqa: E402
from aster.responses import HTMLResponse  # noqa: E402
from aster.routing import Route  # noqa: E402
from aster.staticfiles import StaticFiles  # noqa: E402
from aster.templating import Jinja2Templates, _TemplateResponse  # noqa: E402
from aster.testclient import TestClient  # noqa: E402

from .asgi import call, make_scope  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]

NAME_FIRST = (
    "The `name` is not the first parameter anymore. "
    "The first parameter should be the `Request` instance.\n"
    'Replace `TemplateResponse(name, {"request": request})` by `TemplateResponse(request, name)`.'
)
NO_REQUEST = (
    "The `TemplateResponse` now requires the `request` argument.\n"
    'Replace `TemplateResponse(name, {"context": context})` by `TemplateResponse(request, name)`.'
)


@pytest.fixture
def template_dir(tmp_path: Path) -> Path:
    files = {
        "hello.html": "<h1>Hello {{ name }}</h1>",
        "escaped.html": "<p>{{ text }}</p>",
        "plain.txt": "raw {{ text }}",
        "links.html": (
            "<a href=\"{{ url_for('item', item_id=item_id) }}\">item</a>"
            "<link href=\"{{ url_for('static', path='/site.css') }}\">"
            "<i>{{ url_for('static', path='/site.css').path }}</i>"
        ),
        "request.html": "{{ request.method }} {{ request.url.path }}",
        "processed.html": "{{ user }}|{{ path }}",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    static = tmp_path / "static"
    static.mkdir()
    (static / "site.css").write_text("body { color: green; }")
    return tmp_path


@pytest.fixture
def templates(template_dir: Path) -> Jinja2Templates:
    return Jinja2Templates(directory=template_dir)


def test_template_response(templates: Jinja2Templates) -> None:
    app = FastAPI()

    @app.get("/", response_class=HTMLResponse)
    def page(request: Request) -> Any:
        return templates.TemplateResponse(request, "hello.html", {"name": "World"})

    response = TestClient(app).get("/")
    assert response.status_code == 200
    assert response.headers.multi_items() == [
        ("content-length", "20"),
        ("content-type", "text/html; charset=utf-8"),
    ]
    assert response.text == "<h1>Hello World</h1>"
    # The test client receives template and context (the http.response.debug extension).
    assert response.template.name == "hello.html"  # type: ignore[attr-defined]
    assert set(response.context) == {"name", "request"}  # type: ignore[attr-defined]
    assert response.context["name"] == "World"  # type: ignore[attr-defined]
    assert isinstance(response.context["request"], Request)  # type: ignore[attr-defined]
    assert response.extensions["http.response.debug"]["template"] is response.template  # type: ignore[attr-defined]


def test_keyword_arguments_and_options(templates: Jinja2Templates) -> None:
    ran: list[str] = []

    async def page(request: Request) -> Any:
        return templates.TemplateResponse(
            request=request,
            name="hello.html",
            context={"name": "kw"},
            status_code=201,
            headers={"x-extra": "1"},
            media_type="application/xhtml+xml",
            background=BackgroundTask(ran.append, "done"),
        )

    response = TestClient(Starlette(routes=[Route("/", page)])).get("/")
    assert response.status_code == 201
    assert response.headers.multi_items() == [
        ("x-extra", "1"),
        ("content-length", "17"),
        ("content-type", "application/xhtml+xml"),  # charset only for text/*
    ]
    assert response.text == "<h1>Hello kw</h1>"
    assert ran == ["done"]


def test_request_in_template(templates: Jinja2Templates) -> None:
    async def page(request: Request) -> Any:
        return templates.TemplateResponse(request, "request.html")

    response = TestClient(Starlette(routes=[Route("/a/path", page)])).get("/a/path")
    assert response.text == "GET /a/path"
    assert list(response.context) == ["request"]  # type: ignore[attr-defined]


def test_autoescape_by_extension(templates: Jinja2Templates) -> None:
    async def html(request: Request) -> Any:
        return templates.TemplateResponse(request, "escaped.html", {"text": "<b>&</b>"})

    async def txt(request: Request) -> Any:
        return templates.TemplateResponse(request, "plain.txt", {"text": "<b>&</b>"})

    client = TestClient(Starlette(routes=[Route("/html", html), Route("/txt", txt)]))
    assert client.get("/html").text == "<p>&lt;b&gt;&amp;&lt;/b&gt;</p>"
    assert client.get("/txt").text == "raw <b>&</b>"


def links_app(templates: Jinja2Templates, static: Path) -> FastAPI:
    app = FastAPI()
    app.mount("/static", StaticFiles(directory=static), name="static")

    @app.get("/items/{item_id}", name="item", response_class=HTMLResponse)
    def item(request: Request, item_id: int) -> Any:
        return templates.TemplateResponse(request, "links.html", {"item_id": item_id})

    return app


def test_url_for_in_templates(templates: Jinja2Templates, template_dir: Path) -> None:
    client = TestClient(links_app(templates, template_dir / "static"))
    response = client.get("/items/7")
    assert response.text == (
        '<a href="http://testserver/items/7">item</a>'
        '<link href="http://testserver/static/site.css">'
        "<i>/static/site.css</i>"
    )
    assert client.get("/static/site.css").text == "body { color: green; }"


@pytest.mark.parametrize("root_path", ["", "/api"])
@pytest.mark.parametrize("mount_path", ["", "/sub"])
def test_url_for_with_root_path_and_mount(
    templates: Jinja2Templates, template_dir: Path, root_path: str, mount_path: str
) -> None:
    app = links_app(templates, template_dir / "static")
    if mount_path:
        outer = FastAPI()
        outer.mount(mount_path, app)
        app = outer
    client = TestClient(app, root_path=root_path, base_url="https://example.com")
    prefix = root_path + mount_path
    response = client.get(f"{prefix}/items/3")
    assert response.status_code == 200
    assert response.text == (
        f'<a href="https://example.com{prefix}/items/3">item</a>'
        f'<link href="https://example.com{prefix}/static/site.css">'
        f"<i>{prefix}/static/site.css</i>"
    )
    assert client.get(f"{prefix}/static/site.css").status_code == 200


def test_context_processors(template_dir: Path) -> None:
    seen: list[Request] = []

    def user(request: Request) -> dict[str, Any]:
        seen.append(request)
        return {"user": "ada"}

    def path(request: Request) -> dict[str, Any]:
        return {"path": request.url.path}

    templates = Jinja2Templates(directory=template_dir, context_processors=[user, path])

    async def page(request: Request) -> Any:
        # processors run after the caller's context, so their keys win
        return templates.TemplateResponse(request, "processed.html", {"user": "overridden"})

    response = TestClient(Starlette(routes=[Route("/p", page)])).get("/p")
    assert response.text == "ada|/p"
    assert len(seen) == 1 and isinstance(seen[0], Request)
    assert set(response.context) == {"user", "path", "request"}  # type: ignore[attr-defined]


def test_caller_context_is_the_rendered_dict(templates: Jinja2Templates) -> None:
    request = Request(make_scope("/"))
    context: dict[str, Any] = {"name": "same"}
    response = templates.TemplateResponse(request, "hello.html", context)
    assert response.context is context
    assert context["request"] is request
    # an explicit "request" in the context is kept
    other = Request(make_scope("/other"))
    response = templates.TemplateResponse(request, "hello.html", {"name": "x", "request": other})
    assert response.context["request"] is other


def test_env_argument(template_dir: Path) -> None:
    env = jinja2.Environment(loader=jinja2.DictLoader({"t.html": "{{ url_for('home') }}"}))
    templates = Jinja2Templates(env=env)
    assert templates.env is env
    assert "url_for" in env.globals

    async def home(request: Request) -> Any:
        return templates.TemplateResponse(request, "t.html")

    response = TestClient(Starlette(routes=[Route("/", home, name="home")])).get("/")
    assert response.text == "http://testserver/"


def test_user_url_for_global_is_kept() -> None:
    env = jinja2.Environment(loader=jinja2.DictLoader({"t.html": "{{ url_for('x') }}"}))
    env.globals["url_for"] = lambda name: f"custom:{name}"
    templates = Jinja2Templates(env=env)
    response = templates.TemplateResponse(Request(make_scope("/")), "t.html")
    assert response.body == b"custom:x"


def test_several_directories(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    for directory in (first, second):
        directory.mkdir()
        (directory / "both.html").write_text(directory.name)
    (second / "only.html").write_text("only second")
    templates = Jinja2Templates(directory=[first, second])
    request = Request(make_scope("/"))
    assert templates.TemplateResponse(request, "both.html").body == b"first"
    assert templates.TemplateResponse(request, "only.html").body == b"only second"


def test_directory_xor_env(template_dir: Path) -> None:
    message = "either 'directory' or 'env' arguments must be passed"
    with pytest.raises(AssertionError, match=message):
        Jinja2Templates()  # type: ignore[call-overload]
    with pytest.raises(AssertionError, match=message):
        Jinja2Templates(directory=template_dir, env=jinja2.Environment())  # type: ignore[call-overload]


def test_get_template(templates: Jinja2Templates) -> None:
    template = templates.get_template("hello.html")
    assert isinstance(template, jinja2.Template)
    assert template.render(name="t") == "<h1>Hello t</h1>"
    with pytest.raises(jinja2.TemplateNotFound):
        templates.get_template("nope.html")


def test_missing_template_is_a_server_error(templates: Jinja2Templates) -> None:
    async def page(request: Request) -> Any:
        return templates.TemplateResponse(request, "nope.html")

    app = Starlette(routes=[Route("/", page)])
    with pytest.raises(jinja2.TemplateNotFound):
        TestClient(app).get("/")
    response = TestClient(app, raise_server_exceptions=False).get("/")
    assert (response.status_code, response.text) == (500, "Internal Server Error")


# --- the pre-1.0 call order ------------------------------------------------------------------


def test_name_first_order_warns(templates: Jinja2Templates) -> None:
    async def page(request: Request) -> Any:
        return templates.TemplateResponse(
            "hello.html", {"request": request, "name": "old"}, 202, {"x-old": "1"}
        )

    with pytest.warns(DeprecationWarning) as record:
        response = TestClient(Starlette(routes=[Route("/", page)])).get("/")
    assert [str(w.message) for w in record] == [NAME_FIRST]
    assert (response.status_code, response.text, response.headers["x-old"]) == (
        202,
        "<h1>Hello old</h1>",
        "1",
    )
    assert response.template.name == "hello.html"  # type: ignore[attr-defined]


def test_name_first_order_with_keywords(templates: Jinja2Templates) -> None:
    request = Request(make_scope("/"))
    with pytest.warns(DeprecationWarning, match="The `name` is not the first parameter"):
        response = templates.TemplateResponse(
            "hello.html", context={"request": request, "name": "k"}, status_code=203
        )
    assert (response.status_code, response.body) == (203, b"<h1>Hello k</h1>")


def test_name_first_order_needs_request_in_context(templates: Jinja2Templates) -> None:
    with pytest.warns(DeprecationWarning), pytest.raises(ValueError) as exc_info:
        templates.TemplateResponse("hello.html", {"name": "x"})
    assert str(exc_info.value) == 'context must include a "request" key'
    with pytest.warns(DeprecationWarning), pytest.raises(ValueError):
        templates.TemplateResponse("hello.html")


def test_keywords_without_request_warn(templates: Jinja2Templates) -> None:
    request = Request(make_scope("/"))
    with pytest.warns(DeprecationWarning) as record:
        response = templates.TemplateResponse(
            name="hello.html", context={"request": request, "name": "ctx"}
        )
    assert [str(w.message) for w in record] == [NO_REQUEST]
    assert response.body == b"<h1>Hello ctx</h1>"
    with pytest.warns(DeprecationWarning), pytest.raises(ValueError) as exc_info:
        templates.TemplateResponse(name="hello.html", context={"name": "x"})
    assert str(exc_info.value) == 'context must include a "request" key'


def test_current_order_does_not_warn(templates: Jinja2Templates) -> None:
    request = Request(make_scope("/"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        templates.TemplateResponse(request, "hello.html", {"name": "a"})
        templates.TemplateResponse(request, name="hello.html", context={"name": "a"})
        templates.TemplateResponse(request=request, name="hello.html")


def test_bad_arguments_are_type_errors(templates: Jinja2Templates) -> None:
    request = Request(make_scope("/"))
    with pytest.raises(TypeError):
        templates.TemplateResponse(request)
    with pytest.raises(TypeError):
        templates.TemplateResponse(request, "hello.html", unknown=1)


# --- the debug extension -----------------------------------------------------------------------


def test_debug_message_only_when_offered(templates: Jinja2Templates) -> None:
    async def page(request: Request) -> Any:
        return templates.TemplateResponse(request, "hello.html", {"name": "d"})

    app = Starlette(routes=[Route("/", page)])
    plain = asyncio.run(call(app, make_scope("/")))
    assert [m["type"] for m in plain.messages] == ["http.response.start", "http.response.body"]
    offered = asyncio.run(call(app, make_scope("/", extensions={"http.response.debug": {}})))
    assert [m["type"] for m in offered.messages] == [
        "http.response.debug",
        "http.response.start",
        "http.response.body",
    ]
    info = offered.messages[0]["info"]
    assert info["template"].name == "hello.html"
    assert info["context"]["name"] == "d"
    assert offered.body == b"<h1>Hello d</h1>"


def test_template_response_class(templates: Jinja2Templates) -> None:
    template = templates.get_template("hello.html")
    response = _TemplateResponse(template, {"name": "direct"}, status_code=418)
    assert isinstance(response, HTMLResponse)
    assert (response.template, response.context) == (template, {"name": "direct"})
    assert (response.status_code, response.body) == (418, b"<h1>Hello direct</h1>")


def test_fastapi_and_starlette_names_resolve_here() -> None:
    script = textwrap.dedent(
        """
        import aster.compat, aster.templating, aster.staticfiles
        aster.compat.install()
        import fastapi.templating, starlette.templating, fastapi.staticfiles, starlette.staticfiles
        assert fastapi.templating.Jinja2Templates is aster.templating.Jinja2Templates
        assert starlette.templating.Jinja2Templates is aster.templating.Jinja2Templates
        assert fastapi.staticfiles.StaticFiles is aster.staticfiles.StaticFiles
        assert starlette.staticfiles.StaticFiles is aster.staticfiles.StaticFiles
        print("ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert (done.returncode, done.stdout.strip()) == (0, "ok"), done.stderr


# --- jinja2 is optional ------------------------------------------------------------------------


def test_aster_does_not_import_jinja2() -> None:
    script = textwrap.dedent(
        """
        import sys
        import aster
        from aster import FastAPI, Request, APIRouter
        import aster.applications, aster.routing, aster.responses, aster.staticfiles
        import aster.testclient
        app = FastAPI()
        assert "jinja2" not in sys.modules, "jinja2 was imported"
        print("ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert (done.returncode, done.stdout.strip()) == (0, "ok"), done.stderr


def test_missing_jinja2_is_a_clear_error() -> None:
    script = textwrap.dedent(
        """
        import sys
        sys.modules["jinja2"] = None  # what an absent package looks like to import
        import aster.staticfiles  # everything else still works
        try:
            import aster.templating
        except ImportError as exc:
            print(type(exc).__name__, exc, sep=": ")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        "ImportError: jinja2 must be installed to use Jinja2Templates: "
        "pip install 'aster[templates]'"
    )
