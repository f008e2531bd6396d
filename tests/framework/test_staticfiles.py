"""aster.staticfiles: StaticFiles as Starlette 1.10 behaves, checked through the TestClient.

Statuses, header lists and error texts are Starlette 1.10's (checked side by side with it);
traversal attempts that httpx would normalise away are sent as raw ASGI scopes.
Socket-level checks against ``aster run`` are in tests/test_framework_static_server.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import sys
import threading
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest

from aster import FastAPI, Request
from aster.applications import Starlette
from aster.datastructures import Headers
from aster.exceptions import StarletteHTTPException
from aster.middleware import Middleware
from aster.middleware.base import BaseHTTPMiddleware
from aster.routing import Mount
from aster.staticfiles import NotModifiedResponse, StaticFiles
from aster.testclient import TestClient
from aster.websockets import WebSocketDisconnect

from .asgi import call, make_scope

MTIME = 1_381_448_400.0  # 2013-10-10 23:40:00 UTC
LAST_MODIFIED = "Thu, 10 Oct 2013 23:40:00 GMT"
TEXT = b"0123456789abcdef"


def etag_of(path: Path) -> str:
    st = path.stat()
    return '"' + hashlib.md5(f"{st.st_mtime}-{st.st_size}".encode()).hexdigest() + '"'


def write(path: Path, content: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    os.utime(path, (MTIME, MTIME))
    return path


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """``tmp_path/static`` to serve, with ``secret.txt`` beside it (never to be served)."""
    write(tmp_path / "secret.txt", "SECRET")
    static = tmp_path / "static"
    write(static / "a.txt", TEXT)
    write(static / "style.css", "body { color: green; }")
    write(static / "page.html", "<p>page</p>")
    write(static / "sub" / "b.txt", "bee")
    (static / "empty").mkdir()
    return static


def app_for(directory: Path, **options: Any) -> FastAPI:
    app = FastAPI()
    app.mount("/static", StaticFiles(directory=directory, **options), name="static")
    return app


@pytest.fixture
def client(tree: Path) -> Iterator[TestClient]:
    with TestClient(app_for(tree)) as client:
        yield client


def plain_client(directory: Path, **options: Any) -> TestClient:
    """A bare Starlette app: its errors are plain text, as in Starlette's own tests."""
    routes = [Mount("/", app=StaticFiles(directory=directory, **options), name="static")]
    return TestClient(Starlette(routes=routes), raise_server_exceptions=False)


# --- plain files -------------------------------------------------------------------------


