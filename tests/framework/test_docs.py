"""The OpenAPI route and the interactive docs pages, through the TestClient.

The page builders must behave as ``fastapi.openapi.docs`` does (FastAPI's own tests
check the same strings); the routes ``FastAPI.setup()`` adds must match FastAPI's,
except that by default the pages load Swagger UI and ReDoc from the app itself.
"""

from __future__ import annotations

import inspect
import re
import sys
import warnings
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest

from aster import FastAPI
from aster.openapi import docs
from aster.openapi._assets import CACHE_CONTROL, local_bundle
from aster.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
    swagger_ui_default_parameters,
)
from aster.testclient import TestClient

HTML = "text/html; charset=utf-8"
SCHEMA: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Hand made", "version": "1.0.0"},
    "paths": {"/ping": {"get": {"summary": "Ping", "responses": {"200": {"description": "OK"}}}}},
}
SWAGGER_CDN = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"
SWAGGER_CSS_CDN = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css"
REDOC_CDN = "https://cdn.jsdelivr.net/npm/redoc@2/bundles/redoc.standalone.js"
FAVICON_CDN = "https://fastapi.tiangolo.com/img/favicon.png"

BUNDLE = local_bundle()
assert BUNDLE is not None, "openapi-ui-bundles is a dependency of aster"
SWAGGER = f"/_aster/docs/{BUNDLE.swagger_dir}"
REDOC = f"/_aster/docs/{BUNDLE.redoc_dir}"


def make_app(**kwargs: Any) -> FastAPI:
    app = FastAPI(title="Shop", **kwargs)

    @app.get("/ping")
    def ping() -> dict[str, str]:
        return {"ping": "pong"}

    return app


def local_swagger(root: str = "", **kwargs: Any) -> str:
    """The /docs page an app at ``root`` serves by default, built by the public function."""
    page = get_swagger_ui_html(
        openapi_url=f"{root}/openapi.json",
        title="Shop - Swagger UI",
        swagger_js_url=f"{root}{SWAGGER}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{SWAGGER}/swagger-ui.css",
        swagger_favicon_url=f"{root}{SWAGGER}/favicon-32x32.png",
        **{"oauth2_redirect_url": f"{root}/docs/oauth2-redirect", **kwargs},
    )
    return bytes(page.body).decode()


def local_redoc(root: str = "") -> str:
    page = get_redoc_html(
        openapi_url=f"{root}/openapi.json",
        title="Shop - ReDoc",
        redoc_js_url=f"{root}{REDOC}/redoc.standalone.js",
        redoc_favicon_url=f"{root}{SWAGGER}/favicon-32x32.png",
        with_google_fonts=False,
    )
    return bytes(page.body).decode()


# -- the page builders, called directly ------------------------------------------------


def test_builder_defaults_are_fastapis_cdn_urls() -> None:
    swagger = inspect.signature(get_swagger_ui_html).parameters
    assert swagger["swagger_js_url"].default == SWAGGER_CDN
    assert swagger["swagger_css_url"].default == SWAGGER_CSS_CDN
    assert swagger["swagger_favicon_url"].default == FAVICON_CDN
    assert swagger["oauth2_redirect_url"].default is None
    assert swagger["init_oauth"].default is None
    assert swagger["swagger_ui_parameters"].default is None
    assert all(p.kind is p.KEYWORD_ONLY for p in swagger.values())
    redoc = inspect.signature(get_redoc_html).parameters
    assert redoc["redoc_js_url"].default == REDOC_CDN
    assert redoc["redoc_favicon_url"].default == FAVICON_CDN
    assert redoc["with_google_fonts"].default is True
    assert swagger_ui_default_parameters == {
        "dom_id": "#swagger-ui",
        "layout": "BaseLayout",
        "deepLinking": True,
        "showExtensions": True,
        "showCommonExtensions": True,
    }


