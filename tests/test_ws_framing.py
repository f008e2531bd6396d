"""Frames from the socket to the app and back, over real sockets, with and without compression.

Without extensions the server takes plain data frames off the socket itself and
leaves everything else to ``websockets`` one whole frame at a time (see
``WebSocketProtocol._receive_plain``).  These tests send streams that cross
every boundary between the two: frames split at every byte, bursts mixing data,
control frames and fragments in one write, and the errors that must still get
their close codes when they arrive in the middle of a burst.
"""

from __future__ import annotations

import os
import re
import socket
import struct
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("websockets")

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.support import Running
from tests.ws_support import (
    BINARY,
    CLOSE,
    CONT,
    PING,
    PONG,
    TEXT,
    RawWebSocket,
    frame_bytes,
    serve_ws,
)

APP = "tests.apps.ws_app:app"

#: Every test here runs against each ``--ws`` implementation.
pytestmark = pytest.mark.usefixtures("ws_impl")


@pytest.fixture(scope="module")
def server(ws_impl: str) -> Iterator[Running]:
    with serve_ws(APP, "--no-access-log") as running:
        yield running


def url(server: Running, path: str = "/echo") -> str:
    return f"ws://127.0.0.1:{server.port}{path}"


#: (frames to send, the messages the echo app must send back, in order, and the pongs).
BURST: list[bytes] = [
    frame_bytes(TEXT, b"a"),
    frame_bytes(BINARY, b""),
    frame_bytes(TEXT, b""),
    frame_bytes(BINARY, bytes(range(256)) * 2),  # 16-bit length
    frame_bytes(PING, b"p1"),
    frame_bytes(TEXT, "hé".encode()[:2], fin=False),  # a fragment ends inside the é
    frame_bytes(PING, b"p2"),  # between fragments
    frame_bytes(CONT, "hé".encode()[2:], fin=False),
    frame_bytes(CONT, b"llo"),
    frame_bytes(BINARY, b"\x00" * 70000),  # 64-bit length
    frame_bytes(TEXT, "ünïcödé €".encode()),
    frame_bytes(BINARY, b"z" * 125),  # the longest 7-bit length
    frame_bytes(BINARY, b"y" * 126),  # the shortest 16-bit length
]
ECHOES: list[tuple[int, bytes]] = [
    (TEXT, b"a"),
    (BINARY, b""),
    (TEXT, b""),
    (BINARY, bytes(range(256)) * 2),
    (TEXT, "héllo".encode()),
    (BINARY, b"\x00" * 70000),
    (TEXT, "ünïcödé €".encode()),
    (BINARY, b"z" * 125),
    (BINARY, b"y" * 126),
]


def read_echoes(raw: RawWebSocket, count: int) -> tuple[list[tuple[int, bytes]], list[bytes]]:
    """``count`` data frames in order, and the pongs that came with them (in any position)."""
    data: list[tuple[int, bytes]] = []
    pongs: list[bytes] = []
    while len(data) < count:
        opcode, payload = raw.recv_frame()
        if opcode == PONG:
            pongs.append(payload)
        else:
            data.append((opcode, payload))
    return data, pongs


def send_in_chunks(raw: RawWebSocket, stream: bytes, sizes: list[int]) -> None:
    raw.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    at = index = 0
    while at < len(stream):
        size = sizes[index % len(sizes)]
        raw.conn.sock.sendall(stream[at : at + size])
        at += size
        index += 1


def test_a_burst_in_one_write(server: Running) -> None:
    raw = RawWebSocket(server.port)
    raw.conn.send(b"".join(BURST))
    data, pongs = read_echoes(raw, len(ECHOES))
    assert data == ECHOES
    assert pongs == [b"p1", b"p2"]
    raw.close()


@pytest.mark.parametrize(
    "sizes", [[1], [2, 3, 5, 7, 11, 13], [9, 4, 1, 700, 1, 1, 65536]], ids=["1", "primes", "mixed"]
)
def test_a_burst_split_everywhere(server: Running, sizes: list[int]) -> None:
    stream = b"".join(BURST)
    if sizes == [1]:
        stream = b"".join(BURST[:9])  # byte by byte, but without the 70 kB frame
    raw = RawWebSocket(server.port)
    send_in_chunks(raw, stream, sizes)
    expected = ECHOES if sizes != [1] else ECHOES[:5]
    data, pongs = read_echoes(raw, len(expected))
    assert data == expected
    assert pongs == [b"p1", b"p2"]
    # And the connection carries on normally after it.
    raw.send_frame(TEXT, b"after")
    assert read_echoes(raw, 1)[0] == [(TEXT, b"after")]
    raw.close()


