"""The ``h2`` (python-hyper) engine: RFC 9113 and HPACK from a mature sans-I/O library.

``h2`` is configured to leave header validation to aster (the connection
checks a request's headers in the same pass that builds its scope, and
answers a malformed request with a stream error, not a connection error as
``h2`` would) and to leave the receive window alone until the app reads the
body (``consumed``).

What ``h2`` does not do the way RFC 9113 and aster want, done here:

* a HEADERS frame over ``SETTINGS_MAX_CONCURRENT_STREAMS`` is a connection
  error in ``h2``; here it is refused with RST_STREAM(REFUSED_STREAM), after
  its header block is decoded so the HPACK state stays in step;
* ``h2`` can send GOAWAY only as its last frame, so a graceful GOAWAY (NO_ERROR,
  streams still finishing) is serialised here with ``hyperframe``, the library's
  own frame codec, and ``h2`` carries on serving the streams below it;
* a body that disagrees with its content-length is left to the connection,
  which resets only that stream (``h2`` would end the connection);
* a header block still waiting for CONTINUATION frames is bounded in bytes by
  the max header list size, not only by ``h2``'s 64 frames;
* DATA on a stream already closed, which ``h2`` answers itself, is reported
  to the connection's flood limit (``STRAY``).

Responses are HPACK-encoded without the dynamic table and request blocks
decoded through a cache (:mod:`.h2_hpack`), as in the ``lean`` engine.
"""

from __future__ import annotations

from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
from h2.connection import StreamClosedBy, _decode_headers
from hyperframe.frame import GoAwayFrame, HeadersFrame, RstStreamFrame

from .h2_engine import (
    EMPTY_DATA,
    ENHANCE_YOUR_CALM,
    NO_ERROR,
    PING,
    PRIORITY,
    PROTOCOL_ERROR,
    REFUSED_STREAM,
    SETTINGS,
    STRAY,
    WINDOW_UPDATE,
    ConnectionError_,
    EngineSettings,
    EngineSink,
)
from .h2_hpack import CachingDecoder, ResponseEncoder

_INITIAL_WINDOW = 65535
_SettingCodes = h2.settings.SettingCodes


class _Connection(h2.connection.H2Connection):
    """``h2``'s connection, refusing streams over the limit as a stream error."""

    refuse_above = 100
    on_stray: Any = None  # called for DATA on a stream that is no longer open

    def _receive_data_frame(self, frame: Any) -> tuple[list[Any], list[Any]]:
        # h2 answers DATA on a closed stream itself (a RST_STREAM each, or nothing): the
        # connection's flood limit counts them all the same.
        stream = self.streams.get(frame.stream_id)
        if (stream is None or stream.closed) and frame.stream_id <= self.highest_inbound_stream_id:
            self.on_stray()
        return super()._receive_data_frame(frame)  # type: ignore[no-any-return]

    def _receive_headers_frame(self, frame: HeadersFrame) -> tuple[list[Any], list[Any]]:
        stream_id = frame.stream_id
        if (
            stream_id not in self.streams
            and stream_id & 1
            and stream_id > self.highest_inbound_stream_id
            and self.open_inbound_streams >= self.refuse_above
        ):
            _decode_headers(self.decoder, frame.data)  # the HPACK context must see every block
            self.highest_inbound_stream_id = stream_id
            self._closed_streams[stream_id] = StreamClosedBy.SEND_RST_STREAM
            reset = RstStreamFrame(stream_id)
            reset.error_code = REFUSED_STREAM
            return [reset], []
        return super()._receive_headers_frame(frame)  # type: ignore[no-any-return]

    def _begin_new_stream(self, stream_id: int, allowed_ids: Any) -> Any:
        stream = super()._begin_new_stream(stream_id, allowed_ids)
        # h2 makes a bad or disagreeing content-length a connection error; the
        # connection checks it and resets just the stream (RFC 9113 section 8.1.1).
        stream._initialize_content_length = _no_content_length
        return stream


def _no_content_length(headers: Any) -> None:
    """(Left to the connection: see ``_Connection._begin_new_stream``.)"""


