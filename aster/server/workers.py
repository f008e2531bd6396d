"""One worker process as its supervisor sees it, and the worker's entry point.

A worker is a spawned child that inherits the supervisor's listening sockets and
one end of a channel (:mod:`.worker_link`).  The supervisor reads what the worker
says on it (ready, heartbeats, stopping) and keeps, per worker, what its policy
needs: when the last heartbeat came, whether the worker was told to stop, and
when it is due to be killed.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import sys
import time
from multiprocessing.context import SpawnProcess

from .config import Config, ConfigError
from .server import Server
from .worker_link import (
    BEAT,
    HANDOFF_DONE,
    READY,
    STOP,
    STOPPING,
    SupervisorLink,
    beat_interval,
    channel_pair,
)

logger = logging.getLogger("aster.error")
spawn = multiprocessing.get_context("spawn")


def _child_main(
    config: Config, sockets: list[socket.socket], channel: socket.socket, accept_early: bool
) -> None:
    # SIGINT was blocked while this process was spawned; ignore it for good, then unblock.
    # (Ctrl+C reaches the whole process group: the supervisor relays it as one SIGTERM, and
    # a worker that saw both would take the second for "force the exit".)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    if config.reload:
        # A .pyc records its source's mtime in whole seconds and its size: a same-size edit
        # within the second of the previous reload's import would load the stale .pyc.
        sys.dont_write_bytecode = True
    link = SupervisorLink(channel, beat_interval(config.timeout_worker_healthcheck))
    try:
        config.configure_logging()
        server = Server(config, signals=(signal.SIGTERM,), link=link, accept_early=accept_early)
        code = server.run(sockets=sockets)
    except ConfigError as exc:
        logger.error("%s", exc)
        code = 1
    raise SystemExit(code)


class Worker:
    """A worker process and what its supervisor knows of it."""

    def __init__(
        self,
        config: Config,
        sockets: list[socket.socket],
        *,
        generation: int,
        accept_early: bool,
    ) -> None:
        self.generation = generation
        self.channel, theirs = channel_pair()
        self.process: SpawnProcess = spawn.Process(
            target=_child_main,
            kwargs={
                "config": config,
                "sockets": sockets,
                "channel": theirs,
                "accept_early": accept_early,
            },
        )
        # The child inherits the blocked mask, so a Ctrl+C during its start-up
        # can't raise KeyboardInterrupt in it; ours is delivered on unblocking.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            self.process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
            theirs.close()
        self.started_at = time.monotonic()
        #: The worker said READY and beat at least once since: it serves.
        self.ready = False
        self.beating = False
        self.last_beat = self.started_at
        #: The worker said STOPPING: it no longer accepts connections.
        self.stopped_accepting = False
        #: It said so, and still waits for HANDOFF_DONE.
        self.awaits_handoff = False
        #: When we sent SIGTERM (None: not told to stop).
        self.stop_sent_at: float | None = None
        #: When it gets SIGKILL unless it beats again (after a missed heartbeat).
        self.kill_at: float | None = None
        self.killed = False
        self.exit_code: int | None = None
        #: The supervisor logged that it leaves by itself.
        self.noted = False

    @property
    def pid(self) -> int:
        pid = self.process.pid
        assert pid is not None
        return pid

    @property
    def serving(self) -> bool:
        """Ready, and neither leaving nor told to."""
        return self.ready and self.beating and not self.leaving

    @property
    def leaving(self) -> bool:
        """Stopping, or told to: it will not take new connections for long."""
        return self.stop_sent_at is not None or self.stopped_accepting or self.killed

    def read(self, now: float) -> bool:
        """Take what the worker sent; False once its end is closed."""
        while True:
            try:
                message = self.channel.recv(16)
            except (BlockingIOError, InterruptedError):
                return True
            except OSError:
                return False
            if not message:
                return False
            if message == BEAT:
                self.last_beat = now
                if self.ready:
                    self.beating = True
            elif message == READY:
                self.ready = True
                self.last_beat = now
            elif message == STOPPING:
                self.stopped_accepting = self.awaits_handoff = True

    def hand_over(self, connection: socket.socket) -> bool:
        """Send a connection taken from the backlog for this worker to answer."""
        try:
            socket.send_fds(self.channel, [b"F"], [connection.fileno()])
        except OSError:
            return False
        return True

    def handoff_done(self) -> None:
        self.awaits_handoff = False
        try:
            self.channel.send(HANDOFF_DONE)
        except OSError:
            pass  # it is gone, or stopped listening: it waits no longer either way

    def stop(self, now: float) -> None:
        """Ask for a graceful shutdown (see ``STOP``); once."""
        if self.stop_sent_at is None and self.alive:
            self.stop_sent_at = now
            try:
                self.channel.send(STOP)
            except OSError:
                self._signal(signal.SIGTERM)

    def terminate(self, now: float) -> None:
        """SIGTERM, for a worker whose loop cannot read the channel: if the loop runs
        again, a graceful shutdown (its first signal)."""
        if self.stop_sent_at is None and self.alive:
            self.stop_sent_at = now
            self._signal(signal.SIGTERM)

    def force(self) -> None:
        """Another SIGTERM: the worker skips the rest of its graceful shutdown."""
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        self.killed = True
        self._signal(signal.SIGKILL)

    @property
    def alive(self) -> bool:
        return self.exit_code is None and self.process.exitcode is None

    def reap(self) -> int:
        """The process ended (its sentinel is ready): its exit code."""
        self.process.join(5)
        code = self.process.exitcode
        self.exit_code = -1 if code is None else code
        self.channel.close()
        return self.exit_code

    def _signal(self, sig: int) -> None:
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            pass
