"""HTTP/2 clients for the tests: ``h2`` for well-formed traffic, ``hyperframe`` for raw frames.

``H2Client`` speaks HTTP/2 over a blocking socket with the ``h2`` library.
For malformed and hostile traffic, ``send_raw`` writes frames built with
``hyperframe`` and header blocks encoded with the client's own HPACK encoder
(so the server's decoder stays in step), bypassing ``h2``'s checks.

``serve_h2`` starts ``aster run`` on the engine under test (``--http2-engine``:
the protocol modules run every test on each of :data:`H2_ENGINES`, through the
``h2_engine`` fixture), or, with ``ASTER_H2_ENGINE`` set, the engine-spike
launcher in ``scripts/h2_spike.py``, so the same tests measure another engine's
conformance (zttp).
"""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
import hpack
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    Frame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    RstStreamFrame,
    SettingsFrame,
    WindowUpdateFrame,
)

from aster.server.protocols.http2 import ENGINES
from tests.support import ROOT, Running, serve

ENGINE = os.environ.get("ASTER_H2_ENGINE", "")
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
APP = "tests.apps.h2_app:app"


#: The engines aster ships; the protocol tests run against each (``--http2-engine``).
H2_ENGINES = tuple(ENGINES)


class EngineUnderTest:
    """The engine the running module's tests use; set by the ``h2_engine`` fixture."""

    name = "lean"


@contextlib.contextmanager
def serve_h2(app: str = APP, *args: str, **kwargs: Any) -> Iterator[Running]:
    launcher = None
    if ENGINE:
        launcher = [sys.executable, str(ROOT / "scripts" / "h2_spike.py"), "serve", ENGINE]
    else:
        args = ("--http2-engine", EngineUnderTest.name, *args)
    with serve(app, *args, launcher=launcher, **kwargs) as running:
        yield running


@dataclass
class Reply:
    status: int = 0
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""
    trailers: list[tuple[bytes, bytes]] = field(default_factory=list)
    reset: int | None = None  # the RST_STREAM code, if the server reset the stream
    ended: bool = False
    informational: list[int] = field(default_factory=list)

    def header(self, name: bytes) -> bytes | None:
        return next((v for k, v in self.headers if k == name), None)


class ConnectionEnded(Exception):
    def __init__(self, code: int | None) -> None:
        super().__init__(f"GOAWAY {code}")
        self.code = code


