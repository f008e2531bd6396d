"""The answers an HTTP/2 connection gives without the app: 408, 413, 431, 501, 503...

A mixin of :class:`~.http2.HTTP2Protocol` (kept apart so the connection module stays
about its states): each is a complete plain-text response from the server itself,
after which the stream is done for the app (if it had one, it sees the disconnect).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from .cycle import HTTPCycle
from .h2_engine import CANCEL, NO_ERROR, Engine
from .h2_streams import H2Stream

if TYPE_CHECKING:
    from ..config import Config
    from ..state import ServerState

logger = logging.getLogger("aster.error")

_PLAIN = [(b"content-type", b"text/plain; charset=utf-8")]


class ServerAnswers:
    """The server's own responses on a stream, for :class:`~.http2.HTTP2Protocol`."""

    # State owned by HTTP2Protocol.__init__, declared here for the type checker.
    config: Config
    state: ServerState
    engine: Engine
    streams: dict[int, H2Stream]
    client: Any
    _limit_concurrency: int | None
    _tasks: set[Any]

    if TYPE_CHECKING:  # provided by HTTP2Protocol

        def state_default_fields(self) -> list[tuple[bytes, bytes]]: ...
        def schedule_flush(self) -> None: ...
        def reset_stream(self, stream: H2Stream, code: int, detail: str) -> None: ...
        def _maybe_idle(self) -> None: ...

    def _respond(self, stream_id: int, status: int, detail: str, ended: bool) -> None:
        """A complete plain-text response from the server itself (413, 431, 501, 503...)."""
        body = detail.encode()
        fields = [
            (b":status", str(status).encode()),
            *self.state_default_fields(),
            *_PLAIN,
            (b"content-length", str(len(body)).encode()),
        ]
        engine = self.engine
        if engine.window(stream_id) >= len(body):
            engine.send_headers(stream_id, fields, False)
            engine.send_data(stream_id, body, True)
        else:
            engine.send_headers(stream_id, fields, True)
        if not ended:
            engine.reset(stream_id, NO_ERROR)  # we will not read the body
        self.schedule_flush()

    def _body_too_large(self, stream: H2Stream, flow_length: int) -> None:
        self.engine.consumed(stream.stream_id, flow_length)
        cycle = stream.cycle
        if cycle is not None and not cycle.head_sent:
            cycle.response_started = cycle.head_sent = cycle.response_complete = True
            self.streams.pop(stream.stream_id, None)
            stream.lose()
            self._respond(stream.stream_id, 413, "Content Too Large", False)
            self._maybe_idle()
        else:
            self.reset_stream(stream, CANCEL, "request body over --limit-request-body")

    def _over_concurrency(self) -> bool:
        limit = self._limit_concurrency
        return len(self.state.connections) > limit or len(self._tasks) >= limit  # type: ignore[operator]

    def _body_timeout(self, stream: H2Stream, cycle: HTTPCycle) -> None:
        logger.debug("HTTP/2 request body from %s timed out", self.client)
        if not cycle.head_sent:
            cycle.response_started = cycle.head_sent = cycle.response_complete = True
            self.streams.pop(stream.stream_id, None)
            stream.lose()
            self._respond(stream.stream_id, 408, "Request Timeout", False)
            self._maybe_idle()
        else:
            self.reset_stream(stream, CANCEL, "request body timed out")
