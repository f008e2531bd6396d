"""``app.frontend()`` behind a real ``aster run``, checked with curl and raw sockets.

The app is tests/apps/fw_frontend.py; the build is written to a temporary directory
with a fixed modification time, so ETag and Last-Modified are known exactly.  What
only the wire shows: the SPA fallback as a browser gets it (``Accept: text/html``)
next to a script's 404, HEAD with no body bytes on a kept-alive connection, 304s and
ranges through the frontend, a raw ``..`` path the server passes through untouched
(``--path-as-is``), and a dependency guarding an included frontend.
In-process checks are in tests/framework/test_frontend.py.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import RawConnection, Running, app_headers, curl, needs_curl, serve

pytestmark = needs_curl

MTIME = 1_381_448_400.0  # 2013-10-10 23:40:00 UTC
LAST_MODIFIED = "Thu, 10 Oct 2013 23:40:00 GMT"
SHELL = b"<!doctype html><title>shell</title><div id=root></div>"
ADMIN_404 = b"<h1>admin: no such page</h1>"
BUNDLE = hashlib.sha256(b"bundle").digest() * 8_000  # 256 000 bytes: several chunks
NOT_FOUND = b'{"detail":"Not Found"}'
HTML = "text/html; charset=utf-8"
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def write(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    os.utime(path, (MTIME, MTIME))


def etag_of(path: Path) -> str:
    st = path.stat()
    return '"' + hashlib.md5(f"{st.st_mtime}-{st.st_size}".encode()).hexdigest() + '"'


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fw_frontend")
    write(root / "secret.txt", b"SECRET")
    write(root / "site" / "index.html", SHELL)
    write(root / "site" / "assets" / "bundle.js", BUNDLE)
    write(root / "site" / "api" / "items", b"a file shadowed by the API route")
    write(root / "admin" / "index.html", b"<p>admin</p>")
    write(root / "admin" / "404.html", ADMIN_404)
    return root


@pytest.fixture(scope="module")
def server(root: Path) -> Iterator[Running]:
    with serve("tests.apps.fw_frontend:app", env={"FW_FRONTEND_DIR": str(root)}) as running:
        yield running


def test_an_asset_is_served_whole_with_its_validators(server: Running, root: Path) -> None:
    status, headers, body = curl(f"{server.url}/assets/bundle.js")
    assert status == 200
    assert hashlib.sha256(body).digest() == hashlib.sha256(BUNDLE).digest()
    assert app_headers(headers) == {
        "content-type": f"{mimetypes.guess_type('bundle.js')[0]}; charset=utf-8",
        "accept-ranges": "bytes",
        "content-length": str(len(BUNDLE)),
        "last-modified": LAST_MODIFIED,
        "etag": etag_of(root / "site" / "assets" / "bundle.js"),
    }


def test_a_browser_navigation_gets_the_shell(server: Running, root: Path) -> None:
    status, headers, body = curl("-H", f"Accept: {BROWSER}", f"{server.url}/dashboard/settings")
    assert (status, body) == (200, SHELL)
    assert app_headers(headers) == {
        "content-type": HTML,
        "accept-ranges": "bytes",
        "content-length": str(len(SHELL)),
        "last-modified": LAST_MODIFIED,
        "etag": etag_of(root / "site" / "index.html"),
    }


def test_a_script_asking_for_a_missing_file_gets_a_404(server: Running) -> None:
    status, headers, body = curl("-H", "Accept: */*", f"{server.url}/assets/missing.js")
    assert (status, body) == (404, NOT_FOUND)
    assert app_headers(headers) == {
        "content-type": "application/json",
        "content-length": str(len(NOT_FOUND)),
    }


def test_path_operations_win_over_files(server: Running) -> None:
    status, _, body = curl("-H", f"Accept: {BROWSER}", f"{server.url}/api/items")
    assert (status, json.loads(body)) == (200, [1, 2, 3])
    # The API route's slash redirect comes before any frontend answer.
    status, headers, _ = curl(f"{server.url}/api")
    assert (status, headers["location"]) == (307, f"{server.url}/api/")


def test_other_methods_get_405_on_files_and_404_elsewhere(server: Running) -> None:
    status, headers, body = curl("-X", "POST", f"{server.url}/assets/bundle.js")
    assert (status, body) == (405, b'{"detail":"Method Not Allowed"}')
    assert headers["allow"] == "GET, HEAD"
    status, _, body = curl("-X", "PUT", "-H", f"Accept: {BROWSER}", f"{server.url}/dashboard")
    assert (status, body) == (404, NOT_FOUND)


def test_head_and_a_304_on_one_kept_alive_connection(server: Running, root: Path) -> None:
    etag = etag_of(root / "site" / "assets" / "bundle.js")
    with RawConnection(server.port) as conn:
        conn.send(b"HEAD /assets/bundle.js HTTP/1.1\r\nHost: t\r\n\r\n")
        head = conn.read_response("HEAD")
        assert head.status == 200
        assert head.header("content-length") == str(len(BUNDLE))
        assert head.body == b""
        conn.send(
            b"GET /assets/bundle.js HTTP/1.1\r\nHost: t\r\nIf-None-Match: %s\r\n\r\n"
            % etag.encode()
        )
        cached = conn.read_response()
        assert (cached.status, cached.body, cached.header("etag")) == (304, b"", etag)
        conn.send(b"GET /deep/link HTTP/1.1\r\nHost: t\r\nAccept: text/html\r\n\r\n")
        shell = conn.read_response()
        assert (shell.status, shell.body) == (200, SHELL)
        # Nothing was left over on the connection: HEAD and 304 sent no body bytes.
        assert conn.buffer == b""
        assert not conn.is_closed(timeout=0.3)


def test_a_range_of_an_asset(server: Running) -> None:
    start, end = 65_000, 140_000
    status, headers, body = curl("-r", f"{start}-{end}", f"{server.url}/assets/bundle.js")
    assert (status, headers["content-range"]) == (206, f"bytes {start}-{end}/{len(BUNDLE)}")
    assert body == BUNDLE[start : end + 1]


@pytest.mark.parametrize(
    "path", ["/../secret.txt", "/assets/../../secret.txt", "/%2e%2e/secret.txt", "/..%2fsecret.txt"]
)
def test_raw_traversal_is_refused(server: Running, path: str) -> None:
    status, _, body = curl("--path-as-is", f"{server.url}{path}")
    assert (status, body) == (404, NOT_FOUND)


def test_an_included_frontend_behind_a_dependency(server: Running) -> None:
    status, _, body = curl("-H", f"Accept: {BROWSER}", f"{server.url}/admin/")
    assert (status, body) == (401, b'{"detail":"log in first"}')
    cookie = ("-H", "Cookie: session=ok")
    status, _, body = curl(*cookie, f"{server.url}/admin/")
    assert (status, body) == (200, b"<p>admin</p>")
    status, headers, body = curl(*cookie, "-H", f"Accept: {BROWSER}", f"{server.url}/admin/x")
    assert (status, body, headers["content-type"]) == (404, ADMIN_404, HTML)
    # /admin is the longer prefix: the site's SPA fallback does not answer below it.
    status, _, body = curl("-H", f"Accept: {BROWSER}", f"{server.url}/administrator")
    assert (status, body) == (200, SHELL)
