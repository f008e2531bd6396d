"""Channels across processes and machines, on Redis (``pip install aster[redis]``).

Two backends on ``redis.asyncio``, one reader per process however many subscribers:

- :class:`RedisPubSubBackend`: Redis pub/sub.  At most once, lowest latency; a
  message published while a process is disconnected never reaches it.
- :class:`RedisStreamBackend`: one Redis Stream per channel.  Every message gets an
  id, a new subscriber can ask for the last N (``subscribe(..., history=N)``), the
  stream is capped (``XADD MAXLEN ~ maxlen``) and expires ``ttl`` seconds after its
  last message, and a reader that reconnects resumes after the last id it saw.

**Failure, as documented behaviour.**  ``publish`` retries a lost connection
``publish_retries`` times with a doubling pause (``retry_delay``, ``max_retry_delay``),
each attempt bounded by ``timeout`` seconds, then raises
:class:`~aster.channels.PublishError`.  The reader reconnects with the same backoff for
as long as the channels run; once it is back, every subscriber receives
``Missed("reconnected")``, since messages published meanwhile may be lost (pub/sub:
they are; Streams: those still in Redis are delivered after it).  Nothing waits on
Redis without a timeout, and HTTP goes on being served meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any

from .backend import Deliver, PublishError
from .subscription import Message, Missed

__all__ = ["RedisPubSubBackend", "RedisStreamBackend"]

logger = logging.getLogger("aster.channels")


def _redis_module() -> Any:
    try:
        import redis.asyncio as redis_asyncio
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the Redis channels backends need the redis package: pip install 'aster[redis]'"
        ) from exc
    return redis_asyncio


def _connection_errors() -> tuple[type[BaseException], ...]:
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    return (RedisConnectionError, RedisTimeoutError, ConnectionError, OSError, TimeoutError)


class _RedisBackend:
    """What both backends share: the command client, publish retries, the reader's backoff."""

    name = "redis"

    def __init__(
        self,
        url: str = "redis://localhost:6379/0",
        *,
        prefix: str = "",
        timeout: float = 2.0,
        publish_retries: int = 3,
        retry_delay: float = 0.05,
        max_retry_delay: float = 2.0,
        client_options: dict[str, Any] | None = None,
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.timeout = timeout
        self.publish_retries = publish_retries
        self.retry_delay = retry_delay
        self.max_retry_delay = max_retry_delay
        self._client_options = client_options or {}
        self._deliver: Deliver | None = None
        self._client: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._channels: set[str] = set()
        self._connected = False
        self._up: asyncio.Event | None = None  # set while connected (made in start(): its loop)
        self.reconnects = 0
        self.publish_failures = 0
        self._errors = _connection_errors()

    @property
    def connected(self) -> bool:
        """Whether the reader is connected (and subscribed to every channel)."""
        return self._connected

    @connected.setter
    def connected(self, value: bool) -> None:
        self._connected = value
        up = self._up
        if up is not None:
            if value:
                up.set()
            else:
                up.clear()

    async def _wait_connected(self) -> bool:
        """Wait (``timeout`` at most) for the reader to be connected; whether it is."""
        up = self._up
        if self._connected or up is None:
            return self._connected
        try:
            await asyncio.wait_for(up.wait(), self.timeout)
        except asyncio.TimeoutError:
            return False
        return True

    def _new_client(self, **options: Any) -> Any:
        return _redis_module().Redis.from_url(
            self.url,
            socket_connect_timeout=self.timeout,
            **{"socket_timeout": self.timeout, **self._client_options, **options},
        )

    async def start(self, deliver: Deliver) -> None:
        self._deliver = deliver
        self._up = asyncio.Event()
        self._client = self._new_client()
        self._reader = asyncio.get_running_loop().create_task(self._read_forever())

    async def stop(self) -> None:
        self._deliver = None
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            try:
                await reader
            except (asyncio.CancelledError, *self._errors):
                pass
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
        self._channels.clear()
        self.connected = False

    def _backoff(self, attempt: int) -> float:
        delay = min(self.max_retry_delay, self.retry_delay * (2**attempt))
        return delay * (0.5 + random.random() / 2)  # jitter: N processes do not retry in step

    async def _command(self, description: str, *args: Any) -> Any:
        """One command with the publish retries; PublishError once they run out."""
        if self._client is None:
            raise PublishError("channels are not started: run them in the app's lifespan")
        attempt = 0
        while True:
            try:
                return await asyncio.wait_for(self._client.execute_command(*args), self.timeout)
            except self._errors as exc:
                if attempt >= self.publish_retries:
                    self.publish_failures += 1
                    raise PublishError(
                        f"{description}: Redis at {self.url} unavailable after"
                        f" {attempt + 1} attempts: {exc}"
                    ) from exc
                await asyncio.sleep(self._backoff(attempt))
                attempt += 1

    async def _read_forever(self) -> None:
        """Keep a reader connected; after every reconnect, tell the subscribers."""
        attempt = 0
        first = True
        while True:
            try:
                await self._read(on_ready=lambda first=first: self._ready(first))
            except asyncio.CancelledError:
                raise
            except self._errors as exc:
                if self.connected:
                    logger.warning("channels: lost Redis at %s: %s; reconnecting", self.url, exc)
                    attempt = 0
                self.connected = False
                first = False
                await asyncio.sleep(self._backoff(attempt))
                attempt += 1
            except Exception:  # a bug must not silently end delivery: log it, then retry
                logger.exception("channels: Redis reader failed; restarting it")
                self.connected = False
                first = False
                await asyncio.sleep(self._backoff(attempt))
                attempt += 1

    def _ready(self, first: bool) -> None:
        self.connected = True
        if not first:
            self.reconnects += 1
            logger.warning(
                "channels: Redis at %s is back; subscribers may have missed messages", self.url
            )
            if self._deliver is not None:
                self._deliver(Missed("reconnected"))

    async def _read(self, on_ready: Any) -> None:
        raise NotImplementedError

    def stats(self) -> dict[str, object]:
        return {
            "backend": self.name,
            "connected": self.connected,
            "reconnects": self.reconnects,
            "publish_failures": self.publish_failures,
        }


class RedisPubSubBackend(_RedisBackend):
    """Redis pub/sub: ``PUBLISH`` out, one ``SUBSCRIBE`` connection in, per process."""

    name = "redis-pubsub"

    def __init__(self, url: str = "redis://localhost:6379/0", **options: Any) -> None:
        super().__init__(url, **options)
        self._pubsub: Any = None
        self._confirming: dict[bytes, asyncio.Future[None]] = {}

    async def publish(self, channel: str, data: bytes) -> str | None:
        await self._command("publish", "PUBLISH", self.prefix + channel, data)
        return None

    async def subscribe(self, channel: str) -> None:
        self._channels.add(channel)
        # While the reader (re)connects it subscribes to every channel, this one included
        # if it was added before its SUBSCRIBE went out.  Returning at once would break
        # the promise that every message published after the call is delivered (one
        # published before the reader's SUBSCRIBE is lost): wait for it, bounded, then
        # subscribe explicitly (Redis ignores a repeat).  Still unreachable after the
        # wait: the reader subscribes when it is back, and says so with Missed.
        if not await self._wait_connected():
            return
        pubsub = self._pubsub
        if pubsub is None:
            return
        key = (self.prefix + channel).encode()
        confirmed = self._confirming.setdefault(key, asyncio.get_running_loop().create_future())
        try:
            await asyncio.wait_for(pubsub.subscribe(key), self.timeout)
            await asyncio.wait_for(asyncio.shield(confirmed), self.timeout)
        except (*self._errors, asyncio.TimeoutError):
            pass  # the reader is reconnecting; it subscribes again and says so
        finally:
            if self._confirming.get(key) is confirmed:
                del self._confirming[key]

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)
        if self._pubsub is not None and self.connected:
            try:
                await asyncio.wait_for(
                    self._pubsub.unsubscribe(self.prefix + channel), self.timeout
                )
            except (*self._errors, asyncio.TimeoutError):
                pass

    async def history(self, channel: str, count: int) -> list[Message]:
        return []

    async def _read(self, on_ready: Any) -> None:
        client = self._new_client(socket_timeout=None, health_check_interval=30)
        pubsub = client.pubsub()
        prefix_length = len(self.prefix)
        try:
            # At least one subscription keeps the connection in pub/sub mode: a private
            # channel nobody publishes to.  One SUBSCRIBE with it last: Redis confirms the
            # channels in order, so its confirmation means every channel is subscribed,
            # and only then are subscribers told of a reconnect (a message published
            # after that notice must arrive).
            private = f"{self.prefix}__aster_channels__"
            await pubsub.subscribe(*[self.prefix + c for c in self._channels], private)
            private_key = private.encode()
            self._pubsub = pubsub
            ready = False
            deliver = self._deliver
            while True:
                message = await pubsub.get_message(timeout=None)
                if message is None:
                    continue
                kind = message["type"]
                if kind == "message":
                    if deliver is not None:
                        channel = message["channel"]
                        deliver(Message(channel[prefix_length:].decode(), message["data"]))
                elif kind == "subscribe":
                    if not ready and message["channel"] == private_key:
                        ready = True
                        on_ready()
                    waiter = self._confirming.get(message["channel"])
                    if waiter is not None and not waiter.done():
                        waiter.set_result(None)
        finally:
            self._pubsub = None
            try:
                await pubsub.aclose()
                await client.aclose()
            except self._errors:
                pass


