"""The WebSocket server over real sockets: ``aster run`` in a subprocess, the ``websockets``
client library for well-behaved peers and a raw socket for misbehaving ones."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import signal
import ssl
import struct
import time
from typing import Any

import pytest

pytest.importorskip("websockets")

from websockets.asyncio.client import connect as async_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from aster.server.cli import parse_args
from aster.server.config import Config, ConfigError
from tests.support import RawConnection
from tests.ws_support import (
    BINARY,
    CLOSE,
    PING,
    PONG,
    TEXT,
    RawWebSocket,
    serve_ws,
)

APP = "tests.apps.ws_app:app"

#: Every test here runs against each ``--ws`` implementation.
pytestmark = pytest.mark.usefixtures("ws_impl")


# -- the handshake -------------------------------------------------------------------


def test_accept_with_subprotocol_and_headers() -> None:
    with (
        serve_ws(APP) as server,
        connect(f"{url(server)}/echo?subprotocol=chat", subprotocols=["chat", "other"]) as ws,
    ):
        assert ws.response.status_code == 101
        assert ws.subprotocol == "chat"
        headers = ws.response.headers
        assert headers["x-test"] == "accepted"
        assert headers["server"] == "aster"
        assert "date" in headers
    assert '"WebSocket /echo?subprotocol=chat" [accepted]' in server.log()


def test_no_subprotocol_unless_the_app_picks_one() -> None:
    with serve_ws(APP) as server, connect(f"{url(server)}/echo", subprotocols=["chat"]) as ws:
        assert ws.subprotocol is None
        assert "sec-websocket-protocol" not in ws.response.headers


def test_close_before_accept_is_403() -> None:
    with serve_ws(APP) as server:
        with pytest.raises(InvalidStatus) as info:
            connect(f"{url(server)}/deny")
        assert info.value.response.status_code == 403
        assert info.value.response.headers["connection"] == "close"


def test_denial_response_extension() -> None:
    with serve_ws(APP) as server:
        with pytest.raises(InvalidStatus) as info:
            connect(f"{url(server)}/denial")
        response = info.value.response
        assert response.status_code == 418
        assert response.headers["x-denied"] == "yes"
        assert response.headers["content-length"] == str(len(b"no teapots"))
        assert response.body == b"no teapots"


@pytest.mark.parametrize(
    ("path", "status"), [("/crash", 500), ("/noaccept", 500)], ids=["raises", "returns"]
)
def test_app_failing_before_accept_is_500(path: str, status: int) -> None:
    with serve_ws(APP) as server:
        with pytest.raises(InvalidStatus) as info:
            connect(f"{url(server)}{path}")
        assert info.value.response.status_code == status
    if path == "/crash":
        assert "Exception in ASGI application" in server.log()
    else:
        assert "without completing the WebSocket handshake" in server.log()


def test_app_failing_after_accept_closes_1011() -> None:
    with serve_ws(APP) as server, connect(f"{url(server)}/crash-open") as ws:
        with pytest.raises(ConnectionClosed) as info:
            ws.recv()
        assert info.value.rcvd is not None and info.value.rcvd.code == 1011


def test_invalid_handshake_is_refused_without_the_app() -> None:
    with serve_ws(APP) as server, RawConnection(server.port) as conn:
        conn.send(
            b"GET /echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        response = conn.read_response()
        assert response.status == 400
        assert b"Sec-WebSocket-Key" in response.body
        assert conn.is_closed()


def test_scope() -> None:
    with (
        serve_ws(APP, "--root-path", "/api") as server,
        connect(
            f"{url(server)}/scope?a=1&b=%20",
            subprotocols=["one", "two"],
            additional_headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "10.1.2.3"},
        ) as ws,
    ):
        scope = json.loads(ws.recv(timeout=5))
        local = ws.socket.getsockname()
    assert scope["type"] == "websocket"
    assert scope["asgi"] == {"version": "3.0", "spec_version": "2.5"}
    assert scope["http_version"] == "1.1"
    assert scope["scheme"] == "wss"  # from the trusted proxy's X-Forwarded-Proto
    assert scope["client"] == ["10.1.2.3", 0]
    assert scope["server"] == ["127.0.0.1", server.port]
    assert scope["path"] == "/api/scope"
    assert scope["raw_path"] == "/api/scope"
    assert scope["root_path"] == "/api"
    assert scope["query_string"] == "a=1&b=%20"
    assert scope["subprotocols"] == ["one", "two"]
    assert scope["extensions"] == {"websocket.http.response": {}}
    assert scope["state"] == {}
    assert "method" not in scope
    headers = dict(scope["headers"])
    assert headers["upgrade"] == "websocket"
    assert headers["sec-websocket-protocol"] == "one, two"
    assert local[0] == "127.0.0.1"
    server.wait_for_log("^APP: disconnect 1000 $")


def test_scope_without_proxy_headers_is_plain_ws() -> None:
    with serve_ws(APP, "--no-proxy-headers") as server:
        with connect(
            f"{url(server)}/scope", additional_headers={"X-Forwarded-Proto": "https"}
        ) as ws:
            scope = json.loads(ws.recv())
            port = ws.socket.getsockname()[1]
        assert scope["scheme"] == "ws"
        assert scope["client"] == ["127.0.0.1", port]


def test_wss_over_tls(tmp_path: Any) -> None:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "both.pem"))
    both = str(tmp_path / "both.pem")
    context = ssl.create_default_context()
    ca.configure_trust(context)
    with (
        serve_ws(APP, "--ssl-keyfile", both, "--ssl-certfile", both) as server,
        connect(f"wss://127.0.0.1:{server.port}/scope", ssl=context) as ws,
    ):
        scope = json.loads(ws.recv(timeout=5))
        assert scope["scheme"] == "wss"
    with (
        serve_ws(APP, "--ssl-keyfile", both, "--ssl-certfile", both) as server,
        connect(f"wss://127.0.0.1:{server.port}/echo", ssl=context) as ws,
    ):
        payload = os.urandom(200000)
        ws.send(payload)
        assert ws.recv(timeout=5) == payload


def test_ws_none_serves_upgrades_as_http() -> None:
    with serve_ws(APP, "--ws", "none") as server:
        raw = RawWebSocket(server.port, "/echo")
        assert raw.status == 200
        assert b"content-length" in raw.head
        raw.close()


# -- messages and closing ---------------------------------------------------------------


def test_text_and_bytes_echo() -> None:
    with serve_ws(APP) as server, connect(f"{url(server)}/echo", max_size=None) as ws:
        ws.send("héllo")
        assert ws.recv() == "héllo"
        ws.send(b"\x00\xffbytes")
        assert ws.recv() == b"\x00\xffbytes"
        big = os.urandom(3 * 1024 * 1024)
        ws.send(big)
        assert ws.recv() == big
        ws.send(["frag", "mented"])  # one message in three frames
        assert ws.recv() == "fragmented"


def test_fragmented_message_over_raw_frames() -> None:
    with serve_ws(APP) as server:
        raw = RawWebSocket(server.port)
        raw.send_frame(TEXT, "hé".encode()[:2], fin=False)  # splits the é
        raw.send_frame(PING, b"mid")  # control frames may come between fragments
        raw.send_frame(0x0, "hé".encode()[2:] + b"llo")
        assert raw.recv_frame() == (PONG, b"mid")
        assert raw.recv_frame() == (TEXT, "héllo".encode())
        raw.close()


def test_client_close_code_and_reason_reach_the_app() -> None:
    with serve_ws(APP) as server:
        with connect(f"{url(server)}/events") as ws:
            ws.send("x")
            assert ws.recv() == "x"
            ws.close(4002, "client leaving")
        server.wait_for_log("^APP: disconnect 4002 client leaving$")


def test_server_close_code_and_reason_reach_the_client() -> None:
    with serve_ws(APP) as server, connect(f"{url(server)}/echo") as ws:
        ws.send("close:4001:bye now")
        with pytest.raises(ConnectionClosed) as info:
            ws.recv()
        assert info.value.rcvd is not None
        assert (info.value.rcvd.code, info.value.rcvd.reason) == (4001, "bye now")
        # The app's own close is reported back to it as the disconnect.
        server.wait_for_log("^APP: after close websocket.disconnect 4001$")


def test_abrupt_disconnect_is_1006() -> None:
    with serve_ws(APP) as server:
        raw = RawWebSocket(server.port, "/events")
        raw.send_frame(TEXT, b"hi")
        assert raw.recv_frame() == (TEXT, b"hi")
        raw.close()
        server.wait_for_log("^APP: disconnect 1006 $")


# -- protocol errors and limits ------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ({"opcode": TEXT, "payload": b"plain", "mask": False}, 1002),
        ({"opcode": 0x3, "payload": b"reserved"}, 1002),
        ({"opcode": TEXT, "payload": b"\xff\xfe bad utf-8"}, 1007),
        ({"opcode": CLOSE, "payload": b"\x03\xe8\xff"}, 1007),
        ({"opcode": PING, "payload": b"x" * 200}, 1002),
    ],
    ids=["unmasked", "bad-opcode", "invalid-utf8", "invalid-utf8-close-reason", "long-ping"],
)
def test_protocol_errors_close_with_the_right_code(frame: dict[str, Any], code: int) -> None:
    with serve_ws(APP) as server:
        raw = RawWebSocket(server.port, "/events")
        raw.send_frame(frame["opcode"], frame["payload"], mask=frame.get("mask", True))
        assert raw.recv_close()[0] == code
        assert raw.conn.is_closed()
        raw.close()
        server.wait_for_log(f"^APP: disconnect {code} ")


def test_invalid_utf8_across_fragments_is_1007() -> None:
    with serve_ws(APP) as server:
        raw = RawWebSocket(server.port)
        raw.send_frame(TEXT, b"ok", fin=False)
        raw.send_frame(0x0, b"\xc3")  # a truncated two-byte sequence
        assert raw.recv_close()[0] == 1007
        raw.close()


def test_max_size_closes_with_1009() -> None:
    with serve_ws(APP, "--ws-max-size", "1024") as server, connect(f"{url(server)}/events") as ws:
        ws.send(b"x" * 1024)
        assert ws.recv() == b"x" * 1024
        ws.send(b"x" * 1025)
        with pytest.raises(ConnectionClosed) as info:
            ws.recv()
        assert info.value.rcvd is not None and info.value.rcvd.code == 1009
        server.wait_for_log("^APP: disconnect 1009 ")


def test_max_size_counts_the_whole_fragmented_message() -> None:
    with serve_ws(APP, "--ws-max-size", "1000") as server:
        raw = RawWebSocket(server.port)
        raw.send_frame(BINARY, b"a" * 600, fin=False)
        raw.send_frame(0x0, b"a" * 600)
        assert raw.recv_close()[0] == 1009
        raw.close()


def test_backpressure_stops_reading_and_bounds_memory() -> None:
    """An app that reads slowly: the server stops reading, the client's sends block."""
    with serve_ws(APP, "--ws-max-queue", "4", "--no-ws-per-message-deflate") as server:
        # The app starts reading after 8 s: ample time for the sends to block, even on a
        # loaded machine (the client gives up after 2 s without progress).
        raw = RawWebSocket(server.port, "/slow?wait=8")
        rss_before = rss_kib(server.process.pid)
        message = b"m" * 65536
        frame_head = struct.pack("!BBQ", 0x80 | BINARY, 0x80 | 127, len(message)) + b"\0" * 4
        raw.conn.sock.settimeout(2.0)
        sent = 0
        with pytest.raises(TimeoutError):
            while sent < 512 * 1024 * 1024:
                raw.conn.sock.sendall(frame_head + message)  # zero mask: payload as is
                sent += len(message)
        # The kernel's socket buffers take some megabytes; the server no more than its queue.
        assert sent < 24 * 1024 * 1024
        grown = rss_kib(server.process.pid) - rss_before
        assert grown < 16 * 1024, f"server grew by {grown} KiB"
        # The app still gets its messages, one by one, in order.
        raw.conn.sock.settimeout(10.0)
        assert raw.recv_frame() == (TEXT, b"1")
        assert raw.recv_frame() == (TEXT, b"2")
        raw.close()


