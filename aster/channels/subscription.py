"""One subscriber's view of channels: a bounded queue and the policy that keeps it bounded.

A subscription never grows without bound and never slows a publisher: the fan-out
puts each message into every local subscription with :meth:`Subscription.offer`,
which never waits.  When a subscriber falls ``max_queue`` messages behind, its
``policy`` decides, for that subscriber alone:

- ``"drop_oldest"`` (the default): the oldest queued message makes room; the
  subscriber sees a :class:`Missed` event where the gap is, then the newer messages.
- ``"drop_newest"``: the new message is dropped; the queued ones stay, followed by
  one :class:`Missed` for the run of dropped messages.
- ``"disconnect"``: the subscription ends (``closed_reason == "slow"``), so a
  WebSocket endpoint closes with 1008 and an SSE stream ends.

Every drop is counted (``dropped`` here, ``Channels.stats()`` for the process)
and logged, never silent.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Callable
from typing import Any, Literal

__all__ = ["POLICIES", "Message", "Missed", "Policy", "Subscription"]

logger = logging.getLogger("aster.channels")

Policy = Literal["drop_oldest", "drop_newest", "disconnect"]
POLICIES: tuple[str, ...] = ("drop_oldest", "drop_newest", "disconnect")


class Message:
    """One published message, shared by every local subscriber that receives it.

    ``data`` is the bytes published (a ``str`` is published as UTF-8); ``id`` is the
    Redis Streams entry id on that backend, ``None`` elsewhere.  ``text`` decodes
    once, however many subscribers read it.
    """

    __slots__ = ("_text", "channel", "data", "id")

    def __init__(self, channel: str, data: bytes, id: str | None = None) -> None:
        self.channel = channel
        self.data = data
        self.id = id
        self._text: str | None = None

    @property
    def text(self) -> str:
        text = self._text
        if text is None:
            text = self._text = self.data.decode("utf-8")
        return text

    def json(self) -> Any:
        return json.loads(self.data)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return (self.channel, self.data, self.id) == (other.channel, other.data, other.id)

    def __hash__(self) -> int:
        return hash((self.channel, self.data, self.id))

    def __repr__(self) -> str:
        return f"Message(channel={self.channel!r}, data={self.data!r}, id={self.id!r})"


class Missed:
    """A gap: messages this subscriber did not receive, and why.

    ``reason`` is ``"dropped"`` (the subscriber was too slow; ``count`` says how
    many), ``"reconnected"`` (the backend lost its connection and got it back:
    messages published meanwhile may be lost, ``count`` is ``None``), or
    ``"history"`` (the history asked for could not be read).
    """

    __slots__ = ("channel", "count", "reason")

    def __init__(self, reason: str, count: int | None = None, channel: str | None = None) -> None:
        self.reason = reason
        self.count = count
        self.channel = channel

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Missed):
            return NotImplemented
        return (self.reason, self.count, self.channel) == (other.reason, other.count, other.channel)

    def __repr__(self) -> str:
        return f"Missed(reason={self.reason!r}, count={self.count!r}, channel={self.channel!r})"


Event = Message | Missed


class Subscription:
    """``async with channels.subscribe("room") as sub: async for event in sub: ...``

    Iterating yields :class:`Message` and :class:`Missed` events in order and ends when
    the subscription closes: the ``async with`` block ends, the channels shut down
    (``closed_reason == "shutdown"``), or the ``"disconnect"`` policy fired
    (``"slow"``).
    """

    def __init__(
        self,
        channels: tuple[str, ...],
        *,
        max_queue: int,
        policy: Policy,
        on_drop: Callable[[Subscription, int], None] | None = None,
    ) -> None:
        if max_queue < 1:
            raise ValueError("max_queue must be at least 1")
        if policy not in POLICIES:
            raise ValueError(f"policy must be one of {', '.join(POLICIES)}, not {policy!r}")
        self.channels = channels
        self.max_queue = max_queue
        self.policy = policy
        self.dropped = 0
        """Messages this subscriber lost to its policy."""
        self.received = 0
        """Messages it took from its queue."""
        self.closed_reason: str | None = None
        self._queue: deque[Event] = deque()
        self._messages = 0  # Message items in _queue (Missed markers are not counted)
        self._waiter: asyncio.Future[None] | None = None
        self._closed: asyncio.Future[str] | None = None  # made by the first wait_closed()
        # The loop is looked up once: asyncio.get_running_loop() costs a getpid() call on
        # Python 3.11, and get() runs once per message.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._on_drop = on_drop
        # channel -> the newest entry id its history gave: live copies up to it are dropped
        self._replayed: dict[str, tuple[int, int]] = {}

    # -- the fan-out's side: never waits ------------------------------------------------

    def offer(self, event: Event, replayed: bool = False) -> None:
        """Queue ``event``, applying the policy if the queue is full.

        A live message the subscription's history already gave is not queued again
        (``replayed=True``: it is the history itself being queued).
        """
        if self.closed_reason is not None:
            return
        if self._replayed and not replayed and self._replayed_already(event):
            return
        queue = self._queue
        if type(event) is Message:
            if self._messages >= self.max_queue:
                self._overflow(event)
            else:
                queue.append(event)
                self._messages += 1
        else:
            queue.append(event)
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def _overflow(self, event: Message) -> None:
        queue = self._queue
        policy = self.policy
        if policy == "disconnect":
            self.dropped += 1
            self._count_drop(1)
            logger.warning(
                "channels: subscriber to %s disconnected: %d messages behind (policy disconnect)",
                ", ".join(self.channels),
                self.max_queue,
            )
            self.close("slow")
            return
        self.dropped += 1
        # A run of drops is one notice, per channel: a Missed names the channel it is
        # for, so drops on another channel get a notice of their own.
        if policy == "drop_newest":
            tail = queue[-1] if queue else None
            if type(tail) is Missed and tail.reason == "dropped" and tail.channel == event.channel:
                tail.count = (tail.count or 0) + 1
            else:
                queue.append(Missed("dropped", 1, event.channel))
        else:  # drop_oldest: the gap is where the oldest message was
            index = 0
            while type(queue[index]) is not Message:  # notices ahead of it stay ahead
                index += 1
            oldest = queue[index]
            del queue[index]
            before = queue[index - 1] if index else None
            if (
                type(before) is Missed
                and before.reason == "dropped"
                and before.channel == oldest.channel
            ):
                before.count = (before.count or 0) + 1
            else:
                queue.insert(index, Missed("dropped", 1, oldest.channel))
            queue.append(event)
        self._count_drop(1)

    def _mark_replayed(self, channel: str, entry_id: str) -> None:
        """The history of ``channel`` went up to ``entry_id``: drop live copies up to it."""
        order = _entry_order(entry_id)
        if order is not None:
            self._replayed[channel] = order

    def _replayed_already(self, event: Event) -> bool:
        """Whether ``event`` is a live copy of a message the history gave.

        Live messages arrive in id order per channel, so the first one past the mark
        ends the check for that channel.
        """
        if type(event) is not Message or event.id is None:
            return False
        mark = self._replayed.get(event.channel)
        if mark is None:
            return False
        order = _entry_order(event.id)
        if order is not None and order <= mark:
            return True
        del self._replayed[event.channel]
        return False

    def _count_drop(self, count: int) -> None:
        if self._on_drop is not None:
            self._on_drop(self, count)

    def close(self, reason: str = "closed") -> None:
        """End the subscription: iteration stops once nothing is queued (at once for "slow")."""
        if self.closed_reason is not None:
            return
        self.closed_reason = reason
        if reason == "slow":
            self._queue.clear()
            self._messages = 0
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)
        closed = self._closed
        if closed is not None and not closed.done():
            closed.set_result(reason)

    # -- the subscriber's side ----------------------------------------------------------

    async def wait_closed(self) -> str:
        """Wait until the subscription closes; return why (``closed_reason``).

        For the task that watches a connection while another one sends to it: a send
        stuck on a client that does not read cannot notice the "disconnect" policy
        firing, this can (and close the socket with 1008).
        """
        if self.closed_reason is not None:
            return self.closed_reason
        closed = self._closed
        if closed is None:
            closed = self._closed = self._running_loop().create_future()
        # shield: one watcher cancelled must not cancel the future for the others
        return await asyncio.shield(closed)

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        return loop

    @property
    def queued(self) -> int:
        """Messages waiting in the queue."""
        return self._messages

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        event = await self.get()
        if event is None:
            raise StopAsyncIteration
        return event

    async def get(self, timeout: float | None = None) -> Event | None:
        """The next event; ``None`` once the subscription has closed.  ``TimeoutError``
        after ``timeout`` seconds without one."""
        queue = self._queue
        while not queue:
            if self.closed_reason is not None:
                return None
            waiter = self._waiter = self._running_loop().create_future()
            if timeout is None:
                await waiter
            else:
                await asyncio.wait_for(waiter, timeout)
        event = queue.popleft()
        if type(event) is Message:
            self._messages -= 1
            self.received += 1
        return event

    def get_nowait(self) -> Event | None:
        """The next queued event, or ``None`` if none is queued."""
        queue = self._queue
        if not queue:
            return None
        event = queue.popleft()
        if type(event) is Message:
            self._messages -= 1
            self.received += 1
        return event

    def __repr__(self) -> str:
        state = self.closed_reason or "open"
        return (
            f"<Subscription {', '.join(self.channels)} {state} queued={self._messages}"
            f" dropped={self.dropped} policy={self.policy}>"
        )


def _entry_order(entry_id: str) -> tuple[int, int] | None:
    """A Redis Streams id (``"<ms>-<seq>"``) as a comparable pair; ``None`` if it is not one."""
    ms, _, seq = entry_id.partition("-")
    try:
        return int(ms), int(seq or 0)
    except ValueError:
        return None
