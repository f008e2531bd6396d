"""WebSocket framing with ``websockets``' sans-I/O protocol: the default implementation.

:class:`~.http1.HTTP1Protocol` parses the upgrade request as it parses any
other and then calls :func:`upgrade`, which checks the handshake (see
:mod:`.ws_handshake`) and hands the transport to a :class:`WebSocketProtocol`.
``websockets.server.ServerProtocol`` does the framing (masking in C,
permessage-deflate, close codes, limits); :class:`~.ws_connection.WebSocketConnection`
does the I/O, the timers and the bookkeeping.

One shortcut, for speed: on a connection without extensions, the common
frames (final, masked text and binary ones, whole in what was read) are
unmasked here and the messages the app sends are framed here, both a few
lines; everything else still goes through ``websockets``, a whole frame at a
time.
"""

from __future__ import annotations

import asyncio
import struct
from typing import TYPE_CHECKING, Any

from websockets.exceptions import InvalidHandshake, InvalidState, ProtocolError
from websockets.frames import Frame, Opcode
from websockets.server import ServerProtocol

try:
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover - websockets built without its C extension
    from websockets.utils import apply_mask

from .ws_connection import CLOSING, OPEN, WebSocketConnection, WSCarrier
from .ws_handshake import negotiate, refusal

if TYPE_CHECKING:
    from ..config import Config
    from ..state import ServerState

_TEXT, _BINARY, _CONT, _PONG, _CLOSE = (
    Opcode.TEXT,
    Opcode.BINARY,
    Opcode.CONT,
    Opcode.PONG,
    Opcode.CLOSE,
)
#: First byte of a final, uncompressed text or binary frame: FIN set, RSV clear.
_FIN_TEXT, _FIN_BINARY = 0x81, 0x82
_pack_medium = struct.Struct("!BBH").pack
_pack_long = struct.Struct("!BBQ").pack


def upgrade(
    config: Config,
    state: ServerState,
    transport: asyncio.Transport,
    http_scope: dict[str, Any],
    rest: bytes,
    read_paused: bool,
) -> None:
    """Take over ``transport`` from HTTP/1.1 for the WebSocket handshake ``http_scope`` asked for.

    A request that is not a valid handshake (wrong method, version, key) is
    answered here without running the app, as ``websockets`` would.
    """
    try:
        conn, scope, accept_key, extensions_header = negotiate(config, http_scope)
    except InvalidHandshake as exc:
        transport.write(refusal(exc, state.default_headers))
        transport.close()
        return
    protocol = WebSocketProtocol(config, state, transport, conn, read_paused)
    protocol.start(scope, accept_key, extensions_header, rest)


def frame_header(first: int, length: int) -> bytes:
    """The header of an unmasked (server) frame: ``first`` is FIN, RSV and opcode."""
    if length < 126:
        return bytes((first, length))
    if length < 65536:
        return _pack_medium(first, 126, length)
    return _pack_long(first, 127, length)