def test_swagger_builder_default_page() -> None:
    response = get_swagger_ui_html(openapi_url="/openapi.json", title="T")
    assert response.status_code == 200
    assert response.headers["content-type"] == HTML
    body = bytes(response.body).decode()
    for url in (SWAGGER_CDN, SWAGGER_CSS_CDN, FAVICON_CDN):
        assert url in body
    assert "<title>T</title>" in body
    assert "url: '/openapi.json'," in body
    for line in (
        '"dom_id": "#swagger-ui",',
        '"layout": "BaseLayout",',
        '"deepLinking": true,',
        '"showExtensions": true,',
        '"showCommonExtensions": true,',
        "presets: [",
        "SwaggerUIBundle.presets.apis,",
        "SwaggerUIBundle.SwaggerUIStandalonePreset",
    ):
        assert line in body
    assert "oauth2RedirectUrl" not in body
    assert "initOAuth" not in body


def test_swagger_builder_custom_urls_parameters_and_oauth() -> None:
    response = get_swagger_ui_html(
        openapi_url="/api/schema.json",
        title="T",
        swagger_js_url="swagger_fake_file.js",
        swagger_css_url="swagger_fake_file.css",
        swagger_favicon_url="swagger_fake_file.png",
        oauth2_redirect_url="/docs/redirect",
        init_oauth={"clientId": "my-client", "appName": "My App"},
        swagger_ui_parameters={"syntaxHighlight": {"theme": "obsidian"}, "deepLinking": False},
    )
    body = bytes(response.body).decode()
    assert '<script src="swagger_fake_file.js"></script>' in body
    assert 'href="swagger_fake_file.css"' in body
    assert 'href="swagger_fake_file.png"' in body
    assert "url: '/api/schema.json'," in body
    assert '"syntaxHighlight": {"theme": "obsidian"},' in body
    assert '"deepLinking": false,' in body
    assert '"deepLinking": true' not in body
    assert "oauth2RedirectUrl: window.location.origin + '/docs/redirect'," in body
    assert 'ui.initOAuth({"clientId": "my-client", "appName": "My App"})' in body
    # The defaults are copied, never updated in place.
    assert swagger_ui_default_parameters["deepLinking"] is True


def test_swagger_builder_escapes_json_for_script_tags() -> None:
    body = bytes(
        get_swagger_ui_html(
            openapi_url="/o",
            title="T",
            swagger_ui_parameters={"x": "</script><script>alert(1)</script>"},
            init_oauth={"appName": "<img src=x onerror=alert(1)>", "q": "a&b"},
        ).body
    ).decode()
    assert "</script><script>" not in body
    assert '"x": "\\u003c/script\\u003e\\u003cscript\\u003ealert(1)\\u003c/script\\u003e",' in body
    assert "<img src=x" not in body
    assert '"appName": "\\u003cimg src=x onerror=alert(1)\\u003e"' in body
    assert '"q": "a\\u0026b"' in body


def test_redoc_builder() -> None:
    response = get_redoc_html(openapi_url="/openapi.json", title="T")
    assert response.headers["content-type"] == HTML
    body = bytes(response.body).decode()
    assert f'<script src="{REDOC_CDN}"> </script>' in body
    assert f'href="{FAVICON_CDN}"' in body
    assert "fonts.googleapis.com" in body
    assert '<redoc spec-url="/openapi.json"></redoc>' in body
    assert "<title>T</title>" in body
    custom = bytes(
        get_redoc_html(
            openapi_url="/o",
            title="T",
            redoc_js_url="fake_redoc_file.js",
            redoc_favicon_url="fake_redoc_file.png",
            with_google_fonts=False,
        ).body
    ).decode()
    assert '<script src="fake_redoc_file.js"> </script>' in custom
    assert 'href="fake_redoc_file.png"' in custom
    assert "fonts.googleapis.com" not in custom


def test_oauth2_redirect_builder() -> None:
    response = get_swagger_ui_oauth2_redirect_html()
    assert response.status_code == 200
    assert response.headers["content-type"] == HTML
    body = bytes(response.body).decode()
    assert "window.opener.swaggerUIRedirectOauth2" in body
    assert "<title>Swagger UI: OAuth2 Redirect</title>" in body
    assert "window.close()" in body


# -- the app's pages -------------------------------------------------------------------


