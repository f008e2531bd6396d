"""``--http h2``: a connection that must speak HTTP/2 (prior knowledge or TLS ALPN ``h2``).

Anything else gets a 505 that says the server speaks HTTP/2 only, and is closed.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from .h1_framing import error_response
from .h2_negotiation import PREFACE, alpn_chose_h2, http2_from
from .http1 import HTTP1Protocol

if TYPE_CHECKING:
    from ..config import Config
    from ..state import ServerState


class HTTP2OnlyProtocol(asyncio.Protocol):
    """``--http h2``: HTTP/2 or nothing.  An HTTP/1.1 request gets a 505 that says so."""

    def __init__(self, config: Config, state: ServerState, app_state: dict[str, Any]) -> None:
        # Built only for what HTTP/2 needs of it: the peer's address, the scheme, proxies.
        self.h1 = HTTP1Protocol(config, state, app_state)
        self.buffer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        h1 = self.h1
        h1.connection_made(transport)
        h1.state.connections.discard(h1)
        if alpn_chose_h2(transport):
            http2_from(h1).start(b"")

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        head = self.buffer[: len(PREFACE)]
        if head == PREFACE and self.h1.config.h2c:
            http2_from(self.h1).start(self.buffer)
        elif not PREFACE.startswith(head) or not self.h1.config.h2c:
            transport = self.h1.transport
            transport.write(
                error_response(
                    505,
                    "HTTP Version Not Supported: this server speaks HTTP/2 only.\n",
                    self.h1.state.default_headers,
                )
            )
            transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        pass

    def shutdown(self) -> None:
        """The server is stopping before this connection said what it speaks: close it."""
        transport = self.h1.transport
        if transport is not None and transport.get_protocol() is self:
            transport.close()
