"""The parent process for ``--workers`` and ``--reload``: it keeps the workers serving.

The supervisor binds the socket once and starts each worker in a fresh (spawned)
child that inherits it, so the workers share one accept queue and a worker that
leaves never takes the socket with it.  Each worker also gets a channel
(:mod:`.worker_link`) on which it reports READY, a heartbeat from inside its event
loop, and STOPPING.  The supervisor is a single-threaded event loop over those
channels, the workers' exit sentinels and a wake-up pipe for signals.

What it does:

* **keeps the count**: a worker that dies is replaced; one that leaves by itself
  (``--limit-max-requests``) is replaced the moment it stops accepting;
* **stalled workers**: a serving worker whose heartbeat stops for
  ``--timeout-worker-healthcheck`` seconds is replaced at once and sent SIGTERM,
  then SIGKILL after ``KILL_GRACE`` if it still does not beat (a blocked loop
  cannot run its signal handler).  Only serving workers are checked: an app may
  take as long as it needs to import and start; and not under ``--reload``, where
  a ``breakpoint()`` stops the loop on purpose;
* **SIGHUP**, a rolling restart: one worker at a time, a new one is started and,
  once it is ready (lifespan startup done, heartbeat seen), an old one is told to
  drain.  If the new one fails to start, the old ones keep serving and the
  restart is abandoned;
* **SIGTTIN / SIGTTOU**: one worker more / one fewer (the oldest leaves);
* **SIGINT / SIGTERM**: the pool stops.  Every worker is told to (a STOP on its
  channel: a worker that got the service's SIGTERM too must not count two) and
  stops accepting; once all have said so, the supervisor accepts what is left in
  the kernel's backlog, shuts the listener down, so a new client is refused at
  once, and hands those connections to the workers to answer.  A second signal
  forces the workers' exit.  (Shutting the listener down while a worker still
  polls it would make that worker spin, hence the order.)  Sockets passed with
  ``--fd`` belong to whoever passed them: they are never shut down;
* **--reload**: on a change, the workers are told to stop and new ones start
  after ``--reload-delay``.

A worker that exits before it was ever ready could not start: during the first
start the supervisor then stops with its exit code (1 or 3 for a bad app or a
failed lifespan startup); later, the serving workers carry on and the start is
retried after ``RETRY_DELAY`` (under ``--reload``: at the next change).

Children ignore SIGINT: Ctrl+C reaches the whole process group, and a child that
saw both the terminal's SIGINT and the parent's SIGTERM would count two signals.
"""

from __future__ import annotations

import logging
import os
import queue
import selectors
import signal
import socket
import threading
import time
from pathlib import Path

from .config import Config
from .worker_link import beat_interval
from .workers import Worker

logger = logging.getLogger("aster.error")

#: Exit codes of a worker that could not start: a ConfigError, or a failed lifespan startup.
START_FAILURES = (1, 3)
#: After SIGTERM to a worker that missed its heartbeat, how long before SIGKILL.
KILL_GRACE = 1.0
#: How long the pool's shutdown waits for every worker to stop accepting.
ACK_TIMEOUT = 1.0
#: A worker that failed to start while others serve is tried again after this long.
RETRY_DELAY = 5.0

_SIGNALS = (
    signal.SIGINT,
    signal.SIGTERM,
    signal.SIGHUP,
    signal.SIGTTIN,
    signal.SIGTTOU,
)


