"""The ASGI lifespan protocol (spec 2.0): startup and shutdown events, and shared state."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from .config import Config

logger = logging.getLogger("aster.error")


class Lifespan:
    """Runs the app's lifespan scope in a task of its own.

    In ``auto`` mode an app that raises before reading the startup event is
    taken to not support lifespan, and the server starts without it.
    """

    def __init__(self, config: Config) -> None:
        self.config = config
        self.state: dict[str, Any] = {}
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.startup_done = asyncio.Event()
        self.shutdown_done = asyncio.Event()
        self.startup_failed = False
        self.shutdown_failed = False
        self.should_exit = False
        self.unsupported = config.lifespan == "off"
        self.error_message: str | None = None
        self.cancelled = False
        self._received_startup = False
        self._task: asyncio.Task[None] | None = None

    async def startup(self) -> None:
        if self.unsupported:
            return
        logger.info("Waiting for application startup.")
        self._task = asyncio.get_running_loop().create_task(self._main())
        await self.queue.put({"type": "lifespan.startup"})
        await self.startup_done.wait()
        if self.startup_failed or (self.error_message and self.config.lifespan == "on"):
            logger.error("Application startup failed. Exiting.")
            self.should_exit = True
        elif not self.unsupported:
            logger.info("Application startup complete.")

    async def shutdown(self) -> None:
        if self.unsupported or self.error_message or self.cancelled:
            return
        logger.info("Waiting for application shutdown.")
        await self.queue.put({"type": "lifespan.shutdown"})
        await self.shutdown_done.wait()
        if self.shutdown_failed or (self.error_message and self.config.lifespan == "on"):
            logger.error("Application shutdown failed. Exiting.")
            self.should_exit = True
        else:
            logger.info("Application shutdown complete.")

    async def cancel(self) -> None:
        """Stop the app's lifespan task where it is (a startup interrupted, or a forced exit)."""
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait([task])
        self.cancelled = True
        self.startup_done.set()
        self.shutdown_done.set()

    async def _main(self) -> None:
        scope = {
            "type": "lifespan",
            "asgi": {"version": "3.0", "spec_version": "2.0"},
            "state": self.state,
        }
        try:
            await self.config.loaded_app(scope, self.receive, self.send)  # type: ignore[misc]
        except asyncio.CancelledError:
            # Cancelled by the server (a signal during startup, or a forced exit):
            # that is not the app's failure, so there is nothing to report.
            self.cancelled = True
        except BaseException as exc:
            self.error_message = str(exc) or type(exc).__name__
            if self.startup_failed or self.shutdown_failed:
                pass
            elif self.config.lifespan == "auto" and not self._received_startup:
                logger.info("ASGI 'lifespan' protocol appears unsupported.")
                self.unsupported = True
                self.error_message = None
            else:
                logger.error("Exception in 'lifespan' protocol", exc_info=exc)
                if not self.startup_done.is_set():
                    self.startup_failed = True
                else:
                    self.shutdown_failed = True
        finally:
            self.startup_done.set()
            self.shutdown_done.set()

    async def receive(self) -> dict[str, Any]:
        message = await self.queue.get()
        if message["type"] == "lifespan.startup":
            self._received_startup = True
        return message

    async def send(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "lifespan.startup.complete":
            self.startup_done.set()
        elif kind == "lifespan.startup.failed":
            self.startup_failed = True
            self.startup_done.set()
            if message.get("message"):
                logger.error(message["message"])
        elif kind == "lifespan.shutdown.complete":
            self.shutdown_done.set()
        elif kind == "lifespan.shutdown.failed":
            self.shutdown_failed = True
            self.shutdown_done.set()
            if message.get("message"):
                logger.error(message["message"])
        else:
            raise RuntimeError(f"ASGI: unexpected lifespan message {kind!r}")