def test_docs_page_loads_the_shipped_swagger_ui() -> None:
    response = TestClient(make_app()).get("/docs")
    assert response.status_code == 200
    assert dict(response.headers) == {
        "content-length": str(len(response.content)),
        "content-type": HTML,
    }
    assert response.text == local_swagger()
    assert re.search(r"swagger-ui-dist@5\.\d+\.\d+/swagger-ui-bundle\.js", response.text)
    assert "https://" not in response.text and "http://" not in response.text
    assert "oauth2RedirectUrl: window.location.origin + '/docs/oauth2-redirect'," in response.text


def test_redoc_page_loads_the_shipped_redoc() -> None:
    response = TestClient(make_app()).get("/redoc")
    assert response.status_code == 200
    assert response.headers["content-type"] == HTML
    assert response.text == local_redoc()
    assert re.search(r"redoc@2\.\d+\.\d+/redoc\.standalone\.js", response.text)
    assert "redoc@2" in response.text  # what FastAPI's test_application checks
    assert "fonts.googleapis.com" not in response.text
    assert "https://" not in response.text


def test_oauth2_redirect_page() -> None:
    response = TestClient(make_app()).get("/docs/oauth2-redirect")
    assert response.status_code == 200
    assert response.headers["content-type"] == HTML
    assert response.content == get_swagger_ui_oauth2_redirect_html().body


def test_custom_oauth2_redirect_url() -> None:
    client = TestClient(make_app(swagger_ui_oauth2_redirect_url="/docs/redirect"))
    page = client.get("/docs").text
    assert "oauth2RedirectUrl: window.location.origin + '/docs/redirect'," in page
    assert client.get("/docs/redirect").status_code == 200
    assert client.get("/docs/oauth2-redirect").status_code == 404


def test_swagger_ui_parameters_and_init_oauth_from_the_app() -> None:
    app = make_app(
        swagger_ui_parameters={"syntaxHighlight": False, "deepLinking": False},
        swagger_ui_init_oauth={"clientId": "my-client", "usePkceWithAuthorizationCodeGrant": True},
    )
    page = TestClient(app).get("/docs").text
    assert page == local_swagger(
        swagger_ui_parameters={"syntaxHighlight": False, "deepLinking": False},
        init_oauth={"clientId": "my-client", "usePkceWithAuthorizationCodeGrant": True},
    )
    assert '"syntaxHighlight": false,' in page
    assert '"deepLinking": false,' in page
    assert '"dom_id": "#swagger-ui",' in page
    assert (
        'ui.initOAuth({"clientId": "my-client", "usePkceWithAuthorizationCodeGrant": true})' in page
    )


def test_settings_changed_after_construction_show_in_the_pages() -> None:
    app = make_app()
    app.title = "Renamed"
    app.swagger_ui_parameters = {"filter": True}
    page = TestClient(app).get("/docs").text
    assert "<title>Renamed - Swagger UI</title>" in page
    assert '"filter": true,' in page


def test_root_path_is_prepended_to_every_url() -> None:
    client = TestClient(make_app(), root_path="/api")
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.text == local_swagger("/api")
    assert "url: '/api/openapi.json'," in response.text
    assert f'<script src="/api{SWAGGER}/swagger-ui-bundle.js"></script>' in response.text
    assert client.get("/redoc").text == local_redoc("/api")
    asset = client.get(f"{SWAGGER}/swagger-ui.css")
    assert asset.status_code == 200
    assert asset.headers["content-type"] == "text/css; charset=utf-8"


def test_trailing_slash_root_path_is_stripped() -> None:
    page = TestClient(make_app(), root_path="/api/").get("/docs").text
    assert page == local_swagger("/api")


# -- the OpenAPI route -----------------------------------------------------------------


def test_openapi_route_serves_the_apps_schema() -> None:
    app = make_app()
    app.openapi_schema = SCHEMA
    response = TestClient(app).get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == SCHEMA