class H2Engine:
    """The :class:`~.h2_engine.Engine` interface on ``h2.connection.H2Connection``."""

    def __init__(self, settings: EngineSettings, sink: EngineSink) -> None:
        config = h2.config.H2Configuration(
            client_side=False,
            header_encoding=None,
            validate_inbound_headers=False,
            normalize_inbound_headers=False,
            validate_outbound_headers=False,
            normalize_outbound_headers=False,
        )
        conn = _Connection(config)
        conn.refuse_above = settings.max_concurrent_streams
        conn.on_stray = lambda: sink.on_control(STRAY)
        conn.local_settings = h2.settings.Settings(
            client=False,
            initial_values={
                _SettingCodes.MAX_CONCURRENT_STREAMS: settings.max_concurrent_streams,
                _SettingCodes.INITIAL_WINDOW_SIZE: settings.initial_window_size,
                _SettingCodes.MAX_FRAME_SIZE: settings.max_frame_size,
                _SettingCodes.MAX_HEADER_LIST_SIZE: settings.max_header_list_size,
                _SettingCodes.ENABLE_CONNECT_PROTOCOL: int(settings.enable_connect_protocol),
            },
        )
        conn.max_inbound_frame_size = settings.max_frame_size
        conn.decoder = CachingDecoder(settings.max_header_list_size)
        conn.encoder = ResponseEncoder()
        self._conn = conn
        self._sink = sink
        self._connection_window = settings.connection_window_size
        self._max_block = settings.max_header_list_size
        self._early = b""  # frames serialised here, to go out before h2's next ones
        sink_ = sink
        self._handlers: dict[type, Any] = {
            h2.events.RequestReceived: self._request,
            h2.events.DataReceived: self._data,
            h2.events.TrailersReceived: self._trailers,
            h2.events.StreamReset: self._reset,
            h2.events.WindowUpdated: self._window,
            h2.events.RemoteSettingsChanged: self._settings,
            h2.events.PingReceived: lambda event: sink_.on_control(PING),
            h2.events.PriorityUpdated: lambda event: sink_.on_control(PRIORITY),
            h2.events.UnknownFrameReceived: lambda event: sink_.on_control(PRIORITY),
            h2.events.ConnectionTerminated: lambda event: sink_.on_goaway(event.error_code),
        }

    # -- the Engine interface ----------------------------------------------------

    def start(self, upgrade_settings: bytes | None) -> None:
        conn = self._conn
        if upgrade_settings is None:
            conn.initiate_connection()
        else:
            try:
                conn.initiate_upgrade_connection(upgrade_settings)
            except (h2.exceptions.ProtocolError, ValueError) as exc:
                raise ConnectionError_(PROTOCOL_ERROR, f"bad HTTP2-Settings: {exc}") from None
        if self._connection_window > _INITIAL_WINDOW:
            conn.increment_flow_control_window(self._connection_window - _INITIAL_WINDOW)

    def receive(self, data: bytes) -> None:
        try:
            events = self._conn.receive_data(data)
        except h2.exceptions.ProtocolError as exc:
            raise ConnectionError_(int(exc.error_code), str(exc)) from None
        handlers = self._handlers
        for event in events:
            handler = handlers.get(type(event))
            if handler is not None:
                handler(event)
        pending = self._conn.incoming_buffer._headers_buffer
        if pending and sum(len(frame.data) for frame in pending) > self._max_block:
            # CONTINUATION flood (CVE-2024-27316): the block is bounded in bytes, not only
            # in frames (h2 stops at 64 CONTINUATION frames).
            self._conn.close_connection(error_code=ENHANCE_YOUR_CALM)
            raise ConnectionError_(ENHANCE_YOUR_CALM, "header block over the size limit")

    def send_headers(self, stream_id: int, headers: list[tuple[bytes, bytes]], end: bool) -> None:
        self._conn.send_headers(stream_id, headers, end_stream=end)

    def send_data(self, stream_id: int, data: bytes, end: bool) -> None:
        conn = self._conn
        size = conn.max_outbound_frame_size
        length = len(data)
        if length <= size:
            conn.send_data(stream_id, data, end_stream=end)
            return
        view = memoryview(data)
        for offset in range(0, length, size):
            last = offset + size >= length
            conn.send_data(stream_id, view[offset : offset + size], end_stream=end and last)

    def send_response(
        self, stream_id: int, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> bool:
        if body and len(body) > self.window(stream_id):
            return False
        self.send_headers(stream_id, headers, not body)
        if body:
            self.send_data(stream_id, body, True)
        return True

    def window(self, stream_id: int) -> int:
        try:
            return self._conn.local_flow_control_window(stream_id)
        except h2.exceptions.ProtocolError:  # closed or reset meanwhile
            return 0

    def consumed(self, stream_id: int, length: int) -> None:
        if length:
            self._conn.acknowledge_received_data(length, stream_id)

    def reset(self, stream_id: int, code: int) -> None:
        try:
            self._conn.reset_stream(stream_id, code)
        except h2.exceptions.ProtocolError:
            pass  # already closed: nothing to reset

    def goaway(self, code: int, last_stream_id: int | None) -> None:
        conn = self._conn
        last = conn.highest_inbound_stream_id if last_stream_id is None else last_stream_id
        if code != NO_ERROR:
            try:
                conn.close_connection(error_code=code, last_stream_id=last)
            except h2.exceptions.ProtocolError:
                pass  # already closed
            return
        frame = GoAwayFrame(0)
        frame.last_stream_id = last
        frame.error_code = NO_ERROR
        self._early += conn.data_to_send() + frame.serialize()

    def awaiting_continuation(self) -> bool:
        return bool(self._conn.incoming_buffer._headers_buffer)

    def output(self) -> bytes:
        data = self._conn.data_to_send()
        if self._early:
            data = self._early + data
            self._early = b""
        return data

    # -- h2's events, as sink calls ----------------------------------------------

    def _request(self, event: h2.events.RequestReceived) -> None:
        self._sink.on_request(event.stream_id, event.headers, event.stream_ended is not None)

    def _data(self, event: h2.events.DataReceived) -> None:
        end = event.stream_ended is not None
        if not event.data and not end:
            self._sink.on_control(EMPTY_DATA)
        self._sink.on_data(event.stream_id, event.data, event.flow_controlled_length, end)

    def _trailers(self, event: h2.events.TrailersReceived) -> None:
        self._sink.on_trailers(event.stream_id, event.headers)

    def _reset(self, event: h2.events.StreamReset) -> None:
        self._sink.on_reset(event.stream_id, int(event.error_code))

    def _window(self, event: h2.events.WindowUpdated) -> None:
        self._sink.on_control(WINDOW_UPDATE)
        self._sink.on_window()

    def _settings(self, event: h2.events.RemoteSettingsChanged) -> None:
        self._sink.on_control(SETTINGS)
        if _SettingCodes.INITIAL_WINDOW_SIZE in event.changed_settings:
            self._sink.on_window()