@pytest.mark.parametrize("compression", ["deflate", None])
@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 1 << 20])
def test_echo_every_length_encoding(server: Running, compression: Any, size: int) -> None:
    payload = os.urandom(size)
    text = ("é" * (size // 2 + 1))[: size // 2]
    with connect(url(server), compression=compression, max_size=None) as ws:
        ws.send(payload)
        assert ws.recv() == payload
        ws.send(text)
        assert ws.recv() == text
        ws.send([text, "", "!"])  # fragmented
        assert ws.recv() == text + "!"


@pytest.mark.parametrize("compression", ["deflate", None])
def test_many_messages_in_flight_come_back_in_order(server: Running, compression: Any) -> None:
    with connect(url(server), compression=compression) as ws:
        for i in range(500):
            ws.send(f"message {i}")
        for i in range(500):
            assert ws.recv() == f"message {i}"


#: Close reasons differ between the implementations (the codes do not).
REASONS = {
    "websockets": {
        "continuation": "expected a continuation frame",
        "rsv": "reserved bits must be 0",
        "utf8": "invalid UTF-8 at position 0",
        "size": "frame with 1025 bytes exceeds limit of 1024 bytes",
    },
    "wsproto": {
        "continuation": "expected CONTINUATION, got <Opcode.TEXT: 1>",
        "rsv": "Reserved bit set unexpectedly",
        "utf8": "'utf-8' codec can't decode byte 0xed in position 0: invalid continuation byte",
        "size": "message over 1024 bytes",
    },
}


def test_data_frame_inside_a_fragmented_message_is_1002(server: Running, ws_impl: str) -> None:
    reason = REASONS[ws_impl]["continuation"]
    raw = RawWebSocket(server.port, "/events")
    raw.conn.send(frame_bytes(TEXT, b"one", fin=False) + frame_bytes(TEXT, b"two"))
    assert raw.recv_close() == (1002, reason)
    assert raw.conn.is_closed()
    raw.close()
    server.wait_for_log(f"^APP: disconnect 1002 {re.escape(reason)}$")


def test_reserved_bit_without_an_extension_is_1002(server: Running, ws_impl: str) -> None:
    raw = RawWebSocket(server.port, "/events")
    raw.send_frame(TEXT, b"ok")
    assert raw.recv_frame() == (TEXT, b"ok")
    raw.conn.send(frame_bytes(TEXT, b"compressed?", rsv=4) + frame_bytes(TEXT, b"more"))
    assert raw.recv_close() == (1002, REASONS[ws_impl]["rsv"])
    assert raw.conn.is_closed()
    raw.close()


class Deflating:
    """Reads a raw client's frames when permessage-deflate was agreed: the server compresses
    (RSV1 set) with context takeover, so one decompressor serves the whole session."""

    OFFER = b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"

    def __init__(self, raw: RawWebSocket) -> None:
        assert b"permessage-deflate" in raw.head.lower()
        self.raw = raw
        self.inflate = zlib.decompressobj(-15)

    def recv_frame(self) -> tuple[int, bytes]:
        first = self.raw.conn.buffer[:1] or self.raw.conn.sock.recv(1, socket.MSG_PEEK)
        opcode, payload = self.raw.recv_frame()
        if first[0] & 0x40:  # RSV1: a compressed message
            payload = self.inflate.decompress(payload + b"\x00\x00\xff\xff")
        return opcode, payload


def raw_session(server: Running, compression: str | None, path: str = "/events") -> Any:
    """A raw client; with ``compression``, one that agreed on permessage-deflate (its own
    frames stay uncompressed, which RFC 7692 allows), so the library's general path runs."""
    if compression is None:
        return RawWebSocket(server.port, path)
    return Deflating(RawWebSocket(server.port, path, Deflating.OFFER))


#: A bad frame, the close code it earns and the reason (for the plain path).
BAD_FRAMES = {
    "utf8": (frame_bytes(TEXT, b"\xed\xa0\x80"), 1007),  # a UTF-16 surrogate: not UTF-8
    "rsv": (frame_bytes(TEXT, b"x", rsv=2), 1002),
    "continuation": (frame_bytes(TEXT, b"one", fin=False) + frame_bytes(TEXT, b"two"), 1002),
}


@pytest.mark.parametrize("compression", [None, "deflate"])
@pytest.mark.parametrize("bad", list(BAD_FRAMES))
def test_valid_messages_are_answered_before_the_bad_frame_that_follows_fails_them(
    server: Running, ws_impl: str, bad: str, compression: str | None
) -> None:
    """Autobahn's strict ordering: the echoes of the messages before a bad frame in the same
    read go out first, then the close frame; what follows the bad frame is never read."""
    frames, code = BAD_FRAMES[bad]
    client = raw_session(server, compression)
    raw = client.raw if compression else client
    raw.conn.send(
        frame_bytes(TEXT, b"first")
        + frame_bytes(BINARY, b"second")
        + frame_bytes(TEXT, b"third", fin=False)
        + frame_bytes(CONT, b" part")
        + frames
        + frame_bytes(TEXT, b"never")
    )
    assert client.recv_frame() == (TEXT, b"first")
    assert client.recv_frame() == (BINARY, b"second")
    assert client.recv_frame() == (TEXT, b"third part")
    opcode, payload = client.recv_frame()
    assert (opcode, struct.unpack("!H", payload[:2])[0]) == (CLOSE, code)
    if compression is None and bad != "continuation":
        assert payload[2:].decode() == REASONS[ws_impl][bad]
    assert raw.conn.is_closed()
    raw.close()
    server.wait_for_log(f"^APP: disconnect {code} ")
    with connect(url(server), compression=None) as ws:  # and the server carries on
        ws.send("fine")
        assert ws.recv() == "fine"


def test_a_failure_while_the_app_waits_is_sent_at_once(server: Running, ws_impl: str) -> None:
    """Nothing is left to answer: the close frame follows the bad frame immediately."""
    raw = RawWebSocket(server.port, "/events")
    raw.send_frame(TEXT, b"ok")
    assert raw.recv_frame() == (TEXT, b"ok")
    raw.conn.send(frame_bytes(TEXT, b"\xff"))
    assert raw.recv_frame()[0] == CLOSE
    assert raw.conn.is_closed()
    raw.close()


@pytest.mark.parametrize("compression", [None, "deflate"])
@pytest.mark.parametrize("writes", ["one write", "separate writes"])
def test_close_between_the_fragments_of_a_message_is_a_clean_close(
    server: Running, ws_impl: str, writes: str, compression: str | None
) -> None:
    """Autobahn 7.1.5: RFC 6455 (5.4, 5.5) lets control frames, a close among them, come
    between fragments; the unfinished message is dropped and the close answered, not 1002."""
    client = raw_session(server, compression)
    raw = client.raw if compression else client
    frames = [
        frame_bytes(TEXT, b"fragment1", fin=False),
        frame_bytes(CLOSE, struct.pack("!H", 1000)),
        frame_bytes(CONT, b"fragment2"),
    ]
    if writes == "one write":
        raw.conn.send(b"".join(frames))
    else:
        raw.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for frame in frames:
            raw.conn.send(frame)
    assert client.recv_frame() == (CLOSE, struct.pack("!H", 1000))
    assert raw.conn.is_closed()
    raw.close()
    server.wait_for_log("^APP: disconnect 1000 ")


def test_close_mid_burst_ends_the_session(server: Running) -> None:
    raw = RawWebSocket(server.port, "/events")
    raw.conn.send(
        frame_bytes(CLOSE, struct.pack("!H", 4321) + b"done") + frame_bytes(TEXT, b"late")
    )
    assert raw.recv_close() == (4321, "done")
    assert raw.conn.is_closed()
    raw.close()
    server.wait_for_log("^APP: disconnect 4321 done$")


def test_max_size_without_compression(ws_impl: str) -> None:
    with serve_ws(APP, "--ws-max-size", "1024", "--no-access-log") as server:
        raw = RawWebSocket(server.port, "/events")
        raw.conn.send(frame_bytes(BINARY, b"x" * 1024))
        assert raw.recv_frame() == (BINARY, b"x" * 1024)
        raw.conn.send(frame_bytes(BINARY, b"x" * 1025))
        assert raw.recv_close() == (1009, REASONS[ws_impl]["size"])
        assert raw.conn.is_closed()
        raw.close()
        server.wait_for_log("^APP: disconnect 1009 ")

        # A frame announcing a terabyte is refused with the first KiB over the limit
        # (websockets refuses it on its header; wsproto once the payload exceeds it).
        raw = RawWebSocket(server.port)
        raw.conn.send(struct.pack("!BBQ", 0x82, 0x80 | 127, 1 << 40) + b"mask" + b"x" * 2048)
        assert raw.recv_close()[0] == 1009
        assert raw.conn.is_closed()
        raw.close()

        with connect(url(server), compression=None) as ws:
            ws.send("ok")
            assert ws.recv() == "ok"
            ws.send(b"y" * 2000)
            with pytest.raises(ConnectionClosed) as info:
                ws.recv()
            assert info.value.rcvd is not None and info.value.rcvd.code == 1009


def test_large_message_arriving_slowly(server: Running) -> None:
    """A frame longer than one read, in small pieces: reassembled, not lost or duplicated."""
    payload = os.urandom(300_000)
    raw = RawWebSocket(server.port)
    send_in_chunks(raw, frame_bytes(BINARY, payload) + frame_bytes(TEXT, b"next"), [4096, 3])
    assert read_echoes(raw, 2)[0] == [(BINARY, payload), (TEXT, b"next")]
    raw.close()


def test_server_frames_are_minimal_and_unmasked(server: Running) -> None:
    raw = RawWebSocket(server.port)
    for size in (0, 125, 126, 65535, 65536):
        raw.send_frame(BINARY, b"b" * size)
        first, second = raw.conn.read_exact(2)
        assert first == 0x82
        assert not second & 0x80
        if size < 126:
            assert second == size
        elif size < 65536:
            assert second == 126
            assert struct.unpack("!H", raw.conn.read_exact(2))[0] == size
        else:
            assert second == 127
            assert struct.unpack("!Q", raw.conn.read_exact(8))[0] == size
        assert raw.conn.read_exact(size) == b"b" * size
    raw.close()


# -- any stream, cut anywhere ------------------------------------------------------------

message_strategy = st.one_of(
    st.tuples(st.just(TEXT), st.text(max_size=300).map(str.encode)),
    st.tuples(st.just(BINARY), st.binary(max_size=300)),
    st.tuples(st.just(BINARY), st.integers(65500, 70000).map(lambda n: b"\x5a" * n)),
)


@st.composite
def streams(draw: Any) -> tuple[bytes, list[tuple[int, bytes]], list[bytes]]:
    """Frames for a few messages (some fragmented, with pings between), their echoes, pings."""
    frames: list[bytes] = []
    echoes: list[tuple[int, bytes]] = []
    pings: list[bytes] = []
    for opcode, payload in draw(st.lists(message_strategy, min_size=1, max_size=6)):
        echoes.append((opcode, payload))
        pieces = draw(st.integers(1, 3))
        cut_at = st.integers(0, len(payload))
        cuts = sorted(draw(st.lists(cut_at, min_size=pieces - 1, max_size=pieces - 1)))
        bounds = [0, *cuts, len(payload)]
        for index in range(pieces):
            piece = payload[bounds[index] : bounds[index + 1]]
            first = opcode if index == 0 else CONT
            frames.append(frame_bytes(first, piece, fin=index == pieces - 1))
            if draw(st.booleans()):
                ping = f"p{len(pings)}".encode()
                pings.append(ping)
                frames.append(frame_bytes(PING, ping))
    return b"".join(frames), echoes, pings


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(stream=streams(), data=st.data())
def test_any_stream_cut_anywhere_is_echoed_exactly(server: Running, stream: Any, data: Any) -> None:
    """Valid frames, fragments and pings, delivered in arbitrary pieces, come back whole
    and in order: the split between our parser and the library's loses nothing."""
    wire, echoes, pings = stream
    cuts = sorted(set(data.draw(st.lists(st.integers(1, max(1, len(wire) - 1)), max_size=12))))
    raw = RawWebSocket(server.port)
    raw.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    at = 0
    for cut in [*cuts, len(wire)]:
        raw.conn.sock.sendall(wire[at:cut])
        at = cut
    got, pongs = read_echoes(raw, len(echoes))
    assert got == echoes
    while len(pongs) < len(pings):  # pongs may trail the last echo
        opcode, payload = raw.recv_frame()
        assert opcode == PONG
        pongs.append(payload)
    assert pongs == pings
    raw.close()
