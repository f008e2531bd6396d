"""How a connection becomes HTTP/2, all on the listening socket HTTP/1.1 uses.

Every connection starts as an :class:`~.http1.HTTP1Protocol` (or, with
``--http h2``, as :class:`~.h2_only.HTTP2OnlyProtocol`), and moves to
:class:`~.http2.HTTP2Protocol` in one of three ways:

* **TLS ALPN** ``h2``: decided by the handshake, before the first byte
  (``connection_made``);
* **prior knowledge** (h2c): the connection starts with the client preface
  ``PRI * HTTP/2.0``.  llhttp stops at it with an error, so the check costs
  the HTTP/1.1 path nothing: it runs in that error branch only;
* **Upgrade: h2c** with ``HTTP2-Settings`` (RFC 7540 section 3.2): the request
  becomes stream 1 and its app starts at once; a body it carries
  (content-length framed) is read as HTTP/1.1 bytes and handed to stream 1,
  never to the HTTP/2 engine as frames, and only once it is all in do the 101
  and the first HTTP/2 frames go out (a client that sees the 101 earlier may
  stop sending the body: curl 7.88 does).  The client preface follows the body.
  A chunked or ``Expect: 100-continue`` upgrade request is served over
  HTTP/1.1 instead, which RFC 9110 section 7.8 allows.

``--no-h2c`` (and TLS, where ALPN is the only way) turns the cleartext two off.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .cycle import HTTPCycle
    from .http1 import HTTP1Protocol

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#: llhttp reports the preface once it has read this much of it.
_PREFACE_SEEN = len(b"PRI * HTTP/2.0\r\n")


def http2_from(h1: HTTP1Protocol) -> Any:
    """A new HTTP/2 connection with what ``h1`` learnt of the peer."""
    from .http2 import HTTP2Protocol

    return HTTP2Protocol(
        h1.config,
        h1.state,
        h1.app_state,
        h1.transport,
        h1.client,
        h1.server,
        h1.scheme,
        h1.trusted_proxy,
    )


def alpn_chose_h2(transport: asyncio.BaseTransport) -> bool:
    ssl_object = transport.get_extra_info("ssl_object")
    return ssl_object is not None and ssl_object.selected_alpn_protocol() == "h2"


def preface_start(seen_before: int, data: bytes) -> bytes | None:
    """The bytes of the connection so far, if they are the start of the client preface.

    ``seen_before`` is how many bytes of this (never completed) request head came
    in earlier reads: they can only have been the preface's first ones.
    """
    stream = PREFACE[:seen_before] + data
    head = stream[: len(PREFACE)]
    if len(head) >= _PREFACE_SEEN and PREFACE.startswith(head):
        return stream
    return None


def h2c_settings(cycle: HTTPCycle) -> bytes | None:
    """The HTTP2-Settings of a request we may upgrade (``Upgrade: h2c``), else None."""
    upgrade = settings = connection = None
    count = 0
    expect = chunked = False
    for name, value in cycle.scope["headers"]:
        if name == b"upgrade":
            upgrade = value
        elif name == b"http2-settings":
            settings = value
            count += 1
        elif name == b"connection":
            connection = value if connection is None else connection + b"," + value
        elif name == b"expect":
            expect = True
        elif name == b"transfer-encoding":
            chunked = True
    if upgrade is None or settings is None or count != 1 or expect or chunked:
        return None
    if b"h2c" not in (token.strip().lower() for token in upgrade.split(b",")):
        return None
    options = {token.strip().lower() for token in (connection or b"").split(b",")}
    if b"upgrade" not in options or b"http2-settings" not in options:
        return None
    return settings.strip()


def switch_h2c(h1: HTTP1Protocol, cycle: HTTPCycle, settings: bytes, rest: bytes) -> None:
    """Answer 101, then serve the request as stream 1 of a new HTTP/2 connection."""
    length = 0
    for name, value in cycle.scope["headers"]:
        if name == b"content-length":
            length = int(value)
    switching = (
        b"HTTP/1.1 101 Switching Protocols\r\n"
        + h1.state.default_headers
        + b"connection: Upgrade\r\nupgrade: h2c\r\n\r\n"
    )
    http2_from(h1).start(rest, (cycle, settings, length), switching)
