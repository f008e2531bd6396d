"""HTTP/2 connections: the engine (:mod:`.h2_engine`) parses frames, each request stream
(:mod:`.h2_streams`) runs one :class:`~.cycle.HTTPCycle`, and this module runs what
RFC 9113 leaves to the server.

A connection starts from an HTTP/1.1 one (:mod:`.h2_negotiation`: the client
preface, ``Upgrade: h2c``, or TLS ALPN ``h2``) and moves through these states,
one deadline (checked by the server's tick) serving every timer::

    IDLE --HEADERS--> BUSY (streams open) --last stream done--> IDLE --keep-alive--> GOAWAY, close
      |                   |
      +--half a header block (CONTINUATION awaited): HEAD --timeout-request-head--> close
    any --shutdown: GOAWAY(NO_ERROR, last id)--> DRAINING --streams done--> close

What the server enforces on top of the engine:

* limits: ``--http2-max-concurrent-streams`` (REFUSED_STREAM above), request
  bodies credited back only as the app reads them, ``--limit-request-body``
  (413), ``--limit-request-fields`` (431), ``--limit-concurrency`` (503);
* floods: per tick, at most ``CONTROL_LIMIT`` PING, SETTINGS, PRIORITY,
  WINDOW_UPDATE and empty DATA frames and ``RESET_LIMIT`` streams reset by the
  peer (rapid reset); past either, GOAWAY(ENHANCE_YOUR_CALM);
* timeouts: a stream whose response waits on a shut window for
  ``--http2-timeout-window`` is reset (CANCEL); a request body that stalls for
  ``--timeout-request-body`` gets 408 (or a reset once the response started).

Frames for the peer are written once per turn of the event loop, whatever
the number of streams that produced them.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from ..logs import log_access
from ..proxy import apply_proxy_headers
from .cycle import BODY_HIGH_WATER, HTTPCycle
from .h1_parsing import _NO_OPTIONS
from .h2_answers import ServerAnswers
from .h2_engine import (
    CANCEL,
    ENHANCE_YOUR_CALM,
    NO_ERROR,
    PROTOCOL_ERROR,
    REFUSED_STREAM,
    ConnectionError_,
    EngineFactory,
    EngineSettings,
)
from .h2_engine_h2 import H2Engine
from .h2_engine_lean import LeanEngine
from .h2_requests import Malformed, parse_request
from .h2_streams import H2Stream

if TYPE_CHECKING:
    from ..config import Config
    from ..state import ServerState

logger = logging.getLogger("aster.error")

IDLE, BUSY, HEAD, DRAINING = 0, 1, 2, 3
INFINITY = float("inf")
#: Control frames (PING, SETTINGS, PRIORITY, WINDOW_UPDATE, empty DATA) per tick, at most.
CONTROL_LIMIT = 1000
#: Streams the peer may reset per tick before it is told to calm down (CVE-2023-44487).
RESET_LIMIT = 200

#: The engines by name (``--http2-engine`` is not a flag: another is registered here only
#: for a measurement, by scripts/h2_spike.py).
ENGINES: dict[str, EngineFactory] = {"lean": LeanEngine, "h2": H2Engine}


class HTTP2Protocol(ServerAnswers, asyncio.Protocol):
    """One HTTP/2 connection: engine, streams, flow control, limits, timeouts, shutdown."""

    def __init__(
        self,
        config: Config,
        state: ServerState,
        app_state: dict[str, Any],
        transport: asyncio.Transport,
        client: tuple[str, int] | None,
        server: tuple[str, int | None] | None,
        scheme: str,
        trusted_proxy: bool,
    ) -> None:
        self.config = config
        self.state = state
        self.app_state = app_state
        self.loop = state.loop
        self.app = state.app
        self.transport = transport
        self.client = client
        self.trusted_proxy = trusted_proxy
        self.done = state.done_future
        self.streams: dict[int, H2Stream] = {}
        #: Apps of streams reset (by either side) that have not returned yet: they still
        #: count against the stream limit (RFC 9113 section 5.1.2), so resetting streams
        #: whose apps ignore the disconnect cannot pile up work (CVE-2023-44487).
        self.orphans: set[asyncio.Task[None]] = set()
        self._max_streams = config.http2_max_concurrent_streams
        #: Streams whose response waits for window, in the order they blocked.
        self.blocked: dict[H2Stream, None] = {}
        self.engine = ENGINES[config.http2_engine](
            EngineSettings(
                max_concurrent_streams=config.http2_max_concurrent_streams,
                initial_window_size=config.http2_initial_window_size,
                connection_window_size=config.http2_connection_window_size,
                max_frame_size=config.http2_max_frame_size,
                max_header_list_size=config.limit_request_header_size,
                enable_connect_protocol=config.ws_impl is not None,
            ),
            self,
        )
        self._base_scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.5"},
            "http_version": "2",
            "server": server,
            "client": client,
            "scheme": scheme,
            "root_path": config.root_path,
        }
        self._requests: dict[Any, Any] = {}  # validated request templates (parse_request)
        self._default_fields: list[tuple[bytes, bytes]] = []
        self._default_rendered = b"\x00"  # the state's header block they were made from
        self._state = IDLE
        self._deadline = INFINITY
        self._closing = False
        self._stopping = False
        self._flush_scheduled = False
        self._write_paused = False
        self._paused_since = 0.0
        self._drain: asyncio.Future[None] | None = None
        self._control = 0
        self._resets = 0
        self._last_stream_id: int | None = None  # set by a graceful GOAWAY
        self._upgrade_left = 0  # body bytes of an h2c upgrade request still to come as HTTP/1.1
        self._upgrade_stream: H2Stream | None = None
        self._switching = b""  # the 101 of an h2c upgrade, until it can be sent
        self._limit_fields = config.limit_request_fields
        self._limit_body = config.limit_request_body
        self._limit_concurrency = config.limit_concurrency
        self._timeout_window = config.http2_timeout_window
        self._access_log = state.access_log
        self._tasks = state.tasks
        self._create_task = self.loop.create_task

    # -- starting -----------------------------------------------------------------

    def start(
        self,
        data: bytes,
        upgrade: tuple[HTTPCycle, bytes, int] | None = None,
        switching: bytes = b"",
    ) -> None:
        """Take the transport over; ``data`` is what the peer sent so far (from the preface on).

        ``upgrade`` is the h2c request (its cycle, HTTP2-Settings and body length):
        it becomes stream 1, and its body still arrives as HTTP/1.1 first; ``switching``
        (the 101) goes out, with whatever HTTP/2 frames are ready, once that body is in.
        """
        self._switching = switching
        self.transport.set_protocol(self)
        self.state.connections.add(self)
        try:
            self.engine.start(upgrade[1] if upgrade else None)
        except ConnectionError_ as exc:
            logger.debug("HTTP/2 upgrade from %s refused: %s", self.client, exc)
            self._close()
            return
        if upgrade is not None:
            self._adopt_upgrade(*upgrade)
        else:
            self._idle()
        self._flush()
        if data:
            self.data_received(data)
        if self.state.stopping:
            # Taken from the backlog at shutdown: what it sent so far is served, and the
            # GOAWAY goes at once (not a reset at the graceful deadline).
            self.shutdown()

    def _adopt_upgrade(self, cycle: HTTPCycle, settings: bytes, length: int) -> None:
        stream = H2Stream(self, 1)
        stream.cycle = cycle
        stream.head_only = cycle.scope["method"] == "HEAD"
        stream.last_data = self.loop.time()
        cycle.wire = stream
        self.streams[1] = stream
        self._state = BUSY
        if length:
            self._upgrade_left = length
            self._upgrade_stream = stream
            cycle.body_complete = False
        else:
            stream.ended = True
            cycle.body_complete = True
        self._run(stream)

    # -- asyncio.Protocol -------------------------------------------------------------

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        self.state.connections.discard(self)
        streams = list(self.streams.values())
        self.streams.clear()
        self.blocked.clear()
        for stream in streams:
            stream.lose()
        drain = self._drain
        if drain is not None and not drain.done():
            drain.set_result(None)

    def eof_received(self) -> bool | None:
        return None  # the peer is gone: close our side too

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        if self._upgrade_left:
            data = self._upgrade_body(data)
            if not data:
                return
        try:
            self.engine.receive(data)
        except ConnectionError_ as exc:
            logger.debug("HTTP/2 connection error from %s: %s", self.client, exc)
            self._end_after_goaway()
            return
        if self.engine.awaiting_continuation():
            if self._state != HEAD and not self.streams:
                self._state = HEAD
                self._deadline = self.loop.time() + self.config.timeout_request_head
        elif self._state == HEAD:
            self._idle()
        self._flush()

    def pause_writing(self) -> None:
        self._write_paused = True
        self._paused_since = self.loop.time()

    def resume_writing(self) -> None:
        self._write_paused = False
        drain = self._drain
        if drain is not None:
            self._drain = None
            if not drain.done():
                drain.set_result(None)

    # -- the engine's sink ---------------------------------------------------------------

    def on_request(self, stream_id: int, headers: list[tuple[bytes, bytes]], end: bool) -> None:
        if self._closing:
            return
        if self._last_stream_id is not None and stream_id > self._last_stream_id:
            self.engine.reset(stream_id, REFUSED_STREAM)  # after our GOAWAY: never processed
            return
        if self.orphans and len(self.streams) + len(self.orphans) >= self._max_streams:
            self.engine.reset(stream_id, REFUSED_STREAM)  # apps still busy with reset streams
            self._resets += 1  # a peer that keeps at it is resetting streams as fast
            if self._resets > RESET_LIMIT:
                self._calm("too many streams reset")
            return
        try:
            request = parse_request(headers, self._base_scope, self._limit_fields, self._requests)
        except Malformed as exc:
            logger.debug("Malformed HTTP/2 request from %s: %s", self.client, exc)
            self.engine.reset(stream_id, PROTOCOL_ERROR)
            return
        except ValueError:
            self._respond(stream_id, 431, "Request Header Fields Too Large", end)
            return
        scope = request.scope
        scope["state"] = self.app_state.copy()
        if request.protocol is not None:
            self._extended_connect(stream_id, request, end)
            return
        if scope["method"] == "CONNECT":
            self._respond(stream_id, 501, "CONNECT is not supported", end)
            return
        scope["extensions"] = {
            "http.response.pathsend": _NO_OPTIONS,
            "http.response.trailers": _NO_OPTIONS,
        }
        if request.forwarded and self.trusted_proxy:
            apply_proxy_headers(scope, self.config.trusted_proxies)  # type: ignore[arg-type]
        if self._limit_concurrency is not None and self._over_concurrency():
            self._respond(stream_id, 503, "Service Unavailable", end)
            return
        length = request.content_length
        if length is not None and self._limit_body is not None and length > self._limit_body:
            self._respond(stream_id, 413, "Content Too Large", end)
            return
        stream = H2Stream(self, stream_id)
        stream.declared = length
        stream.head_only = scope["method"] == "HEAD"
        cycle = stream.cycle = HTTPCycle(scope, stream, True)
        if end:
            stream.ended = cycle.body_complete = True
            if length:
                self.reset_stream(stream, PROTOCOL_ERROR, "content-length without DATA")
                return
        else:
            stream.last_data = self.loop.time()
            cycle.expect_continue = request.expect_continue
        self.streams[stream_id] = stream
        self._state = BUSY
        self._deadline = INFINITY
        self._run(stream)

    def _run(self, stream: H2Stream) -> None:
        cycle = stream.cycle
        assert cycle is not None
        self.state.total_requests += 1
        if self._access_log:
            cycle.start_time = self.loop.time()
        cycle.task = task = self._create_task(cycle.run(self.app, self._tasks))  # type: ignore[arg-type]
        self._tasks.add(task)

    def on_data(self, stream_id: int, data: bytes, flow_length: int, end: bool) -> None:
        stream = self.streams.get(stream_id)
        if stream is None:
            if flow_length:
                self.engine.consumed(stream_id, flow_length)  # nobody will read it
            return
        if self._limit_body is not None and stream.received + len(data) > self._limit_body:
            self._body_too_large(stream, flow_length)
            return
        stream.receive_data(data, flow_length, end)

    def on_trailers(self, stream_id: int, headers: list[tuple[bytes, bytes]]) -> None:
        stream = self.streams.get(stream_id)
        if stream is not None:
            stream.receive_data(b"", 0, True)  # ASGI has no request trailers

    def on_reset(self, stream_id: int, code: int) -> None:
        self._resets += 1
        if self._resets > RESET_LIMIT:
            self._calm("too many streams reset")
        stream = self.streams.pop(stream_id, None)
        if stream is not None:
            self.blocked.pop(stream, None)
            stream.lose()
            self._orphan(stream)
            self._maybe_idle()

    def on_window(self) -> None:
        blocked = self.blocked
        if not blocked:
            return
        now = self.loop.time()
        for stream in list(blocked):
            if stream.flush_pending():
                blocked.pop(stream, None)
            else:
                stream.blocked_since = now
        self.schedule_flush()

    def on_control(self, kind: int) -> None:
        self._control += 1
        if self._control > CONTROL_LIMIT:
            self._calm("control frame flood")

    def on_goaway(self, code: int) -> None:
        self._stopping = True
        if not self.streams:
            self._close()

    # -- what streams call -----------------------------------------------------------------

    def state_default_fields(self) -> list[tuple[bytes, bytes]]:
        """The ``date``/``server``/``--header`` fields, re-made when the state's block changes."""
        rendered = self.state.default_headers
        if rendered is not self._default_rendered:
            self._default_rendered = rendered
            fields = []
            for line in rendered.split(b"\r\n"):
                name, sep, value = line.partition(b": ")
                if sep:
                    fields.append((name, value))
            self._default_fields = fields
        return self._default_fields

    def schedule_flush(self) -> None:
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._upgrade_left:
            return  # the h2c request's body is still coming: no 101 yet, so no frames
        if self._switching:
            self.transport.write(self._switching)
            self._switching = b""
        data = self.engine.output()
        if data and not self.transport.is_closing():
            self.transport.write(data)

    def write_waiter(self) -> asyncio.Future[None] | None:
        """What a ``send()`` awaits: the drain future while the transport's buffer is full."""
        if not self._write_paused:
            return None
        if self._drain is None:
            self._drain = self.loop.create_future()
        return self._drain

    def reset_stream(self, stream: H2Stream, code: int, detail: str) -> None:
        logger.debug(
            "Resetting HTTP/2 stream %d from %s: %s", stream.stream_id, self.client, detail
        )
        self.engine.reset(stream.stream_id, code)
        self.streams.pop(stream.stream_id, None)
        self.blocked.pop(stream, None)
        stream.lose()
        self._orphan(stream)
        self.schedule_flush()
        self._maybe_idle()

    def _orphan(self, stream: H2Stream) -> None:
        """The stream is reset: if its app is still running, it counts until it returns."""
        task = stream.cycle.task if stream.cycle is not None else None
        if task is not None and not task.done():
            self.orphans.add(task)
            task.add_done_callback(self.orphans.discard)

    def stream_finished(self, stream: H2Stream) -> None:
        """The response's END_STREAM is queued."""
        self.streams.pop(stream.stream_id, None)
        self.blocked.pop(stream, None)
        if self._access_log and stream.cycle is not None:
            log_access(stream.cycle, self.loop.time())
        self._maybe_idle()

    # -- WebSockets over HTTP/2 ----------------------------------------------------------------

    def _extended_connect(self, stream_id: int, request: Any, end: bool) -> None:
        """RFC 8441: a WebSocket over this stream, if WebSockets are on and it asks for one."""
        if request.protocol == b"websocket" and self.config.ws_impl is not None and not end:
            from .h2_websocket import open_websocket

            stream = H2Stream(self, stream_id)
            self.streams[stream_id] = stream
            self._state = BUSY
            self._deadline = INFINITY
            self.state.total_requests += 1
            open_websocket(self, stream, request.scope)
            return
        self._respond(stream_id, 501, "Unsupported :protocol", end)

    # -- idling, closing, timeouts ---------------------------------------------------------------

    def _maybe_idle(self) -> None:
        if not self.streams:
            if self._stopping:
                self._end_after_goaway()
            elif self._state != IDLE:
                self._idle()

    def _idle(self) -> None:
        self._state = IDLE
        self._deadline = self.loop.time() + self.config.timeout_keep_alive

    def _calm(self, detail: str) -> None:
        if self._closing:
            return
        logger.warning("HTTP/2 client %s sent a %s: closing the connection", self.client, detail)
        self.engine.goaway(ENHANCE_YOUR_CALM, None)
        self._end_after_goaway()

    def _end_after_goaway(self) -> None:
        """Send the GOAWAY, then our FIN, and read (discarding) until the peer closes too.

        Closing at once would make the kernel answer the peer's unread frames with a
        TCP reset, which can destroy the GOAWAY before the peer reads it; the tick
        closes the socket if the peer never does.
        """
        self._flush()
        transport = self.transport
        if self._closing:
            return
        self._closing = True
        self._state = DRAINING
        self._deadline = self.loop.time() + 2.0
        for stream in list(self.streams.values()):
            stream.lose()
        self.streams.clear()
        self.blocked.clear()
        if transport.can_write_eof():
            transport.write_eof()
        else:
            transport.close()

    def _close(self) -> None:
        if not self._closing:
            self._closing = True
            self.transport.close()

    def _upgrade_body(self, data: bytes) -> bytes:
        """The h2c request's body, still HTTP/1.1 bytes: to stream 1; returns what follows."""
        left = self._upgrade_left
        body, rest = (data, b"") if len(data) <= left else (data[:left], data[left:])
        self._upgrade_left = left = left - len(body)
        stream = self._upgrade_stream
        assert stream is not None
        stream.received += len(body)
        stream.last_data = self.loop.time()
        cycle = stream.cycle
        if cycle is not None and not (cycle.response_complete or cycle.disconnected):
            cycle.feed_body(body)
            if cycle.body_size > BODY_HIGH_WATER and left:
                cycle.read_paused = True  # resumed by body_consumed
                self.transport.pause_reading()
            if left == 0:
                stream.ended = True
                cycle.end_body()
        elif left == 0:
            stream.ended = True
        if left == 0:
            self._upgrade_stream = None
            self._flush()  # the 101, and the frames the app's answer queued meanwhile
        return rest

    def upgrade_body_read(self, stream: H2Stream) -> None:
        if stream is self._upgrade_stream:
            self.transport.resume_reading()

    def check_deadline(self, now: float) -> None:
        """Called by the server tick: timers, and the flood counters' new period."""
        self._control = self._resets = 0
        if self._closing:
            if self._state == DRAINING and now >= self._deadline:
                self.transport.close()
            return
        timeout_window = self._timeout_window
        for stream in list(self.blocked):
            if now - stream.blocked_since > timeout_window:
                stream.timed_out()
        if self._write_paused and now - self._paused_since > timeout_window:
            logger.debug("HTTP/2 client %s stopped reading: closing", self.client)
            self.transport.abort()
            return
        timeout_body = self.config.timeout_request_body
        for stream in list(self.streams.values()):
            cycle = stream.cycle
            if (
                cycle is not None
                and not stream.ended
                and not stream.unread
                and not cycle.read_paused
                and now - stream.last_data > timeout_body
            ):
                self._body_timeout(stream, cycle)
        if now >= self._deadline:
            self._deadline = INFINITY
            if self._state == IDLE:
                self.engine.goaway(NO_ERROR, None)
            self._flush()
            self._close()

    def shutdown(self) -> None:
        """The server is stopping: GOAWAY, let the streams below it finish, then close."""
        self._stopping = True
        if self._closing:
            return
        self._last_stream_id = max(self.streams, default=0)
        self.engine.goaway(NO_ERROR, self._last_stream_id)
        self._flush()
        if not self.streams:
            self._end_after_goaway()

    def terminate(self) -> None:
        """The graceful period is over: reset what is still running, then close."""
        if self._closing:
            return
        for stream in list(self.streams.values()):
            self.engine.reset(stream.stream_id, CANCEL)
            stream.lose()
        self.streams.clear()
        self._flush()
        self._close()
