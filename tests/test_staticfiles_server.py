"""StaticFiles behind a real ``aster run``, checked with curl (and raw sockets for HEAD).

The app is tests/apps/fw_static.py; the files are written to a temporary directory
with a fixed modification time, so ETag and Last-Modified are known exactly
(Starlette's: ``md5("<mtime>-<size>")`` and the HTTP date of the mtime).  What only
the wire shows: ranges and 304s as curl sees them, a raw ``..`` path that the
server passes through untouched (``--path-as-is``) and StaticFiles refuses, and a
HEAD answer with no body bytes at all on a kept-alive connection.
In-process checks are in tests/framework/test_staticfiles.py.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path

import pytest

from tests.support import RawConnection, Running, app_headers, curl, needs_curl, serve

pytestmark = needs_curl

MTIME = 1_381_448_400.0  # 2013-10-10 23:40:00 UTC
LAST_MODIFIED = "Thu, 10 Oct 2013 23:40:00 GMT"
DATA = bytes(range(256)) * 4  # 1024 bytes
BIG = hashlib.sha256(b"seed").digest() * 10_000  # 320 000 bytes: several 64 KiB chunks
NOT_FOUND = b'{"detail":"Not Found"}'
HTML = "text/html; charset=utf-8"


def write(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    os.utime(path, (MTIME, MTIME))


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``static/`` and ``site/`` to serve; ``secret.txt`` and ``pyproject.toml`` beside them."""
    root = tmp_path_factory.mktemp("fw_static")
    write(root / "secret.txt", b"SECRET")
    write(root / "pyproject.toml", b"[project]\nname = 'not-to-be-served'\n")
    write(root / "static" / "data.bin", DATA)
    write(root / "static" / "big.bin", BIG)
    write(root / "static" / "sub" / "a.txt", b"hi\n")
    write(root / "site" / "index.html", b"<p>home</p>")
    write(root / "site" / "404.html", b"<h1>Custom not found page</h1>")
    write(root / "site" / "docs" / "index.html", b"<p>docs</p>")
    (root / "site" / "empty").mkdir()
    return root


@pytest.fixture(scope="module")
def server(root: Path) -> Iterator[Running]:
    with serve("tests.apps.fw_static:app", env={"FW_STATIC_DIR": str(root)}) as running:
        yield running


def etag_of(path: Path) -> str:
    st = path.stat()
    return '"' + hashlib.md5(f"{st.st_mtime}-{st.st_size}".encode()).hexdigest() + '"'


def file_headers(root: Path, name: str, content_type: str, length: int) -> dict[str, str]:
    return {
        "content-type": content_type,
        "accept-ranges": "bytes",
        "content-length": str(length),
        "last-modified": LAST_MODIFIED,
        "etag": etag_of(root / name),
    }


def test_last_modified_is_the_mtime() -> None:
    assert formatdate(MTIME, usegmt=True) == LAST_MODIFIED


def test_whole_file(server: Running, root: Path) -> None:
    status, headers, body = curl(f"{server.url}/static/data.bin")
    assert (status, body) == (200, DATA)
    assert app_headers(headers) == file_headers(
        root, "static/data.bin", "application/octet-stream", 1024
    )


def test_large_file_crosses_chunks_intact(server: Running, root: Path) -> None:
    status, headers, body = curl(f"{server.url}/static/big.bin")
    assert status == 200
    assert headers["content-length"] == str(len(BIG))
    assert hashlib.sha256(body).digest() == hashlib.sha256(BIG).digest()


# --- ranges -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "start", "end"),
    [
        ("10-19", 10, 19),
        ("1000-", 1000, 1023),
        ("-16", 1008, 1023),
        ("0-0", 0, 0),
        ("1020-5000", 1020, 1023),
    ],
)
def test_single_range_is_206(server: Running, root: Path, spec: str, start: int, end: int) -> None:
    status, headers, body = curl("-r", spec, f"{server.url}/static/data.bin")
    assert (status, body) == (206, DATA[start : end + 1])
    expected = file_headers(root, "static/data.bin", "application/octet-stream", end + 1 - start)
    assert app_headers(headers) == {**expected, "content-range": f"bytes {start}-{end}/1024"}


