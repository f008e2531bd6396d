"""The HTTP/2 client side of the ``http2`` suite, apart from the load: the preface probe
(does this server speak HTTP/2 at all, and is it up?) and the one-request verification.

The probe sends the client connection preface and SETTINGS (built by the ``h2`` library)
and reads the answer: a server that speaks HTTP/2 answers with its own SETTINGS; one that
does not answers something else (aster before HTTP/2: ``HTTP/1.1 505``) or closes.  Over
TLS the ALPN result decides.  No answer yet (refused, timed out) means "not up".

Verification requests go through httpx with HTTP/1.1 off, so they are HTTP/2 with prior
knowledge on cleartext and ALPN ``h2`` over TLS, and anything else fails.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import httpx

from .scenarios import Request, VerificationError
from .tls import TlsFiles


@dataclass(frozen=True)
class ProbeAnswer:
    """What a server that is up said to the HTTP/2 preface."""

    speaks_h2: bool
    detail: str


def probe(
    host: str, port: int, tls: TlsFiles | None = None, timeout: float = 1.0
) -> ProbeAnswer | None:
    """Send the HTTP/2 preface; ``None`` if the server is not answering (yet)."""
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError:
        return None
    try:
        if tls is not None:
            try:
                sock = tls.client_context().wrap_socket(sock, server_hostname=host)
            except (OSError, ssl.SSLError) as exc:
                return None if isinstance(exc, TimeoutError) else ProbeAnswer(False, repr(exc))
            alpn = sock.selected_alpn_protocol()
            if alpn != "h2":
                return ProbeAnswer(False, f"TLS ALPN chose {alpn!r}, not 'h2'")
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        conn.initiate_connection()
        sock.sendall(conn.data_to_send())
        try:
            data = sock.recv(4096)
        except TimeoutError:
            return None
        except OSError as exc:
            return ProbeAnswer(False, f"the connection failed after the preface: {exc!r}")
        if not data:
            return ProbeAnswer(False, "it closed the connection on the HTTP/2 preface")
        try:
            events = conn.receive_data(data)
        except h2.exceptions.ProtocolError:
            events = []
        if any(isinstance(e, h2.events.RemoteSettingsChanged) for e in events):
            return ProbeAnswer(True, "answered the preface with SETTINGS")
        first_line = data.split(b"\r\n", 1)[0][:60]
        return ProbeAnswer(False, f"it answered the HTTP/2 preface with {first_line!r}")
    finally:
        sock.close()


def requester(tls: TlsFiles | None) -> Request:
    """A :data:`~bench.scenarios.Request` that speaks only HTTP/2 (TLS if ``tls``)."""
    scheme = "https" if tls else "http"

    def request(
        host: str, port: int, method: str, path: str, body: bytes, content_type: str, timeout: float
    ) -> tuple[int, httpx.Headers, bytes]:
        headers = {"content-type": content_type} if body else {}
        verify: ssl.SSLContext | bool = tls.client_context() if tls else False
        try:
            with httpx.Client(http1=False, http2=True, verify=verify, timeout=timeout) as client:
                response = client.request(
                    method, f"{scheme}://{host}:{port}{path}", content=body or None, headers=headers
                )
        except httpx.HTTPError as exc:
            raise VerificationError(f"HTTP/2 {method} {path} failed: {exc!r}") from exc
        if response.http_version != "HTTP/2":
            raise VerificationError(f"{method} {path} was answered in {response.http_version}")
        return response.status_code, response.headers, response.content

    return request
