"""The ``lean`` engine: RFC 9113's server side on ``hyperframe`` frames and ``hpack`` fields.

Every byte of the wire format is read and written by the python-hyper
libraries ``h2`` is made of: ``hyperframe`` parses each frame (header and
body) and serialises what goes out, ``hpack`` decodes and encodes header
blocks (behind the caches of :mod:`.h2_hpack`), ``h2.settings.Settings``
validates the peer's SETTINGS and ``h2.windows.WindowManager`` decides when
a receive window is worth reopening.  What is written here is the part ``h2`` spends its time on and
a server needs little of: the connection and stream state machine, as a few
integers per stream and one dispatch per frame, without event objects, enum
transitions, header re-validation (the connection validates requests
itself) or a client side.

The rules it enforces (RFC 9113 section numbers):

* 5.1 stream states: a request opens a stream with an odd id above every
  earlier one (an even or lower id: PROTOCOL_ERROR); DATA or HEADERS on a
  stream the client ended is a stream error STREAM_CLOSED; frames on a
  stream the server reset are ignored (their DATA still counts against the
  connection window); HEADERS on a closed stream is a connection error
  STREAM_CLOSED; DATA, RST_STREAM or WINDOW_UPDATE on an idle stream is a
  connection error PROTOCOL_ERROR;
* 5.1.2: a stream over SETTINGS_MAX_CONCURRENT_STREAMS is refused
  (REFUSED_STREAM) after its block is decoded, to keep HPACK in step;
* 5.3.1: a stream that depends on itself is a stream error PROTOCOL_ERROR;
* 6.5, 6.7, 6.8, 6.9: SETTINGS are validated and acknowledged, PINGs
  answered, GOAWAY reported, WINDOW_UPDATE of 0 or past 2^31-1 is an error
  (PROTOCOL_ERROR / FLOW_CONTROL_ERROR) on the stream or the connection;
* 6.1, 6.9: DATA beyond the receive windows is FLOW_CONTROL_ERROR; the
  windows reopen only through ``consumed()``;
* 8.1: trailers must end the stream (else the stream is malformed);
* 6.10: a header block is HEADERS and CONTINUATION frames of its stream and
  nothing else, at most 64 frames (as in ``h2``) and the max header list size
  in bytes (CVE-2024-27316);
* 4.2, 6: frames over SETTINGS_MAX_FRAME_SIZE or of a wrong length are
  FRAME_SIZE_ERROR; a wrong stream-id association, bad padding or a
  PUSH_PROMISE from a client PROTOCOL_ERROR (``hyperframe`` finds the first
  two).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import h2.exceptions
import h2.settings
import hpack
from h2.frame_buffer import CONTINUATION_BACKLOG
from h2.windows import WindowManager
from hyperframe.exceptions import InvalidDataError, InvalidFrameError
from hyperframe.frame import (
    AltSvcFrame,
    DataFrame,
    ExtensionFrame,
    Frame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    PriorityFrame,
    PushPromiseFrame,
    RstStreamFrame,
    SettingsFrame,
    WindowUpdateFrame,
)
from hyperframe.frame import ContinuationFrame as _Continuation

from .h2_engine import (
    COMPRESSION_ERROR,
    EMPTY_DATA,
    ENHANCE_YOUR_CALM,
    FLOW_CONTROL_ERROR,
    FRAME_SIZE_ERROR,
    NO_ERROR,
    PING,
    PRIORITY,
    PROTOCOL_ERROR,
    REFUSED_STREAM,
    SETTINGS,
    STRAY,
    STREAM_CLOSED,
    WINDOW_UPDATE,
    ConnectionError_,
    EngineSettings,
    EngineSink,
)
from .h2_frame_writer import FrameWriter
from .h2_hpack import CachingDecoder, ResponseEncoder

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_DEFAULT_WINDOW = 65535
_MAX_WINDOW = 2**31 - 1
#: Closed stream ids remembered (to tell a late frame on a closed stream from a protocol error).
_CLOSED_MEMORY = 4096
_Codes = h2.settings.SettingCodes
#: How a remembered stream closed: frames on it are then ignored, or answered STREAM_CLOSED.
_IGNORED, _ENDED = True, False


class _Stream:
    """What the engine keeps per open stream."""

    __slots__ = ("remote_open", "local_open", "send_window", "receive")

    receive: WindowManager | None

    def __init__(self, send_window: int, receive_window: int, remote_open: bool) -> None:
        self.remote_open = remote_open  # the client may still send DATA/trailers
        self.local_open = True  # we have not sent END_STREAM
        self.send_window = send_window
        # Only a stream that can still receive a body needs a receive window.
        self.receive = WindowManager(receive_window) if remote_open else None


class _StreamError(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


class LeanEngine:
    """The :class:`~.h2_engine.Engine` interface, on ``hyperframe`` and ``hpack`` directly."""

    def __init__(self, settings: EngineSettings, sink: EngineSink) -> None:
        self._sink = sink
        self._settings = settings
        self._preface = PREFACE  # what of the client preface is still to come
        self._rest = b""  # the start of a frame not yet complete
        self._block: list[Any] | None = None  # a header block waiting for CONTINUATION frames
        self._block_size = 0
        self._max_frame = settings.max_frame_size
        self._decoder = CachingDecoder(settings.max_header_list_size)
        self._encoder = ResponseEncoder()
        self._remote = h2.settings.Settings(client=True)
        self._streams: dict[int, _Stream] = {}
        self._closed: dict[int, bool] = {}  # recently closed ids: reset by us, or ended
        self._highest = 0
        self._max_streams = settings.max_concurrent_streams
        self._initial_receive = settings.initial_window_size
        self._send_window = _DEFAULT_WINDOW  # the connection's
        self._initial_send = _DEFAULT_WINDOW  # the peer's SETTINGS_INITIAL_WINDOW_SIZE
        self._receive = WindowManager(_DEFAULT_WINDOW)
        self._out: list[bytes] = []
        self._goaway_sent = False
        self._writer = FrameWriter(self._out)
        self._dispatch: dict[type, Any] = {
            HeadersFrame: self._on_headers,
            DataFrame: self._on_data,
            RstStreamFrame: self._on_rst_stream,
            SettingsFrame: self._on_settings,
            PingFrame: self._on_ping,
            WindowUpdateFrame: self._on_window_update,
            PriorityFrame: self._on_priority,
            GoAwayFrame: self._on_goaway,
            PushPromiseFrame: self._on_push_promise,
            _Continuation: self._on_continuation,
            ExtensionFrame: self._on_unknown,
            AltSvcFrame: self._on_unknown,
        }

    # -- the Engine interface ----------------------------------------------------

    def start(self, upgrade_settings: bytes | None) -> None:
        s = self._settings
        frame = SettingsFrame(0)
        frame.settings = {
            _Codes.MAX_CONCURRENT_STREAMS: s.max_concurrent_streams,
            _Codes.INITIAL_WINDOW_SIZE: s.initial_window_size,
            _Codes.MAX_FRAME_SIZE: s.max_frame_size,
            _Codes.MAX_HEADER_LIST_SIZE: s.max_header_list_size,
            _Codes.ENABLE_CONNECT_PROTOCOL: int(s.enable_connect_protocol),
            _Codes.ENABLE_PUSH: 0,
        }
        self._out.append(frame.serialize())
        if s.connection_window_size > _DEFAULT_WINDOW:
            increment = s.connection_window_size - _DEFAULT_WINDOW
            self._out.append(WindowUpdateFrame(0, window_increment=increment).serialize())
            self._receive.window_opened(increment)
        if upgrade_settings is not None:
            # RFC 7540 section 3.2.1: the HTTP2-Settings header is a SETTINGS payload in
            # base64url; the request it came with is stream 1, already half-closed (remote).
            try:
                padding = b"=" * (-len(upgrade_settings) % 4)
                payload = base64.urlsafe_b64decode(upgrade_settings + padding)
                parsed = SettingsFrame(0)
                parsed.parse_body(memoryview(payload))
                self._apply_settings(parsed.settings)
            except (binascii.Error, ValueError, InvalidDataError, InvalidFrameError) as exc:
                raise ConnectionError_(PROTOCOL_ERROR, f"bad HTTP2-Settings: {exc}") from None
            except ConnectionError_ as exc:
                raise ConnectionError_(PROTOCOL_ERROR, f"bad HTTP2-Settings: {exc}") from None
            self._streams[1] = _Stream(self._initial_send, self._initial_receive, False)
            self._highest = 1

    def receive(self, data: bytes) -> None:
        if self._goaway_sent:
            return
        try:
            if self._preface:
                data = self._check_preface(data)
            if self._rest:
                data = self._rest + data
                self._rest = b""
            self._frames(data)
        except ConnectionError_ as exc:
            self._fail(exc.code)
            raise

    def _frames(self, data: bytes) -> None:
        """Cut ``data`` into frames (parsed by ``hyperframe``) and act on each."""
        view = memoryview(data)
        at = 0
        end = len(data)
        dispatch = self._dispatch
        parse_header = Frame.parse_frame_header
        while end - at >= 9:
            try:
                frame, length = parse_header(view[at : at + 9])
            except (InvalidDataError, InvalidFrameError) as exc:
                raise ConnectionError_(PROTOCOL_ERROR, f"invalid frame header: {exc}") from None
            if end - at - 9 < length:
                break
            if length > self._max_frame:
                raise ConnectionError_(FRAME_SIZE_ERROR, f"frame of {length} bytes")
            at += 9
            try:
                frame.parse_body(view[at : at + length])
            except InvalidDataError as exc:
                raise ConnectionError_(PROTOCOL_ERROR, f"invalid frame: {exc}") from None
            except InvalidFrameError as exc:
                raise ConnectionError_(FRAME_SIZE_ERROR, f"invalid frame: {exc}") from None
            at += length
            if self._block is not None or type(frame) is HeadersFrame:
                frame = self._header_block(frame)
                if frame is None:
                    continue
            try:
                dispatch[type(frame)](frame)
            except _StreamError as exc:
                self._stream_error(frame.stream_id, exc.code)
            if self._goaway_sent:
                return  # the connection told the peer to calm down meanwhile
        if at < end:
            self._rest = data[at:]

    def _check_preface(self, data: bytes) -> bytes:
        expected = self._preface
        seen = data[: len(expected)]
        if not expected.startswith(seen):
            raise ConnectionError_(PROTOCOL_ERROR, "invalid client preface")
        self._preface = expected[len(seen) :]
        return data[len(seen) :]

    def _header_block(self, frame: Any) -> Any:
        """HEADERS and its CONTINUATION frames as one HEADERS frame, once END_HEADERS comes."""
        block = self._block
        if block is None:  # a HEADERS frame
            if "END_HEADERS" in frame.flags:
                return frame
            self._block = [frame]
            self._block_size = len(frame.data)
            return None
        if type(frame) is not _Continuation or frame.stream_id != block[0].stream_id:
            raise ConnectionError_(PROTOCOL_ERROR, "a header block interrupted")
        block.append(frame)
        self._block_size += len(frame.data)
        if self._block_size > self._settings.max_header_list_size:
            # CONTINUATION flood (CVE-2024-27316): bounded in bytes...
            raise ConnectionError_(ENHANCE_YOUR_CALM, "header block over the size limit")
        if len(block) > CONTINUATION_BACKLOG:
            raise ConnectionError_(PROTOCOL_ERROR, "too many CONTINUATION frames")  # ...and frames
        if "END_HEADERS" not in frame.flags:
            return None
        self._block = None
        first = block[0]
        first.data = b"".join(f.data for f in block)
        return first

    def send_headers(self, stream_id: int, headers: list[tuple[bytes, bytes]], end: bool) -> None:
        stream = self._streams.get(stream_id)
        if stream is None or not stream.local_open:
            return  # reset meanwhile
        self._writer.headers(stream_id, self._encoder.encode(headers), end)
        if end:
            self._end_local(stream_id, stream)

    def send_data(self, stream_id: int, data: bytes, end: bool) -> None:
        stream = self._streams.get(stream_id)
        if stream is None or not stream.local_open:
            return
        length = len(data)  # the caller kept within window(): both windows shrink by as much
        stream.send_window -= length
        self._send_window -= length
        self._writer.data(stream_id, data, end)
        if end:
            self._end_local(stream_id, stream)

    def send_response(
        self, stream_id: int, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> bool:
        stream = self._streams.get(stream_id)
        if stream is None or not stream.local_open:
            return True  # reset meanwhile: nothing is sent, and nothing is left to send
        if body:
            length = len(body)
            if length > stream.send_window or length > self._send_window:
                return False  # past either window: the caller takes the general path
            stream.send_window -= length  # as send_data does, inline on the common path
            self._send_window -= length
            writer = self._writer
            writer.headers(stream_id, self._encoder.encode(headers), False)
            writer.data(stream_id, body, True)
        else:
            self._writer.headers(stream_id, self._encoder.encode(headers), True)
        self._end_local(stream_id, stream)
        return True

    def window(self, stream_id: int) -> int:
        stream = self._streams.get(stream_id)
        if stream is None or not stream.local_open:
            return 0
        window = stream.send_window
        connection = self._send_window
        return window if window < connection else connection

    def consumed(self, stream_id: int, length: int) -> None:
        if not length:
            return
        increment = self._receive.process_bytes(length)
        if increment:
            self._out.append(WindowUpdateFrame(0, window_increment=increment).serialize())
        stream = self._streams.get(stream_id)
        if stream is not None and stream.remote_open:
            increment = stream.receive.process_bytes(length)  # type: ignore[union-attr]
            if increment:
                frame = WindowUpdateFrame(stream_id, window_increment=increment)
                self._out.append(frame.serialize())

    def reset(self, stream_id: int, code: int) -> None:
        if self._streams.pop(stream_id, None) is None:
            return  # already closed: nothing to reset
        self._out.append(RstStreamFrame(stream_id, error_code=code).serialize())
        self._remember(stream_id, _IGNORED)

    def goaway(self, code: int, last_stream_id: int | None) -> None:
        if self._goaway_sent:
            return
        last = self._highest if last_stream_id is None else last_stream_id
        frame = GoAwayFrame(0, last_stream_id=last, error_code=code)
        self._out.append(frame.serialize())
        if code != NO_ERROR:
            self._goaway_sent = True  # a connection error: nothing more is read or sent

    def awaiting_continuation(self) -> bool:
        return self._block is not None

    def output(self) -> bytes:
        out = self._out
        if not out:
            return b""
        data = out[0] if len(out) == 1 else b"".join(out)
        out.clear()
        return data

    # -- bookkeeping ---------------------------------------------------------------

    def _end_local(self, stream_id: int, stream: _Stream) -> None:
        stream.local_open = False
        if not stream.remote_open:
            del self._streams[stream_id]
            self._remember(stream_id, _ENDED)

    def _end_remote(self, stream_id: int, stream: _Stream) -> None:
        stream.remote_open = False
        if not stream.local_open:
            del self._streams[stream_id]
            self._remember(stream_id, _ENDED)

    def _remember(self, stream_id: int, how: bool) -> None:
        closed = self._closed
        if len(closed) >= _CLOSED_MEMORY:
            for old in list(closed)[: _CLOSED_MEMORY // 2]:
                del closed[old]
        closed[stream_id] = how

    def _stream_error(self, stream_id: int, code: int) -> None:
        """RST_STREAM(code), and the stream (if the server was serving it) is reset for the sink."""
        stream = self._streams.pop(stream_id, None)
        self._out.append(RstStreamFrame(stream_id, error_code=code).serialize())
        self._remember(stream_id, _IGNORED)
        if stream is not None:
            self._sink.on_reset(stream_id, code)

    def _fail(self, code: int) -> None:
        """A connection error: queue GOAWAY(code) naming the last stream we processed."""
        self.goaway(code, None)

    def _stray(self, stream_id: int) -> None:
        """A frame for a stream that is not open (for the flood limits)."""
        self._sink.on_control(STRAY)

    # -- frames from the peer --------------------------------------------------------

    def _on_headers(self, frame: HeadersFrame) -> None:
        stream_id = frame.stream_id
        stream = self._streams.get(stream_id)
        if stream is not None:
            self._trailers(frame, stream)
            return
        if not stream_id & 1:
            raise ConnectionError_(PROTOCOL_ERROR, f"HEADERS on even stream {stream_id}")
        if stream_id <= self._highest:
            closed = self._closed.get(stream_id)
            if closed is not None:
                self._decode(frame.data)  # the HPACK context must see every block
                if closed is _IGNORED:
                    self._stray(stream_id)
                    return
                raise ConnectionError_(STREAM_CLOSED, f"HEADERS on closed stream {stream_id}")
            raise ConnectionError_(PROTOCOL_ERROR, f"stream id {stream_id} went backwards")
        headers = self._decode(frame.data)
        self._highest = stream_id
        if "PRIORITY" in frame.flags and frame.depends_on == stream_id:
            self._remember(stream_id, _IGNORED)
            self._out.append(RstStreamFrame(stream_id, error_code=PROTOCOL_ERROR).serialize())
            return
        if len(self._streams) >= self._max_streams:
            self._remember(stream_id, _IGNORED)
            self._out.append(RstStreamFrame(stream_id, error_code=REFUSED_STREAM).serialize())
            return
        end = "END_STREAM" in frame.flags
        self._streams[stream_id] = _Stream(self._initial_send, self._initial_receive, not end)
        self._sink.on_request(stream_id, headers, end)  # type: ignore[arg-type]

    def _trailers(self, frame: HeadersFrame, stream: _Stream) -> None:
        stream_id = frame.stream_id
        headers = self._decode(frame.data)
        if not stream.remote_open:
            raise _StreamError(STREAM_CLOSED)
        if "END_STREAM" not in frame.flags:
            raise _StreamError(PROTOCOL_ERROR)  # a second header block must end the stream
        self._end_remote(stream_id, stream)
        self._sink.on_trailers(stream_id, headers)  # type: ignore[arg-type]

    def _decode(self, block: bytes) -> Any:
        try:
            return self._decoder.decode(block, raw=True)
        except hpack.OversizedHeaderListError as exc:
            raise ConnectionError_(ENHANCE_YOUR_CALM, f"HPACK: {exc}") from None
        except (hpack.HPACKError, IndexError, TypeError, UnicodeDecodeError) as exc:
            raise ConnectionError_(COMPRESSION_ERROR, f"HPACK: {exc}") from None

    def _on_data(self, frame: DataFrame) -> None:
        stream_id = frame.stream_id
        length = frame.flow_controlled_length
        try:
            self._receive.window_consumed(length)
        except h2.exceptions.FlowControlError:
            raise ConnectionError_(FLOW_CONTROL_ERROR, "DATA over the connection window") from None
        stream = self._streams.get(stream_id)
        if stream is None or not stream.remote_open:
            if stream is None and stream_id > self._highest:
                raise ConnectionError_(PROTOCOL_ERROR, f"DATA on idle stream {stream_id}")
            self.consumed(0, length)  # nobody will read it: the connection window reopens
            self._stray(stream_id)
            if stream is not None or self._closed.get(stream_id) is not _IGNORED:
                raise _StreamError(STREAM_CLOSED)  # 5.1: DATA after END_STREAM
            return  # a stream we reset: ignored
        try:
            stream.receive.window_consumed(length)  # type: ignore[union-attr]
        except h2.exceptions.FlowControlError:
            raise _StreamError(FLOW_CONTROL_ERROR) from None
        end = "END_STREAM" in frame.flags
        if end:
            self._end_remote(stream_id, stream)
        elif not frame.data:
            self._sink.on_control(EMPTY_DATA)
        self._sink.on_data(stream_id, frame.data, length, end)

    def _on_rst_stream(self, frame: RstStreamFrame) -> None:
        stream_id = frame.stream_id
        if self._streams.pop(stream_id, None) is None:
            if stream_id > self._highest:
                raise ConnectionError_(PROTOCOL_ERROR, f"RST_STREAM on idle stream {stream_id}")
            self._stray(stream_id)
            return
        self._remember(stream_id, _IGNORED)  # nothing more is sent on it; late frames ignored
        self._sink.on_reset(stream_id, frame.error_code)

    def _on_settings(self, frame: SettingsFrame) -> None:
        self._sink.on_control(SETTINGS)
        if "ACK" in frame.flags:
            return
        grew = self._apply_settings(frame.settings)
        ack = SettingsFrame(0)
        ack.flags.add("ACK")
        self._out.append(ack.serialize())
        if grew:
            # After the ACK: the peer enforces its old windows on us until it reads the ACK.
            self._sink.on_window()

    def _apply_settings(self, values: dict[int, int]) -> bool:
        """Validate and apply the peer's SETTINGS; True if the stream send windows grew."""
        remote = self._remote
        try:
            for code, value in values.items():
                remote[code] = value
        except h2.exceptions.InvalidSettingsValueError as exc:
            raise ConnectionError_(int(exc.error_code), str(exc)) from None
        changes = remote.acknowledge()
        if _Codes.MAX_FRAME_SIZE in changes:
            self._writer.max_frame = remote.max_frame_size
        if _Codes.INITIAL_WINDOW_SIZE in changes:
            new = remote.initial_window_size
            delta = new - self._initial_send
            self._initial_send = new
            for stream in self._streams.values():
                stream.send_window += delta
                if stream.send_window > _MAX_WINDOW:
                    raise ConnectionError_(FLOW_CONTROL_ERROR, "a stream window over 2^31-1")
            return delta > 0
        return False

    def _on_ping(self, frame: PingFrame) -> None:
        self._sink.on_control(PING)
        if "ACK" not in frame.flags:
            ack = PingFrame(0, opaque_data=frame.opaque_data)
            ack.flags.add("ACK")
            self._out.append(ack.serialize())

    def _on_window_update(self, frame: WindowUpdateFrame) -> None:
        self._sink.on_control(WINDOW_UPDATE)
        stream_id = frame.stream_id
        increment = frame.window_increment
        if not stream_id:
            if not increment:
                raise ConnectionError_(PROTOCOL_ERROR, "WINDOW_UPDATE of 0")
            self._send_window += increment
            if self._send_window > _MAX_WINDOW:
                raise ConnectionError_(FLOW_CONTROL_ERROR, "connection window over 2^31-1")
            self._sink.on_window()
            return
        stream = self._streams.get(stream_id)
        if stream is None:
            if stream_id > self._highest:
                raise ConnectionError_(PROTOCOL_ERROR, f"WINDOW_UPDATE on idle stream {stream_id}")
            return  # closed meanwhile (5.1: allowed for a while)
        if not increment:
            raise _StreamError(PROTOCOL_ERROR)
        stream.send_window += increment
        if stream.send_window > _MAX_WINDOW:
            raise _StreamError(FLOW_CONTROL_ERROR)
        self._sink.on_window()

    def _on_priority(self, frame: PriorityFrame) -> None:
        self._sink.on_control(PRIORITY)
        if frame.depends_on == frame.stream_id:
            raise _StreamError(PROTOCOL_ERROR)

    def _on_goaway(self, frame: GoAwayFrame) -> None:
        self._sink.on_goaway(frame.error_code)

    def _on_push_promise(self, frame: PushPromiseFrame) -> None:
        raise ConnectionError_(PROTOCOL_ERROR, "PUSH_PROMISE from a client")

    def _on_continuation(self, frame: _Continuation) -> None:
        # The CONTINUATION frames of a block are joined to its HEADERS as they come; one
        # that gets here follows no HEADERS (RFC 9113 section 6.10).
        raise ConnectionError_(PROTOCOL_ERROR, "CONTINUATION without HEADERS")

    def _on_unknown(self, frame: Any) -> None:
        self._sink.on_control(PRIORITY)  # ignored, but counted like the other frames of no use
