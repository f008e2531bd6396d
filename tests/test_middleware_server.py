"""The built-in middlewares behind a real ``aster run``, checked with curl over sockets.

The app is tests/apps/fw_middleware.py (TrustedHost -> CORS -> GZip -> an
``@app.middleware("http")`` -> routes).  What only the wire shows: gzip that curl
really decodes, streams that stay streams (SSE untouched, gzip flushed per chunk),
a 500 that a browser could read (CORS headers kept), and the BaseHTTPMiddleware
properties end to end: context variables, body replay, streaming, background tasks.
In-process checks of every header are in tests/framework/test_middleware_builtin.py.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.support import CURL, Running, app_headers, curl, needs_curl, parse_curl_head, serve

pytestmark = needs_curl

ORIGIN = "https://app.example"
LARGE = b"x" * 4000
TEXT_PLAIN = "text/plain; charset=utf-8"
SAFELISTED = "Accept, Accept-Language, Content-Language, Content-Type"
PREFLIGHT_VARY = (
    "Origin, Access-Control-Request-Method, Access-Control-Request-Headers, "
    "Access-Control-Request-Private-Network"
)


@pytest.fixture(scope="module")
def server() -> Iterator[Running]:
    with serve("tests.apps.fw_middleware:app") as running:
        yield running


@pytest.fixture(scope="module")
def redirect_server() -> Iterator[Running]:
    with serve("tests.apps.fw_middleware:redirect_app") as running:
        yield running


@dataclass
class Timed:
    """A body read as it arrived: ``reads`` are (seconds since start, total bytes so far)."""

    status: int
    headers: dict[str, str]
    body: bytes
    reads: list[tuple[float, int]]

    def arrival(self, marker: bytes) -> float:
        """When the first byte after ``marker`` was readable."""
        end = self.body.index(marker) + len(marker)
        return next(when for when, total in self.reads if total >= end)


def curl_timed(*args: str) -> Timed:
    """Run ``curl -N`` and timestamp every read of its (decoded) output."""
    assert CURL is not None
    with tempfile.TemporaryDirectory() as tmp:
        head_file = os.path.join(tmp, "head")
        started = time.monotonic()
        process = subprocess.Popen(
            [CURL, "-sS", "-N", "-D", head_file, "--max-time", "10", *args],
            stdout=subprocess.PIPE,
        )
        assert process.stdout is not None
        body, reads = b"", []
        while chunk := os.read(process.stdout.fileno(), 65536):
            body += chunk
            reads.append((time.monotonic() - started, len(body)))
        process.stdout.close()
        assert process.wait(10) == 0
        with open(head_file, "rb") as file:
            status, headers, _ = parse_curl_head(file.read())
    return Timed(status, headers, body, reads)


# --- GZip -------------------------------------------------------------------------------------


def test_large_is_gzipped_and_curl_decodes_it(server: Running) -> None:
    status, headers, body = curl("--compressed", f"{server.url}/large")
    assert (status, body) == (200, LARGE)
    assert app_headers(headers) == {
        "content-length": "39",
        "content-type": TEXT_PLAIN,
        "x-ctx": "unset",
        "vary": "Accept-Encoding, Origin",
        "content-encoding": "gzip",
    }


def test_gzip_content_length_is_the_compressed_size(server: Running) -> None:
    status, headers, body = curl("-H", "Accept-Encoding: gzip", f"{server.url}/large")
    assert status == 200
    assert headers["content-encoding"] == "gzip"
    assert headers["content-length"] == str(len(body)) == "39"
    assert gzip.decompress(body) == LARGE


def test_large_without_accept_encoding_is_plain(server: Running) -> None:
    status, headers, body = curl(f"{server.url}/large")  # curl sends no Accept-Encoding
    assert (status, body) == (200, LARGE)
    assert app_headers(headers) == {
        "content-length": "4000",
        "content-type": TEXT_PLAIN,
        "x-ctx": "unset",
        "vary": "Accept-Encoding, Origin",
    }


def test_small_is_not_gzipped(server: Running) -> None:
    status, headers, body = curl("--compressed", f"{server.url}/small")
    assert (status, body) == (200, b"tiny")
    assert app_headers(headers) == {
        "content-length": "4",
        "content-type": TEXT_PLAIN,
        "x-ctx": "unset",
        "vary": "Origin",
    }


def test_sse_is_not_gzipped_and_arrives_event_by_event(server: Running) -> None:
    timed = curl_timed("--compressed", f"{server.url}/sse")
    assert timed.status == 200
    assert app_headers(timed.headers) == {
        "content-type": "text/event-stream; charset=utf-8",
        "x-ctx": "unset",
        "vary": "Origin",
        "transfer-encoding": "chunked",
    }
    assert timed.body == b"".join(f"data: {n} {'.' * 400}\n\n".encode() for n in range(3))
    first, second, third = (timed.arrival(f"data: {n} ".encode()) for n in range(3))
    assert second - first >= 0.2, timed.reads  # 0.3 s apart in the app
    assert third - second >= 0.2, timed.reads


def test_gzipped_stream_is_flushed_chunk_by_chunk(server: Running) -> None:
    """/slow-stream goes through GZip: each chunk is compressed and flushed on its own."""
    timed = curl_timed("--compressed", f"{server.url}/slow-stream")
    assert timed.status == 200
    assert app_headers(timed.headers) == {
        "content-type": TEXT_PLAIN,
        "x-ctx": "unset",
        "vary": "Accept-Encoding, Origin",
        "content-encoding": "gzip",
        "transfer-encoding": "chunked",
    }
    assert timed.body == b"".join(f"chunk {n} {'-' * 600}\n".encode() for n in range(3))
    first, second, third = (timed.arrival(f"chunk {n} ".encode()) for n in range(3))
    assert second - first >= 0.3, timed.reads  # 0.4 s apart in the app
    assert third - second >= 0.3, timed.reads


# --- CORS -------------------------------------------------------------------------------------


def test_cors_preflight_allowed(server: Running) -> None:
    status, headers, body = curl(
        "-X", "OPTIONS",
        "-H", f"Origin: {ORIGIN}",
        "-H", "Access-Control-Request-Method: POST",
        "-H", "Access-Control-Request-Headers: x-token, content-type",
        f"{server.url}/large",
    )  # fmt: skip
    assert (status, body) == (200, b"OK")
    assert app_headers(headers) == {
        "vary": PREFLIGHT_VARY,
        "access-control-allow-methods": "GET, POST",
        "access-control-max-age": "123",
        "access-control-allow-headers": f"{SAFELISTED}, X-Token",
        "access-control-allow-credentials": "true",
        "access-control-allow-origin": ORIGIN,
        "content-length": "2",
        "content-type": TEXT_PLAIN,
    }


def test_cors_preflight_refused(server: Running) -> None:
    status, headers, body = curl(
        "-X", "OPTIONS",
        "-H", "Origin: https://evil.example",
        "-H", "Access-Control-Request-Method: PUT",
        "-H", "Access-Control-Request-Headers: X-Nope",
        f"{server.url}/large",
    )  # fmt: skip
    assert (status, body) == (400, b"Disallowed CORS origin, method, headers")
    assert "access-control-allow-origin" not in headers
    assert headers["content-length"] == "39"


def test_cors_headers_on_a_simple_get(server: Running) -> None:
    status, headers, body = curl("-H", f"Origin: {ORIGIN}", f"{server.url}/small")
    assert (status, body) == (200, b"tiny")
    assert app_headers(headers) == {
        "content-length": "4",
        "content-type": TEXT_PLAIN,
        "x-ctx": "unset",
        "access-control-allow-credentials": "true",
        "access-control-expose-headers": "X-Ctx",
        "access-control-allow-origin": ORIGIN,
        "vary": "Origin",
    }


def test_cors_headers_on_the_500(server: Running) -> None:
    """The 500 is sent by ServerErrorMiddleware, outermost, yet carries the CORS headers."""
    status, headers, body = curl("-H", f"Origin: {ORIGIN}", f"{server.url}/boom")
    assert (status, body) == (500, b"Internal Server Error")
    assert app_headers(headers) == {
        "content-length": "21",
        "content-type": TEXT_PLAIN,
        "access-control-allow-credentials": "true",
        "access-control-expose-headers": "X-Ctx",
        "access-control-allow-origin": ORIGIN,
        "vary": "Origin",
    }
    server.wait_for_log(r"RuntimeError: boom")
    assert curl(f"{server.url}/small")[0] == 200  # the server carries on


# --- TrustedHost ------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["evil.com", "example.com", "127.0.0.2", "localhost.evil.com"])
def test_untrusted_host_is_400(server: Running, host: str) -> None:
    status, headers, body = curl("-H", f"Host: {host}", f"{server.url}/small")
    assert (status, body) == (400, b"Invalid host header")
    assert app_headers(headers) == {"content-length": "19", "content-type": TEXT_PLAIN}


@pytest.mark.parametrize(
    "host", ["localhost", "LOCALHOST:1", "api.example.com", "a.b.example.com:8000"]
)
def test_trusted_host_passes(server: Running, host: str) -> None:
    status, _, body = curl("-H", f"Host: {host}", f"{server.url}/small")
    assert (status, body) == (200, b"tiny")


# --- HTTPSRedirect ----------------------------------------------------------------------------


def test_https_redirect_keeps_port_path_and_query(redirect_server: Running) -> None:
    status, headers, body = curl(f"{redirect_server.url}/where?x=1&y=a%20b")
    assert (status, body) == (307, b"")
    assert app_headers(headers) == {
        "content-length": "0",
        "location": f"https://127.0.0.1:{redirect_server.port}/where?x=1&y=a%20b",
    }


@pytest.mark.parametrize(
    ("host", "location"),
    [
        ("example.com", "https://example.com/where"),
        ("example.com:80", "https://example.com/where"),
        ("example.com:443", "https://example.com/where"),
        ("example.com:8080", "https://example.com:8080/where"),
    ],
)
def test_https_redirect_port_handling(redirect_server: Running, host: str, location: str) -> None:
    status, headers, _ = curl("-H", f"Host: {host}", f"{redirect_server.url}/where")
    assert (status, headers["location"]) == (307, location)


def test_https_redirect_of_a_post_is_307(redirect_server: Running) -> None:
    status, headers, body = curl(
        "-X", "POST", "--data-binary", "payload", f"{redirect_server.url}/where"
    )
    assert (status, body) == (307, b"")
    assert headers["location"] == f"https://127.0.0.1:{redirect_server.port}/where"


# --- BaseHTTPMiddleware over the socket ---------------------------------------------------------


def test_contextvar_set_by_endpoint_is_seen_after_call_next(server: Running) -> None:
    status, headers, body = curl(f"{server.url}/ctx")
    assert (status, body) == (200, b'{"ok":"yes"}')
    assert headers["x-ctx"] == "set by the endpoint"
    assert curl(f"{server.url}/small")[1]["x-ctx"] == "unset"  # nothing leaks between requests


def test_body_read_in_middleware_reaches_the_endpoint(server: Running) -> None:
    payload = {"items": list(range(600)), "name": "über"}  # ~3 KB
    status, headers, body = curl(
        "-H", "Content-Type: application/json",
        "--data-binary", json.dumps(payload),
        f"{server.url}/echo",
    )  # fmt: skip
    assert status == 200
    assert json.loads(body) == {"endpoint": payload}
    assert json.loads(headers["x-middleware-saw"]) == payload


def test_slow_stream_is_not_buffered_by_the_middleware(server: Running) -> None:
    timed = curl_timed(f"{server.url}/slow-stream")
    assert "content-encoding" not in timed.headers
    first, second, third = (timed.arrival(f"chunk {n} ".encode()) for n in range(3))
    assert second - first >= 0.3, timed.reads
    assert third - second >= 0.3, timed.reads


def test_background_task_finishes_after_the_response(server: Running) -> None:
    task = uuid.uuid4().hex
    started = time.monotonic()
    status, _, body = curl(f"{server.url}/background?id={task}")
    answered = time.monotonic() - started
    assert (status, json.loads(body)) == (200, {"answered": task})
    assert answered < 1.2  # the task sleeps 1.5 s: the response did not wait for it
    assert json.loads(curl(f"{server.url}/status?id={task}")[2]) == {"finished": False}
    deadline = time.monotonic() + 5
    while json.loads(curl(f"{server.url}/status?id={task}")[2]) != {"finished": True}:
        assert time.monotonic() < deadline, "the background task never finished"
        time.sleep(0.1)
    assert time.monotonic() - started >= 1.5
