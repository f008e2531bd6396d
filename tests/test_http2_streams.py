"""HTTP/2 streams as ASGI cycles: the scope, bodies both ways, trailers, pathsend, 100-continue,
SETTINGS, multiplexing and flow control (windows reopened only as the app reads)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import time

import pytest

from tests.h2_support import H2Client, serve_h2
from tests.support import RawConnection

H2LOAD = "h2load"
NGHTTP = "nghttp"


pytestmark = pytest.mark.usefixtures("h2_engine")  # every test on each engine


@pytest.fixture(scope="module")
def server(h2_engine: str):
    with serve_h2("tests.apps.h2_app:app", "--http2-initial-window-size", "65535") as running:
        yield running


def test_scope(server) -> None:
    with H2Client(server.port) as client:
        reply = client.request(
            "/p%20q/r?a=1&b=2",
            extra=[("cookie", "a=1"), ("x-custom", "Value"), ("cookie", "b=2")],
        )
        scope = json.loads(reply.body)
    assert scope["http_version"] == "2"
    assert scope["method"] == "GET"
    assert scope["scheme"] == "http"
    assert (scope["path"], scope["raw_path"], scope["query_string"]) == (
        "/p q/r",
        "/p%20q/r",
        "a=1&b=2",
    )
    assert scope["server"] == ["localhost", 80]
    assert scope["client"][0] == "127.0.0.1"
    assert scope["headers"] == [
        ["host", "localhost"],
        ["x-custom", "Value"],
        ["cookie", "a=1; b=2"],
    ]
    assert not any(name.startswith(":") for name, _ in scope["headers"])
    assert scope["extensions"] == {"http.response.pathsend": {}, "http.response.trailers": {}}
    assert scope["state"] == {"greeting": "hello from lifespan"}


def test_server_from_authority_port(server) -> None:
    with H2Client(server.port) as client:
        scope = json.loads(client.request("/", authority="example.com:8443").body)
    assert scope["server"] == ["example.com", 8443]
    assert scope["headers"][0] == ["host", "example.com:8443"]


def test_settings_advertised(server) -> None:
    with H2Client(server.port) as client:
        settings = client.wait_settings()
    assert settings[0x3] == 100  # MAX_CONCURRENT_STREAMS
    assert settings[0x4] == 65535  # INITIAL_WINDOW_SIZE (--http2-initial-window-size)
    assert settings[0x5] == 16384  # MAX_FRAME_SIZE
    assert settings[0x6] == 65536  # MAX_HEADER_LIST_SIZE = --limit-request-header-size
    assert settings[0x8] == 1  # ENABLE_CONNECT_PROTOCOL (RFC 8441)


def test_trailers_on_http2(server) -> None:
    with H2Client(server.port) as client:
        reply = client.request("/h/trailers", extra=[("te", "trailers")])
    assert (reply.status, reply.body) == (200, b"part one, part two")
    assert reply.trailers == [(b"grpc-status", b"0"), (b"x-sum", b"18")]
    assert reply.header(b"content-length") is None


def test_trailers_on_http11_are_chunked(server) -> None:
    with RawConnection(server.port) as conn:
        conn.send(b"GET /h/trailers HTTP/1.1\r\nHost: t\r\nTE: trailers\r\n\r\n")
        head = conn.read_until(b"\r\n\r\n")
        assert b"transfer-encoding: chunked\r\n" in head
        rest = conn.read_until(b"0\r\n")
        assert rest == b"a\r\npart one, \r\n8\r\npart two\r\n0\r\n"
        assert conn.read_until(b"\r\n\r\n") == b"grpc-status: 0\r\nx-sum: 18\r\n\r\n"


def test_streaming_and_content_length(server) -> None:
    with H2Client(server.port) as client:
        streamed = client.request("/_/stream")
        fixed = client.request("/_/length")
        head = client.request("/_/head", method="HEAD")
        no_content = client.request("/_/status/204")
    assert streamed.body == b"chunk0chunk1chunk2" and streamed.header(b"content-length") is None
    assert (fixed.body, fixed.header(b"content-length")) == (b"hello world", b"11")
    assert (head.status, head.body, head.header(b"content-length")) == (200, b"", b"100")
    assert (no_content.status, no_content.body) == (204, b"")


def test_pathsend_larger_than_the_window(server, tmp_path) -> None:
    data = bytes(range(256)) * 4096  # 1 MiB, 16 windows of the client's 64 KiB
    path = tmp_path / "file.bin"
    path.write_bytes(data)
    with H2Client(server.port, window=65535) as client:
        reply = client.request(f"/_/pathsend?{path}")
    assert reply.status == 200
    assert hashlib.sha256(reply.body).hexdigest() == hashlib.sha256(data).hexdigest()


def test_upload_larger_than_the_initial_window_is_read_as_the_app_consumes_it(server) -> None:
    body = bytes(range(256)) * 2048  # 512 KiB against a 64 KiB stream window
    with H2Client(server.port) as client:
        reply = client.request("/h/slow-digest", method="POST", body=body, timeout=30)
    result = json.loads(reply.body)
    assert result["length"] == len(body)
    assert result["sha256"] == hashlib.sha256(body).hexdigest()
    assert result["messages"] > 4


def test_window_is_not_reopened_while_the_app_does_not_read(server) -> None:
    with H2Client(server.port) as client:
        held = client.headers("/h/stall", method="POST", end=False)
        for _ in range(3):
            client.data(held, b"x" * 16384, end=False)
        client.data(held, b"x" * 16383, end=False)
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            client.sock.settimeout(0.2)
            try:
                client.read(0.2)
            except TimeoutError:
                pass
        assert client.window_updates.get(held, 0) == 0
        assert client.conn.local_flow_control_window(held) == 0
        # Another stream on the same connection is not held up.
        other = client.request("/_/echo", method="POST", body=b"still flowing")
        assert other.body == b"still flowing"


def test_one_blocked_response_does_not_block_the_others(server) -> None:
    from h2.settings import SettingCodes

    with H2Client(server.port, window=65535) as client:
        client.conn.update_settings({SettingCodes.INITIAL_WINDOW_SIZE: 0})
        client.flush()
        client.wait_settings()
        blocked = client.headers("/h/big?100000")
        while client.replies[blocked].status == 0:  # its head; the body waits for window
            assert client.read()
        assert client.replies[blocked].status == 200 and not client.replies[blocked].body
        client.conn.update_settings({SettingCodes.INITIAL_WINDOW_SIZE: 65535})
        client.flush()
        assert client.request("/_/fixed").body == b"hello, world"
        assert len(client.wait(blocked).body) == 100000


def test_expect_100_continue(server) -> None:
    with H2Client(server.port) as client:
        stream = client.headers(
            "/_/echo", method="POST", extra=[("expect", "100-continue")], end=False
        )
        while not client.replies[stream].informational:
            client.read()
        assert client.replies[stream].informational == [100]
        client.data(stream, b"after the 100")
        assert client.wait(stream).body == b"after the 100"


def test_many_streams_in_parallel(server) -> None:
    with H2Client(server.port) as client:
        streams = [client.headers(f"/_/log/{i}") for i in range(50)]
        bodies = [client.wait(stream).body for stream in streams]
    assert bodies == [b"logged"] * 50
    line = server.wait_for_log(r'"GET /_/log/49 HTTP/2\.0" 200 6')
    assert line.startswith("127.0.0.1 - - [")


def test_max_concurrent_streams_refuses_the_101st(server) -> None:
    with H2Client(server.port) as client:
        held = [client.headers("/h/hold") for _ in range(100)]
        extra = client.headers("/h/hold")
        reply = client.wait(extra)
        assert reply.reset == 0x7  # REFUSED_STREAM
        assert all(client.replies[s].reset is None for s in held)
        for stream in held[:10]:
            client.conn.reset_stream(stream)
        client.flush()
        assert client.request("/_/fixed").body == b"hello, world"


def test_nghttp_and_h2load(server) -> None:
    done = subprocess.run(
        [NGHTTP, "-n", "-s", f"{server.url}/_/fixed", f"{server.url}/h/big?100000"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    done = subprocess.run(
        [H2LOAD, "-n", "2000", "-c", "4", "-m", "8", f"{server.url}/_/fixed"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "2000 succeeded, 0 failed, 0 errored" in done.stdout, done.stdout
    assert "status codes: 2000 2xx" in done.stdout


def test_a_long_lived_connection_serves_thousands_of_streams(server) -> None:
    """Browsers and gRPC clients keep one connection for hours: 6000 streams on one."""
    done = subprocess.run(
        [H2LOAD, "-n", "6000", "-c", "1", "-m", "10", f"{server.url}/_/fixed"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "6000 succeeded, 0 failed, 0 errored" in done.stdout, done.stdout