class WebSocketProtocol(WebSocketConnection):
    """One WebSocket connection framed by ``websockets``' ``ServerProtocol``."""

    def __init__(
        self,
        config: Config,
        state: ServerState,
        transport: asyncio.Transport,
        conn: ServerProtocol,
        read_paused: bool,
        carrier: WSCarrier | None = None,
    ) -> None:
        super().__init__(config, state, transport, read_paused, carrier)
        self.conn = conn
        # The fast path (see _receive_plain): only without extensions, whose frames it
        # does not know.
        self._plain = not conn.extensions
        limit = conn.max_message_size
        self._max_plain = limit if limit is not None else 1 << 62
        self._rx = b""  # the start of a frame header, held until the rest arrives
        self._slow_remaining = 0  # bytes still due of a frame handed to websockets
        # The message being reassembled from fragments.
        self._fragments: list[bytes] = []
        self._fragment_text = False
        #: What the library queued (its close frame, last pongs) while a failure waits.
        self._held: list[bytes] = []

    # -- frames from the peer -------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._ws_state == OPEN and self._plain:
            self._receive_plain(data)
        else:
            super().data_received(data)

    def _receive(self, data: bytes) -> None:
        if self._rx:
            data = self._rx + data
            self._rx = b""
        self._receive_frames(data)

    def _receive_plain(self, data: bytes) -> None:
        """Take complete, final, masked text and binary frames straight off ``data``.

        Without extensions, nearly every frame a client sends is one of those, and
        unmasking it (in C) and checking its UTF-8 is all there is to it, about a
        tenth of what the general parser costs.  Every other frame (control frames,
        fragments, anything malformed or over the size limit, and a frame not
        complete yet) goes to ``websockets`` whole, and only whole frames go
        there, so its parser is between frames whenever this one reads a header.
        """
        if self._rx:
            data = self._rx + data
            self._rx = b""
        size = len(data)
        at = self._slow_remaining
        if at:
            if at >= size:
                self._slow_remaining = at - size
                self._receive_frames(data)
                return
            self._slow_remaining = 0
            self._receive_frames(data[:at])
        max_size = self._max_plain
        while at < size and self._ws_state == OPEN:
            if size - at < 2:
                break
            first = data[at]
            second = data[at + 1]
            length = second & 0x7F
            start = at + 2
            if length == 126:
                if size - start < 2:
                    break
                length = (data[start] << 8) | data[start + 1]
                start += 2
            elif length == 127:
                if size - start < 8:
                    break
                length = int.from_bytes(data[start : start + 8], "big")
                start += 8
            masked = second & 0x80
            if masked:
                start += 4
            end = start + length
            if (
                first in (0x81, 0x82)  # _FIN_TEXT, _FIN_BINARY
                and masked
                and end <= size
                and length <= max_size
                and not self._fragments
            ):
                payload = apply_mask(data[start:end], data[start - 4 : start])
                self._message_bytes(payload, first == _FIN_TEXT)
                at = end
                continue
            if end > size:
                self._slow_remaining = end - size
                end = size
            self._receive_frames(data[at:end])
            at = end
        if at < size:
            if self._ws_state == OPEN:
                self._rx = data[at:]
            elif self._ws_state == CLOSING:
                self._receive_frames(data[at:])

    def _receive_frames(self, data: bytes) -> None:
        """Bytes for ``websockets`` to parse; handle the frames it completes."""
        self.conn.receive_data(data)
        self._process()

    def _process(self) -> None:
        conn = self.conn
        for frame in conn.events_received():
            opcode = frame.opcode
            if opcode is _TEXT or opcode is _BINARY:
                if frame.fin:
                    self._message_bytes(frame.data, opcode is _TEXT)
                else:
                    self._fragments = [frame.data]
                    self._fragment_text = opcode is _TEXT
            elif opcode is _CONT:
                self._fragments.append(frame.data)
                if frame.fin:
                    data = b"".join(self._fragments)
                    self._fragments = []
                    self._message_bytes(data, self._fragment_text)
            elif opcode is _PONG:
                self._pong_received(frame.data)
            elif opcode is _CLOSE:
                received = conn.close_rcvd
                assert received is not None
                self._peer_closed(received.code, received.reason)
            # Pings need nothing from us: the protocol queued the pong already.
            if self._failed or self._failing is not None:
                break
        if conn.parser_exc is not None:
            self._fail_reported()
        self._flush()

    def _message_bytes(self, data: bytes, text: bool) -> None:
        if text:
            try:
                decoded = data.decode()
            except UnicodeDecodeError as exc:
                self.conn.fail(1007, f"invalid UTF-8 at position {exc.start}")
                self._fail_reported()
                self._flush()
                return
            self.cycle.feed(decoded)
        else:
            self.cycle.feed(data if type(data) is bytes else bytes(data))

    def _fail_reported(self) -> None:
        """The protocol failed the connection (1002, 1007, 1009...): it queued the close
        frame; the app hears which once the failure takes effect (``_peer_failed``)."""
        sent = self.conn.close_sent
        if sent is not None:
            self._peer_failed(sent.code, sent.reason)
        else:
            self._peer_failed(1006, "")

    def _release_failure(self, code: int, reason: str) -> None:
        pass  # the library queued the close frame when it failed; _take_writes lets it out

    def _take_writes(self) -> list[bytes]:
        writes = self.conn.data_to_send()
        if self._failing is not None:
            self._held += writes
            return []
        if self._held:
            writes = self._held + writes
            self._held = []
        if writes and not writes[-1]:  # websockets' end-of-stream marker
            self._eof = True
            writes = [chunk for chunk in writes if chunk]
        return writes

    # -- frames to the peer -------------------------------------------------------------

    def _encode_message(self, data: str | bytes) -> bool:
        if self._plain:
            if type(data) is str:
                data = data.encode()
                first = _FIN_TEXT
            else:
                first = _FIN_BINARY
                if type(data) is not bytes:
                    data = bytes(data)
            length = len(data)
            if length < 126:
                self._out.append(bytes((first, length)) + data)
            elif length < 16384:
                self._out.append(frame_header(first, length) + data)
            else:
                self._out += (frame_header(first, length), data)
            return True
        try:
            if type(data) is str:
                self.conn.send_text(data.encode())
            else:
                self.conn.send_binary(data)
        except InvalidState:
            if self._failing is None:
                return False
            # The library failed the connection, but the app still answers what came
            # before: frame it with the library's codec (and its compression state).
            opcode = _TEXT if type(data) is str else _BINARY
            payload = data.encode() if type(data) is str else bytes(data)
            frame = Frame(opcode, payload)
            self._out.append(frame.serialize(mask=False, extensions=self.conn.extensions))
        return True

    def _encode_close(self, code: int, reason: str) -> None:
        try:
            self.conn.send_close(code, reason)
        except ProtocolError as exc:
            raise RuntimeError(
                f"ASGI: invalid WebSocket close {code!r} {reason!r}: {exc}"
            ) from None

    def _encode_ping(self, payload: bytes) -> None:
        self.conn.send_ping(payload)

    def _encode_failure(self, code: int, reason: str) -> None:
        self.conn.fail(code, reason)