class H2Client:
    """One HTTP/2 connection (prior knowledge, or TLS with ALPN h2)."""

    def __init__(
        self,
        port: int,
        *,
        tls: ssl.SSLContext | None = None,
        timeout: float = 10.0,
        window: int | None = 1 << 24,
        preface: bool = True,
    ) -> None:
        sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        if tls is not None:
            sock = tls.wrap_socket(sock, server_hostname="localhost")
        self.sock = sock
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding=None)
        )
        self.replies: dict[int, Reply] = {}
        self.goaway: int | None = None
        self.goaway_last: int | None = None
        self.server_settings: dict[int, int] = {}
        self.window_updates: dict[int, int] = {}  # stream id -> credit granted by the server
        self.closed = False
        if preface:
            self.conn.initiate_connection()
            if window is not None:
                self.conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: window})
                if window > 65535:
                    self.conn.increment_flow_control_window(window - 65535)
            self.flush()

    def __enter__(self) -> H2Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    # -- sending -------------------------------------------------------------------

    def flush(self) -> None:
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def headers(
        self,
        path: str = "/",
        method: str = "GET",
        extra: list[tuple[str, str]] | None = None,
        end: bool = True,
        authority: str = "localhost",
    ) -> int:
        stream_id = self.conn.get_next_available_stream_id()
        fields = [(":method", method), (":scheme", "http"), (":path", path)]
        if authority:
            fields.append((":authority", authority))
        self.conn.send_headers(stream_id, fields + (extra or []), end_stream=end)
        self.replies[stream_id] = Reply()
        self.flush()
        return stream_id

    def data(self, stream_id: int, data: bytes, end: bool = True) -> None:
        self.conn.send_data(stream_id, data, end_stream=end)
        self.flush()

    def send_raw(self, *frames: Frame | bytes) -> None:
        self.sock.sendall(b"".join(f if isinstance(f, bytes) else f.serialize() for f in frames))

    def encode(self, fields: list[tuple[bytes, bytes]]) -> bytes:
        """A header block from this connection's encoder, whatever it holds."""
        return self.conn.encoder.encode(fields)

    def raw_headers(
        self, stream_id: int, fields: list[tuple[bytes, bytes]], end: bool = True
    ) -> None:
        frame = HeadersFrame(stream_id)
        frame.data = self.encode(fields)
        frame.flags.add("END_HEADERS")
        if end:
            frame.flags.add("END_STREAM")
        self.replies.setdefault(stream_id, Reply())
        self.send_raw(frame)

    def request(
        self,
        path: str = "/",
        method: str = "GET",
        body: bytes | None = None,
        extra: list[tuple[str, str]] | None = None,
        timeout: float = 10.0,
        authority: str = "localhost",
    ) -> Reply:
        stream_id = self.headers(path, method, extra, end=body is None, authority=authority)
        if body is not None:
            self.send_body(stream_id, body)
        return self.wait(stream_id, timeout)

    def send_body(self, stream_id: int, body: bytes) -> None:
        """All of ``body``, waiting for window as the server grants it."""
        view = memoryview(body)
        while True:
            window = min(self.conn.local_flow_control_window(stream_id), 16384)
            if window >= len(view):
                self.data(stream_id, bytes(view), end=True)
                return
            if window:
                self.data(stream_id, bytes(view[:window]), end=False)
                view = view[window:]
            else:
                self.read()

    # -- receiving -------------------------------------------------------------------

    def read(self, timeout: float = 10.0) -> bool:
        """Read once and handle the events; False if the connection ended."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(1 << 20)
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        if not data:
            self.closed = True
            return False
        try:
            events = self.conn.receive_data(data)
        except h2.exceptions.ProtocolError:
            events = []
        for event in events:
            self._handle(event)
        with contextlib.suppress(OSError, h2.exceptions.ProtocolError):
            self.flush()
        return True

    def _handle(self, event: Any) -> None:
        reply = self.replies.get(getattr(event, "stream_id", 0) or 0)
        if isinstance(event, h2.events.ResponseReceived) and reply is not None:
            reply.status = int(dict(event.headers)[b":status"])
            reply.headers = [(k, v) for k, v in event.headers if not k.startswith(b":")]
        elif isinstance(event, h2.events.InformationalResponseReceived) and reply is not None:
            reply.informational.append(int(dict(event.headers)[b":status"]))
        elif isinstance(event, h2.events.DataReceived):
            if reply is not None:
                reply.body += event.data
            self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, h2.events.TrailersReceived) and reply is not None:
            reply.trailers = list(event.headers)
        elif isinstance(event, h2.events.StreamEnded) and reply is not None:
            reply.ended = True
        elif isinstance(event, h2.events.StreamReset) and reply is not None:
            reply.reset = int(event.error_code)
        elif isinstance(event, h2.events.ConnectionTerminated):
            self.goaway = int(event.error_code)
            self.goaway_last = event.last_stream_id
        elif isinstance(event, h2.events.RemoteSettingsChanged):
            for code, change in event.changed_settings.items():
                self.server_settings[int(code)] = change.new_value
        elif isinstance(event, h2.events.WindowUpdated):
            key = event.stream_id or 0
            self.window_updates[key] = self.window_updates.get(key, 0) + event.delta

    def wait(self, stream_id: int, timeout: float = 10.0) -> Reply:
        """Until the stream ends or is reset."""
        reply = self.replies[stream_id]
        deadline = time.monotonic() + timeout
        while not (reply.ended or reply.reset is not None):
            if time.monotonic() > deadline:
                raise TimeoutError(f"stream {stream_id} did not end: {reply}")
            if not self.read(max(0.05, deadline - time.monotonic())):
                raise ConnectionEnded(self.goaway)
        return reply

    def wait_settings(self) -> dict[int, int]:
        while not self.server_settings:
            if not self.read():
                raise ConnectionEnded(self.goaway)
        return self.server_settings

    def wait_closed(self, timeout: float = 10.0) -> int | None:
        """Read until the server closes; the GOAWAY code it sent (None if none)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if not self.read(max(0.05, deadline - time.monotonic())):
                    return self.goaway
            except TimeoutError:
                break
        raise AssertionError(f"the server did not close the connection (GOAWAY {self.goaway})")

    def raw_frames(self, timeout: float = 5.0) -> list[Frame]:
        """Frames read off the socket without ``h2`` (to see exactly what the server sent)."""
        buffer = b""
        frames: list[Frame] = []
        self.sock.settimeout(timeout)
        while True:
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            buffer += chunk
            while len(buffer) >= 9:
                frame, length = Frame.parse_frame_header(memoryview(buffer[:9]))
                if len(buffer) < 9 + length:
                    break
                frame.parse_body(memoryview(buffer[9 : 9 + length]))
                frames.append(frame)
                buffer = buffer[9 + length :]
            if any(isinstance(f, GoAwayFrame) for f in frames):
                break
        return frames