def test_ping_flood_from_a_peer_that_never_reads_is_bounded() -> None:
    """Pongs pile up unread: the server stops reading rather than buffer them all."""
    with serve_ws(APP) as server:
        raw = RawWebSocket(server.port)
        rss_before = rss_kib(server.process.pid)
        ping = bytes((0x80 | PING, 0x80 | 125)) + b"\0" * 4 + b"p" * 125  # zero mask
        chunk = ping * 2000
        raw.conn.sock.settimeout(2.0)
        sent = 0
        with pytest.raises(TimeoutError):
            while sent < 512 * 1024 * 1024:
                raw.conn.sock.sendall(chunk)
                sent += len(chunk)
        assert sent < 24 * 1024 * 1024
        grown = rss_kib(server.process.pid) - rss_before
        assert grown < 16 * 1024, f"server grew by {grown} KiB"
        raw.close()


# -- permessage-deflate -------------------------------------------------------------------


def test_permessage_deflate_is_negotiated_by_default() -> None:
    with serve_ws(APP) as server, connect(f"{url(server)}/echo") as ws:
        extensions = ws.response.headers["sec-websocket-extensions"]
        assert extensions.startswith("permessage-deflate")
        text = "compressible " * 10000
        ws.send(text)
        assert ws.recv() == text