def test_get_file_exact_headers(client: TestClient, tree: Path) -> None:
    response = client.get("/static/a.txt")
    assert response.status_code == 200
    assert response.headers.multi_items() == [
        ("content-type", "text/plain; charset=utf-8"),
        ("accept-ranges", "bytes"),
        ("content-length", "16"),
        ("last-modified", LAST_MODIFIED),
        ("etag", etag_of(tree / "a.txt")),
    ]
    assert response.content == TEXT


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("style.css", "text/css; charset=utf-8"),
        ("page.html", "text/html; charset=utf-8"),
        ("sub/b.txt", "text/plain; charset=utf-8"),
    ],
)
def test_content_types(client: TestClient, name: str, content_type: str) -> None:
    response = client.get(f"/static/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type


def test_head_sends_headers_only(client: TestClient, tree: Path) -> None:
    response = client.head("/static/a.txt")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == "16"
    assert response.headers["etag"] == etag_of(tree / "a.txt")


def test_head_through_base_http_middleware(tree: Path) -> None:
    async def passthrough(request: Any, call_next: Any) -> Any:
        return await call_next(request)

    app = Starlette(
        routes=[Mount("/static", app=StaticFiles(directory=tree), name="static")],
        middleware=[Middleware(BaseHTTPMiddleware, dispatch=passthrough)],
    )
    response = TestClient(app).head("/static/a.txt")
    assert (response.status_code, response.headers["content-length"]) == (200, "16")


def test_large_file_is_sent_whole(tmp_path: Path) -> None:
    data = os.urandom(1024 * 1024 + 7)  # several FileResponse chunks
    write(tmp_path / "big.bin", data)
    response = TestClient(app_for(tmp_path)).get("/static/big.bin")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-length"] == str(len(data))
    assert response.content == data


def test_pathlib_and_str_directories(tree: Path) -> None:
    for directory in (tree, str(tree)):
        assert TestClient(app_for(directory)).get("/static/sub/b.txt").text == "bee"  # type: ignore[arg-type]


def test_bare_static_files_app(tree: Path) -> None:
    client = TestClient(StaticFiles(directory=tree))
    assert client.get("/a.txt").content == TEXT
    with pytest.raises(StarletteHTTPException) as exc_info:
        client.get("/missing.txt")
    assert (exc_info.value.status_code, exc_info.value.detail) == (404, "Not Found")


# --- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_other_methods_are_405(client: TestClient, tree: Path, method: str) -> None:
    response = client.request(method, "/static/a.txt")
    assert response.status_code == 405
    assert response.headers.multi_items() == [
        ("allow", "GET, HEAD"),
        ("content-length", "31"),
        ("content-type", "application/json"),
    ]
    assert response.content == b'{"detail":"Method Not Allowed"}'
    plain = plain_client(tree).request(method, "/a.txt")
    assert (plain.status_code, plain.text, plain.headers["allow"]) == (
        405,
        "Method Not Allowed",
        "GET, HEAD",
    )


@pytest.mark.parametrize(
    "path",
    [
        "/missing.txt",
        "/",
        "/empty",
        "/empty/",
        "/sub",
        "/a.txt/more",
        "/nodir/a.txt",
        "/" + "x" * 300,
    ],
)
def test_not_found(client: TestClient, tree: Path, path: str) -> None:
    response = client.get("/static" + path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.content == b'{"detail":"Not Found"}'
    plain = plain_client(tree).get(path)
    assert (plain.status_code, plain.text) == (404, "Not Found")


def test_mount_path_without_slash_redirects(client: TestClient) -> None:
    response = client.get("/static", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == "http://testserver/static/"


def test_permission_error_is_401(tree: Path) -> None:
    class Denied(StaticFiles):
        def lookup_path(self, path: str) -> tuple[str, os.stat_result | None]:
            raise PermissionError(13, "Permission denied")

    routes = [Mount("/", app=Denied(directory=tree))]
    response = TestClient(Starlette(routes=routes)).get("/a.txt")
    assert (response.status_code, response.text) == (401, "Unauthorized")


@pytest.mark.skipif(
    sys.platform == "win32" or os.geteuid() == 0, reason="root ignores directory permissions"
)
def test_unreadable_directory_is_401(tree: Path) -> None:  # pragma: no cover - not as root
    mode = tree.stat().st_mode
    tree.chmod(0o000)
    try:
        response = plain_client(tree).get("/a.txt")
        assert (response.status_code, response.text) == (401, "Unauthorized")
    finally:
        tree.chmod(mode)


def test_other_os_errors_propagate(tree: Path) -> None:
    class Broken(StaticFiles):
        def lookup_path(self, path: str) -> tuple[str, os.stat_result | None]:
            raise TimeoutError("disk went away")

    app = Starlette(routes=[Mount("/", app=Broken(directory=tree))])
    with pytest.raises(TimeoutError):
        TestClient(app).get("/a.txt")
    response = TestClient(app, raise_server_exceptions=False).get("/a.txt")
    assert (response.status_code, response.text) == (500, "Internal Server Error")


# --- configuration ------------------------------------------------------------------------


def test_missing_directory_fails_at_construction(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(RuntimeError) as exc_info:
        StaticFiles(directory=missing)
    assert str(exc_info.value) == f"Directory '{missing}' does not exist"


def test_missing_directory_fails_on_first_request(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    client = TestClient(StaticFiles(directory=missing, check_dir=False))
    with pytest.raises(RuntimeError) as exc_info:
        client.get("/a.txt")
    assert str(exc_info.value) == f"StaticFiles directory '{missing}' does not exist."


def test_file_as_directory_fails_on_first_request(tree: Path) -> None:
    path = tree / "a.txt"
    client = TestClient(StaticFiles(directory=path, check_dir=False))
    with pytest.raises(RuntimeError) as exc_info:
        client.get("/a.txt")
    assert str(exc_info.value) == f"StaticFiles path '{path}' is not a directory."


def test_directory_created_after_construction(tmp_path: Path) -> None:
    later = tmp_path / "later"
    app = app_for(later, check_dir=False)
    write(later / "x.txt", "made later")
    assert TestClient(app).get("/static/x.txt").text == "made later"


def test_config_is_checked_once(tree: Path) -> None:
    app = StaticFiles(directory=tree)
    calls = 0
    original = app.check_config

    async def counting() -> None:
        nonlocal calls
        calls += 1
        await original()

    app.check_config = counting  # type: ignore[method-assign]
    client = TestClient(app)
    assert not app.config_checked
    client.get("/a.txt")
    client.get("/sub/b.txt")
    assert (app.config_checked, calls) == (True, 1)


def test_no_directories_serves_nothing() -> None:
    app = StaticFiles()
    assert app.all_directories == []
    with pytest.raises(StarletteHTTPException):
        TestClient(app).get("/a.txt")


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    root = tmp_path / "pkgroot"
    write(root / "static_pkg" / "__init__.py", "")
    write(root / "static_pkg" / "statics" / "p.txt", "from statics")
    write(root / "static_pkg" / "assets" / "p.txt", "from assets")
    write(root / "static_pkg" / "assets" / "only.txt", "only in assets")
    monkeypatch.syspath_prepend(str(root))
    return "static_pkg"


def test_packages(package: str, tree: Path) -> None:
    assert TestClient(StaticFiles(packages=[package])).get("/p.txt").text == "from statics"
    client = TestClient(StaticFiles(packages=[(package, "assets")]))
    assert client.get("/p.txt").text == "from assets"
    # directory first, then the packages in order
    write(tree / "p.txt", "from directory")
    app = StaticFiles(directory=tree, packages=[package, (package, "assets")])
    client = TestClient(app)
    assert client.get("/p.txt").text == "from directory"
    assert client.get("/only.txt").text == "only in assets"
    assert app.get_directories(None, [package]) == [
        str(Path(tree.parent, "pkgroot", package, "statics"))
    ]


def test_package_errors(package: str) -> None:
    with pytest.raises(AssertionError, match="Package 'no_such_pkg_x' could not be found."):
        StaticFiles(packages=["no_such_pkg_x"])
    with pytest.raises(AssertionError) as exc_info:
        StaticFiles(packages=[(package, "missing")])
    assert (
        str(exc_info.value) == f"Directory ''missing'' in package '{package}' could not be found."
    )


def test_websocket_is_closed(tree: Path) -> None:
    with pytest.raises(WebSocketDisconnect) as exc_info:
        with TestClient(app_for(tree)).websocket_connect("/static/a.txt"):
            pass  # pragma: no cover
    assert exc_info.value.code == 1000


def test_url_for(tree: Path) -> None:
    app = app_for(tree)
    assert app.url_path_for("static", path="/css/x.css") == "/static/css/x.css"
    assert app.url_path_for("static", path="a.txt") == "/static/a.txt"

    @app.get("/link")
    def link(request: Request) -> dict[str, str]:
        return {"url": str(request.url_for("static", path="/sub/b.txt"))}

    client = TestClient(app, root_path="/api")
    assert client.get("/api/link").json() == {"url": "http://testserver/api/static/sub/b.txt"}
    assert client.get("/api/static/sub/b.txt").text == "bee"


# --- validators: 304 ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"if-none-match": "ETAG"},
        {"if-none-match": "W/ETAG"},
        {"if-none-match": '"other", ETAG'},
        {"if-none-match": " * "},
        # RFC 9110 13.1.2: one matching member is enough, compared weakly; * matches anything
        {"if-none-match": '"other", *'},
        {"if-none-match": '*, "other"'},
        {"if-none-match": '"a,b", W/ETAG,"c"'},
        {"if-none-match": 'W/"other",\tW/ETAG'},
        {"if-modified-since": LAST_MODIFIED},
        {"if-modified-since": "Fri, 11 Oct 2013 15:30:19 GMT"},
        {"if-none-match": "ETAG", "if-modified-since": "Mon, 01 Jan 2001 00:00:00 GMT"},
    ],
)
def test_not_modified(client: TestClient, tree: Path, headers: dict[str, str]) -> None:
    etag = etag_of(tree / "a.txt")
    headers = {k: v.replace("ETAG", etag) for k, v in headers.items()}
    for method in ("GET", "HEAD"):
        response = client.request(method, "/static/a.txt", headers=headers)
        assert response.status_code == 304
        assert response.headers.multi_items() == [("etag", etag)]
        assert response.content == b""


@pytest.mark.parametrize(
    "headers",
    [
        {"if-none-match": '"other"'},
        # a quoted "*" is an opaque tag, and commas inside quotes do not split the list
        {"if-none-match": '"*"'},
        {"if-none-match": '"foo,*,bar"'},
        {"if-none-match": '"other", "foo,*,bar", W/"x"'},
        {"if-modified-since": "Wed, 20 Feb 2013 15:30:19 GMT"},
        {"if-modified-since": "not a date"},
        # a stale ETag wins over a matching date (RFC 9110 13.2.2)
        {"if-none-match": '"other"', "if-modified-since": LAST_MODIFIED},
    ],
)
def test_modified(client: TestClient, headers: dict[str, str]) -> None:
    response = client.get("/static/a.txt", headers=headers)
    assert response.status_code == 200
    assert response.content == TEXT


def test_not_modified_for_html_index_and_not_for_404_page(tmp_path: Path) -> None:
    write(tmp_path / "dir" / "index.html", "<p>index</p>")
    write(tmp_path / "404.html", "<p>not found</p>")
    client = TestClient(app_for(tmp_path, html=True))
    etag = etag_of(tmp_path / "dir" / "index.html")
    assert client.get("/static/dir/", headers={"if-none-match": etag}).status_code == 304
    response = client.get("/static/gone", headers={"if-none-match": etag_of(tmp_path / "404.html")})
    assert (response.status_code, response.text) == (404, "<p>not found</p>")


def test_not_modified_response_keeps_only_cache_headers() -> None:
    from aster.datastructures import Headers

    headers = Headers(
        {
            "etag": '"x"',
            "cache-control": "max-age=60",
            "vary": "accept-encoding",
            "content-length": "5",
            "content-type": "text/plain",
            "last-modified": LAST_MODIFIED,
        }
    )
    response = NotModifiedResponse(headers)
    assert response.status_code == 304
    assert response.body == b""
    assert sorted(response.raw_headers) == [
        (b"cache-control", b"max-age=60"),
        (b"etag", b'"x"'),
        (b"vary", b"accept-encoding"),
    ]


@pytest.mark.parametrize(
    ("if_none_match", "etag", "expected"),
    [
        ('"x"', '"x"', True),
        ('W/"x"', '"x"', True),
        ('"x"', 'W/"x"', True),  # weak comparison: either side may be weak
        ('"y", *', '"x"', True),
        ('"y" , W/"x"', '"x"', True),
        ('"y"', '"x"', False),
        ('"*"', '"x"', False),
        ('"foo,*,bar"', '"x"', False),
        ('"x,y"', '"x,y"', True),
        ('"x', '"x"', False),
    ],
)
def test_is_not_modified_follows_rfc_9110_for_if_none_match(
    tree: Path, if_none_match: str, etag: str, expected: bool
) -> None:
    static = StaticFiles(directory=tree)
    response_headers = Headers({"etag": etag})
    request_headers = Headers({"if-none-match": if_none_match})
    assert static.is_not_modified(response_headers, request_headers) is expected


def test_is_not_modified_can_be_overridden(tree: Path) -> None:
    class NeverCached(StaticFiles):
        def is_not_modified(self, response_headers: Any, request_headers: Any) -> bool:
            return False

    app = FastAPI()
    app.mount("/static", NeverCached(directory=tree))
    response = TestClient(app).get("/static/a.txt", headers={"if-modified-since": LAST_MODIFIED})
    # FileResponse itself still honours the validator: the file is not re-sent.
    assert response.status_code == 304


def test_deleted_file_is_not_answered_from_cache(tmp_path: Path) -> None:
    some = write(tmp_path / "some.html", "<p>some</p>")
    write(tmp_path / "404.html", "<p>404 page</p>")
    client = TestClient(app_for(tmp_path, html=True))
    first = client.get("/static/some.html")
    since = {"if-modified-since": first.headers["last-modified"]}
    assert client.get("/static/some.html", headers=since).status_code == 304
    some.unlink()
    response = client.get("/static/some.html", headers=since)
    assert (response.status_code, response.text) == (404, "<p>404 page</p>")


# --- Range ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "content_range", "body"),
    [
        ("bytes=2-5", "bytes 2-5/16", b"2345"),
        ("bytes=10-", "bytes 10-15/16", b"abcdef"),
        ("bytes=-3", "bytes 13-15/16", b"def"),
        ("bytes=14-100", "bytes 14-15/16", b"ef"),
        ("bytes=0-0", "bytes 0-0/16", b"0"),
    ],
)
def test_single_range(client: TestClient, spec: str, content_range: str, body: bytes) -> None:
    response = client.get("/static/a.txt", headers={"range": spec})
    assert response.status_code == 206
    assert response.headers["content-range"] == content_range
    assert response.headers["content-length"] == str(len(body))
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.content == body
    head = client.head("/static/a.txt", headers={"range": spec})
    assert (head.status_code, head.headers["content-range"], head.content) == (
        206,
        content_range,
        b"",
    )


def test_multiple_ranges(client: TestClient) -> None:
    response = client.get("/static/a.txt", headers={"range": "bytes=0-1, 10-11, 1-3"})
    assert response.status_code == 206
    match = re.fullmatch(
        r"multipart/byteranges; boundary=([0-9a-f]+)", response.headers["content-type"]
    )
    assert match is not None
    boundary = match.group(1)
    expected = (
        f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Range: bytes 0-3/16\r\n\r\n0123\r\n"  # 0-1 and 1-3 merged
        f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Range: bytes 10-11/16\r\n\r\nab\r\n"
        f"--{boundary}--"
    ).encode()
    assert response.content == expected
    assert response.headers["content-length"] == str(len(expected))


@pytest.mark.parametrize(
    ("spec", "status", "body", "content_range"),
    [
        ("bytes=16-", 416, b"", "bytes */16"),
        ("bytes=100-200", 416, b"", "bytes */16"),
        ("bytes=5-2", 400, b"Range header: start must be less than end", None),
        ("chars=0-1", 400, b"Only support bytes range", None),
        ("bytes", 400, b"Malformed range header.", None),
        ("bytes=x-y", 400, b"Range header: range must be requested", None),
    ],
)
def test_bad_ranges(
    client: TestClient, spec: str, status: int, body: bytes, content_range: str | None
) -> None:
    response = client.get("/static/a.txt", headers={"range": spec})
    assert response.status_code == status
    assert response.content == body
    assert response.headers.get("content-range") == content_range


def test_if_range(client: TestClient, tree: Path) -> None:
    etag = etag_of(tree / "a.txt")
    for validator in (etag, LAST_MODIFIED):
        response = client.get(
            "/static/a.txt", headers={"range": "bytes=0-1", "if-range": validator}
        )
        assert (response.status_code, response.content) == (206, b"01")
    for stale in ('"stale"', "W/" + etag, "Mon, 01 Jan 2001 00:00:00 GMT"):
        response = client.get("/static/a.txt", headers={"range": "bytes=0-1", "if-range": stale})
        assert (response.status_code, response.content) == (200, TEXT)


def test_range_on_large_file_crosses_chunks(tmp_path: Path) -> None:
    data = os.urandom(300_000)
    write(tmp_path / "big.bin", data)
    client = TestClient(app_for(tmp_path))
    response = client.get("/static/big.bin", headers={"range": "bytes=60000-200000"})
    assert response.status_code == 206
    assert response.content == data[60000:200001]


# --- html mode ------------------------------------------------------------------------------


@pytest.fixture
def site(tmp_path: Path) -> Path:
    write(tmp_path / "index.html", "<p>home</p>")
    write(tmp_path / "404.html", "<h1>Custom not found page</h1>")
    write(tmp_path / "dir" / "index.html", "<h1>Hello</h1>")
    (tmp_path / "noindex").mkdir()
    return tmp_path


def test_html_index_and_redirect(site: Path) -> None:
    client = TestClient(app_for(site, html=True))
    response = client.get("/static/dir", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers.multi_items() == [
        ("content-length", "0"),
        ("location", "http://testserver/static/dir/"),
    ]
    response = client.get("/static/dir?x=1", follow_redirects=False)
    assert response.headers["location"] == "http://testserver/static/dir/?x=1"
    for path in ("/static/dir/", "/static/dir/index.html"):
        response = client.get(path)
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        assert response.text == "<h1>Hello</h1>"
    response = client.get("/static/dir")
    assert (str(response.url), response.text) == ("http://testserver/static/dir/", "<h1>Hello</h1>")
    assert client.get("/static/").text == "<p>home</p>"


def test_html_404_page(site: Path) -> None:
    client = TestClient(app_for(site, html=True))
    for path in ("/static/missing", "/static/noindex", "/static/noindex/", "/static/dir/nope.html"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 404
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        assert response.headers["content-length"] == "30"
        assert response.text == "<h1>Custom not found page</h1>"
    head = client.head("/static/missing")
    assert (head.status_code, head.content, head.headers["content-length"]) == (404, b"", "30")
    # The 404 page is never answered with 304 (validators only apply to 200s).
    etag = client.get("/static/404.html").headers["etag"]
    assert client.get("/static/missing", headers={"if-none-match": etag}).status_code == 404


def test_html_without_404_page(site: Path) -> None:
    (site / "404.html").unlink()
    client = TestClient(app_for(site, html=True))
    response = client.get("/static/missing")
    assert (response.status_code, response.content) == (404, b'{"detail":"Not Found"}')
    assert client.get("/static/noindex/").status_code == 404


def test_html_off_ignores_index(site: Path) -> None:
    client = TestClient(app_for(site))
    assert client.get("/static/dir/").status_code == 404
    assert client.get("/static/dir", follow_redirects=False).status_code == 404
    assert client.get("/static/missing").content == b'{"detail":"Not Found"}'


# --- traversal --------------------------------------------------------------------------------


TRAVERSALS = [
    "/static/../secret.txt",
    "/static/sub/../../secret.txt",
    "/static/./../secret.txt",
    "/static/..\\secret.txt",
    "/static//../secret.txt",
    "/static/%2e%2e/secret.txt",  # if a server left it encoded
    "/static/secret.txt\x00",
    "/static/a.txt\x00.png",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_traversal_via_raw_scope_is_404(tree: Path, path: str) -> None:
    app = app_for(tree)
    result = asyncio.run(call(app, make_scope(path)))
    assert result.status == 404
    assert result.body == b'{"detail":"Not Found"}'


def test_absolute_and_dotted_paths_are_refused(tree: Path) -> None:
    app = StaticFiles(directory=tree)
    secret = str(tree.parent / "secret.txt")
    assert app.lookup_path(secret) == ("", None)
    assert app.lookup_path("/etc/passwd") == ("", None)
    assert app.lookup_path("\\etc\\passwd") == ("", None)
    assert app.lookup_path("../secret.txt") == ("", None)
    assert app.get_path({"path": "/../secret.txt"}) == os.path.join("..", "secret.txt")
    assert app.get_path({"path": "//etc/passwd"}) == os.path.join("etc", "passwd")
    assert app.get_path({"path": "/static/x/../a.txt", "root_path": "/static"}) == "a.txt"
    with pytest.raises(StarletteHTTPException) as exc_info:
        asyncio.run(app.get_response(app.get_path({"path": "/../secret.txt"}), {"method": "GET"}))
    assert (exc_info.value.status_code, exc_info.value.detail) == (404, "Not Found")


def test_symlinks(tmp_path: Path) -> None:
    static = tmp_path / "static"
    write(static / "real.txt", "real")
    outside = tmp_path / "outside"
    write(outside / "page.html", "<h1>outside</h1>")
    (static / "inner-link.txt").symlink_to(static / "real.txt")
    (static / "out-link.html").symlink_to(outside / "page.html")
    (static / "out-dir").symlink_to(outside, target_is_directory=True)

    strict = TestClient(app_for(static))
    assert strict.get("/static/inner-link.txt").text == "real"
    assert strict.get("/static/out-link.html").status_code == 404
    assert strict.get("/static/out-dir/page.html").status_code == 404

    following = TestClient(app_for(static, follow_symlink=True))
    assert following.get("/static/out-link.html").text == "<h1>outside</h1>"
    assert following.get("/static/out-dir/page.html").text == "<h1>outside</h1>"
    # follow_symlink trusts links, not "..": the path itself still cannot climb out.
    result = asyncio.run(call(following.app, make_scope("/static/../outside/page.html")))
    assert result.status == 404


def test_symlinked_served_directory(tmp_path: Path) -> None:
    write(tmp_path / "real" / "a.txt", "via link")
    (tmp_path / "linked").symlink_to(tmp_path / "real", target_is_directory=True)
    assert TestClient(app_for(tmp_path / "linked")).get("/static/a.txt").text == "via link"


def test_null_byte_and_long_names_are_404(client: TestClient) -> None:
    assert client.get("/static/a%00.txt").status_code == 404
    assert client.get("/static/" + "n" * 5000).status_code == 404
    assert client.get("/static/" + "/".join(["d" * 250] * 20)).status_code == 404


# --- the event loop stays free ------------------------------------------------------------------


def test_filesystem_calls_run_off_the_event_loop(tree: Path) -> None:
    threads: dict[str, int] = {}

    class Recording(StaticFiles):
        def lookup_path(self, path: str) -> tuple[str, os.stat_result | None]:
            threads["lookup"] = threading.get_ident()
            return super().lookup_path(path)

        async def get_response(self, path: str, scope: Any) -> Any:
            threads["loop"] = threading.get_ident()
            return await super().get_response(path, scope)

    app = FastAPI()
    app.mount("/static", Recording(directory=tree))
    assert TestClient(app).get("/static/a.txt").status_code == 200
    assert threads["lookup"] != threads["loop"]


def test_slow_disk_does_not_block_other_requests(tree: Path) -> None:
    release = threading.Event()

    class Slow(StaticFiles):
        def lookup_path(self, path: str) -> tuple[str, os.stat_result | None]:
            assert release.wait(10)  # a blocking wait: only harmless in a worker thread
            return super().lookup_path(path)

    app = FastAPI()
    app.mount("/slow", Slow(directory=tree))

    @app.get("/fast")
    async def fast() -> dict[str, bool]:
        release.set()
        return {"ok": True}

    async def both() -> tuple[Any, Any]:
        slow = asyncio.ensure_future(call(app, make_scope("/slow/a.txt")))
        await asyncio.sleep(0.05)
        fast_result = await asyncio.wait_for(call(app, make_scope("/fast")), 5)
        return await asyncio.wait_for(slow, 5), fast_result

    slow_result, fast_result = asyncio.run(both())
    assert (fast_result.status, slow_result.status, slow_result.body) == (200, 200, TEXT)


def test_formatdate_matches_last_modified(tree: Path) -> None:
    # Guards the fixture: LAST_MODIFIED is what FileResponse derives from MTIME.
    assert formatdate(MTIME, usegmt=True) == LAST_MODIFIED
