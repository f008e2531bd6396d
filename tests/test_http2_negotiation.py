"""How a connection becomes HTTP/2 on aster's one listening socket, and the flags that say whether
it may: prior knowledge, Upgrade: h2c (with a body), TLS ALPN, --http and --no-h2c."""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import sys

import httpx
import pytest
import trustme

from tests.h2_support import H2Client, serve_h2, still_serves, tls_context
from tests.support import CURL, RawConnection, parse_curl_head

APP_ARGS = ("tests.apps.h2_app:app", [sys.executable, "-m", "aster", "run"])


pytestmark = pytest.mark.usefixtures("h2_engine")  # every test on each engine


@pytest.fixture(scope="module")
def server(h2_engine: str):
    with serve_h2() as running:
        yield running


def test_prior_knowledge_serves_http2_and_http1_on_the_same_port(server) -> None:
    with H2Client(server.port) as client:
        reply = client.request("/some/path?x=1")
        assert reply.status == 200
        scope = json.loads(reply.body)
        assert scope["http_version"] == "2"
    with RawConnection(server.port) as conn:
        conn.send(b"GET /_/fixed HTTP/1.1\r\nHost: t\r\n\r\n")
        response = conn.read_response()
        assert (response.status, response.body) == (200, b"hello, world")


def test_preface_split_across_reads_is_still_http2(server) -> None:
    with H2Client(server.port, preface=False) as client:
        data = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
        client.conn.initiate_connection()
        rest = client.conn.data_to_send()[len(data) :]
        for piece in (data[:5], data[5:20], data[20:] + rest):
            client.sock.sendall(piece)
        reply = client.request("/_/fixed")
        assert (reply.status, reply.body) == (200, b"hello, world")


def test_httpx_http2(server) -> None:
    with httpx.Client(http1=False, http2=True) as client:
        response = client.post(f"{server.url}/_/echo", content=b"ping " * 1000)
        assert response.http_version == "HTTP/2"
        assert response.status_code == 200
        assert response.content == b"ping " * 1000


def test_curl_prior_knowledge(server) -> None:
    done = subprocess.run(
        [CURL, "-sS", "-D", "-", "--http2-prior-knowledge", f"{server.url}/_/fixed"],
        capture_output=True,
        check=True,
    )
    assert done.stdout.startswith(b"HTTP/2 200")
    status, headers, body = parse_curl_head(done.stdout)
    assert (status, body) == (200, b"hello, world")
    assert headers["content-length"] == "12"


def test_h2c_upgrade_with_a_body_is_answered_on_stream_1(server) -> None:
    body = b"x" * 100_000
    done = subprocess.run(
        [CURL, "-sS", "-D", "-", "--http2", "--data-binary", "@-", f"{server.url}/_/digest"],
        input=body,
        capture_output=True,
        check=True,
    )
    assert done.stdout.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
    status, _, answer = parse_curl_head(done.stdout.split(b"\r\n\r\n", 1)[1])
    assert status == 200, (done.stdout[:600], server.log()[-3000:])
    digest = json.loads(answer)
    assert digest["length"] == 100_000
    line = server.wait_for_log(r'"POST /_/digest HTTP/1.1" 200')
    assert "127.0.0.1" in line


def test_h2c_upgrade_then_more_streams_on_the_connection(server) -> None:
    """A raw upgrade: the 101, then the server preface, stream 1's answer, and a stream 3."""
    client = H2Client(server.port, preface=False)
    settings = client.conn.initiate_upgrade_connection()
    client.sock.sendall(
        b"POST /_/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
        b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
        b"HTTP2-Settings: " + settings + b"\r\n\r\nhello"
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += client.sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101 ")
    client.flush()  # the client preface, after the body
    from tests.h2_support import Reply

    client.replies[1] = Reply()
    first = client.wait(1)
    assert (first.status, first.body) == (200, b"hello")
    second = client.request("/_/fixed")
    assert (second.status, second.body) == (200, b"hello, world")
    client.close()


def test_upgrade_with_chunked_body_is_served_over_http1(server) -> None:
    with RawConnection(server.port) as conn:
        conn.send(
            b"POST /_/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
            b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
            b"HTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
        )
        response = conn.read_response()
        assert (response.status, response.body) == (200, b"hello")


def test_tls_alpn_h2_and_http11() -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    with cert.private_key_pem.tempfile() as key, cert.cert_chain_pems[0].tempfile() as chain:
        with serve_h2(
            "tests.apps.h2_app:app", "--ssl-keyfile", key, "--ssl-certfile", chain
        ) as srv:
            with ca.cert_pem.tempfile() as ca_file:
                done = subprocess.run(
                    [
                        CURL,
                        "-sS",
                        "-D",
                        "-",
                        "--http2",
                        "--cacert",
                        ca_file,
                        f"https://localhost:{srv.port}/_/fixed",
                    ],
                    capture_output=True,
                    check=True,
                )
                assert done.stdout.startswith(b"HTTP/2 200")
                done = subprocess.run(
                    [
                        CURL,
                        "-sS",
                        "-D",
                        "-",
                        "--http1.1",
                        "--cacert",
                        ca_file,
                        f"https://localhost:{srv.port}/_/fixed",
                    ],
                    capture_output=True,
                    check=True,
                )
                assert done.stdout.startswith(b"HTTP/1.1 200")
            with H2Client(srv.port, tls=tls_context(ca)) as client:
                assert client.sock.selected_alpn_protocol() == "h2"
                scope = json.loads(client.request("/x").body)
                assert (scope["scheme"], scope["http_version"]) == ("https", "2")
            still_serves(srv.port, tls=tls_context(ca))


def test_http_h11_does_not_speak_http2() -> None:
    with serve_h2(APP_ARGS[0], "--http", "h11") as srv:
        with RawConnection(srv.port) as conn:
            conn.send(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            assert conn.read_response().status in (400, 505)
        with RawConnection(srv.port) as conn:
            conn.send(
                b"GET /_/fixed HTTP/1.1\r\nHost: t\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n"
            )
            response = conn.read_response()
            assert (response.status, response.body) == (200, b"hello, world")


def test_no_h2c_refuses_cleartext_http2() -> None:
    with serve_h2(APP_ARGS[0], "--no-h2c") as srv:
        with RawConnection(srv.port) as conn:
            conn.send(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            assert conn.read_response().status in (400, 505)


def test_http_h2_refuses_http11_with_a_clear_error() -> None:
    with serve_h2(APP_ARGS[0], "--http", "h2") as srv:
        with RawConnection(srv.port) as conn:
            conn.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            response = conn.read_response()
            assert response.status == 505
            assert b"HTTP/2 only" in response.body
        still_serves(srv.port)


def test_http_h2_without_h2c_needs_tls() -> None:
    done = subprocess.run(
        [*APP_ARGS[1], APP_ARGS[0], "--http", "h2", "--no-h2c", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert done.returncode == 1
    assert "--http h2 with --no-h2c needs TLS" in done.stderr


def test_socket_closed_mid_preface_is_harmless(server) -> None:
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(b"PRI * HTTP/2.0\r\n")
    sock.close()
    still_serves(server.port)


def test_ssl_module_offers_alpn() -> None:
    assert ssl.HAS_ALPN
