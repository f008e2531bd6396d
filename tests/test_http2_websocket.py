"""WebSockets over HTTP/2 (RFC 8441): extended CONNECT streams running aster's WebSocket core,
on both WebSocket implementations (the ``ws_impl`` fixture) and both HTTP/2 engines
(``h2_engine``), next to ordinary streams."""

from __future__ import annotations

import struct
import time
import zlib

import pytest

from tests.h2_support import H2Client, Reply, serve_h2, still_serves
from tests.ws_support import BINARY, CLOSE, PING, PONG, TEXT, frame_bytes

pytestmark = pytest.mark.usefixtures("ws_impl", "h2_engine")


@pytest.fixture(scope="module")
def server(ws_impl: str, h2_engine: str):
    with serve_h2("tests.apps.h2_app:app", "--ws", ws_impl, "--ws-max-size", "1000") as running:
        yield running


class H2WebSocket:
    """A WebSocket on one stream of an ``H2Client`` connection."""

    def __init__(self, client: H2Client, path: str = "/h/ws", extra=()) -> None:
        self.client = client
        client.wait_settings()
        assert client.server_settings[0x8] == 1  # SETTINGS_ENABLE_CONNECT_PROTOCOL
        self.stream = client.conn.get_next_available_stream_id()
        client.replies[self.stream] = self.reply = Reply()
        client.conn.send_headers(
            self.stream,
            [
                (":method", "CONNECT"),
                (":protocol", "websocket"),
                (":scheme", "http"),
                (":path", path),
                (":authority", "localhost"),
                ("sec-websocket-version", "13"),
                *extra,
            ],
        )
        client.flush()
        while self.reply.status == 0 and self.reply.reset is None:
            assert client.read()
        self.buffer = b""

    def send(self, opcode: int, payload: bytes, **kwargs) -> None:
        self.client.data(self.stream, frame_bytes(opcode, payload, **kwargs), end=False)

    def recv(self, timeout: float = 10.0) -> tuple[int, int, bytes]:
        """(first byte, opcode, payload) of the next frame from the server."""
        deadline = time.monotonic() + timeout
        while True:
            self.buffer += self.reply.body
            self.reply.body = b""
            if len(self.buffer) >= 2:
                first, second = self.buffer[0], self.buffer[1]
                assert not second & 0x80, "a server must not mask"
                length, at = second & 0x7F, 2
                if length == 126:
                    (length,), at = struct.unpack("!H", self.buffer[2:4]), 4
                elif length == 127:
                    (length,), at = struct.unpack("!Q", self.buffer[2:10]), 10
                if len(self.buffer) >= at + length:
                    payload = self.buffer[at : at + length]
                    self.buffer = self.buffer[at + length :]
                    return first, first & 0x0F, payload
            assert time.monotonic() < deadline, "no frame in time"
            assert self.client.read(max(0.05, deadline - time.monotonic()))


def test_extended_connect_is_a_websocket_scope_with_http_version_2(server) -> None:
    with H2Client(server.port) as client:
        ws = H2WebSocket(client)
        assert ws.reply.status == 200
        assert ws.recv()[1:] == (TEXT, b"http_version=2")
        ws.send(TEXT, "héllo".encode())
        assert ws.recv()[1:] == (TEXT, "héllo".encode())
        ws.send(BINARY, b"\x00\x01\x02")
        assert ws.recv()[1:] == (BINARY, b"\x00\x01\x02")
        # An ordinary request on the same connection, while the WebSocket is open.
        assert client.request("/_/fixed").body == b"hello, world"
        ws.send(PING, b"are you there")
        assert ws.recv()[1:] == (PONG, b"are you there")
        ws.send(TEXT, b"close")
        opcode, payload = ws.recv()[1:]
        assert (opcode, struct.unpack("!H", payload[:2])[0], payload[2:]) == (CLOSE, 4000, b"asked")
        ws.send(CLOSE, payload[:2])
        client.wait(ws.stream)
        assert ws.reply.ended
    server.wait_for_log(r'"WebSocket /h/ws HTTP/2\.0" \[accepted\]')


def test_two_websockets_on_one_connection(server) -> None:
    with H2Client(server.port) as client:
        first, second = H2WebSocket(client), H2WebSocket(client)
        assert first.recv()[2] == second.recv()[2] == b"http_version=2"
        second.send(TEXT, b"two")
        first.send(TEXT, b"one")
        assert (first.recv()[2], second.recv()[2]) == (b"one", b"two")


def test_message_over_the_size_limit_closes_with_1009(server) -> None:
    with H2Client(server.port) as client:
        ws = H2WebSocket(client)
        ws.recv()
        ws.send(TEXT, b"x" * 2000)
        opcode, payload = ws.recv()[1:]
        assert (opcode, struct.unpack("!H", payload[:2])[0]) == (CLOSE, 1009)
    still_serves(server.port)


def test_unmasked_frame_is_a_protocol_error_1002(server) -> None:
    with H2Client(server.port) as client:
        ws = H2WebSocket(client)
        ws.recv()
        ws.send(TEXT, b"not masked", mask=False)
        opcode, payload = ws.recv()[1:]
        assert (opcode, struct.unpack("!H", payload[:2])[0]) == (CLOSE, 1002)


def test_permessage_deflate(server) -> None:
    with H2Client(server.port) as client:
        ws = H2WebSocket(client, extra=[("sec-websocket-extensions", "permessage-deflate")])
        assert (ws.reply.header(b"sec-websocket-extensions") or b"").startswith(
            b"permessage-deflate"
        )
        first, _, payload = ws.recv()
        assert first & 0x40  # RSV1: compressed
        assert zlib.decompressobj(-15).decompress(payload + b"\x00\x00\xff\xff") == (
            b"http_version=2"
        )


def test_denial_response(server) -> None:
    with H2Client(server.port) as client:
        ws = H2WebSocket(client, path="/h/ws-deny")
        reply = client.wait(ws.stream)
        assert (reply.status, reply.body) == (403, b"no entry")


def test_bad_version_is_refused_before_the_app(server) -> None:
    with H2Client(server.port) as client:
        stream = client.conn.get_next_available_stream_id()
        client.replies[stream] = Reply()
        client.conn.send_headers(
            stream,
            [
                (":method", "CONNECT"),
                (":protocol", "websocket"),
                (":scheme", "http"),
                (":path", "/h/ws"),
                (":authority", "localhost"),
                ("sec-websocket-version", "8"),
            ],
        )
        client.flush()
        reply = client.wait(stream)
        assert reply.status == 400
        assert b"Sec-WebSocket-Version" in reply.body


def test_unknown_protocol_is_501(server) -> None:
    with H2Client(server.port) as client:
        stream = client.conn.get_next_available_stream_id()
        client.replies[stream] = Reply()
        client.conn.send_headers(
            stream,
            [
                (":method", "CONNECT"),
                (":protocol", "not-a-websocket"),
                (":scheme", "http"),
                (":path", "/h/ws"),
                (":authority", "localhost"),
            ],
        )
        client.flush()
        assert client.wait(stream).status == 501
