"""The HTTP/2 engine: the one interface between aster's HTTP/2 connection and a codec library.

An engine owns what RFC 9113 and RFC 7541 specify and aster should not
hand-write: frame parsing and serialisation, HPACK, the stream and connection
state machines, SETTINGS and flow-control accounting.  The connection
(:mod:`.http2`) owns everything an engine leaves to the server: scopes and
cycles, header validation, when to credit the receive window, timeouts,
flood limits and shutdown.

The engine reports what the peer did by calling the connection (an
:class:`EngineSink`), so no event object has to be built per frame beyond
what the library itself builds.  The connection picks one by name from
``http2.ENGINES``: ``lean`` (:mod:`.h2_engine_lean`, the default: aster's own state
machine on ``hyperframe`` and ``hpack``) or ``h2`` (:mod:`.h2_engine_h2`, python-hyper's
connection, kept as the reference the protocol tests also run against); the README's
"HTTP/2 engine" section has the measurements.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

# RFC 9113 section 7 error codes, as the connection uses them.
NO_ERROR = 0x0
PROTOCOL_ERROR = 0x1
INTERNAL_ERROR = 0x2
FLOW_CONTROL_ERROR = 0x3
STREAM_CLOSED = 0x5
FRAME_SIZE_ERROR = 0x6
REFUSED_STREAM = 0x7
CANCEL = 0x8
COMPRESSION_ERROR = 0x9
ENHANCE_YOUR_CALM = 0xB
HTTP_1_1_REQUIRED = 0xD

#: What ``EngineSink.on_control`` counts (the frames that cost the server without being work);
#: STRAY: a frame on a stream that is no longer open (the engine answers or ignores it).
PING, SETTINGS, PRIORITY, WINDOW_UPDATE, EMPTY_DATA, STRAY = 0, 1, 2, 3, 4, 5


class ConnectionError_(Exception):
    """The peer broke the protocol: the engine has queued a GOAWAY with ``code``; close after it."""

    def __init__(self, code: int, detail: str) -> None:
        super().__init__(detail)
        self.code = code


@dataclass(frozen=True)
class EngineSettings:
    """What the server advertises in its SETTINGS frame, and enforces."""

    max_concurrent_streams: int
    initial_window_size: int
    connection_window_size: int
    max_frame_size: int
    max_header_list_size: int
    enable_connect_protocol: bool


class EngineSink(Protocol):
    """What an engine calls on its connection while it parses ``receive()``'s bytes."""

    def on_request(self, stream_id: int, headers: list[tuple[bytes, bytes]], end: bool) -> None:
        """A request head (pseudo-headers included, unvalidated); ``end``: no body follows."""

    def on_data(self, stream_id: int, data: bytes, flow_length: int, end: bool) -> None:
        """Body bytes; ``flow_length`` (padding included) is what ``consumed()`` must credit."""

    def on_trailers(self, stream_id: int, headers: list[tuple[bytes, bytes]]) -> None:
        """Request trailers; the stream's body is complete."""

    def on_reset(self, stream_id: int, code: int) -> None:
        """The peer reset the stream (or the engine did, for a stream error it found)."""

    def on_window(self) -> None:
        """Send windows grew (WINDOW_UPDATE, or a SETTINGS change): blocked bodies may go on."""

    def on_control(self, kind: int) -> None:
        """A PING, SETTINGS, PRIORITY, WINDOW_UPDATE, empty DATA or stray frame: for flood
        limits."""

    def on_goaway(self, code: int) -> None:
        """The peer is going away: no new streams will come."""


class Engine(Protocol):
    """One HTTP/2 server connection's codec and state, as the connection drives it."""

    def start(self, upgrade_settings: bytes | None) -> None:
        """Queue the server preface; after ``Upgrade: h2c``, apply the client's HTTP2-Settings
        and open stream 1 (half-closed: its request came as HTTP/1.1)."""

    def receive(self, data: bytes) -> None:
        """Parse bytes from the peer, calling the sink; raise ``ConnectionError_`` if it broke
        the protocol (the GOAWAY is queued)."""

    def send_headers(self, stream_id: int, headers: list[tuple[bytes, bytes]], end: bool) -> None:
        """A response head, informational head (``:status`` 1xx) or trailers."""

    def send_data(self, stream_id: int, data: bytes, end: bool) -> None:
        """Body bytes; the caller keeps within ``window()``."""

    def send_response(
        self, stream_id: int, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> bool:
        """A whole response, HEADERS then DATA with END_STREAM (or HEADERS with END_STREAM for
        an empty body), if ``body`` fits the windows; False (nothing queued) if it does not.

        Most responses are one ``send()`` of a small body: one call, not three, for them."""

    def window(self, stream_id: int) -> int:
        """How many body bytes the stream may send now (stream and connection windows)."""

    def consumed(self, stream_id: int, length: int) -> None:
        """The app read ``length`` flow-controlled bytes: reopen the windows by as much."""

    def reset(self, stream_id: int, code: int) -> None:
        """RST_STREAM, unless the stream is already closed."""

    def goaway(self, code: int, last_stream_id: int | None) -> None:
        """GOAWAY.  With NO_ERROR streams up to ``last_stream_id`` may still finish; any other
        code ends the connection."""

    def awaiting_continuation(self) -> bool:
        """Is a header block half received (HEADERS without END_HEADERS)?"""

    def output(self) -> bytes:
        """Take the bytes queued for the peer."""


#: How a connection makes its engine (``http2.ENGINES`` maps names to these).
EngineFactory = Callable[[EngineSettings, EngineSink], Engine]
