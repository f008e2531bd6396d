"""One HTTP/2 request stream: the ``Wire`` its :class:`~.cycle.HTTPCycle` talks to.

Each stream is its own wire, so the cycle (protocol independent) never has to
say which stream it means.  The stream turns the cycle's calls into engine
calls on its connection and keeps the per-stream state RFC 9113 leaves to
the server:

* the request body: bytes received but not yet read by the app are not
  credited back to the peer (``unread``); the cycle's next ``receive()``
  calls ``body_consumed`` and the windows reopen by exactly that much, so a
  slow app holds at most one window of body per stream;
* the response body: what the send windows do not admit waits in
  ``pending`` and the app's ``send()`` awaits ``waiter`` until a
  WINDOW_UPDATE lets it all out; other streams keep sending meanwhile;
* the content-length the client declared, checked against the DATA that
  arrives (a mismatch is malformed: RST_STREAM PROTOCOL_ERROR), and the one
  the app declared, checked against what it sends.

The stream's life, as the connection sees it::

    OPEN --request ends--> (body complete)
      \\--response ends (END_STREAM sent)--> DONE: dropped from the connection
       \\--reset by either side-------------> DONE
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from .cycle import HTTPCycle
from .h2_engine import CANCEL, INTERNAL_ERROR, NO_ERROR, PROTOCOL_ERROR
from .h2_requests import response_fields, trailer_fields

if TYPE_CHECKING:
    from .http2 import HTTP2Protocol

logger = logging.getLogger("aster.error")


class H2Stream:
    """A request stream and its cycle."""

    __slots__ = (
        "conn",
        "stream_id",
        "cycle",
        "done",
        "head_only",
        "declared",
        "received",
        "unread",
        "length_left",
        "pending",
        "pending_end",
        "pending_trailers",
        "waiter",
        "blocked_since",
        "last_data",
        "ended",
        "finished",
        "ws",
    )

    def __init__(self, conn: HTTP2Protocol, stream_id: int) -> None:
        self.conn = conn
        self.stream_id = stream_id
        self.cycle: HTTPCycle | None = None
        self.done = conn.done
        self.head_only = False  # a HEAD request: the response has no body
        self.declared: int | None = None  # the request's content-length
        self.received = 0
        self.unread = 0  # flow-controlled bytes received, not yet read by the app
        self.length_left: int | None = None  # of the response's content-length
        self.pending: list[bytes] | None = None  # response body waiting for window
        self.pending_end = False
        self.pending_trailers: list[tuple[bytes, bytes]] | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.blocked_since = 0.0
        self.last_data = 0.0
        self.ended = False  # the request is complete (END_STREAM received)
        self.finished = False  # the response is complete, or the stream reset
        self.ws: Any = None  # the WebSocket session on an extended CONNECT stream

    # -- the request side --------------------------------------------------------

    def receive_data(self, data: bytes, flow_length: int, end: bool) -> None:
        self.received += len(data)
        self.last_data = self.conn.loop.time()
        declared = self.declared
        if declared is not None and (
            self.received > declared or (end and self.received != declared)
        ):
            self.conn.reset_stream(self, PROTOCOL_ERROR, "content-length disagrees with the DATA")
            return
        ws = self.ws
        if ws is not None:
            self._receive_ws(ws, data, flow_length, end)
            return
        cycle = self.cycle
        if flow_length:
            if cycle is None or cycle.response_complete or cycle.disconnected:
                self.conn.engine.consumed(self.stream_id, flow_length)  # nobody will read it
            else:
                self.unread += flow_length
                cycle.read_paused = True  # so the next receive() calls body_consumed
        if cycle is not None:
            if data and not (cycle.response_complete or cycle.disconnected):
                cycle.feed_body(data)
            if end:
                self.ended = True
                cycle.end_body()

    # -- a WebSocket on this stream (RFC 8441; see h2_websocket.py) -------------------

    def _receive_ws(self, ws: Any, data: bytes, flow_length: int, end: bool) -> None:
        if flow_length:
            if ws.transport.reading_paused:
                self.unread += flow_length  # credited when the session reads again
            else:
                self.conn.engine.consumed(self.stream_id, flow_length)
        if data:
            ws.data_received(data)
        if end:
            self.ended = True
            ws.eof_received()
            ws.transport.close()  # the peer ended its side: end ours

    def send_ws(self, data: bytes, end: bool) -> None:
        """WebSocket frames as DATA; past the window they wait, and the session's writing
        pauses (``pause_writing``) until a WINDOW_UPDATE lets them out."""
        if self.pending is None and self.ws is not None:
            window = self.conn.engine.window(self.stream_id) if data else 0
            if len(data) > window:
                self.ws.pause_writing()
        self._send(data, end)

    def finish_ws(self) -> None:
        self._complete()

    # -- the Wire interface --------------------------------------------------------

    def start_response(
        self, cycle: HTTPCycle, status: int, headers: Any, body: bytes, more_body: bool
    ) -> asyncio.Future[None] | None:
        conn = self.conn
        fields, length = response_fields(status, headers, conn.state_default_fields())
        if self.finished:
            return None
        no_body = self.head_only or status in (204, 304)
        if length is None and not more_body and status not in (204, 304):
            # Also for HEAD: the length a GET would have had (RFC 9110 section 9.3.2).
            fields.append((b"content-length", str(len(body)).encode()))
        elif length is not None and not no_body:
            if len(body) > length:
                raise RuntimeError("response content longer than Content-Length")
            self.length_left = length - len(body)
        end = not more_body
        if end and not no_body and conn.engine.send_response(self.stream_id, fields, body):
            # The common case, a whole response at once within the windows: HEADERS and
            # DATA (END_STREAM) queued together, out in this turn's write.
            conn.schedule_flush()
            self._complete()
            return conn.write_waiter()
        if no_body:
            conn.engine.send_headers(self.stream_id, fields, True)
            self.head_only = True
            conn.schedule_flush()
            if not more_body:
                self._complete()
            return conn.write_waiter()
        conn.engine.send_headers(self.stream_id, fields, end and not body)
        conn.schedule_flush()
        if body or not end:
            return self._send(body, end) if body or end else conn.write_waiter()
        conn.schedule_flush()
        self._complete()
        return conn.write_waiter()

    def send_body(
        self, cycle: HTTPCycle, body: bytes, more_body: bool
    ) -> asyncio.Future[None] | None:
        if self.finished:
            return None
        if self.head_only:
            if not more_body:
                self._complete()
            return None
        if self.length_left is not None:
            self.length_left -= len(body)
            if self.length_left < 0:
                raise RuntimeError("response content longer than Content-Length")
        end = not more_body
        if not body and not end:
            return None
        return self._send(body, end)

    def send_trailers(self, cycle: HTTPCycle, headers: Any) -> asyncio.Future[None] | None:
        fields = trailer_fields(headers)
        if self.finished:
            return None
        if self.head_only:
            self._complete()
            return None
        if self.pending is not None:
            self.pending_trailers = fields
            return self._wait()
        self.conn.engine.send_headers(self.stream_id, fields, True)
        self.conn.schedule_flush()
        self._complete()
        return self.conn.write_waiter()

    def send_continue(self, cycle: HTTPCycle) -> None:
        if not self.finished:
            self.conn.engine.send_headers(self.stream_id, [(b":status", b"100")], False)
            self.conn.schedule_flush()

    def body_consumed(self, cycle: HTTPCycle) -> None:
        if self.stream_id == 1:
            self.conn.upgrade_body_read(self)
        unread = self.unread
        if unread and not self.finished:
            self.unread = 0
            self.conn.engine.consumed(self.stream_id, unread)
            self.conn.schedule_flush()

    def abort(self, cycle: HTTPCycle) -> None:
        if not self.finished:
            self.conn.reset_stream(self, INTERNAL_ERROR, "the response could not be completed")

    # -- sending within the windows --------------------------------------------------

    def _send(self, body: bytes, end: bool) -> asyncio.Future[None] | None:
        conn = self.conn
        if self.pending is not None:  # already waiting for window: queue behind
            if body:
                self.pending.append(body)
            self.pending_end = end
            return self._wait()
        size = len(body)
        window = conn.engine.window(self.stream_id) if size else 0
        if size <= window:
            conn.engine.send_data(self.stream_id, body, end)
            conn.schedule_flush()
            if end:
                self._complete()
            return conn.write_waiter()
        if window > 0:
            conn.engine.send_data(self.stream_id, body[:window], False)
            conn.schedule_flush()
            body = body[window:]
        self.pending = [body]
        self.pending_end = end
        self.blocked_since = conn.loop.time()
        conn.blocked[self] = None
        return self._wait()

    def _wait(self) -> asyncio.Future[None]:
        waiter = self.waiter
        if waiter is None:
            waiter = self.waiter = self.conn.loop.create_future()
        return waiter

    def flush_pending(self) -> bool:
        """The windows grew: send what they admit now; True once nothing is left waiting."""
        pending = self.pending
        if pending is None or self.finished:
            return True
        engine = self.conn.engine
        window = engine.window(self.stream_id)
        while pending and window > 0:
            chunk = pending[0]
            if len(chunk) <= window:
                pending.pop(0)
                last = not pending
                engine.send_data(self.stream_id, chunk, last and self.pending_end)
                window -= len(chunk)
            else:
                engine.send_data(self.stream_id, chunk[:window], False)
                pending[0] = chunk[window:]
                window = 0
        if pending:
            return False
        self.pending = None
        trailers = self.pending_trailers
        if trailers is not None:
            engine.send_headers(self.stream_id, trailers, True)
            self.pending_end = True
        if self.pending_end:
            self._complete()
        self._release()
        return True

    def _release(self) -> None:
        if self.ws is not None and self.ws._write_paused:
            self.ws.resume_writing()
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)

    # -- the end ----------------------------------------------------------------------

    def _complete(self) -> None:
        """END_STREAM is on its way: the response is done."""
        if self.finished:
            return
        if self.length_left:
            logger.error("Response content shorter than Content-Length; resetting the stream.")
            self.conn.reset_stream(self, INTERNAL_ERROR, "response shorter than its length")
            return
        self.finished = True
        if not self.ended and self.ws is None:
            # The app answered without reading the whole body: ask the client to stop (8.1).
            self.conn.engine.reset(self.stream_id, NO_ERROR)
        self.conn.stream_finished(self)

    def lose(self) -> None:
        """Reset (by either side) or connection gone: wake everything waiting on this stream."""
        self.finished = True
        self.pending = None
        if self.cycle is not None:
            self.cycle.lose_connection()
        if self.ws is not None:
            self.ws.connection_lost(None)
        self._release()

    def timed_out(self) -> None:
        """The peer left the window shut for too long."""
        self.conn.reset_stream(self, CANCEL, "the client did not open its window in time")
