"""A WebSocket client over a plain socket, for tests that must send exact (or wrong) frames."""

from __future__ import annotations

import base64
import os
import struct
from typing import Any

from tests.support import RawConnection, serve

TEXT, BINARY, CLOSE, PING, PONG = 0x1, 0x2, 0x8, 0x9, 0xA
CONT = 0x0


def frame_bytes(
    opcode: int, payload: bytes, *, fin: bool = True, mask: bool = True, rsv: int = 0
) -> bytes:
    """One client frame as it goes on the wire (``rsv``: the three RSV bits, 0-7)."""
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    length = len(payload)
    mask_bit = 0x80 if mask else 0
    if length < 126:
        head = struct.pack("!BB", first, mask_bit | length)
    elif length < 65536:
        head = struct.pack("!BBH", first, mask_bit | 126, length)
    else:
        head = struct.pack("!BBQ", first, mask_bit | 127, length)
    if not mask:
        return head + payload
    key = os.urandom(4)
    stream = (key * (length // 4 + 1))[:length]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(stream, "big")).to_bytes(
        length, "big"
    )
    return head + key + masked


class RawWebSocket:
    """A WebSocket client over a plain socket that can send any bytes it likes.

    It offers no extensions, so the server frames without compression.
    """

    def __init__(self, port: int, path: str = "/echo", extra: bytes = b"") -> None:
        self.conn = RawConnection(port)
        key = base64.b64encode(os.urandom(16)).decode()
        self.conn.send(
            f"GET {path} HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n".encode()
            + extra
            + b"\r\n"
        )
        self.head = self.conn.read_until(b"\r\n\r\n")

    @property
    def status(self) -> int:
        return int(self.head.split(b" ", 2)[1])

    def send_frame(
        self, opcode: int, payload: bytes, *, fin: bool = True, mask: bool = True
    ) -> None:
        self.conn.send(frame_bytes(opcode, payload, fin=fin, mask=mask))

    def recv_frame(self) -> tuple[int, bytes]:
        first, second = self.conn.read_exact(2)
        assert not second & 0x80, "a server must not mask its frames"
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self.conn.read_exact(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self.conn.read_exact(8))
        return first & 0x0F, self.conn.read_exact(length)

    def recv_close(self) -> tuple[int, str]:
        """Read frames up to the server's close frame; its code and reason."""
        while True:
            opcode, payload = self.recv_frame()
            if opcode == CLOSE:
                (code,) = struct.unpack("!H", payload[:2])
                return code, payload[2:].decode()

    def close(self) -> None:
        self.conn.close()


def close_payload(code: int, reason: str = "") -> bytes:
    return struct.pack("!H", code) + reason.encode()


#: The WebSocket implementations the socket-level tests run against (``--ws``).
WS_IMPLS = ("websockets", "wsproto")


class Impl:
    """The implementation the running module's tests use; set by each module's fixture."""

    name = "websockets"


def serve_ws(app: str, *args: str, **kwargs: Any) -> Any:
    """``serve()`` with ``--ws`` set to the implementation under test."""
    return serve(app, "--ws", Impl.name, *args, **kwargs)
