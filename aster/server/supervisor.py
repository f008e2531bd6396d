"""The parent process for ``--reload`` and ``--workers``.

The parent binds the socket once and starts each server in a fresh (spawned)
child that inherits it, so a reload never drops the listening socket and
workers share one accept queue.

Signals: the parent turns SIGINT/SIGTERM into one SIGTERM per child (a graceful
shutdown) and waits for them; a second signal sends another SIGTERM, which the
children take as "force the exit".  Children ignore SIGINT themselves: Ctrl+C
reaches the whole process group, and a child that saw both the terminal's
SIGINT and the parent's SIGTERM would count two signals and skip its graceful
shutdown.  SIGHUP restarts the workers.

A worker that exits with 1 (bad app reference, address, TLS files) or 3 (the
lifespan startup failed) could never start, so the parent stops with that
code instead of restarting it in a loop.  Under ``--reload`` it waits for the
next change instead: the fix is on its way.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
from multiprocessing.context import SpawnProcess

from .config import Config, ConfigError
from .server import Server

logger = logging.getLogger("aster.error")
spawn = multiprocessing.get_context("spawn")

#: Exit codes of a child that could not start: a ConfigError, or a failed lifespan startup.
START_FAILURES = (1, 3)


def _child_main(config: Config, sockets: list[socket.socket]) -> None:
    # SIGINT was blocked while this process was spawned; ignore it for good, then unblock.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    if config.reload:
        # A .pyc records its source's mtime in whole seconds and its size: a same-size edit
        # within the second of the previous reload's import would load the stale .pyc.
        sys.dont_write_bytecode = True
    try:
        config.configure_logging()
        code = Server(config, signals=(signal.SIGTERM,)).run(sockets=sockets)
    except ConfigError as exc:
        logger.error("%s", exc)
        code = 1
    raise SystemExit(code)


class Supervisor:
    def __init__(self, config: Config, sockets: list[socket.socket]) -> None:
        self.config = config
        self.sockets = sockets
        self.stop = threading.Event()
        self.restart = False
        self.exit_code = 0
        self.processes: list[SpawnProcess] = []

    def run(self) -> int:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)
        signal.signal(signal.SIGHUP, self._on_hangup)
        logger.info("Started supervisor process [%d]", os.getpid())
        try:
            if self.config.reload:
                self._reload_loop()
            else:
                self._worker_loop()
        finally:
            self._stop_all()
            for sock in self.sockets:
                sock.close()
            if self.config.uds and os.path.exists(self.config.uds):
                os.unlink(self.config.uds)
            logger.info("Stopping supervisor process [%d]", os.getpid())
        return self.exit_code

    def _on_signal(self, signum: int, frame: object) -> None:
        if self.stop.is_set():
            logger.warning("Forcing the exit.")
            for process in self.processes:
                if process.pid is not None and process.is_alive():
                    os.kill(process.pid, signal.SIGTERM)
        self.stop.set()

    def _on_hangup(self, signum: int, frame: object) -> None:
        self.restart = True

    def _start(self) -> SpawnProcess:
        process = spawn.Process(
            target=_child_main, kwargs={"config": self.config, "sockets": self.sockets}
        )
        # The child inherits the blocked mask, so a Ctrl+C during its start-up
        # can't raise KeyboardInterrupt in it; ours is delivered on unblocking.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        return process

    def _stop_all(self) -> None:
        """SIGTERM every child and wait for it, up to the graceful timeout (then SIGKILL)."""
        for process in self.processes:
            if process.is_alive():
                process.terminate()
        grace = self.config.timeout_graceful_shutdown
        for process in self.processes:
            process.join(None if grace is None else grace + 5)
            if process.is_alive():
                logger.error("Worker [%s] did not stop; killing it.", process.pid)
                process.kill()
                process.join()
        self.processes = []

    def _reload_loop(self) -> None:
        from .reload import watch_changes

        self.processes = [self._start()]
        for changed in watch_changes(
            self.config.reload_dirs,
            self.config.reload_includes,
            self.config.reload_excludes,
            self.stop,
        ):
            shown = ", ".join(str(path) for path in changed[:5])
            logger.warning("Detected changes in %s. Reloading...", shown)
            self._stop_all()
            if self.stop.is_set():
                break
            if self.config.reload_delay:
                self.stop.wait(self.config.reload_delay)
            if self.stop.is_set():
                break
            self.processes = [self._start()]

    def _worker_loop(self) -> None:
        count = self.config.workers or 1
        self.processes = [self._start() for _ in range(count)]
        while not self.stop.wait(0.5):
            if self.restart:
                self.restart = False
                logger.info("Received SIGHUP, restarting workers.")
                self._stop_all()
                self.processes = [self._start() for _ in range(count)]
                continue
            for index, process in enumerate(self.processes):
                if process.is_alive():
                    continue
                if process.exitcode in START_FAILURES:
                    logger.error(
                        "Worker [%s] failed to start (exit code %s); stopping.",
                        process.pid,
                        process.exitcode,
                    )
                    self.exit_code = process.exitcode
                    return
                logger.log(
                    logging.INFO if process.exitcode == 0 else logging.WARNING,
                    "Worker [%s] %s; starting a new one.",
                    process.pid,
                    "exited" if process.exitcode == 0 else f"died (exit code {process.exitcode})",
                )
                self.processes[index] = self._start()
