"""The docs pages and their assets over real sockets (``aster run``), and ``aster openapi``.

A browser sees what these clients see: the page, then each URL it names, then on a
reload the 304s its cached copies earn.  ``aster openapi`` must print exactly the
schema the running app serves, and fail with one line, no traceback.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from aster.openapi._assets import local_bundle
from aster.openapi.docs import get_redoc_html, get_swagger_ui_html
from tests.apps import fw_docs
from tests.support import ROOT, serve

APP = "tests.apps.fw_docs:app"
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
BUNDLE = local_bundle()
assert BUNDLE is not None
CACHE_CONTROL = "public, max-age=31536000, immutable"
ASSET_URL = re.compile(r'(?:src|href)="(/[^"]*_aster/docs/[^"]+)"')


def expected_swagger(root: str = "") -> str:
    assets = f"{root}/_aster/docs/{BUNDLE.swagger_dir}"
    return bytes(
        get_swagger_ui_html(
            openapi_url=f"{root}/openapi.json",
            title="Docs Demo - Swagger UI",
            swagger_js_url=f"{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{assets}/swagger-ui.css",
            swagger_favicon_url=f"{assets}/favicon-32x32.png",
            oauth2_redirect_url=f"{root}/docs/oauth2-redirect",
        ).body
    ).decode()


def expected_redoc(root: str = "") -> str:
    return bytes(
        get_redoc_html(
            openapi_url=f"{root}/openapi.json",
            title="Docs Demo - ReDoc",
            redoc_js_url=f"{root}/_aster/docs/{BUNDLE.redoc_dir}/redoc.standalone.js",
            redoc_favicon_url=f"{root}/_aster/docs/{BUNDLE.swagger_dir}/favicon-32x32.png",
            with_google_fonts=False,
        ).body
    ).decode()


def test_pages_and_every_asset_they_name() -> None:
    with serve(APP) as running, httpx.Client(base_url=running.url) as client:
        seen: set[str] = set()
        for page, expected in (("/docs", expected_swagger()), ("/redoc", expected_redoc())):
            response = client.get(page)
            assert response.status_code == 200
            assert response.headers["content-type"] == "text/html; charset=utf-8"
            assert response.headers["content-length"] == str(len(response.content))
            assert response.text == expected
            urls = ASSET_URL.findall(response.text)
            assert len(urls) == (3 if page == "/docs" else 2)
            for url in urls:
                asset = client.get(url)
                assert asset.status_code == 200, url
                assert asset.headers["cache-control"] == CACHE_CONTROL
                assert asset.headers["content-length"] == str(len(asset.content))
                media_type = asset.headers["content-type"]
                assert (
                    media_type
                    == {
                        "js": "text/javascript; charset=utf-8",
                        "css": "text/css; charset=utf-8",
                        "png": "image/png",
                    }[url.rsplit(".", 1)[1]]
                )
                if url.endswith(".js") or url.endswith(".css"):
                    assert b"https://cdn.redoc.ly" not in asset.content
                # A reload: the browser revalidates with the ETag and gets an empty 304.
                again = client.get(url, headers={"if-none-match": asset.headers["etag"]})
                assert again.status_code == 304
                assert again.content == b""
                assert again.headers["etag"] == asset.headers["etag"]
                assert again.headers["cache-control"] == CACHE_CONTROL
                assert "content-length" not in again.headers
                seen.add(url)
        assert client.get("/openapi.json").json() == fw_docs.app.openapi()
    assert any("swagger-ui-dist@5." in url for url in seen)


def test_unknown_assets_and_traversal_over_the_wire() -> None:
    with serve(APP) as running:
        swagger = f"/_aster/docs/{BUNDLE.swagger_dir}"
        for path in (
            f"{swagger}/index.html",
            f"{swagger}/../../../../../../etc/passwd",
            f"{swagger}/%2e%2e/%2e%2e/__init__.py",
            "/_aster/docs/..%2f..%2f..%2fetc%2fpasswd",
            f"{swagger}/swagger-ui.css%00",
        ):
            # httpx would fold the dot segments; send the target bytes as they are.
            response = raw_get(running.port, path)
            assert response.startswith(b"HTTP/1.1 404 Not Found\r\n"), (path, response[:200])
            assert response.endswith(b'\r\n\r\n{"detail":"Not Found"}'), path


def raw_get(port: int, target: str) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_head_conditional_and_compressed_fetch() -> None:
    with serve(APP) as running:
        url = f"{running.url}/_aster/docs/{BUNDLE.redoc_dir}/redoc.standalone.js"
        head = subprocess.run(
            ["curl", "-sS", "-I", url], capture_output=True, text=True, timeout=10, check=True
        )
        lines = head.stdout.splitlines()
        assert lines[0] == "HTTP/1.1 200 OK"
        headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
        assert headers["cache-control"] == CACHE_CONTROL
        assert headers["content-type"] == "text/javascript; charset=utf-8"
        etag = headers["etag"]
        body = subprocess.run(
            ["curl", "-sS", "--fail", url], capture_output=True, timeout=10, check=True
        ).stdout
        assert len(body) == int(headers["content-length"])
        assert b"cdn.redoc.ly" not in body
        cached = subprocess.run(
            ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-H", f"If-None-Match: {etag}"]
            + [url],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        assert cached.stdout == "304"


def test_root_path_behind_a_proxy() -> None:
    """``--root-path /api``: the proxy strips /api, the pages must name /api URLs."""
    with serve(APP, "--root-path", "/api") as running, httpx.Client(base_url=running.url) as c:
        page = c.get("/docs")
        assert page.text == expected_swagger("/api")
        assert c.get("/redoc").text == expected_redoc("/api")
        for url in ASSET_URL.findall(page.text):
            assert url.startswith("/api/_aster/docs/")
            assert c.get(url.removeprefix("/api")).status_code == 200
        schema = c.get("/openapi.json").json()
        assert schema["servers"] == [{"url": "/api"}]
        assert schema["paths"] == fw_docs.app.openapi()["paths"]


# -- aster openapi ---------------------------------------------------------------------


def aster(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aster", *args],
        cwd=cwd,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_openapi_command_prints_the_served_schema() -> None:
    result = aster("openapi", APP)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    schema = fw_docs.app.openapi()
    assert result.stdout == json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
    with serve(APP) as running:
        assert json.loads(result.stdout) == httpx.get(f"{running.url}/openapi.json").json()
    assert [op["summary"] for op in schema["paths"]["/items"].values()] == [
        "List items",
        "Create an item",
    ]


def test_openapi_command_via_the_console_script() -> None:
    script = Path(sys.executable).parent / "aster"
    if not script.exists():
        pytest.skip("the aster console script is not installed in this environment")
    result = subprocess.run(
        [str(script), "openapi", APP], cwd=ROOT, env=ENV, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["info"] == {
        "title": "Docs Demo",
        "description": "Items, for the docs tests.",
        "version": "1.2.3",
    }


def test_openapi_command_app_dir_factory_and_unicode(tmp_path: Path) -> None:
    (tmp_path / "svc.py").write_text(
        "from aster import FastAPI\n\n"
        "def make():\n"
        "    app = FastAPI(title='Café ☕', version='2')\n\n"
        "    @app.get('/x')\n"
        "    def x() -> int:\n"
        "        return 1\n\n"
        "    return app\n",
        encoding="utf-8",
    )
    result = aster("openapi", "svc:make", "--factory", "--app-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert '"title": "Café ☕"' in result.stdout
    assert list(json.loads(result.stdout)["paths"]) == ["/x"]
    without = aster("openapi", "svc:make", "--app-dir", str(tmp_path))
    assert without.returncode == 1
    assert without.stdout == ""
    assert without.stderr == (
        'ERROR     the app "svc:make" has no OpenAPI schema (it has no openapi() method)\n'
    )


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("tests.apps.fw_docs:nope", 'attribute "nope" not found in module "tests.apps.fw_docs"'),
        ("tests.apps.nowhere:app", 'could not import module "tests.apps.nowhere"'),
        (
            "fw_docs",
            '"fw_docs" is not a file or directory, and as an import string it must be '
            'in the format "<module>:<attribute>"',
        ),
        (
            "tests.apps.proto_echo:app",
            'the app "tests.apps.proto_echo:app" has no OpenAPI schema '
            "(it has no openapi() method)",
        ),
        (
            "tests.apps.fw_docs:ITEMS",
            'the app "tests.apps.fw_docs:ITEMS" is not callable (got dict)',
        ),
    ],
)
def test_openapi_command_errors(target: str, message: str) -> None:
    result = aster("openapi", target)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == f"ERROR     {message}\n"


def test_openapi_command_schema_failure_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text(
        "from aster import FastAPI\n\n"
        "class Broken(FastAPI):\n"
        "    def openapi(self):\n"
        "        raise ValueError('no schema today')\n\n"
        "app = Broken()\n"
    )
    result = aster("openapi", "broken:app", "--app-dir", str(tmp_path))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        "ERROR     could not generate the OpenAPI schema: ValueError: no schema today\n"
    )


def test_openapi_command_usage_errors() -> None:
    # No app: discovery looks for main.py and the like (there are none in the repo root).
    result = aster("openapi")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "ERROR     no app given, and none of main.py, app.py, api.py, app/main.py, "
        "app/app.py, app/api.py exists here; name a file or package "
        "(aster run path/to/main.py) or an import string (module:app)"
    ]
    unknown = aster("openapi", APP, "--port", "1")
    assert unknown.returncode == 2
    assert (
        unknown.stderr.splitlines()[-1] == "aster openapi: error: unrecognized arguments: --port 1"
    )