@pytest.mark.parametrize(
    "flags", [("--ws-per-message-deflate", "false"), ("--no-ws-per-message-deflate",)]
)
def test_permessage_deflate_can_be_disabled(flags: tuple[str, ...]) -> None:
    with serve_ws(APP, *flags) as server, connect(f"{url(server)}/echo") as ws:
        assert "sec-websocket-extensions" not in ws.response.headers
        ws.send("plain")
        assert ws.recv() == "plain"


def test_raw_deflate_offer_gets_a_response_header() -> None:
    with serve_ws(APP) as server:
        raw = RawWebSocket(server.port, extra=b"Sec-WebSocket-Extensions: permessage-deflate\r\n")
        assert raw.status == 101
        assert b"sec-websocket-extensions: permessage-deflate" in raw.head.lower()
        raw.close()


# -- keepalive ----------------------------------------------------------------------------


def test_pings_keep_an_answering_peer_alive() -> None:
    args = ("--ws-ping-interval", "0.5", "--ws-ping-timeout", "0.5")
    with serve_ws(APP, *args) as server:
        raw = RawWebSocket(server.port)
        pings = 0
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            opcode, payload = raw.recv_frame()
            assert opcode == PING
            pings += 1
            raw.send_frame(PONG, payload)
        assert pings >= 3
        raw.send_frame(TEXT, b"still here")
        frames = (frame for frame in iter(raw.recv_frame, None) if frame[0] != PING)
        assert next(frames) == (TEXT, b"still here")
        raw.close()