def test_openapi_route_adds_the_root_path_as_a_server() -> None:
    app = make_app()
    app.openapi_schema = {**SCHEMA, "servers": [{"url": "https://example.com"}]}
    client = TestClient(app, root_path="/api/v1")
    assert client.get("/openapi.json").json()["servers"] == [
        {"url": "/api/v1"},
        {"url": "https://example.com"},
    ]
    # The cached schema is left alone: no duplicate on the next request.
    assert app.openapi_schema["servers"] == [{"url": "https://example.com"}]
    assert client.get("/openapi.json").json()["servers"] == [
        {"url": "/api/v1"},
        {"url": "https://example.com"},
    ]


def test_openapi_route_keeps_a_root_path_already_listed() -> None:
    app = make_app()
    app.openapi_schema = {**SCHEMA, "servers": [{"url": "/api/v1"}]}
    servers = TestClient(app, root_path="/api/v1").get("/openapi.json").json()["servers"]
    assert servers == [{"url": "/api/v1"}]


def test_openapi_route_without_root_path_in_servers() -> None:
    app = make_app(root_path_in_servers=False)
    app.openapi_schema = SCHEMA
    body = TestClient(app, root_path="/api/v1").get("/openapi.json").json()
    assert body == SCHEMA
    assert "servers" not in body


def test_generated_schema_leaves_out_the_docs_routes() -> None:
    app = make_app()
    body = TestClient(app).get("/openapi.json").json()
    assert body == app.openapi()
    assert list(body["paths"]) == ["/ping"]
    assert body["paths"]["/ping"]["get"]["operationId"] == "ping_ping_get"


def test_custom_openapi_url() -> None:
    app = make_app(openapi_url="/api/schema.json")
    app.openapi_schema = SCHEMA
    client = TestClient(app)
    assert client.get("/api/schema.json").json() == SCHEMA
    assert client.get("/openapi.json").status_code == 404
    assert "url: '/api/schema.json'," in client.get("/docs").text
    assert '<redoc spec-url="/api/schema.json"></redoc>' in client.get("/redoc").text


# -- switched off ----------------------------------------------------------------------


def test_no_openapi_url_means_no_docs_at_all() -> None:
    client = TestClient(make_app(openapi_url=None))
    for path in (
        "/openapi.json",
        "/docs",
        "/docs/oauth2-redirect",
        "/redoc",
        f"{SWAGGER}/swagger-ui.css",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.json() == {"detail": "Not Found"}


def test_no_docs_url() -> None:
    client = TestClient(make_app(docs_url=None))
    assert client.get("/docs").status_code == 404
    assert client.get("/docs/oauth2-redirect").status_code == 404
    assert client.get("/redoc").status_code == 200
    assert client.get(f"{REDOC}/redoc.standalone.js").status_code == 200


def test_no_redoc_url() -> None:
    client = TestClient(make_app(redoc_url=None))
    assert client.get("/redoc").status_code == 404
    assert client.get("/docs").status_code == 200


def test_no_oauth2_redirect_url() -> None:
    client = TestClient(make_app(swagger_ui_oauth2_redirect_url=None))
    page = client.get("/docs")
    assert page.status_code == 200
    assert "swagger-ui-dist" in page.text
    assert "oauth2RedirectUrl" not in page.text
    assert client.get("/docs/oauth2-redirect").status_code == 404


def test_no_docs_pages_means_no_asset_route() -> None:
    app = make_app(docs_url=None, redoc_url=None)
    client = TestClient(app)
    assert client.get(f"{SWAGGER}/swagger-ui.css").status_code == 404
    assert client.get("/openapi.json").status_code == 200
    paths = [getattr(route, "path", None) for route in app.routes]
    assert paths == ["/openapi.json", "/ping"]


def test_routes_added_like_fastapis() -> None:
    app = FastAPI()
    assert [(route.path, route.include_in_schema) for route in app.routes] == [
        ("/openapi.json", False),
        ("/docs", False),
        ("/docs/oauth2-redirect", False),
        ("/redoc", False),
        ("/_aster/docs/{asset:path}", False),
    ]


# -- docs_cdn, and no bundle -----------------------------------------------------------


def test_docs_cdn_uses_fastapis_pages() -> None:
    app = make_app(docs_cdn=True)
    assert app.docs_cdn is True
    client = TestClient(app)
    expected = get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="Shop - Swagger UI",
        oauth2_redirect_url="/docs/oauth2-redirect",
    )
    assert client.get("/docs").content == expected.body
    assert (
        client.get("/redoc").content
        == get_redoc_html(openapi_url="/openapi.json", title="Shop - ReDoc").body
    )
    assert client.get(f"{SWAGGER}/swagger-ui.css").status_code == 404
    assert "/_aster/" not in [getattr(route, "path", "")[:8] for route in app.routes]


