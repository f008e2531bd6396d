"""The server process: start-up, the serving loop and graceful shutdown.

Shutdown order on SIGINT/SIGTERM:

1. stop accepting new connections: a process alone on its socket first accepts what the
   kernel has queued (closing the listener would reset those clients), then shuts the
   listener down, so a client connecting from then on is refused at once;
2. tell every connection to finish what it has received and close (idle ones after a short
   grace, in which a request already on its way is still answered; open WebSockets get a
   1012 close frame and a ``websocket.disconnect``);
3. wait for in-flight requests and app tasks, up to ``timeout_graceful_shutdown``,
   then cancel what is left;
4. run the lifespan shutdown.

A second signal skips the waiting and the lifespan shutdown.  A signal while
the app's lifespan startup is still running cancels the startup and exits.

A worker of a supervisor (``link``, see :mod:`.worker_link`) shares its socket with
its siblings, so it never empties the backlog or shuts the listener down itself:
it stops accepting, says so, and answers the connections the supervisor takes
from the backlog and hands over when the whole pool stops.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import random
import signal
import socket
import threading
from collections.abc import Callable, Coroutine
from typing import Any

from .config import Config, ConfigError
from .health import HealthCheck
from .lifespan import Lifespan
from .protocols.http1 import HTTP1Protocol
from .state import RequestLimitedState, ServerState
from .worker_link import SupervisorLink

logger = logging.getLogger("aster.error")

STARTUP_FAILURE = 3
HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def new_event_loop(kind: str) -> asyncio.AbstractEventLoop:
    if kind in ("auto", "uvloop"):
        try:
            import uvloop
        except ImportError:
            if kind == "uvloop":
                raise ConfigError(
                    "--loop uvloop was asked for, but uvloop is not installed"
                ) from None
        else:
            return uvloop.new_event_loop()
    return asyncio.new_event_loop()


class Server:
    """One serving process.  ``Server(config).run()`` blocks until shutdown.

    ``link`` connects a worker to its supervisor; ``accept_early`` (with a health
    path) lets it accept while the app starts, which a worker joining siblings that
    already serve must not: it would hold their share of connections until it is ready.
    """

    def __init__(
        self,
        config: Config,
        *,
        signals: tuple[signal.Signals, ...] = HANDLED_SIGNALS,
        link: SupervisorLink | None = None,
        accept_early: bool = True,
    ) -> None:
        self.config = config
        self.signals = signals
        self.link = link
        self.accept_early = accept_early
        self._should_exit = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self.force_exit = False
        #: Serving: the lifespan startup is complete and the listeners are open.
        self.started = False
        self._app_started = False  # the lifespan startup completed (its shutdown is due)
        self.exit_code = 0
        self.servers: list[asyncio.base_events.Server] = []
        self.state: ServerState | None = None
        self.lifespan: Lifespan | None = None
        self.health: HealthCheck | None = None
        self._exit_event: asyncio.Event | None = None
        self._force_event: asyncio.Event | None = None
        self._tick_handle: asyncio.TimerHandle | None = None
        self._owns_uds = False
        self._owns_sockets = False
        self._protocol_factory: Callable[[], asyncio.Protocol] | None = None
        self.bound_addresses: list[tuple[str, int]] = []

    @property
    def should_exit(self) -> bool:
        return self._should_exit

    @should_exit.setter
    def should_exit(self, value: bool) -> None:
        """Setting it from any thread starts a graceful shutdown, as in uvicorn."""
        self._should_exit = value
        loop, event = self._loop, self._exit_event
        if value and loop is not None and event is not None and not loop.is_closed():
            loop.call_soon_threadsafe(event.set)

    def run(self, sockets: list[socket.socket] | None = None) -> int:
        loop = new_event_loop(self.config.loop)
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self.serve(sockets))
        finally:
            _cancel_leftovers(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
            asyncio.set_event_loop(None)
            loop.close()
        return self.exit_code

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        config = self.config
        if config.loaded_app is None:
            config.load()
        self._exit_event = asyncio.Event()
        self._force_event = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        if self.should_exit:  # asked to stop before the loop existed
            self._exit_event.set()
        if config.limit_max_requests is not None:
            # Each process draws its own share of the jitter, so workers leave one by one.
            limit = config.limit_max_requests + random.randint(0, config.limit_max_requests_jitter)
            self.state = RequestLimitedState(config, limit, self._request_limit_reached)
        else:
            self.state = ServerState(config)
        self.lifespan = Lifespan(config)
        if config.health_path is not None:
            assert config.loaded_app is not None
            self.health = HealthCheck(
                config.loaded_app, config.health_path, self.state, self.lifespan.state
            )
            self.state.app = self.health
        self._install_signal_handlers()
        if self.link is not None:
            self.link.start(self._serve_handed_over, self._asked_to_stop, self._supervisor_gone)
        logger.info("Started server process [%d]", os.getpid())
        try:
            await self.startup(sockets)
            if not self.should_exit:
                await self._exit_event.wait()
            if self._app_started or self.servers:
                await self.shutdown()
        finally:
            if self.link is not None:
                self.link.close()
        logger.info("Finished server process [%d]", os.getpid())

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Claim the address, run the lifespan startup, then start accepting.

        The address is bound before the app's startup runs, so a port in use
        fails fast and without the app's start-up side effects; connections
        made meanwhile wait in the backlog (or, with a health path, are accepted
        and wait in the health check: probes get their 503 at once).
        """
        assert self.lifespan is not None and self.state is not None
        config = self.config
        if sockets is None:
            try:
                sockets = [config.bind_socket()]
            except ConfigError as exc:
                logger.error("%s", exc)
                self.exit_code = 1
                self.should_exit = True
                return
            # A supervisor's children share its socket; only the binder removes the file.
            self._owns_uds = bool(config.uds)
            # ...and only a process alone on its socket may empty the backlog at shutdown.
            self._owns_sockets = config.fd is None
        # With a health path, probes are answered (503) while the app starts.
        early = self.health is not None and self.accept_early
        if early and not await self._listen(sockets):
            return
        if not await self._until_signal(self.lifespan.startup(), forced_only=False):
            logger.warning("Application startup interrupted by a signal.")
            await self.lifespan.cancel()
            self._startup_failed(sockets)
            return
        if self.lifespan.should_exit:
            self._startup_failed(sockets)
            self.exit_code = STARTUP_FAILURE
            return
        self._app_started = True
        if not early and not await self._listen(sockets):
            return
        self.started = True
        if self.health is not None:
            self.health.startup_complete()
        # Everything loaded so far (the app, its framework, pydantic's schemas) lives
        # as long as the process.  Freezing it keeps the cyclic GC's full collections
        # from walking all of it again and again under load (pauses of 10 ms+).
        gc.collect()
        gc.freeze()
        self._log_started()
        if self.link is not None:
            self.link.ready()

    def _startup_failed(self, sockets: list[socket.socket]) -> None:
        """No serving: the startup failed or a signal came first."""
        if self.health is not None:
            self.health.startup_failed()  # what waited for it is answered 503
        if not self.servers:
            self._release(sockets)
        self.should_exit = True

    async def _listen(self, sockets: list[socket.socket]) -> bool:
        """Start accepting on ``sockets``; False (and the exit under way) if that failed."""
        assert self.state is not None and self.lifespan is not None
        config = self.config
        loop = asyncio.get_running_loop()
        app_state = self.lifespan.state

        if config.http == "h2":
            from .protocols.h2_only import HTTP2OnlyProtocol

            def protocol_factory() -> asyncio.Protocol:
                return HTTP2OnlyProtocol(config, self.state, app_state)  # type: ignore[arg-type]

        else:

            def protocol_factory() -> asyncio.Protocol:
                return HTTP1Protocol(config, self.state, app_state)  # type: ignore[arg-type]

        self._protocol_factory = protocol_factory

        try:
            for sock in sockets:
                if sock.family == socket.AF_UNIX:
                    server = await loop.create_unix_server(
                        protocol_factory, sock=sock, ssl=config.ssl_context, backlog=config.backlog
                    )
                else:
                    server = await loop.create_server(
                        protocol_factory, sock=sock, ssl=config.ssl_context, backlog=config.backlog
                    )
                self.servers.append(server)
        except OSError as exc:
            logger.error("could not serve on %s: %s", sock.getsockname(), exc)
            self.exit_code = 1
            if self.health is not None:
                self.health.startup_failed()
            self.should_exit = True  # shutdown() closes what did start, and the lifespan
            return False
        self._schedule_tick()
        return True

    async def _until_signal(self, step: Coroutine[Any, Any, None], *, forced_only: bool) -> bool:
        """Run a lifespan step unless a signal (or, with ``forced_only``, a second one) comes first.

        The app's startup or shutdown may hang; the user's signal must still end
        the process.  Returns False if the step was abandoned.
        """
        event = self._force_event if forced_only else self._exit_event
        assert event is not None
        task = asyncio.ensure_future(step)
        waiter = asyncio.ensure_future(event.wait())
        await asyncio.wait((task, waiter), return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if task.done():
            task.result()
            return True
        task.cancel()
        await asyncio.wait([task])
        return False

    def _log_started(self) -> None:
        scheme = "https" if self.config.is_ssl else "http"
        for server in self.servers:
            for sock in server.sockets:
                address = sock.getsockname()
                if sock.family == socket.AF_UNIX:
                    logger.info("aster running on unix socket %s (Press CTRL+C to quit)", address)
                    continue
                host, port = address[0], address[1]
                self.bound_addresses.append((host, port))
                shown = f"[{host}]" if ":" in host else host
                logger.info(
                    "aster running on %s://%s:%d (Press CTRL+C to quit)", scheme, shown, port
                )

    # -- the once-a-second tick -------------------------------------------------

    def _schedule_tick(self) -> None:
        timeouts = (
            self.config.timeout_keep_alive,
            self.config.timeout_request_head,
            self.config.timeout_request_body,
            # WebSocket pings and dead-peer checks run on this tick too.
            *(t for t in (self.config.ws_ping_interval, self.config.ws_ping_timeout) if t),
        )
        interval = min(1.0, min(timeouts) / 2)
        loop = asyncio.get_running_loop()

        def tick() -> None:
            assert self.state is not None
            self.state.refresh()
            self.state.check_deadlines(loop.time())
            self._tick_handle = loop.call_later(interval, tick)

        self._tick_handle = loop.call_later(interval, tick)

    # -- stopping ----------------------------------------------------------------

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # signals can only be handled in the main thread; the caller stops us
        loop = asyncio.get_running_loop()
        for sig in self.signals:
            try:
                loop.add_signal_handler(sig, self.request_exit)
            except (NotImplementedError, RuntimeError):  # pragma: no cover - non-Unix
                signal.signal(sig, lambda *_: loop.call_soon_threadsafe(self.request_exit))

    def _request_limit_reached(self) -> None:
        assert isinstance(self.state, RequestLimitedState)
        logger.warning(
            "Maximum request limit of %d reached. Terminating process.",
            self.state.request_limit,
        )
        if not self.should_exit:
            self.request_exit()

    def request_exit(self) -> None:
        """First call: graceful shutdown.  Second call: force it."""
        if self.should_exit:
            if not self.force_exit:
                logger.warning("Forcing the exit.")
            self.force_exit = True
            if self._force_event is not None:
                self._force_event.set()
        self.should_exit = True
        if self._exit_event is not None:
            self._exit_event.set()

    async def shutdown(self) -> None:
        assert self.state is not None and self.lifespan is not None
        logger.info("Shutting down")
        self.state.stopping = True
        backlog = self._take_backlog() if self._owns_sockets else []
        for server in self.servers:
            server.close()
        handoff = None
        if self.link is not None:
            self.link.stopping()  # the supervisor may hand over connections from the backlog
            handoff = asyncio.ensure_future(self.link.handoff())
        for connection in list(self.state.connections):
            connection.shutdown()
        for sock in backlog:
            self._serve_handed_over(sock)
        await asyncio.sleep(0)  # let the idle connections just closed be dropped from the count
        timeout = self.config.timeout_graceful_shutdown
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        if self.state.connections or self.state.tasks:
            logger.info(
                "Waiting for %d connection(s) and %d task(s) to finish.",
                len(self.state.connections),
                len(self.state.tasks),
            )
        while (
            self.state.connections or self.state.tasks or (handoff and not handoff.done())
        ) and not self.force_exit:
            if deadline is not None and loop.time() >= deadline:
                logger.error(
                    "Cancelling %d task(s): the graceful shutdown timeout was exceeded.",
                    len(self.state.tasks),
                )
                break
            await asyncio.sleep(0.05)
        if handoff is not None:
            handoff.cancel()
        for connection in list(self.state.connections):
            terminate = getattr(connection, "terminate", None)
            if terminate is not None:
                terminate()  # HTTP/2: reset the streams still open, so the peer knows
        for task in list(self.state.tasks):
            task.cancel()
        for connection in list(self.state.connections):
            transport = getattr(connection, "transport", None)
            if transport is not None:
                transport.abort()
        if self.state.tasks:
            await asyncio.wait(list(self.state.tasks), timeout=1.0)
        if self._tick_handle is not None:
            self._tick_handle.cancel()
        # (After a failed or interrupted startup, no lifespan shutdown is due.)
        if self._app_started and (
            self.force_exit
            or not await self._until_signal(self.lifespan.shutdown(), forced_only=True)
        ):
            await self.lifespan.cancel()
        self._release([])

    def _take_backlog(self) -> list[socket.socket]:
        """Accept what the kernel has queued, then make it refuse new connections.

        Closing a listening socket resets the connections still in its accept queue:
        clients that connected before the signal, and may have sent their request
        already, would be lost. So the queue is emptied and the listener shut down in
        one step without awaiting: from then on a client is refused at once (a load
        balancer moves on) and every connection that got in is answered.
        """
        accepted: list[socket.socket] = []
        for server in self.servers:
            for listening in server.sockets:
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
        return accepted

    def _serve_handed_over(self, sock: socket.socket) -> None:
        """Answer a connection accepted at shutdown (by us, or by the supervisor)."""
        if self._protocol_factory is None:  # never listened: nothing to answer it with
            sock.close()
            return
        assert self.state is not None
        task = asyncio.ensure_future(self._serve_accepted(sock))
        self.state.tasks.add(task)
        task.add_done_callback(self.state.tasks.discard)

    def _asked_to_stop(self) -> None:
        """The supervisor's STOP: a graceful shutdown, never the forcing second signal."""
        if not self.should_exit:
            self.request_exit()

    def _supervisor_gone(self) -> None:
        if not self.should_exit:
            logger.warning("The supervisor process is gone; shutting down.")
            self.request_exit()

    async def _serve_accepted(self, sock: socket.socket) -> None:
        """Serve a connection taken from the backlog at shutdown: its request, then close."""
        factory = self._protocol_factory
        assert factory is not None
        loop = asyncio.get_running_loop()
        ssl_context = self.config.ssl_context
        made: list[Any] = []  # with TLS, the loop returns its own wrapping protocol

        def protocol_factory() -> asyncio.Protocol:
            made.append(factory())
            return made[-1]

        try:
            await loop.connect_accepted_socket(
                protocol_factory,
                sock,
                ssl=ssl_context,
                ssl_handshake_timeout=10.0 if ssl_context else None,
            )
        except (OSError, asyncio.TimeoutError) as exc:
            logger.debug("A queued connection failed at shutdown: %s", exc)
            sock.close()
            return
        made[0].shutdown()

    def _release(self, sockets: list[socket.socket]) -> None:
        """Close listening sockets that never started serving; remove our unix socket file."""
        for sock in sockets:
            sock.close()
        if self._owns_uds and self.config.uds and os.path.exists(self.config.uds):
            os.unlink(self.config.uds)


def _cancel_leftovers(loop: asyncio.AbstractEventLoop) -> None:
    tasks = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        # Bounded: a task that swallows its cancellation must not keep the process alive.
        loop.run_until_complete(asyncio.wait(tasks, timeout=2.0))
