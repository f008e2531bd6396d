"""Header, request-line and body limits (431/414/413), and --limit-concurrency (503)."""

from __future__ import annotations

import select
import time
from collections.abc import Iterator

import pytest

from tests.http1_support import assert_rejected, assert_serving, get, get_json
from tests.support import RawConnection, Running, serve

APP = "tests.apps.proto_echo:app"


@pytest.fixture(scope="module")
def server() -> Iterator[Running]:
    with serve(APP) as running:
        yield running


@pytest.fixture(scope="module")
def small() -> Iterator[Running]:
    with serve(
        APP,
        "--limit-request-line",
        "100",
        "--limit-request-fields",
        "5",
        "--limit-request-header-size",
        "1000",
        "--limit-request-body",
        "1000",
    ) as running:
        yield running


def headers_request(*headers: bytes, target: bytes = b"/") -> bytes:
    return (
        b"GET "
        + target
        + b" HTTP/1.1\r\nHost: x\r\n"
        + b"".join(h + b"\r\n" for h in headers)
        + b"\r\n"
    )


# -- defaults: 64 KiB of headers, 100 fields, 8190-byte target -----------------------------


def test_header_block_just_under_64_kib_is_fine(server: Running) -> None:
    headers = [b"X-Big-%d: %s" % (i, b"v" * 6000) for i in range(10)]
    response = get(server.port, "/big", *(h.decode() for h in headers))
    assert response.status == 200


def test_header_block_over_64_kib_is_431(server: Running) -> None:
    data = headers_request(*(b"X-Big-%d: %s" % (i, b"v" * 7000) for i in range(10)))
    assert_rejected(server.port, data, 431, "Request Header Fields Too Large")


def test_100_header_fields_are_fine(server: Running) -> None:
    response = get(server.port, "/many", *(f"X-H{i}: {i}" for i in range(99)))
    assert response.status == 200


def test_more_than_100_header_fields_is_431(server: Running) -> None:
    data = headers_request(*(b"X-H%d: %d" % (i, i) for i in range(100)))
    assert_rejected(server.port, data, 431, "Request Header Fields Too Large")


def test_endless_header_line_is_431(server: Running) -> None:
    data = b"GET / HTTP/1.1\r\nHost: x\r\nX-Endless: " + b"a" * 100_000
    assert_rejected(server.port, data, 431)


def test_endless_header_line_sent_slowly_is_431(server: Running) -> None:
    with RawConnection(server.port) as conn:
        conn.send(b"GET / HTTP/1.1\r\nHost: x\r\nX-Endless: ")
        for _ in range(100):  # 400 KB at most; the limit is about 76 KiB
            if select.select([conn.sock], [], [], 0.01)[0]:
                break
            try:
                conn.send(b"a" * 4096)
            except ConnectionError:
                break
        response = conn.read_response()
        assert response.status == 431
        assert conn.is_closed()
    assert_serving(server.port)


def test_long_target_is_414(server: Running) -> None:
    data = b"GET /" + b"a" * 8200 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    assert_rejected(server.port, data, 414, "URI Too Long")


def test_target_at_the_limit_is_fine(server: Running) -> None:
    target = "/" + "a" * 8189
    scope = get_json(server.port, target)
    assert scope["raw_path"] == target


# -- the --limit-request-* flags ---------------------------------------------------------


def test_limit_request_line(small: Running) -> None:
    at_limit = "/" + "a" * 99
    assert get_json(small.port, at_limit)["path"] == at_limit
    data = b"GET /" + b"a" * 100 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    assert_rejected(small.port, data, 414)


def test_limit_request_fields(small: Running) -> None:
    assert get(small.port, "/f", "A: 1", "B: 2", "C: 3", "D: 4").status == 200
    assert_rejected(small.port, headers_request(b"A: 1", b"B: 2", b"C: 3", b"D: 4", b"E: 5"), 431)


def test_limit_request_header_size(small: Running) -> None:
    assert get(small.port, "/s", "X-A: " + "a" * 900).status == 200
    assert_rejected(small.port, headers_request(b"X-A: " + b"a" * 1000), 431)


def test_limit_request_body_content_length(small: Running) -> None:
    before = get_json(small.port, "/_/calls")["echo"]
    fine = b"POST /_/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + b"b" * 1000
    with RawConnection(small.port) as conn:
        conn.send(fine)
        assert conn.read_response().body == b"b" * 1000
    # Rejected from the head alone: the body is never read, the app never called.
    data = b"POST /_/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n"
    assert_rejected(small.port, data, 413, "Content Too Large")
    assert get_json(small.port, "/_/calls")["echo"] == before + 1


def test_limit_request_body_chunked(small: Running) -> None:
    chunk = b"c" * 400
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(3)) + b"0\r\n\r\n"
    data = b"POST /_/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + body
    assert_rejected(small.port, data, 413, "Content Too Large")


def test_limit_request_body_chunked_while_app_reads(small: Running) -> None:
    chunk = b"%x\r\n%s\r\n" % (400, b"c" * 400)
    with RawConnection(small.port) as conn:
        conn.send(b"POST /_/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(3):
            time.sleep(0.1)
            conn.send(chunk)
        response = conn.read_response()
        assert response.status == 413
        assert conn.is_closed()
    assert_serving(small.port)


# -- --limit-concurrency ------------------------------------------------------------------


def test_limit_concurrency_answers_503() -> None:
    with serve("tests.apps.proto_flow:app", "--lifespan", "off", "--limit-concurrency", "1") as srv:
        with RawConnection(srv.port) as slow:
            slow.send(b"GET /sleep?s=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            with RawConnection(srv.port) as busy:
                busy.send(b"GET /sleep?s=0 HTTP/1.1\r\nHost: x\r\n\r\n")
                response = busy.read_response()
                assert response.status == 503
                assert response.reason == "Service Unavailable"
                assert response.body == b"Service Unavailable"
                assert response.header("connection") == "close"
                assert busy.is_closed()
            # The request in flight is not disturbed.
            assert (slow.read_response().body, slow.read_to_close()) == (b"slept", b"")
        # With the slow connection gone, there is room again.
        assert get(srv.port, "/sleep?s=0").body == b"slept"
