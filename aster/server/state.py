"""What every connection of one server process shares, refreshed by a once-a-second tick."""

from __future__ import annotations

import asyncio
import logging
import time
from email.utils import formatdate
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .config import Config


class Connection(Protocol):
    def check_deadline(self, now: float) -> None: ...
    def shutdown(self) -> None: ...


class ServerState:
    """Connections, app tasks and the pre-rendered ``date``/``server`` header block.

    The header block is rebuilt at most once a second, so responses pay for a
    bytes concatenation instead of a date formatting.
    """

    def __init__(self, config: Config) -> None:
        self.connections: set[Connection] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.total_requests = 0
        self.access_log = config.access_log and logging.getLogger("aster.access").isEnabledFor(
            logging.INFO
        )
        extra = [(b"server", b"aster")] if config.server_header else []
        extra += config.default_headers
        self._static_headers = b"".join(name + b": " + value + b"\r\n" for name, value in extra)
        self._date_header = config.date_header
        self._second = -1
        self.default_headers = b""
        self.refresh()

    def refresh(self) -> None:
        """Re-render the date header if the second changed."""
        now = int(time.time())
        if now == self._second:
            return
        self._second = now
        if self._date_header:
            date = formatdate(now, usegmt=True).encode("ascii")
            self.default_headers = b"date: " + date + b"\r\n" + self._static_headers
        else:
            self.default_headers = self._static_headers

    def check_deadlines(self, now: float) -> None:
        for connection in list(self.connections):
            connection.check_deadline(now)
