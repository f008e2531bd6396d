"""The parent process for ``--reload`` and ``--workers``.

The parent binds the socket once and starts each server in a fresh (spawned)
child that inherits it, so a reload never drops the listening socket and
workers share one accept queue.  The parent restarts a child that dies, and on
SIGINT/SIGTERM asks every child to shut down gracefully and waits for it.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import threading
from multiprocessing.context import SpawnProcess

from .config import Config

logger = logging.getLogger("aster.error")
spawn = multiprocessing.get_context("spawn")


def _child_main(config: Config, sockets: list[socket.socket]) -> None:
    from .main import Server

    config.configure_logging()
    try:
        code = Server(config).run(sockets=sockets)
    except KeyboardInterrupt:  # pragma: no cover - interrupted during start-up
        code = 0
    raise SystemExit(code)


class Supervisor:
    def __init__(self, config: Config, sockets: list[socket.socket]) -> None:
        self.config = config
        self.sockets = sockets
        self.stop = threading.Event()
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
            logger.info("Stopping supervisor process [%d]", os.getpid())
        return 0

    def _on_signal(self, signum: int, frame: object) -> None:
        self.stop.set()

    def _on_hangup(self, signum: int, frame: object) -> None:
        logger.info("Received SIGHUP, restarting workers.")
        self._stop_all()

    def _start(self) -> SpawnProcess:
        process = spawn.Process(
            target=_child_main, kwargs={"config": self.config, "sockets": self.sockets}
        )
        process.start()
        return process

    def _stop_all(self) -> None:
        for process in self.processes:
            if process.is_alive():
                process.terminate()
        for process in self.processes:
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
            self.processes = [self._start()]

    def _worker_loop(self) -> None:
        count = self.config.workers or 1
        self.processes = [self._start() for _ in range(count)]
        while not self.stop.wait(0.5):
            for index, process in enumerate(self.processes):
                if not process.is_alive():
                    logger.warning(
                        "Worker [%s] died (exit code %s); starting a new one.",
                        process.pid,
                        process.exitcode,
                    )
                    self.processes[index] = self._start()
            if not self.processes:
                self.processes = [self._start() for _ in range(count)]
