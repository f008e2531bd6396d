"""What a worker and its supervisor tell each other, over one socket pair per worker.

The channel is an ``AF_UNIX`` ``SOCK_SEQPACKET`` pair: every message is one
byte, and a connection handed over travels as its file descriptor with the
message (``SCM_RIGHTS``).

Worker to supervisor:

* ``READY``: the lifespan startup is complete and the worker accepts connections;
* ``BEAT``: sent from a timer of the worker's event loop every ``beat_interval``
  seconds, so a loop that stops turning (a ``time.sleep`` in an ``async def``, a
  C call that holds the GIL, a busy loop) stops beating, whatever other threads
  do;
* ``STOPPING``: the worker stopped accepting (its shutdown began).

Supervisor to worker:

* ``STOP``: shut down gracefully.  A message rather than SIGTERM, so that a worker
  that also got the SIGTERM meant for the whole service (systemd signals every
  process of the unit; ``kill`` on the process group) does not take the
  supervisor's as a second, forcing signal.  Forcing is a SIGTERM, and so is the
  stop of a worker whose loop is blocked;
* ``CONNECTION`` with a descriptor: a connection the supervisor took from the
  shared socket's backlog while shutting the pool down, to answer and close;
* ``HANDOFF_DONE``: no more connections will come (the answer to ``STOPPING``).

When the supervisor goes away (its end closes), the worker shuts down: nobody
would replace or stop it otherwise.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable

logger = logging.getLogger("aster.error")

READY, BEAT, STOPPING = b"R", b".", b"S"
STOP, CONNECTION, HANDOFF_DONE = b"T", b"F", b"D"

#: How long a stopping worker waits for the supervisor's HANDOFF_DONE, at most.
HANDOFF_TIMEOUT = 3.0


def channel_pair() -> tuple[socket.socket, socket.socket]:
    """(the supervisor's end, the worker's end)."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    ours.setblocking(False)
    return ours, theirs


def beat_interval(timeout: float | None) -> float:
    """A heartbeat a few times per health-check timeout, and at least once a second."""
    return 1.0 if not timeout else min(1.0, timeout / 4)


class SupervisorLink:
    """The worker's end of its channel, driven by the worker's ``Server``."""

    def __init__(self, channel: socket.socket, interval: float) -> None:
        self.channel = channel
        self.interval = interval
        self.handoff_done = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._beat: asyncio.Handle | None = None
        self._on_connection: Callable[[socket.socket], None] | None = None
        self._on_stop: Callable[[], None] | None = None
        self._on_lost: Callable[[], None] | None = None
        self._lost = False

    def start(
        self,
        on_connection: Callable[[socket.socket], None],
        on_stop: Callable[[], None],
        on_lost: Callable[[], None],
    ) -> None:
        """Listen to the supervisor (from the running loop)."""
        self._loop = loop = asyncio.get_running_loop()
        self._on_connection = on_connection
        self._on_stop = on_stop
        self._on_lost = on_lost
        self.channel.setblocking(False)
        loop.add_reader(self.channel.fileno(), self._read)

    def ready(self) -> None:
        self._send(READY)
        # The first beat on the loop's next turn: the supervisor sees the loop run after
        # the startup, and a rolling restart need not wait a whole interval for it.
        assert self._loop is not None
        self._beat = self._loop.call_soon(self._send_beat)

    def stopping(self) -> None:
        """We stopped accepting; the supervisor answers with HANDOFF_DONE (see handoff)."""
        self._send(STOPPING)

    async def handoff(self) -> None:
        """Wait until the supervisor has handed over every connection it will."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + HANDOFF_TIMEOUT
        while not self.handoff_done and not self._lost and loop.time() < deadline:
            await asyncio.sleep(0.01)

    def close(self) -> None:
        if self._beat is not None:
            self._beat.cancel()
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(self.channel.fileno())
        self.channel.close()

    def _schedule_beat(self) -> None:
        assert self._loop is not None
        self._beat = self._loop.call_later(self.interval, self._send_beat)

    def _send_beat(self) -> None:
        self._send(BEAT)
        if not self._lost:
            self._schedule_beat()

    def _send(self, message: bytes) -> None:
        if self._lost:
            return
        try:
            self.channel.send(message)
        except BlockingIOError:
            pass  # the supervisor is behind on reading: a later beat will do
        except OSError:
            self._gone()

    def _read(self) -> None:
        while True:
            try:
                message, fds, _, _ = socket.recv_fds(self.channel, 16, 4)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                message, fds = b"", []
            if not message:
                self._gone()
                return
            for fd in fds:
                connection = socket.socket(fileno=fd)
                if message == CONNECTION and self._on_connection is not None:
                    self._on_connection(connection)
                else:  # pragma: no cover - nothing else carries descriptors
                    connection.close()
            if message == HANDOFF_DONE:
                self.handoff_done = True
            elif message == STOP and self._on_stop is not None:
                self._on_stop()

    def _gone(self) -> None:
        if self._lost:
            return
        self._lost = True
        if self._loop is not None:
            self._loop.remove_reader(self.channel.fileno())
        if self._on_lost is not None:
            self._on_lost()
