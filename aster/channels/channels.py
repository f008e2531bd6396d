"""``Channels``: publish to a named channel, subscribe to it, in this process or across many.

::

    channels = Channels(RedisPubSubBackend("redis://localhost:6379"))
    app = FastAPI(lifespan=channels.lifespan)

    await channels.publish("room:lobby", "hello")
    async with channels.subscribe("room:lobby") as sub:
        async for event in sub:  # Message or Missed
            ...

The backend delivers each message to this process once; :meth:`Channels._deliver`
fans it out to the local subscriptions, each with its own bounded queue
(:mod:`aster.channels.subscription`), so a slow subscriber costs only itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from .backend import Backend, MemoryBackend
from .subscription import POLICIES, Message, Missed, Policy, Subscription

__all__ = ["Channels"]

logger = logging.getLogger("aster.channels")


class Channels:
    """Named channels over one backend (:class:`MemoryBackend` unless told otherwise).

    ``max_queue`` and ``policy`` are every subscription's defaults; ``subscribe()`` can
    override both.  Start and stop them with the app: ``FastAPI(lifespan=channels.lifespan)``,
    or ``async with channels:`` inside a lifespan of your own.
    """

    def __init__(
        self,
        backend: Backend | None = None,
        *,
        max_queue: int = 1000,
        policy: Policy = "drop_oldest",
    ) -> None:
        if policy not in POLICIES:
            raise ValueError(f"policy must be one of {', '.join(POLICIES)}, not {policy!r}")
        if max_queue < 1:  # here, not at the first subscribe() far from the cause
            raise ValueError("max_queue must be at least 1")
        self.backend: Backend = backend if backend is not None else MemoryBackend()
        self.max_queue = max_queue
        self.policy: Policy = policy
        self._subscribers: dict[str, list[Subscription]] = {}
        self._joining: dict[str, asyncio.Future[None]] = {}  # channel -> backend subscribe done
        self._started = False
        self._published = 0
        self._delivered = 0
        self._dropped: dict[str, int] = dict.fromkeys(POLICIES, 0)
        self._disconnected_slow = 0
        self._missed_notices = 0

    # -- lifetime -------------------------------------------------------------------------

    async def start(self) -> None:
        if not self._started:
            await self.backend.start(self._deliver)
            self._started = True

    async def stop(self) -> None:
        """Close every subscription (``closed_reason == "shutdown"``), then the backend."""
        if not self._started:
            return
        self._started = False
        for subscriptions in self._subscribers.values():
            for subscription in subscriptions:
                subscription.close("shutdown")
        self._subscribers.clear()
        await self.backend.stop()

    async def __aenter__(self) -> Channels:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @asynccontextmanager
    async def lifespan(self, app: object = None) -> AsyncIterator[None]:
        """An app's ``lifespan=``: channels run while the app does."""
        async with self:
            yield

    # -- publishing -----------------------------------------------------------------------

    async def publish(self, channel: str, data: str | bytes) -> str | None:
        """Send ``data`` to every subscriber of ``channel``, in every process on the backend.

        Returns the message's id where the backend keeps one (Redis Streams).  Raises
        :class:`~aster.channels.PublishError` if the backend cannot take it.
        """
        if isinstance(data, str):
            data = data.encode("utf-8")
        elif not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"publish() takes str or bytes, not {type(data).__name__}")
        message_id = await self.backend.publish(channel, bytes(data))
        self._published += 1
        return message_id

    # -- subscribing ----------------------------------------------------------------------

    @asynccontextmanager
    async def subscribe(
        self,
        *channels: str,
        history: int = 0,
        max_queue: int | None = None,
        policy: Policy | None = None,
    ) -> AsyncIterator[Subscription]:
        """Receive ``channels`` inside the block.

        ``history=N`` first queues up to N earlier messages of each channel, where the
        backend keeps them (Redis Streams); messages from before and after the
        subscription began arrive once each, in order.
        """
        if not channels:
            raise TypeError("subscribe() needs at least one channel")
        if not self._started:
            raise RuntimeError(
                "channels are not started: pass lifespan=channels.lifespan to the app,"
                " or use `async with channels:`"
            )
        subscription = Subscription(
            channels,
            # `is None`, not `or`: max_queue=0 is an error (ValueError), not "the default"
            max_queue=self.max_queue if max_queue is None else max_queue,
            policy=self.policy if policy is None else policy,
            on_drop=self._on_drop,
        )
        try:
            for channel in channels:
                local = self._subscribers.get(channel)
                if local is None:
                    local = self._subscribers[channel] = [subscription]
                    joined = self._joining[channel] = asyncio.get_running_loop().create_future()
                    try:
                        await self.backend.subscribe(channel)
                    finally:
                        del self._joining[channel]
                        joined.set_result(None)
                else:
                    local.append(subscription)
                    joining = self._joining.get(channel)
                    if joining is not None:  # the first subscriber's backend subscribe
                        await asyncio.shield(joining)
            if history > 0:
                await self._queue_history(subscription, history)
            yield subscription
        finally:
            subscription.close()
            await self._leave(subscription)
            if subscription.dropped:
                logger.info(
                    "channels: subscriber to %s left having lost %d messages (policy %s)",
                    ", ".join(channels),
                    subscription.dropped,
                    subscription.policy,
                )

    async def _queue_history(self, subscription: Subscription, count: int) -> None:
        """Queue the history ahead of the live messages already queued, each message once.

        A message published while the history was read can come both ways: in the
        history and live, and live either before the history is read (already queued)
        or after it (the reader had not delivered it yet).  The history is "the last N
        up to its newest entry, then everything after", so per channel every live
        message up to the history's newest id goes, queued or yet to come
        (``Subscription._mark_replayed``); live copies later than it stay.
        """
        earlier: list[Message | Missed] = []
        for channel in subscription.channels:
            try:
                entries = await self.backend.history(channel, count)
            except ConnectionError as exc:
                logger.warning("channels: history of %s unavailable: %s", channel, exc)
                earlier.append(Missed("history", None, channel))
                continue
            earlier.extend(entries)
            if entries and entries[-1].id is not None:
                subscription._mark_replayed(channel, entries[-1].id)
        if not earlier:
            return
        live = [e for e in subscription._queue if not subscription._replayed_already(e)]
        subscription._queue.clear()
        subscription._messages = 0
        for event in [*earlier, *live]:
            subscription.offer(event, replayed=True)

    async def _leave(self, subscription: Subscription) -> None:
        for channel in subscription.channels:
            local = self._subscribers.get(channel)
            if local is None:
                continue
            try:
                local.remove(subscription)
            except ValueError:
                pass
            if not local:
                del self._subscribers[channel]
                if self._started:
                    try:
                        await self.backend.unsubscribe(channel)
                    except ConnectionError:
                        pass  # the connection is gone: so is the subscription

    # -- the fan-out ----------------------------------------------------------------------

    def _deliver(self, event: Message | Missed) -> None:
        """The backend's callback: one received message to every local subscriber."""
        if type(event) is Message:
            local = self._subscribers.get(event.channel)
            if local:
                for subscription in local:
                    subscription.offer(event)
                self._delivered += len(local)
            return
        self._missed_notices += 1
        if event.channel is None:  # for every channel: each subscription once
            notified: set[int] = set()
            for local in self._subscribers.values():
                for subscription in local:
                    if id(subscription) not in notified:
                        notified.add(id(subscription))
                        subscription.offer(event)
        else:
            for subscription in self._subscribers.get(event.channel, ()):
                subscription.offer(event)

    def _on_drop(self, subscription: Subscription, count: int) -> None:
        self._dropped[subscription.policy] += count
        if subscription.policy == "disconnect":
            self._disconnected_slow += 1
        elif subscription.dropped == count:  # its first drop; later ones are counted
            logger.warning(
                "channels: subscriber to %s is %d messages behind: dropping (policy %s)",
                ", ".join(subscription.channels),
                subscription.max_queue,
                subscription.policy,
            )

    # -- figures --------------------------------------------------------------------------

    def subscriber_count(self, channel: str | None = None) -> int:
        if channel is not None:
            return len(self._subscribers.get(channel, ()))
        return len({id(s) for local in self._subscribers.values() for s in local})

    def stats(self) -> dict[str, Any]:
        """This process's figures: what was published, delivered and dropped, and the backend's."""
        return {
            "published": self._published,
            "delivered": self._delivered,
            "dropped": dict(self._dropped),
            "disconnected_slow": self._disconnected_slow,
            "missed_notices": self._missed_notices,
            "subscribers": self.subscriber_count(),
            "channels": len(self._subscribers),
            **self.backend.stats(),
        }