class RawH2:
    """A client that writes any frames it likes and reads frames without ``h2``'s checks.

    It keeps only what a test asserts on: each stream's status, body and reset code,
    and the GOAWAY code.  It acknowledges SETTINGS and PINGs and keeps windows open.
    """

    def __init__(self, port: int, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.encoder = hpack.Encoder()
        self.decoder = hpack.Decoder()
        self.replies: dict[int, Reply] = {}
        self.goaway: int | None = None
        self.goaway_last: int | None = None
        self.closed = False
        self.next_stream = 1
        self._buffer = b""
        settings = SettingsFrame(0, settings={0x4: 1 << 24})
        self.send_raw(PREFACE, settings, WindowUpdateFrame(0, window_increment=(1 << 24) - 65535))

    def __enter__(self) -> RawH2:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()

    def send_raw(self, *frames: Frame | bytes) -> None:
        self.sock.sendall(b"".join(f if isinstance(f, bytes) else f.serialize() for f in frames))

    def encode(self, fields: list[tuple[bytes, bytes]]) -> bytes:
        return self.encoder.encode(fields)

    def raw_headers(
        self, stream_id: int, fields: list[tuple[bytes, bytes]], end: bool = True
    ) -> None:
        frame = HeadersFrame(stream_id, data=self.encode(fields))
        frame.flags.add("END_HEADERS")
        if end:
            frame.flags.add("END_STREAM")
        self.replies.setdefault(stream_id, Reply())
        self.next_stream = max(self.next_stream, stream_id + 2)
        self.send_raw(frame)

    def request(self, path: str = "/_/fixed") -> Reply:
        stream_id = self.next_stream
        fields = [(b":method", b"GET"), (b":scheme", b"http"), (b":path", path.encode())]
        self.raw_headers(stream_id, [*fields, (b":authority", b"localhost")])
        return self.wait(stream_id)

    def read(self, timeout: float = 10.0) -> bool:
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(1 << 20)
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        if not data:
            self.closed = True
            return False
        buffer = self._buffer + data
        while len(buffer) >= 9:
            frame, length = Frame.parse_frame_header(memoryview(buffer[:9]))
            if len(buffer) < 9 + length:
                break
            frame.parse_body(memoryview(buffer[9 : 9 + length]))
            buffer = buffer[9 + length :]
            self._handle(frame)
        self._buffer = buffer
        return True

    def _handle(self, frame: Frame) -> None:
        reply = self.replies.get(frame.stream_id)
        if isinstance(frame, HeadersFrame):
            fields = self.decoder.decode(frame.data, raw=True)
            if reply is not None:
                status = dict(fields).get(b":status")
                if status is not None and reply.status == 0:
                    reply.status = int(status)
                    reply.headers = [(k, v) for k, v in fields if not k.startswith(b":")]
                if "END_STREAM" in frame.flags:
                    reply.ended = True
        elif isinstance(frame, DataFrame):
            if reply is not None:
                reply.body += frame.data
                if "END_STREAM" in frame.flags:
                    reply.ended = True
            if frame.flow_controlled_length:
                increment = frame.flow_controlled_length
                self.send_raw(
                    WindowUpdateFrame(0, window_increment=increment),
                    WindowUpdateFrame(frame.stream_id, window_increment=increment),
                )
        elif isinstance(frame, RstStreamFrame):
            if reply is not None:
                reply.reset = frame.error_code
        elif isinstance(frame, GoAwayFrame):
            self.goaway = frame.error_code
            self.goaway_last = frame.last_stream_id
        elif isinstance(frame, SettingsFrame) and "ACK" not in frame.flags:
            ack = SettingsFrame(0)
            ack.flags.add("ACK")
            self.send_raw(ack)
        elif isinstance(frame, PingFrame) and "ACK" not in frame.flags:
            pong = PingFrame(0, opaque_data=frame.opaque_data)
            pong.flags.add("ACK")
            self.send_raw(pong)

    def wait(self, stream_id: int, timeout: float = 10.0) -> Reply:
        reply = self.replies[stream_id]
        deadline = time.monotonic() + timeout
        while not (reply.ended or reply.reset is not None):
            if time.monotonic() > deadline:
                raise TimeoutError(f"stream {stream_id} did not end: {reply}")
            if not self.read(max(0.05, deadline - time.monotonic())):
                raise ConnectionEnded(self.goaway)
        return reply

    def wait_goaway(self, timeout: float = 10.0) -> int | None:
        """Read until the server closes the connection; the GOAWAY code it sent."""
        deadline = time.monotonic() + timeout
        with contextlib.suppress(OSError):
            while time.monotonic() < deadline and self.read(max(0.05, deadline - time.monotonic())):
                pass
        return self.goaway


def still_serves(port: int, **kwargs: Any) -> None:
    """A second connection gets a normal answer: the server shrugged the first one off."""
    with H2Client(port, **kwargs) as client:
        reply = client.request("/_/fixed")
        assert (reply.status, reply.body) == (200, b"hello, world")


def tls_context(ca: Any) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    context.set_alpn_protocols(["h2"])
    return context


__all__ = [
    "APP",
    "PREFACE",
    "ConnectionEnded",
    "ContinuationFrame",
    "DataFrame",
    "GoAwayFrame",
    "H2Client",
    "RawH2",
    "HeadersFrame",
    "Reply",
    "RstStreamFrame",
    "serve_h2",
    "still_serves",
    "tls_context",
]