def test_range_across_chunk_boundary(server: Running) -> None:
    start, end = 65_000, 140_000  # spans the 64 KiB and 128 KiB read boundaries
    status, headers, body = curl("-r", f"{start}-{end}", f"{server.url}/static/big.bin")
    assert (status, headers["content-range"]) == (206, f"bytes {start}-{end}/{len(BIG)}")
    assert body == BIG[start : end + 1]


def test_several_ranges_are_multipart(server: Running) -> None:
    status, headers, body = curl("-r", "0-1,10-11,1-3", f"{server.url}/static/data.bin")
    assert status == 206
    match = re.fullmatch(r"multipart/byteranges; boundary=([0-9a-f]+)", headers["content-type"])
    assert match is not None
    boundary = match.group(1).encode()
    part = b"--%s\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes %s/1024\r\n\r\n"
    expected = (
        part % (boundary, b"0-3")
        + DATA[0:4]  # 0-1 and 1-3 merged
        + b"\r\n"
        + part % (boundary, b"10-11")
        + DATA[10:12]
        + b"\r\n--"
        + boundary
        + b"--"
    )
    assert body == expected
    assert headers["content-length"] == str(len(expected))


def test_unsatisfiable_range_is_416(server: Running) -> None:
    status, headers, body = curl("-r", "5000-", f"{server.url}/static/data.bin")
    assert (status, body) == (416, b"")
    assert app_headers(headers) == {
        "content-range": "bytes */1024",
        "content-length": "0",
        "content-type": "text/plain; charset=utf-8",
    }


def test_if_range(server: Running, root: Path) -> None:
    url = f"{server.url}/static/data.bin"
    fresh = curl("-r", "0-3", "-H", f"If-Range: {etag_of(root / 'static/data.bin')}", url)
    assert (fresh[0], fresh[2]) == (206, DATA[:4])
    stale = curl("-r", "0-3", "-H", 'If-Range: "stale"', url)
    assert (stale[0], stale[2]) == (200, DATA)


# --- conditional requests ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "form", ["{etag}", "W/{etag}", '"other", {etag}', " * ", '"other", *', '"a,b", W/{etag}']
)
def test_if_none_match_is_304(server: Running, root: Path, form: str) -> None:
    etag = etag_of(root / "static/data.bin")
    header = form.format(etag=etag)
    status, headers, body = curl("-H", f"If-None-Match: {header}", f"{server.url}/static/data.bin")
    assert (status, body) == (304, b"")
    assert app_headers(headers) == {"etag": etag}  # only the cache headers are kept


@pytest.mark.parametrize("header", ['"stale"', '"*"', '"foo,*,bar"', '"stale", W/"older"'])
def test_stale_etag_gets_the_file(server: Running, header: str) -> None:
    status, _, body = curl("-H", f"If-None-Match: {header}", f"{server.url}/static/data.bin")
    assert (status, body) == (200, DATA)


def test_if_modified_since(server: Running, root: Path) -> None:
    url = f"{server.url}/static/data.bin"
    status, headers, body = curl("-H", f"If-Modified-Since: {LAST_MODIFIED}", url)
    assert (status, body) == (304, b"")
    assert app_headers(headers) == {"etag": etag_of(root / "static/data.bin")}
    older = curl("-H", "If-Modified-Since: Thu, 10 Oct 2013 23:39:59 GMT", url)
    assert (older[0], older[2]) == (200, DATA)


# --- html mode --------------------------------------------------------------------------------


def test_html_index(server: Running, root: Path) -> None:
    status, headers, body = curl(f"{server.url}/site/")
    assert (status, body) == (200, b"<p>home</p>")
    assert app_headers(headers) == file_headers(root, "site/index.html", HTML, 11)


