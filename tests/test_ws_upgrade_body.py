"""Issue 15: bytes that belong to the upgrade request's HTTP message are never WebSocket frames.

RFC 9110 section 7.8 switches protocols only after the whole request, and an opening
handshake has no body. A server that parsed a declared body as frames would let a client
smuggle frames past a proxy that forwarded them as HTTP data, so such a request is refused
with 400 and the connection closed. Bytes after the head of a valid (bodiless) upgrade are
still the client's first frames.
"""

from __future__ import annotations

import pytest

from tests.support import RawConnection
from tests.ws_support import TEXT, RawWebSocket, frame_bytes, serve_ws

APP = "tests.apps.ws_app:app"
pytestmark = pytest.mark.usefixtures("ws_impl")

HANDSHAKE = (
    b"GET /echo HTTP/1.1\r\nHost: x\r\n%sUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
)
#: A masked text frame carrying "hi-from-body" (mask 01 02 03 04): 18 bytes.
SMUGGLED = b"\x81\x8c\x01\x02\x03\x04ik.bsmn)cmg}"


def refused(conn: RawConnection) -> None:
    response = conn.read_response()
    assert response.status == 400
    assert response.header("connection") == "close"
    assert response.header("upgrade") is None
    assert b"upgrade request must not carry a body" in response.body
    assert conn.read_to_close() == b""


@pytest.mark.parametrize(
    "framing",
    [b"Content-Length: 18\r\n", b"Transfer-Encoding: chunked\r\n"],
    ids=["content-length", "chunked"],
)
def test_upgrade_with_a_body_is_refused(framing: bytes) -> None:
    body = SMUGGLED if framing.startswith(b"Content") else b"12\r\n" + SMUGGLED + b"\r\n0\r\n\r\n"
    with serve_ws(APP) as server:
        with RawConnection(server.port) as conn:
            conn.send(HANDSHAKE % framing + body)
            refused(conn)
        # The server goes on serving the next client.
        ws = RawWebSocket(server.port)
        assert ws.status == 101
        ws.send_frame(TEXT, b"after")
        assert ws.recv_frame() == (TEXT, b"after")
        ws.close()


def test_the_exact_bytes_of_the_report() -> None:
    request = (
        b"GET /ws HTTP/1.1\r\nHost: x\r\nContent-Length: 18\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n" + SMUGGLED
    )
    with serve_ws(APP) as server, RawConnection(server.port) as conn:
        conn.send(request)
        refused(conn)


def test_content_length_zero_is_a_valid_upgrade() -> None:
    with serve_ws(APP) as server, RawConnection(server.port) as conn:
        conn.send(HANDSHAKE % b"Content-Length: 0\r\n")
        head = conn.read_until(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101 ")
        conn.send(frame_bytes(TEXT, b"zero"))
        assert conn.read_exact(6) == b"\x81\x04zero"


def test_frames_pipelined_after_a_bodiless_head_are_still_handed_over() -> None:
    with serve_ws(APP) as server, RawConnection(server.port) as conn:
        conn.send(HANDSHAKE % b"" + SMUGGLED)
        head = conn.read_until(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101 ")
        # The frame that came in the same write is the client's first message: echoed.
        assert conn.read_exact(14) == b"\x81\x0chi-from-body"