def test_dead_peer_is_closed() -> None:
    args = ("--ws-ping-interval", "0.5", "--ws-ping-timeout", "0.5")
    with serve_ws(APP, *args) as server:
        raw = RawWebSocket(server.port, "/events")
        started = time.monotonic()
        assert raw.recv_frame()[0] == PING  # and never answered
        assert raw.recv_close()[0] == 1011
        assert raw.conn.is_closed(timeout=2.0)
        assert time.monotonic() - started < 4.0
        raw.close()
        server.wait_for_log("^APP: disconnect 1006 keepalive ping timeout$")


def test_client_pings_are_answered() -> None:
    with serve_ws(APP) as server, connect(f"{url(server)}/echo") as ws:
        latency = ws.ping(b"abc").wait(5)
        assert latency


# -- shutdown -----------------------------------------------------------------------------


def test_graceful_shutdown_closes_with_1012() -> None:
    with serve_ws(APP) as server:
        with connect(f"{url(server)}/events") as ws:
            ws.send("x")
            assert ws.recv() == "x"
            server.signal(signal.SIGTERM)
            with pytest.raises(ConnectionClosed) as info:
                ws.recv(timeout=5)
            assert info.value.rcvd is not None and info.value.rcvd.code == 1012
        assert server.wait() == 0
    assert "APP: disconnect 1012 " in server.lines


