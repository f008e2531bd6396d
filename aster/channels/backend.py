"""What a channels backend does, and the in-process one.

A backend carries messages between processes; :class:`~aster.channels.Channels`
does the rest (local subscribers, queues, policies).  Each process holds **one**
backend subscription per channel however many local subscribers it has, and the
backend hands every message it receives to ``deliver`` once; the fan-out to
subscribers happens in the process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

from .subscription import Message, Missed

__all__ = ["Backend", "Deliver", "MemoryBackend", "PublishError"]

Deliver = Callable[[Message | Missed], None]
"""Called by a backend, in the event loop, for each message received and for each
:class:`Missed` notice (``channel=None``: for every channel)."""


class PublishError(ConnectionError):
    """A message could not be published: the backend is unreachable and its retries ran out.

    A publisher learns of it, rather than the message vanishing."""


class Backend(Protocol):
    async def start(self, deliver: Deliver) -> None:
        """Connect; from now on received messages go to ``deliver``."""

    async def stop(self) -> None:
        """Close subscriptions and connections; nothing is delivered afterwards."""

    async def subscribe(self, channel: str) -> None:
        """Receive ``channel`` (the first local subscriber).  Returns once the backend
        will deliver every message published after the call returned."""

    async def unsubscribe(self, channel: str) -> None:
        """Stop receiving ``channel`` (its last local subscriber left)."""

    async def publish(self, channel: str, data: bytes) -> str | None:
        """Publish to every process; the message's id if the backend keeps one."""

    async def history(self, channel: str, count: int) -> list[Message]:
        """The last ``count`` messages of ``channel``, oldest first, if the backend keeps
        any (an empty list otherwise)."""

    def stats(self) -> dict[str, object]:
        """The backend's own figures (connection state, reconnects...)."""


class MemoryBackend:
    """One process, no setup: ``publish`` delivers at once, to this process only.

    ``publish`` then yields to the event loop once, as a network backend's would: a
    publisher in a loop (a burst read from one socket) lets the subscribers' senders
    run between messages instead of filling every queue before any of them does.

    The embedded default.  With ``--workers N`` or several machines, each process
    has its own channels: use a Redis backend there.
    """

    name = "memory"

    def __init__(self) -> None:
        self._deliver: Deliver | None = None
        self._channels: set[str] = set()

    async def start(self, deliver: Deliver) -> None:
        self._deliver = deliver

    async def stop(self) -> None:
        self._deliver = None
        self._channels.clear()

    async def subscribe(self, channel: str) -> None:
        self._channels.add(channel)

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)

    async def publish(self, channel: str, data: bytes) -> str | None:
        deliver = self._deliver
        if deliver is None:
            raise PublishError("channels are not started: run them in the app's lifespan")
        if channel in self._channels:
            deliver(Message(channel, data))
        await asyncio.sleep(0)
        return None

    async def history(self, channel: str, count: int) -> list[Message]:
        return []

    def stats(self) -> dict[str, object]:
        return {"backend": self.name, "connected": self._deliver is not None}