def test_docs_cdn_defaults_to_false_and_can_be_switched_later() -> None:
    app = make_app()
    assert app.docs_cdn is False
    client = TestClient(app)
    assert SWAGGER_CDN not in client.get("/docs").text
    app.docs_cdn = True
    assert SWAGGER_CDN in client.get("/docs").text
    assert REDOC_CDN in client.get("/redoc").text


@pytest.fixture
def no_bundle(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Make ``import openapi_ui_bundles`` fail, with the lookup cache emptied around it."""
    monkeypatch.setitem(sys.modules, "openapi_ui_bundles", None)
    local_bundle.cache_clear()
    yield
    local_bundle.cache_clear()


def test_missing_bundle_falls_back_to_the_cdn_with_one_warning(no_bundle: None) -> None:
    with pytest.warns(RuntimeWarning, match="openapi-ui-bundles is not installed") as caught:
        app = make_app()
    assert len(caught) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        second = make_app()  # warned once per process, not once per app
    client = TestClient(app)
    assert SWAGGER_CDN in client.get("/docs").text
    assert REDOC_CDN in client.get("/redoc").text
    assert client.get(f"{SWAGGER}/swagger-ui.css").status_code == 404
    assert TestClient(second).get("/docs").status_code == 200


def test_docs_cdn_never_looks_for_the_bundle(no_bundle: None) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_app(docs_cdn=True)
        make_app(docs_url=None, redoc_url=None)


# -- the asset route -------------------------------------------------------------------


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(make_app())


@pytest.mark.parametrize(
    ("name", "media_type"),
    [
        (f"{SWAGGER}/swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
        (f"{SWAGGER}/swagger-ui-standalone-preset.js", "text/javascript; charset=utf-8"),
        (f"{SWAGGER}/swagger-ui.css", "text/css; charset=utf-8"),
        (f"{SWAGGER}/favicon-32x32.png", "image/png"),
        (f"{SWAGGER}/favicon-16x16.png", "image/png"),
        (f"{REDOC}/logo-mini.svg", "image/svg+xml"),
    ],
)
def test_asset_files(client: TestClient, name: str, media_type: str) -> None:
    path = BUNDLE.files[name.removeprefix("/_aster/docs/")][0]
    response = client.get(name)
    assert response.status_code == 200
    etag = response.headers["etag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)
    assert dict(response.headers) == {
        "cache-control": "public, max-age=31536000, immutable",
        "content-type": media_type,
        "accept-ranges": "bytes",
        "content-length": str(path.stat().st_size),
        "last-modified": formatdate(path.stat().st_mtime, usegmt=True),
        "etag": etag,
    }
    assert response.content == path.read_bytes()


def test_asset_revalidation(client: TestClient) -> None:
    name = f"{SWAGGER}/swagger-ui.css"
    first = client.get(name)
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    again = client.get(name, headers={"if-none-match": etag})
    assert again.status_code == 304
    assert dict(again.headers) == {"cache-control": CACHE_CONTROL, "etag": etag}
    assert again.content == b""
    assert client.get(name, headers={"if-none-match": f'"stale", W/{etag}'}).status_code == 304
    assert client.get(name, headers={"if-modified-since": modified}).status_code == 304
    stale = client.get(name, headers={"if-none-match": '"stale"', "if-modified-since": modified})
    assert stale.status_code == 200
    assert stale.content == first.content


def test_asset_head_and_range(client: TestClient) -> None:
    name = f"{SWAGGER}/swagger-ui.css"
    full = client.get(name)
    head = client.head(name)
    assert head.status_code == 200
    assert head.content == b""
    assert dict(head.headers) == dict(full.headers)
    part = client.get(name, headers={"range": "bytes=0-9"})
    assert part.status_code == 206
    assert part.content == full.content[:10]
    assert part.headers["content-range"] == f"bytes 0-9/{len(full.content)}"


def test_redoc_script_points_at_the_shipped_logo(client: TestClient) -> None:
    """The one off-host URL in ReDoc's bundle (its sidebar logo) becomes a data: URL."""
    name = f"{REDOC}/redoc.standalone.js"
    path = BUNDLE.files[name.removeprefix("/_aster/docs/")][0]
    response = client.get(name)
    assert response.status_code == 200
    etag = response.headers["etag"]
    assert dict(response.headers) == {
        "cache-control": CACHE_CONTROL,
        "etag": etag,
        "last-modified": formatdate(path.stat().st_mtime, usegmt=True),
        "content-length": str(len(response.content)),
        "content-type": "text/javascript; charset=utf-8",
    }
    original = path.read_bytes()
    assert b"https://cdn.redoc.ly/redoc/logo-mini.svg" in original
    assert b"cdn.redoc.ly" not in response.content
    assert b'src:"data:image/svg+xml;base64,' in response.content
    assert len(response.content) > len(original)
    cached = client.get(name, headers={"if-none-match": etag})
    assert cached.status_code == 304
    assert dict(cached.headers) == {"cache-control": CACHE_CONTROL, "etag": etag}
    modified = response.headers["last-modified"]
    assert client.get(name, headers={"if-modified-since": modified}).status_code == 304
    assert client.get(name, headers={"if-none-match": "*"}).status_code == 304
    assert client.get(name, headers={"if-none-match": '"x"'}).status_code == 200
    head = client.head(name)
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-length"] == str(len(response.content))


@pytest.mark.parametrize(
    "path",
    [
        "/_aster/docs/",
        "/_aster/docs/nothing.js",
        f"{SWAGGER}/",
        f"{SWAGGER}/index.html",  # the package's demo page (pointing at the petstore) is not served
        f"{SWAGGER}/missing.js",
        f"{SWAGGER}/swagger-ui.css/",
        f"{REDOC}/swagger-ui.css",
        "/_aster/docs/swagger-ui-dist@0.0.1/swagger-ui.css",
        "/_aster/docs/swagger_ui/vendor/swagger-ui.css",
        f"{SWAGGER}/%2e%2e/%2e%2e/__init__.py",
        f"{SWAGGER}/..%2f..%2f__init__.py",
        "/_aster/docs/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/_aster/docs/%2Fetc%2Fpasswd",
        f"{SWAGGER}/swagger-ui.css%00.png",
    ],
)
def test_unknown_assets_are_404(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404, path
    assert response.json() == {"detail": "Not Found"}


def test_asset_route_only_answers_get_and_head(client: TestClient) -> None:
    response = client.post(f"{SWAGGER}/swagger-ui.css")
    assert response.status_code == 405
    assert sorted(response.headers["allow"].split(", ")) == ["GET", "HEAD"]  # a set's order
    assert response.json() == {"detail": "Method Not Allowed"}


def test_bundle_versions_match_the_files() -> None:
    assert re.fullmatch(r"swagger-ui-dist@5\.\d+\.\d+", BUNDLE.swagger_dir)
    assert re.fullmatch(r"redoc@2\.\d+\.\d+", BUNDLE.redoc_dir)
    version = BUNDLE.swagger_dir.split("@")[1]
    script = BUNDLE.files[f"{BUNDLE.swagger_dir}/swagger-ui-bundle.js"][0].read_bytes()
    assert f'PACKAGE_VERSION:"{version}"'.encode() in script
    assert all(isinstance(path, Path) and path.is_file() for path, _ in BUNDLE.files.values())
    assert not any(key.endswith(".html") for key in BUNDLE.files)
    assert docs.swagger_ui_default_parameters is swagger_ui_default_parameters