def test_html_directory_redirects_to_its_slash(server: Running) -> None:
    status, headers, body = curl(f"{server.url}/site/docs?x=1")
    assert (status, body) == (307, b"")
    assert app_headers(headers) == {
        "content-length": "0",
        "location": f"http://127.0.0.1:{server.port}/site/docs/?x=1",
    }
    followed = curl("-L", f"{server.url}/site/docs")
    assert (followed[0], followed[2]) == (200, b"<p>docs</p>")


@pytest.mark.parametrize("path", ["/site/missing", "/site/empty/", "/site/docs/nope.html"])
def test_html_404_page(server: Running, root: Path, path: str) -> None:
    status, headers, body = curl(f"{server.url}{path}")
    assert (status, body) == (404, b"<h1>Custom not found page</h1>")
    assert app_headers(headers) == file_headers(root, "site/404.html", HTML, 30)


def test_html_404_page_ignores_validators(server: Running, root: Path) -> None:
    etag = etag_of(root / "site/404.html")
    assert curl("-H", f"If-None-Match: {etag}", f"{server.url}/site/missing")[0] == 404


def test_without_html_mode_a_directory_is_404(server: Running) -> None:
    for path in ("/static/sub", "/static/sub/", "/static/missing.txt"):
        status, headers, body = curl(f"{server.url}{path}")
        assert (status, body) == (404, NOT_FOUND)
        assert app_headers(headers) == {"content-length": "22", "content-type": "application/json"}


# --- traversal --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/static/../pyproject.toml",
        "/static/../secret.txt",
        "/static/sub/../../secret.txt",
        "/static/./../secret.txt",
        "/static/%2e%2e/secret.txt",
        "/static/..%2fsecret.txt",
        "/static/..%5csecret.txt",
        "/static//etc/passwd",
        "/site/../secret.txt",
    ],
)
def test_traversal_is_refused(server: Running, path: str) -> None:
    status, headers, body = curl("--path-as-is", f"{server.url}{path}")
    # html mode answers with its own 404 page.
    page = b"<h1>Custom not found page</h1>" if path.startswith("/site/") else NOT_FOUND
    assert (status, body) == (404, page)


def test_dotted_path_inside_the_directory_is_served(server: Running) -> None:
    """The server passes ``..`` through as is; only paths leaving the directory are refused."""
    status, _, body = curl("--path-as-is", f"{server.url}/static/sub/../sub/a.txt")
    assert (status, body) == (200, b"hi\n")


# --- methods ----------------------------------------------------------------------------------


def test_head_has_headers_and_no_body(server: Running, root: Path) -> None:
    status, headers, body = curl("-I", f"{server.url}/static/data.bin")
    assert (status, body) == (200, b"")
    assert app_headers(headers) == file_headers(
        root, "static/data.bin", "application/octet-stream", 1024
    )


def test_head_sends_no_body_bytes_on_a_kept_alive_connection(server: Running) -> None:
    """Pipelined HEAD then GET: if HEAD leaked its body, the GET's status line would be garbage."""
    with RawConnection(server.port) as conn:
        conn.send(
            b"HEAD /static/data.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
            b"HEAD /site/missing HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
            b"GET /static/sub/a.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        )
        head = conn.read_response("HEAD")
        assert (head.status, head.header("content-length"), head.body) == (200, "1024", b"")
        missing = conn.read_response("HEAD")
        assert (missing.status, missing.header("content-length"), missing.body) == (404, "30", b"")
        get = conn.read_response()
        assert (get.status, get.body) == (200, b"hi\n")
        assert not conn.is_closed(0.2)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_other_methods_are_405(server: Running, method: str) -> None:
    status, headers, body = curl("-X", method, f"{server.url}/static/data.bin")
    assert (status, body) == (405, b'{"detail":"Method Not Allowed"}')
    assert app_headers(headers) == {
        "allow": "GET, HEAD",
        "content-length": "31",
        "content-type": "application/json",
    }