class RedisStreamBackend(_RedisBackend):
    """One Redis Stream per channel, capped at about ``maxlen`` entries and expiring
    ``ttl`` seconds after the last one (``ttl=None``: never)."""

    name = "redis-streams"

    def __init__(
        self,
        url: str = "redis://localhost:6379/0",
        *,
        maxlen: int = 1000,
        ttl: float | None = 3600,
        block: float = 5.0,
        **options: Any,
    ) -> None:
        options.setdefault("prefix", "aster:channel:")
        super().__init__(url, **options)
        self.maxlen = maxlen
        self.ttl = ttl
        self.block = block
        self._last: dict[str, bytes] = {}  # stream key -> the last id read
        self._wake_key = f"{self.prefix}__wake__:{random.getrandbits(64):016x}"
        # Not "$": a wake sent before the reader's first XREAD reached Redis would be
        # missed and a new channel read only after `block` seconds.  The key is this
        # instance's own, so reading it from the start costs one entry at most.
        self._wake_id = b"0-0"

    def _key(self, channel: str) -> str:
        return self.prefix + channel

    async def publish(self, channel: str, data: bytes) -> str | None:
        key = self._key(channel)
        args = ["XADD", key, "MAXLEN", "~", str(self.maxlen), "*", "d", data]
        if self.ttl is None:
            entry_id = await self._command("publish", *args)
        else:
            entry_id = await self._pipeline(
                "publish", [args, ["PEXPIRE", key, str(int(self.ttl * 1000))]]
            )
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)

    async def _pipeline(self, description: str, commands: list[list[Any]]) -> Any:
        """The commands in one round trip (no transaction); the first one's answer."""

        async def run() -> Any:
            pipe = self._client.pipeline(transaction=False)
            for command in commands:
                pipe.execute_command(*command)
            return (await pipe.execute())[0]

        if self._client is None:
            raise PublishError("channels are not started: run them in the app's lifespan")
        attempt = 0
        while True:
            try:
                return await asyncio.wait_for(run(), self.timeout)
            except self._errors as exc:
                if attempt >= self.publish_retries:
                    self.publish_failures += 1
                    raise PublishError(
                        f"{description}: Redis at {self.url} unavailable after"
                        f" {attempt + 1} attempts: {exc}"
                    ) from exc
                await asyncio.sleep(self._backoff(attempt))
                attempt += 1

    async def subscribe(self, channel: str) -> None:
        key = self._key(channel)
        self._channels.add(channel)
        try:
            newest = await asyncio.wait_for(
                self._client.execute_command("XREVRANGE", key, "+", "-", "COUNT", "1"), self.timeout
            )
            self._last[key] = newest[0][0] if newest else b"0-0"
            # Wake the reader, blocked on the streams it knew, so it reads this one too.
            await asyncio.wait_for(
                self._client.execute_command("XADD", self._wake_key, "MAXLEN", "1", "*", "w", "1"),
                self.timeout,
            )
        except (*self._errors, asyncio.TimeoutError):
            # Unreachable: read from the start of what Redis will have; the reader's
            # reconnect tells the subscriber it may have missed messages.
            self._last.setdefault(key, b"0-0")

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)
        self._last.pop(self._key(channel), None)

    async def history(self, channel: str, count: int) -> list[Message]:
        if self._client is None:
            return []
        try:
            entries = await asyncio.wait_for(
                self._client.execute_command(
                    "XREVRANGE", self._key(channel), "+", "-", "COUNT", str(count)
                ),
                self.timeout,
            )
        except (*self._errors, asyncio.TimeoutError) as exc:
            raise ConnectionError(f"Redis at {self.url}: {exc}") from exc
        return [
            Message(channel, _field(fields), entry_id.decode())
            for entry_id, fields in reversed(entries)
        ]

    async def _read(self, on_ready: Any) -> None:
        client = self._new_client(socket_timeout=self.block + self.timeout)
        prefix_length = len(self.prefix)
        wake_key = self._wake_key.encode()
        block_ms = str(int(self.block * 1000))
        try:
            await client.execute_command("PING")
            on_ready()
            deliver = self._deliver
            last = self._last
            while True:
                keys = [wake_key, *(k.encode() for k in last)]
                ids = [self._wake_id, *last.values()]
                reply = await client.execute_command(
                    "XREAD", "COUNT", "1000", "BLOCK", block_ms, "STREAMS", *keys, *ids
                )
                if not reply:
                    continue
                for key, entries in _stream_items(reply):
                    if not entries:
                        continue
                    if key == wake_key:
                        self._wake_id = entries[-1][0]
                        continue
                    name = key.decode()
                    if name not in last:
                        continue  # unsubscribed meanwhile
                    channel = name[prefix_length:]
                    for entry_id, fields in entries:
                        if deliver is not None:
                            deliver(Message(channel, _field(fields), entry_id.decode()))
                    last[name] = entries[-1][0]
        finally:
            try:
                await client.aclose()
            except self._errors:
                pass

    async def stop(self) -> None:
        if self._client is not None:
            try:
                await asyncio.wait_for(
                    self._client.execute_command("DEL", self._wake_key), self.timeout
                )
            except (*self._errors, asyncio.TimeoutError):
                pass
        await super().stop()
        self._last.clear()


def _field(fields: Any) -> bytes:
    """The ``d`` field of an entry (RESP2 gives a flat list, RESP3 a dict)."""
    if isinstance(fields, dict):
        return fields[b"d"]
    for index in range(0, len(fields), 2):
        if fields[index] == b"d":
            return fields[index + 1]
    return b""


def _stream_items(reply: Any) -> list[tuple[bytes, list[Any]]]:
    """``XREAD``'s answer as (key, entries) pairs, RESP2 list or RESP3 dict."""
    if isinstance(reply, dict):
        return list(reply.items())
    return [(item[0], item[1]) for item in reply]
