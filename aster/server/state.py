"""What every connection of one server process shares, refreshed by a once-a-second tick."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
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
        #: What the connections run: the app, or the server's health check in front of it.
        self.app = config.loaded_app
        self.connections: set[Connection] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        #: Set when the server starts shutting down: a connection made after that (the loop
        #: may accept one just before, and report it just after) starts out stopping.
        self.stopping = False
        self.total_requests = 0
        #: The server's loop, for connections to keep (``get_running_loop`` costs a getpid).
        self.loop = asyncio.get_running_loop()
        #: Returned by every ASGI ``send`` that need not wait (one per loop, never changes).
        self.done_future: asyncio.Future[None] = self.loop.create_future()
        self.done_future.set_result(None)
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


class RequestLimitedState(ServerState):
    """A ServerState that calls ``on_limit`` the moment the ``limit``-th request starts
    (``--limit-max-requests``, plus this process's share of the jitter), so the server
    begins its graceful exit with that request (which completes) and not up to a tick
    later, after serving more than it was allowed to.

    A separate class so that servers without the limit pay nothing for the property.
    """

    def __init__(self, config: Config, limit: int, on_limit: Callable[[], None]) -> None:
        self.request_limit = limit
        self.on_limit = on_limit
        super().__init__(config)

    @property  # type: ignore[override]
    def total_requests(self) -> int:
        return self._total_requests

    @total_requests.setter
    def total_requests(self, value: int) -> None:
        self._total_requests = value
        if value == self.request_limit:
            self.on_limit()