# -- load ---------------------------------------------------------------------------------


def test_a_thousand_concurrent_connections_echo() -> None:
    count = 1000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 3 * count:  # the server process inherits the raised limit
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4 * count), hard))
    with serve_ws(APP, "--no-access-log") as server:

        async def one(index: int, ready: asyncio.Event, opened: list[int]) -> None:
            async with async_connect(f"{url(server)}/echo", open_timeout=30) as ws:
                opened.append(index)
                if len(opened) == count:
                    ready.set()
                await ready.wait()  # every connection is open at once
                for round_ in range(3):
                    await ws.send(f"{index}:{round_}")
                    assert await ws.recv() == f"{index}:{round_}"

        async def main() -> None:
            ready = asyncio.Event()
            opened: list[int] = []
            await asyncio.wait_for(
                asyncio.gather(*(one(i, ready, opened) for i in range(count))), 60
            )

        started = time.monotonic()
        asyncio.run(main())
        assert time.monotonic() - started < 30
    assert "Traceback" not in server.log()


# -- options ------------------------------------------------------------------------------


def test_cli_options() -> None:
    _, options = parse_args(
        [
            "run",
            "m:app",
            "--ws",
            "websockets",
            "--ws-max-size",
            "100",
            "--ws-max-queue",
            "2",
            "--ws-ping-interval",
            "0",
            "--ws-ping-timeout",
            "3.5",
            "--ws-per-message-deflate",
            "false",
        ]
    )
    assert options["ws"] == "websockets"
    assert options["ws_max_size"] == 100
    assert options["ws_max_queue"] == 2
    assert options["ws_ping_interval"] is None
    assert options["ws_ping_timeout"] == 3.5
    assert options["ws_per_message_deflate"] is False
    _, defaults = parse_args(["run", "m:app"])
    assert (defaults["ws"], defaults["ws_max_size"], defaults["ws_max_queue"]) == (
        "auto",
        16 * 1024 * 1024,
        32,
    )
    assert (defaults["ws_ping_interval"], defaults["ws_ping_timeout"]) == (20.0, 20.0)
    assert defaults["ws_per_message_deflate"] is True


def test_config_validation() -> None:
    assert Config("m:app").ws_impl == "websockets"
    assert Config("m:app", ws="websockets-sansio").ws_impl == "websockets"
    assert Config("m:app", ws="none").ws_impl is None
    assert Config("m:app", ws="wsproto").ws_impl == "wsproto"
    with pytest.raises(ConfigError, match="--ws must be one of"):
        Config("m:app", ws="h11")
    with pytest.raises(ConfigError, match="--ws-max-queue"):
        Config("m:app", ws_max_queue=0)


# -- helpers ------------------------------------------------------------------------------


def url(server: Any) -> str:
    return f"ws://127.0.0.1:{server.port}"


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")
