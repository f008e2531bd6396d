"""Bad and hostile HTTP/2 input, each with the exact RST_STREAM or GOAWAY code RFC 9113 (or the
flood defences) call for, and a second connection served afterwards.

Frames are written raw with ``hyperframe``; header blocks come from the client's own HPACK
encoder so that only the thing under test is wrong.
"""

from __future__ import annotations

import json
import time

import pytest
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    HeadersFrame,
    PingFrame,
    PriorityFrame,
    RstStreamFrame,
    SettingsFrame,
    WindowUpdateFrame,
)

from tests.h2_support import RawH2, Reply, serve_h2, still_serves

PROTOCOL_ERROR, STREAM_CLOSED, FRAME_SIZE_ERROR, CANCEL, ENHANCE_YOUR_CALM = 0x1, 0x5, 0x6, 0x8, 0xB
REFUSED_STREAM = 0x7

BASE = [(b":method", b"GET"), (b":scheme", b"http"), (b":path", b"/_/fixed"), (b":authority", b"t")]


pytestmark = pytest.mark.usefixtures("h2_engine")  # every test on each engine


@pytest.fixture(scope="module")
def server(h2_engine: str):
    with serve_h2("tests.apps.h2_app:app", "--limit-request-fields", "20") as running:
        yield running


MALFORMED = {
    "upper-case name": [*BASE, (b"X-Upper", b"1")],
    "connection header": [*BASE, (b"connection", b"keep-alive")],
    "transfer-encoding": [*BASE, (b"transfer-encoding", b"chunked")],
    "upgrade header": [*BASE, (b"upgrade", b"websocket")],
    "keep-alive header": [*BASE, (b"keep-alive", b"timeout=5")],
    "te other than trailers": [*BASE, (b"te", b"gzip")],
    "missing :path": [(b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"t")],
    "empty :path": [(b":method", b"GET"), (b":scheme", b"http"), (b":path", b"")],
    "missing :method": [(b":scheme", b"http"), (b":path", b"/")],
    "missing :scheme": [(b":method", b"GET"), (b":path", b"/")],
    "duplicate :path": [*BASE, (b":path", b"/again")],
    "duplicate :method": [(b":method", b"GET"), *BASE],
    "pseudo after regular": [*BASE[:3], (b"accept", b"*/*"), (b":authority", b"t")],
    "unknown pseudo-header": [*BASE, (b":foo", b"bar")],
    "response pseudo-header": [*BASE, (b":status", b"200")],
    ":protocol without CONNECT": [*BASE, (b":protocol", b"websocket")],
    "host differs from :authority": [*BASE, (b"host", b"elsewhere")],
    "NUL in a value": [*BASE, (b"x-a", b"a\x00b")],
    "value with leading space": [*BASE, (b"x-a", b" a")],
    "bad name character": [*BASE, (b"x a", b"1")],
    "relative :path": [(b":method", b"GET"), (b":scheme", b"http"), (b":path", b"nope")],
    "bad content-length": [*BASE, (b"content-length", b"1x")],
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_request_is_a_stream_error(server, case: str) -> None:
    with RawH2(server.port) as client:
        client.raw_headers(1, MALFORMED[case])
        reply = client.wait(1)
        assert reply.reset == PROTOCOL_ERROR, (case, reply)
        assert reply.status == 0
        # The connection carries on: only that stream was malformed.
        assert client.request().body == b"hello, world"
    still_serves(server.port)


@pytest.mark.parametrize("sent", [b"abc", b"abcdefgh"])
def test_content_length_that_disagrees_with_the_data(server, sent: bytes) -> None:
    with RawH2(server.port) as client:
        fields = [(b":method", b"POST"), (b":scheme", b"http"), (b":path", b"/_/echo")]
        client.raw_headers(1, [*fields, (b"content-length", b"5")], end=False)
        data = DataFrame(1, data=sent)
        data.flags.add("END_STREAM")
        client.send_raw(data)
        assert client.wait(1).reset == PROTOCOL_ERROR
        assert client.request().body == b"hello, world"


def test_content_length_without_data(server) -> None:
    with RawH2(server.port) as client:
        client.raw_headers(1, [(b":method", b"POST"), *BASE[1:3], (b"content-length", b"5")])
        assert client.wait(1).reset == PROTOCOL_ERROR


def test_too_many_fields_is_431(server) -> None:
    with RawH2(server.port) as client:
        client.raw_headers(1, [*BASE, *((b"x-%d" % i, b"v") for i in range(25))])
        reply = client.wait(1)
        assert (reply.status, reply.body) == (431, b"Request Header Fields Too Large")


def _goaway(client: RawH2) -> int | None:
    return client.wait_goaway()


@pytest.mark.parametrize(
    ("case", "frames", "code"),
    [
        ("even stream id", [HeadersFrame(2)], PROTOCOL_ERROR),
        ("DATA on an idle stream", [DataFrame(7, data=b"x")], PROTOCOL_ERROR),
        ("WINDOW_UPDATE of 0", [WindowUpdateFrame(0, window_increment=0)], PROTOCOL_ERROR),
        (
            "PING on a stream",
            [b"\x00\x00\x08\x06\x00\x00\x00\x00\x01" + b"\x00" * 8],
            PROTOCOL_ERROR,
        ),
        (
            "SETTINGS of bad length",
            [b"\x00\x00\x05\x04\x00\x00\x00\x00\x00" + b"\x00" * 5],
            FRAME_SIZE_ERROR,
        ),
        ("frame over max size", [DataFrame(1, data=b"x" * 20000)], FRAME_SIZE_ERROR),
        ("CONTINUATION without HEADERS", [ContinuationFrame(1)], PROTOCOL_ERROR),
    ],
)
def test_connection_errors(server, case: str, frames: list, code: int) -> None:
    with RawH2(server.port) as client:
        built = []
        for frame in frames:
            if isinstance(frame, HeadersFrame):
                frame.data = client.encode(BASE)
                frame.flags.add("END_HEADERS")
                frame.flags.add("END_STREAM")
            if isinstance(frame, ContinuationFrame):
                frame.data = client.encode(BASE)
                frame.flags.add("END_HEADERS")
            built.append(frame)
        client.send_raw(*built)
        assert _goaway(client) == code, case
    still_serves(server.port)


def test_stream_id_going_backwards(server) -> None:
    with RawH2(server.port) as client:
        client.raw_headers(5, BASE)
        client.wait(5)
        client.raw_headers(3, BASE)
        assert _goaway(client) == PROTOCOL_ERROR
    still_serves(server.port)


def test_data_after_end_stream(server) -> None:
    """Half-closed (remote): DATA is a STREAM_CLOSED error (RFC 9113 section 5.1)."""
    with RawH2(server.port) as client:
        fields = [(b":method", b"POST"), (b":scheme", b"http"), (b":path", b"/_/echo")]
        headers = HeadersFrame(1, data=client.encode(fields))
        headers.flags.add("END_HEADERS")
        end = DataFrame(1, data=b"a")
        end.flags.add("END_STREAM")
        client.replies[1] = Reply()
        client.send_raw(headers, end, DataFrame(1, data=b"more"))  # one write: one read
        deadline = time.monotonic() + 10
        while STREAM_CLOSED not in (client.replies[1].reset, client.goaway):
            assert time.monotonic() < deadline, (client.replies[1], client.goaway)
            if not client.read(1):
                break
        assert STREAM_CLOSED in (client.replies[1].reset, client.goaway)
    still_serves(server.port)


def test_rapid_reset(server) -> None:
    with RawH2(server.port) as client:
        frames = []
        for stream_id in range(1, 2 * 500, 2):
            headers = HeadersFrame(stream_id, data=client.encode(BASE))
            headers.flags.add("END_HEADERS")
            headers.flags.add("END_STREAM")
            frames += (headers, RstStreamFrame(stream_id, error_code=CANCEL))
        client.send_raw(*frames)
        assert _goaway(client) == ENHANCE_YOUR_CALM
    still_serves(server.port)


@pytest.mark.parametrize(
    ("kind", "frame"),
    [
        ("PING", PingFrame(0, opaque_data=b"12345678")),
        ("SETTINGS", SettingsFrame(0)),
        ("PRIORITY", PriorityFrame(1, depends_on=0, stream_weight=16)),
        ("WINDOW_UPDATE", WindowUpdateFrame(0, window_increment=1)),
    ],
)
def test_control_frame_floods(server, kind: str, frame) -> None:
    with RawH2(server.port) as client:
        client.send_raw(frame.serialize() * 1500)
        assert _goaway(client) == ENHANCE_YOUR_CALM, kind
    still_serves(server.port)


def test_empty_data_flood(server) -> None:
    with RawH2(server.port) as client:
        fields = [(b":method", b"POST"), (b":scheme", b"http"), (b":path", b"/h/hold")]
        client.raw_headers(1, fields, end=False)
        client.send_raw(DataFrame(1, data=b"").serialize() * 1500)
        assert _goaway(client) == ENHANCE_YOUR_CALM
    still_serves(server.port)


def test_continuation_flood_bounded_in_bytes(server) -> None:
    with RawH2(server.port) as client:
        client.send_raw(HeadersFrame(1, data=client.encode(BASE)))  # no END_HEADERS
        filler = b"\x00" * 16000
        client.send_raw(*(ContinuationFrame(1, data=filler) for _ in range(8)))
        assert _goaway(client) == ENHANCE_YOUR_CALM
    still_serves(server.port)


def test_continuation_flood_bounded_in_frames(server) -> None:
    with RawH2(server.port) as client:
        client.send_raw(HeadersFrame(1, data=client.encode(BASE)))
        client.send_raw(*(ContinuationFrame(1, data=b"") for _ in range(100)))
        assert _goaway(client) == PROTOCOL_ERROR
    still_serves(server.port)


def test_hpack_bomb(server) -> None:
    """One 4 KiB field added to the dynamic table, then referenced 30 times: 120 KiB decoded
    from a 4 KiB block."""
    with RawH2(server.port) as client:
        literal = b"\x40\x06x-bomb\x7f\xa1\x1e" + b"b" * 4000  # incremental indexing
        bomb = client.encode(BASE) + literal + b"\xbe" * 30  # 0xBE: indexed field 62, the newest
        headers = HeadersFrame(1, data=bomb)
        headers.flags.add("END_HEADERS")
        headers.flags.add("END_STREAM")
        client.send_raw(headers)
        assert _goaway(client) == ENHANCE_YOUR_CALM
    still_serves(server.port)


def test_unknown_frame_types_are_ignored(server) -> None:
    with RawH2(server.port) as client:
        client.send_raw(b"\x00\x00\x03\xfa\x00\x00\x00\x00\x00abc")
        assert client.request().body == b"hello, world"


def _observed(port: int, tag: str) -> dict:
    """What ``/h/observe?tag`` saw, once its app has returned."""
    deadline = time.monotonic() + 10
    with RawH2(port) as client:
        while True:
            reply = client.request(f"/h/observed?{tag}")
            if reply.status == 200:
                return json.loads(reply.body)
            assert time.monotonic() < deadline, reply
            time.sleep(0.05)


DISCONNECTED = {
    "received": "http.disconnect",
    "send_raised": "ClientDisconnected",
    "is_oserror": True,
}


def test_app_of_a_reset_stream_gets_disconnect_and_send_raises(server) -> None:
    with RawH2(server.port) as client:
        fields = [(b":method", b"POST"), (b":scheme", b"http"), (b":path", b"/h/observe?reset")]
        client.raw_headers(1, fields, end=False)
        client.send_raw(RstStreamFrame(1, error_code=CANCEL))
        assert _observed(server.port, "reset") == DISCONNECTED
        assert client.request().body == b"hello, world"  # the connection carries on


def test_app_of_a_lost_connection_gets_disconnect_and_send_raises(server) -> None:
    with RawH2(server.port) as client:
        fields = [(b":method", b"POST"), (b":scheme", b"http"), (b":path", b"/h/observe?lost")]
        client.raw_headers(1, fields, end=False)
        client.request()  # the stream's app is running by now
    assert _observed(server.port, "lost") == DISCONNECTED


def test_apps_of_reset_streams_still_count_against_the_stream_limit() -> None:
    """Rapid reset below the resets-per-tick limit, with apps that ignore the disconnect:
    the streams are gone, their apps are not, so new streams are refused until they return
    (RFC 9113 section 5.1.2)."""
    with serve_h2("tests.apps.h2_app:app", "--http2-max-concurrent-streams", "4") as srv:
        with RawH2(srv.port) as client:
            frames = []
            for stream_id in (1, 3, 5, 7):
                path = b"/h/stubborn?2"
                fields = [*BASE[:2], (b":path", path), BASE[3]]
                headers = HeadersFrame(stream_id, data=client.encode(fields))
                headers.flags.add("END_HEADERS")
                headers.flags.add("END_STREAM")
                frames += (headers, RstStreamFrame(stream_id, error_code=CANCEL))
            client.send_raw(*frames)
            client.raw_headers(9, BASE)
            assert client.wait(9).reset == REFUSED_STREAM
            # Once the stubborn apps return, the connection serves again.
            deadline = time.monotonic() + 15
            stream_id = 11
            while True:
                client.raw_headers(stream_id, BASE)
                reply = client.wait(stream_id)
                if reply.reset is None:
                    break
                assert reply.reset == REFUSED_STREAM
                assert time.monotonic() < deadline
                time.sleep(0.2)
                stream_id += 2
            assert (reply.status, reply.body) == (200, b"hello, world")
            assert stream_id > 11  # it was refused for a while: the apps were counted


def test_data_flood_on_a_closed_stream(server) -> None:
    """DATA on a stream the server reset is answered by the engine, never the app: it is
    counted like the other frames that cost without being work."""
    with RawH2(server.port) as client:
        fields = [(b":method", b"POST"), (b":scheme", b"http"), (b":path", b"/_/echo")]
        client.raw_headers(1, [*fields, (b"content-length", b"5")], end=False)
        client.send_raw(DataFrame(1, data=b"abcdefgh"))  # over its content-length: reset
        assert client.wait(1).reset == PROTOCOL_ERROR
        client.send_raw(DataFrame(1, data=b"x").serialize() * 1500)
        assert _goaway(client) == ENHANCE_YOUR_CALM
    still_serves(server.port)