class Supervisor:
    def __init__(self, config: Config, sockets: list[socket.socket]) -> None:
        self.config = config
        self.sockets = sockets
        self.target = config.workers or 1
        self.workers: list[Worker] = []
        self.exit_code = 0
        self.generation = 0
        #: The new worker of a rolling restart, until it is ready.
        self.rolling: Worker | None = None
        self.stopping = False
        self._stop_began = 0.0
        self._backlog_taken = False
        #: Until every worker of the first start has been ready once.
        self._first_start = True
        self._retry_at = 0.0
        self._waiting_for_change = False  # --reload: the new code failed to start
        self._timeout = None if config.reload else config.timeout_worker_healthcheck
        self._interval = beat_interval(self._timeout)
        self._signals: list[int] = []
        self._changes: queue.SimpleQueue[list[Path]] = queue.SimpleQueue()
        self._watch_stop = threading.Event()
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)

    # -- running -------------------------------------------------------------------

    def run(self) -> int:
        for sig in _SIGNALS:
            signal.signal(sig, self._on_signal)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        logger.info("Started supervisor process [%d]", os.getpid())
        watcher = self._start_watching() if self.config.reload else None
        try:
            self._spawn(self.target)
            while self.workers or not self.stopping:
                self._step()
        finally:
            self._watch_stop.set()
            for worker in self.workers:  # only after an error of our own
                worker.kill()
                worker.reap()
            if watcher is not None:
                watcher.join(5)
            for sock in self.sockets:
                sock.close()
            if self.config.uds and os.path.exists(self.config.uds):
                os.unlink(self.config.uds)
            self._selector.close()
            os.close(self._wake_r)
            os.close(self._wake_w)
            logger.info("Stopping supervisor process [%d]", os.getpid())
        return self.exit_code

    def _on_signal(self, signum: int, frame: object) -> None:
        self._signals.append(signum)
        self._wake()

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"!")
        except BlockingIOError:
            pass  # already awake

    def _step(self) -> None:
        for key, _ in self._selector.select(min(0.25, self._interval / 2)):
            worker = key.data
            if worker is not None and worker.exit_code is not None:
                continue  # reaped earlier in this batch: its channel is closed
            if worker is None:
                while True:
                    try:
                        if not os.read(self._wake_r, 512):
                            break
                    except BlockingIOError:
                        break
            elif key.fileobj is worker.channel:
                if not worker.read(time.monotonic()):
                    self._selector.unregister(worker.channel)
            else:
                self._reaped(worker)
        now = time.monotonic()
        while self._signals:
            self._handle_signal(self._signals.pop(0), now)
        while not self._changes.empty():
            self._reload(self._changes.get(), now)
        for worker in self.workers:
            if worker.awaits_handoff and not (self.stopping and not self._backlog_taken):
                worker.handoff_done()
        if self.stopping:
            self._stop_step(now)
        else:
            self._keep_serving(now)
        self._watch_health(now)

    # -- starting and replacing ---------------------------------------------------

    def _spawn(self, count: int) -> list[Worker]:
        # With a health path, a worker may accept while it starts only if no sibling
        # serves: it would hold their share of connections until it is ready.
        early = self.config.health_path is not None and not any(w.serving for w in self.workers)
        started = []
        for _ in range(count):
            worker = Worker(
                self.config, self.sockets, generation=self.generation, accept_early=early
            )
            self._selector.register(worker.channel, selectors.EVENT_READ, worker)
            self._selector.register(worker.process.sentinel, selectors.EVENT_READ, worker)
            self.workers.append(worker)
            started.append(worker)
        return started

    def _keep_serving(self, now: float) -> None:
        if self._first_start and all(w.ready for w in self.workers):
            self._first_start = False
        rolling = self.rolling
        if rolling is not None and rolling.serving:
            self.rolling = None
            active = [w for w in self.workers if not w.leaving]
            stale = [w for w in active if w.generation < self.generation]
            if stale and len(active) > self.target:
                logger.info(
                    "Worker [%d] is ready; stopping worker [%d].", rolling.pid, stale[0].pid
                )
                stale[0].stop(now)
        for worker in self.workers:
            if worker.stopped_accepting and worker.stop_sent_at is None and not worker.noted:
                worker.noted = True  # it leaves by itself (--limit-max-requests)
                logger.info("Worker [%d] is stopping; starting a new one.", worker.pid)
        active = [w for w in self.workers if not w.leaving]
        missing = self.target - len(active)
        if missing > 0 and now >= self._retry_at and not self._waiting_for_change:
            self._spawn(missing)
        elif self.rolling is None and not any(not w.serving for w in active):
            stale = [w for w in active if w.generation < self.generation]
            if stale:
                (self.rolling,) = self._spawn(1)
                logger.info(
                    "Started worker [%d] to replace worker [%d].", self.rolling.pid, stale[0].pid
                )

    def _reaped(self, worker: Worker) -> None:
        self._selector.unregister(worker.process.sentinel)
        try:
            self._selector.unregister(worker.channel)
        except (KeyError, ValueError):
            pass
        code = worker.reap()
        self.workers.remove(worker)
        if self.stopping:
            return
        if worker.leaving:
            logger.info("Worker [%d] stopped (exit code %d).", worker.pid, code)
        elif not worker.ready:
            self._failed_to_start(worker, code)
        else:
            logger.log(
                logging.INFO if code == 0 else logging.WARNING,
                "Worker [%d] %s; starting a new one.",
                worker.pid,
                "exited" if code == 0 else f"died (exit code {code})",
            )

    def _failed_to_start(self, worker: Worker, code: int) -> None:
        if worker is self.rolling:
            self.rolling = None
            for other in self.workers:
                other.generation = self.generation  # nothing left to replace
            logger.error(
                "Worker [%d] failed to start (exit code %d); the old workers keep serving "
                "and the restart is abandoned.",
                worker.pid,
                code,
            )
        elif self.config.reload:
            logger.error(
                "Worker [%d] failed to start (exit code %d); waiting for a change.",
                worker.pid,
                code,
            )
            self._waiting_for_change = True
        elif self._first_start or not any(w.serving for w in self.workers):
            logger.error("Worker [%d] failed to start (exit code %d); stopping.", worker.pid, code)
            self.exit_code = code if code in START_FAILURES else 1
            self._begin_stop(time.monotonic())
        else:
            logger.error(
                "Worker [%d] failed to start (exit code %d); trying again in %g s.",
                worker.pid,
                code,
                RETRY_DELAY,
            )
            self._retry_at = time.monotonic() + RETRY_DELAY

    # -- signals -------------------------------------------------------------------

    def _handle_signal(self, signum: int, now: float) -> None:
        if signum in (signal.SIGINT, signal.SIGTERM):
            if self.stopping:
                logger.warning("Forcing the exit.")
                for worker in self.workers:
                    worker.force()
            else:
                self._begin_stop(now)
        elif self.stopping:
            return
        elif signum == signal.SIGHUP:
            logger.info("Received SIGHUP, restarting the workers one at a time.")
            self.generation += 1
        elif signum == signal.SIGTTIN:
            self.target += 1
            logger.info("Received SIGTTIN, increasing the workers to %d.", self.target)
        elif signum == signal.SIGTTOU:
            if self.target == 1:
                logger.info("Received SIGTTOU, but one worker is the fewest.")
                return
            self.target -= 1
            logger.info("Received SIGTTOU, decreasing the workers to %d.", self.target)
            active = [w for w in self.workers if not w.leaving]
            if len(active) > self.target:
                active[0].stop(now)  # the oldest

    # -- stopping --------------------------------------------------------------------

    def _begin_stop(self, now: float) -> None:
        self.stopping = True
        self._stop_began = now
        self._watch_stop.set()
        for worker in self.workers:
            worker.stop(now)
        # Sockets passed with --fd are someone else's: their backlog waits for the next owner.
        self._backlog_taken = self.config.fd is not None

    def _stop_step(self, now: float) -> None:
        if not self._backlog_taken:
            listening = [w for w in self.workers if w.alive and not w.stopped_accepting]
            if not listening or now - self._stop_began > ACK_TIMEOUT:
                self._backlog_taken = True
                self._hand_over_backlog()

    def _hand_over_backlog(self) -> None:
        """Accept what is still queued, refuse new connections, and hand those over.

        Every worker has stopped polling the listener by now, so shutting it down
        (which resets whatever is still queued) comes right after emptying the queue.
        """
        accepted: list[socket.socket] = []
        for listening in self.sockets:
            with socket.socket(fileno=os.dup(listening.fileno())) as listener:
                listener.setblocking(False)
                while True:
                    try:
                        accepted.append(listener.accept()[0])
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError as exc:  # e.g. EMFILE: what is left will be reset
                        logger.warning("Could not accept a queued connection: %s", exc)
                        break
                try:
                    listener.shutdown(socket.SHUT_RD)
                except OSError:
                    pass
        # Those that said they stopped accepting; else (their loops are busy, for longer
        # than ACK_TIMEOUT) any alive: they read the channel once their loop turns again.
        alive = [w for w in self.workers if w.alive]
        takers = [w for w in alive if w.stopped_accepting] or alive
        lost = 0
        for index, connection in enumerate(accepted):
            for attempt in range(len(takers)):
                if takers[(index + attempt) % len(takers)].hand_over(connection):
                    break
            else:
                lost += 1
            connection.close()
        if lost:
            logger.warning("%d queued connection(s) had no worker left to answer them.", lost)
        for worker in self.workers:
            if worker.awaits_handoff:
                worker.handoff_done()

    # -- health ------------------------------------------------------------------------

    def _watch_health(self, now: float) -> None:
        """Heartbeats: replace a stalled worker; kill one that stalls while stopping."""
        timeout = self._timeout
        grace = self.config.timeout_graceful_shutdown
        for worker in self.workers:
            if worker.killed or not worker.alive:
                continue
            sent = worker.stop_sent_at
            if grace is not None and sent is not None and now - sent > grace + 5:
                logger.error("Worker [%d] did not stop; killing it.", worker.pid)
                worker.kill()
                continue
            if not worker.ready:
                continue  # an app takes as long as it needs to start
            silent = now - worker.last_beat
            if worker.kill_at is not None:
                if worker.last_beat > (worker.stop_sent_at or 0):
                    worker.kill_at = None  # its loop runs again: it drains like any other
                elif now >= worker.kill_at:
                    logger.warning(
                        "Worker [%d] did not stop on SIGTERM; killing it (SIGKILL).", worker.pid
                    )
                    worker.kill()
            elif timeout is not None and silent > timeout:
                if worker.stop_sent_at is None and not worker.stopped_accepting:
                    logger.error(
                        "Worker [%d] missed its heartbeat for %.1f s (its event loop is "
                        "blocked); stopping it and starting a new one.",
                        worker.pid,
                        silent,
                    )
                    worker.terminate(now)
                    worker.kill_at = now + KILL_GRACE
                else:
                    logger.error(
                        "Worker [%d] missed its heartbeat for %.1f s while stopping; killing it.",
                        worker.pid,
                        silent,
                    )
                    worker.kill()

    # -- reload --------------------------------------------------------------------------

    def _start_watching(self) -> threading.Thread:
        from .reload import watch_changes

        config = self.config

        def watch() -> None:
            for changed in watch_changes(
                config.reload_dirs,  # type: ignore[arg-type]
                config.reload_includes,  # type: ignore[arg-type]
                config.reload_excludes,  # type: ignore[arg-type]
                self._watch_stop,
            ):
                self._changes.put(changed)
                self._wake()

        thread = threading.Thread(target=watch, name="aster-reload", daemon=True)
        thread.start()
        return thread

    def _reload(self, changed: list[Path], now: float) -> None:
        if self.stopping:
            return
        shown = ", ".join(str(path) for path in changed[:5])
        logger.warning("Detected changes in %s. Reloading...", shown)
        for worker in self.workers:
            worker.stop(now)
        self.rolling = None
        self._waiting_for_change = False
        self._retry_at = now + self.config.reload_delay
