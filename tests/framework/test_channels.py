"""aster.channels in one process: the memory backend's exact behaviour, then real Redis.

Publishing on the memory backend delivers before ``publish()`` returns, so the policy
tests fill a queue without reading it and then read exactly what it holds: the order of
``Message`` and ``Missed`` events, the counts, the counters of ``stats()`` and the log
lines.  The Redis tests use the session's ``redis_server`` (distinct channel names per
test; a test that kills Redis starts it again in a ``finally``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import AsyncExitStack
from typing import Any

import pytest

from aster import FastAPI, WebSocket
from aster.channels import (
    Channels,
    MemoryBackend,
    Message,
    Missed,
    PublishError,
    RedisPubSubBackend,
    RedisStreamBackend,
    Subscription,
)
from aster.testclient import TestClient

Event = Message | Missed


def m(channel: str, text: str, id: str | None = None) -> Message:
    return Message(channel, text.encode(), id)


def drain(sub: Subscription) -> list[Event]:
    """Everything queued, without waiting."""
    events = []
    while (event := sub.get_nowait()) is not None:
        events.append(event)
    return events


async def take(sub: Subscription, count: int, timeout: float = 10.0) -> list[Event]:
    """The next ``count`` events, each within ``timeout`` seconds."""
    return [await sub.get(timeout) for _ in range(count)]  # type: ignore[misc]


async def nothing_more(sub: Subscription, wait: float = 0.2) -> None:
    with pytest.raises(TimeoutError):
        event = await sub.get(wait)
        pytest.fail(f"unexpected {event!r}")


def zero_drops() -> dict[str, int]:
    return {"drop_oldest": 0, "drop_newest": 0, "disconnect": 0}


class RecordingBackend(MemoryBackend):
    """The memory backend, recording what Channels asks of it; it can also push notices,
    and hold a subscribe until the test lets it go."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, str]] = []
        self.gate: asyncio.Event | None = None

    async def subscribe(self, channel: str) -> None:
        self.calls.append(("subscribe", channel))
        if self.gate is not None:
            await self.gate.wait()
        await super().subscribe(channel)

    async def unsubscribe(self, channel: str) -> None:
        self.calls.append(("unsubscribe", channel))
        await super().unsubscribe(channel)

    def notify(self, event: Missed) -> None:
        assert self._deliver is not None
        self._deliver(event)


# -- publish and subscribe --------------------------------------------------------------


async def test_a_message_reaches_every_subscriber_of_its_channel_and_no_other() -> None:
    async with Channels() as channels:
        async with (
            channels.subscribe("room") as first,
            channels.subscribe("room") as second,
            channels.subscribe("other") as other,
        ):
            assert await channels.publish("room", "héllo") is None
            await channels.publish("room", b"\x00\xffraw")
            assert drain(first) == [m("room", "héllo"), Message("room", b"\x00\xffraw")]
            assert drain(second) == [m("room", "héllo"), Message("room", b"\x00\xffraw")]
            assert drain(other) == []
            assert (first.received, second.received, other.received) == (2, 2, 0)


async def test_message_text_json_id_and_the_data_types_publish_takes() -> None:
    async with Channels() as channels, channels.subscribe("c") as sub:
        await channels.publish("c", '{"a": [1, 2]}')
        await channels.publish("c", bytearray(b"ba"))
        await channels.publish("c", memoryview(b"mv"))
        first, second, third = drain(sub)
        assert isinstance(first, Message)
        assert (first.channel, first.data, first.id) == ("c", b'{"a": [1, 2]}', None)
        assert first.text == '{"a": [1, 2]}'
        assert first.json() == {"a": [1, 2]}
        assert second == Message("c", b"ba") and type(second.data) is bytes  # type: ignore[union-attr]
        assert third == Message("c", b"mv") and type(third.data) is bytes  # type: ignore[union-attr]


async def test_one_subscription_to_several_channels_gets_them_in_publish_order() -> None:
    async with Channels() as channels, channels.subscribe("a", "b") as sub:
        for channel, text in [("a", "1"), ("b", "2"), ("c", "not mine"), ("a", "3"), ("b", "4")]:
            await channels.publish(channel, text)
        assert drain(sub) == [m("a", "1"), m("b", "2"), m("a", "3"), m("b", "4")]
        assert channels.subscriber_count() == 1
        assert (channels.subscriber_count("a"), channels.subscriber_count("b")) == (1, 1)
        assert channels.stats()["channels"] == 2


async def test_publishing_to_a_channel_nobody_listens_to_is_counted_not_delivered() -> None:
    async with Channels() as channels:
        assert await channels.publish("empty", "x") is None
        stats = channels.stats()
        assert (stats["published"], stats["delivered"]) == (1, 0)


async def test_iteration_yields_events_as_they_come() -> None:
    async with Channels() as channels, channels.subscribe("live") as sub:

        async def publish_later() -> None:
            for i in range(3):
                await asyncio.sleep(0.01)
                await channels.publish("live", str(i))

        task = asyncio.create_task(publish_later())
        got = []
        async for event in sub:
            got.append(event)
            if len(got) == 3:
                break
        await task
        assert got == [m("live", "0"), m("live", "1"), m("live", "2")]


# -- misuse -----------------------------------------------------------------------------


async def test_subscribe_before_start_and_after_stop_is_a_runtime_error() -> None:
    channels = Channels()
    with pytest.raises(RuntimeError, match="channels are not started: pass lifespan="):
        async with channels.subscribe("x"):
            pass
    async with channels:
        pass
    with pytest.raises(RuntimeError, match="channels are not started"):
        async with channels.subscribe("x"):
            pass


async def test_publish_before_start_is_a_publish_error() -> None:
    with pytest.raises(PublishError, match="channels are not started"):
        await Channels().publish("x", "y")


@pytest.mark.parametrize("data", [1, 2.5, None, {"a": 1}, ["x"]], ids=type)
async def test_publish_takes_only_str_or_bytes(data: object) -> None:
    async with Channels() as channels, channels.subscribe("t") as sub:
        with pytest.raises(TypeError) as info:
            await channels.publish("t", data)  # type: ignore[arg-type]
        assert str(info.value) == f"publish() takes str or bytes, not {type(data).__name__}"
        assert drain(sub) == []
        assert channels.stats()["published"] == 0


async def test_subscribe_needs_a_channel() -> None:
    async with Channels() as channels:
        with pytest.raises(TypeError, match="at least one channel"):
            async with channels.subscribe():
                pass


async def test_bad_policy_or_queue_size_is_a_value_error_where_it_is_given() -> None:
    with pytest.raises(ValueError, match="policy must be one of drop_oldest, drop_newest"):
        Channels(policy="drop_all")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_queue must be at least 1"):
        Channels(max_queue=0)
    async with Channels() as channels:
        with pytest.raises(ValueError, match="policy must be one of"):
            async with channels.subscribe("x", policy="block"):  # type: ignore[arg-type]
                pass
        # 0 is not "the default": it is refused, as everywhere else.
        with pytest.raises(ValueError, match="max_queue must be at least 1"):
            async with channels.subscribe("x", max_queue=0):
                pass
        assert channels.subscriber_count() == 0


# -- backpressure: each policy, exactly -------------------------------------------------


async def test_drop_oldest_keeps_the_newest_with_a_missed_where_the_gap_is() -> None:
    async with Channels(max_queue=3) as channels, channels.subscribe("q") as sub:
        assert sub.policy == "drop_oldest"
        for i in range(1, 6):
            await channels.publish("q", f"m{i}")
        assert (sub.queued, sub.dropped) == (3, 2)
        # m1 and m2 made room: one Missed for both, where they were.
        assert drain(sub) == [Missed("dropped", 2, "q"), m("q", "m3"), m("q", "m4"), m("q", "m5")]
        # Read two of three, then overflow again: a new gap after the one read, counted anew.
        for i in range(6, 9):
            await channels.publish("q", f"m{i}")
        assert [await sub.get(1), await sub.get(1)] == [m("q", "m6"), m("q", "m7")]
        for i in range(9, 12):
            await channels.publish("q", f"m{i}")
        assert drain(sub) == [Missed("dropped", 1, "q"), m("q", "m9"), m("q", "m10"), m("q", "m11")]
        assert (sub.dropped, sub.received) == (3, 8)
        stats = channels.stats()
        assert stats["dropped"] == {**zero_drops(), "drop_oldest": 3}
        assert (stats["published"], stats["delivered"], stats["disconnected_slow"]) == (11, 11, 0)


async def test_drop_oldest_names_the_channel_of_the_message_that_went() -> None:
    async with Channels(max_queue=2) as channels, channels.subscribe("a", "b") as sub:
        for channel, text in [("a", "1"), ("b", "2"), ("b", "3"), ("b", "4")]:
            await channels.publish(channel, text)
        assert drain(sub) == [
            Missed("dropped", 1, "a"),
            Missed("dropped", 1, "b"),
            m("b", "3"),
            m("b", "4"),
        ]


async def test_drop_oldest_leaves_notices_ahead_of_the_messages_where_they_are() -> None:
    backend = RecordingBackend()
    async with Channels(backend, max_queue=2) as channels, channels.subscribe("n") as sub:
        await channels.publish("n", "1")
        backend.notify(Missed("reconnected"))
        await channels.publish("n", "2")
        await channels.publish("n", "3")  # the oldest message (1) goes, not the notice
        assert drain(sub) == [
            Missed("dropped", 1, "n"),
            Missed("reconnected"),
            m("n", "2"),
            m("n", "3"),
        ]


async def test_drop_newest_keeps_the_queued_ones_then_one_missed_for_the_run() -> None:
    async with Channels(max_queue=3, policy="drop_newest") as channels:
        async with channels.subscribe("q") as sub:
            for i in range(1, 6):
                await channels.publish("q", f"m{i}")
            assert (sub.queued, sub.dropped) == (3, 2)
            assert await sub.get(1) == m("q", "m1")
            await channels.publish("q", "m6")  # room for one again
            await channels.publish("q", "m7")  # dropped: a new run, a new notice
            assert drain(sub) == [
                m("q", "m2"),
                m("q", "m3"),
                Missed("dropped", 2, "q"),
                m("q", "m6"),
                Missed("dropped", 1, "q"),
            ]
            assert (sub.dropped, sub.received) == (3, 4)
        stats = channels.stats()
        assert stats["dropped"] == {**zero_drops(), "drop_newest": 3}
        assert (stats["disconnected_slow"], stats["subscribers"]) == (0, 0)


async def test_disconnect_ends_the_subscription_slow_and_frees_its_queue() -> None:
    async with Channels(max_queue=2, policy="disconnect") as channels:
        async with channels.subscribe("q") as slow, channels.subscribe("q", max_queue=10) as fast:
            for i in range(1, 6):
                await channels.publish("q", f"m{i}")
            assert slow.closed_reason == "slow"
            assert (slow.queued, slow.dropped) == (0, 1)
            # Iteration ends at once: what was queued is not worth sending any more.
            assert [event async for event in slow] == []
            assert await slow.get() is None
            assert fast.closed_reason is None
            assert drain(fast) == [m("q", f"m{i}") for i in range(1, 6)]
            stats = channels.stats()
            assert stats["dropped"] == {**zero_drops(), "disconnect": 1}
            assert stats["disconnected_slow"] == 1
        assert channels.stats()["subscribers"] == 0


async def test_wait_closed_wakes_every_watcher_with_the_reason_at_once() -> None:
    """A watcher learns of the "disconnect" policy firing while nothing reads the queue
    (a sender stuck on a client that does not read); one watcher cancelled leaves the
    others waiting."""
    async with Channels(max_queue=1, policy="disconnect") as channels:
        async with channels.subscribe("w") as sub:
            first = asyncio.create_task(sub.wait_closed())
            second = asyncio.create_task(sub.wait_closed())
            cancelled = asyncio.create_task(sub.wait_closed())
            await asyncio.sleep(0.01)
            cancelled.cancel()
            await asyncio.sleep(0.01)
            assert not first.done() and not second.done()
            await channels.publish("w", "queued")
            assert not first.done()
            await channels.publish("w", "one too many")
            assert await asyncio.wait_for(first, 1) == "slow"
            assert await asyncio.wait_for(second, 1) == "slow"
            assert cancelled.cancelled()
            assert await sub.wait_closed() == "slow"  # closed already: at once
        async with channels.subscribe("w") as left:
            watcher = asyncio.create_task(left.wait_closed())
            await asyncio.sleep(0.01)
        assert await asyncio.wait_for(watcher, 1) == "closed"
        async with channels.subscribe("w") as open_at_stop:
            watcher = asyncio.create_task(open_at_stop.wait_closed())
            await asyncio.sleep(0.01)
            await channels.stop()
            assert await asyncio.wait_for(watcher, 1) == "shutdown"


async def test_memory_publish_lets_the_subscribers_run_between_messages() -> None:
    """A publisher in a loop does not fill the queues before a reader runs: the memory
    backend yields once per publish, as a network backend does."""
    async with Channels(max_queue=2, policy="disconnect") as channels:
        async with channels.subscribe("burst") as sub:
            got: list[str] = []

            async def read() -> None:
                async for event in sub:
                    assert isinstance(event, Message)
                    got.append(event.text)

            reader = asyncio.create_task(read())
            await asyncio.sleep(0)
            for i in range(100):
                await channels.publish("burst", str(i))
            await asyncio.sleep(0)
            assert got == [str(i) for i in range(100)]
            assert (sub.closed_reason, sub.dropped) == (None, 0)
            reader.cancel()


async def test_the_policies_log_a_warning_on_the_first_drop_and_a_summary_at_the_end(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="aster.channels")
    async with Channels(max_queue=2) as channels:
        async with channels.subscribe("logged", policy="drop_newest"):
            for i in range(6):
                await channels.publish("logged", str(i))
        async with channels.subscribe("cut", policy="disconnect"):
            for i in range(4):
                await channels.publish("cut", str(i))
        async with channels.subscribe("fine"):
            await channels.publish("fine", "x")
    records = [(r.name, r.levelname, r.getMessage()) for r in caplog.records]
    assert records == [
        (
            "aster.channels",
            "WARNING",
            "channels: subscriber to logged is 2 messages behind: dropping (policy drop_newest)",
        ),
        (
            "aster.channels",
            "INFO",
            "channels: subscriber to logged left having lost 4 messages (policy drop_newest)",
        ),
        (
            "aster.channels",
            "WARNING",
            "channels: subscriber to cut disconnected: 2 messages behind (policy disconnect)",
        ),
        (
            "aster.channels",
            "INFO",
            "channels: subscriber to cut left having lost 1 messages (policy disconnect)",
        ),
    ]


async def test_one_slow_subscriber_costs_only_itself() -> None:
    async with Channels(max_queue=4) as channels:
        async with (
            channels.subscribe("f", policy="drop_oldest") as oldest,
            channels.subscribe("f", policy="drop_newest") as newest,
            channels.subscribe("f") as reader,
        ):
            got = []
            for i in range(100):
                await channels.publish("f", str(i))
                got.extend(drain(reader))
            assert got == [m("f", str(i)) for i in range(100)]
            assert (oldest.dropped, newest.dropped, reader.dropped) == (96, 96, 0)
            assert drain(oldest) == [Missed("dropped", 96, "f")] + [
                m("f", str(i)) for i in range(96, 100)
            ]
            assert drain(newest) == [m("f", str(i)) for i in range(4)] + [
                Missed("dropped", 96, "f")
            ]
            stats = channels.stats()
            assert stats["dropped"] == {"drop_oldest": 96, "drop_newest": 96, "disconnect": 0}
            assert (stats["published"], stats["delivered"]) == (100, 300)


async def test_a_subscription_may_override_the_defaults() -> None:
    async with Channels(max_queue=1, policy="disconnect") as channels:
        async with channels.subscribe("o", max_queue=2, policy="drop_newest") as sub:
            assert (sub.max_queue, sub.policy) == (2, "drop_newest")
            for i in range(3):
                await channels.publish("o", str(i))
            assert drain(sub) == [m("o", "0"), m("o", "1"), Missed("dropped", 1, "o")]
        async with channels.subscribe("o") as default:
            assert (default.max_queue, default.policy) == (1, "disconnect")


# -- notices from the backend -----------------------------------------------------------


async def test_a_notice_for_every_channel_reaches_each_subscription_once() -> None:
    backend = RecordingBackend()
    async with Channels(backend) as channels:
        async with channels.subscribe("a", "b") as both, channels.subscribe("b") as one:
            backend.notify(Missed("reconnected"))
            backend.notify(Missed("history", None, "a"))
            assert drain(both) == [Missed("reconnected"), Missed("history", None, "a")]
            assert drain(one) == [Missed("reconnected")]
            assert channels.stats()["missed_notices"] == 2


# -- joining, leaving, shutting down ----------------------------------------------------


async def test_one_backend_subscription_per_channel_dropped_with_its_last_subscriber() -> None:
    backend = RecordingBackend()
    async with Channels(backend) as channels:
        async with channels.subscribe("a") as first:
            async with channels.subscribe("a", "b"):
                assert backend.calls == [("subscribe", "a"), ("subscribe", "b")]
                assert channels.subscriber_count("a") == 2
            assert backend.calls[2:] == [("unsubscribe", "b")]
            await channels.publish("a", "still")
            assert drain(first) == [m("a", "still")]
        assert backend.calls[3:] == [("unsubscribe", "a")]
        assert backend._channels == set()
        stats = channels.stats()
        assert (stats["subscribers"], stats["channels"]) == (0, 0)


async def test_a_second_subscriber_waits_for_the_first_ones_backend_subscribe() -> None:
    backend = RecordingBackend()
    backend.gate = asyncio.Event()
    async with Channels(backend) as channels, AsyncExitStack() as stack:
        entered: list[str] = []

        async def join(name: str) -> None:
            await stack.enter_async_context(channels.subscribe("slow-join"))
            entered.append(name)

        tasks = [asyncio.create_task(join("first")), asyncio.create_task(join("second"))]
        await asyncio.sleep(0.05)
        assert entered == []  # neither may publish-and-expect before the backend is ready
        assert backend.calls == [("subscribe", "slow-join")]  # once, however many join
        backend.gate.set()
        await asyncio.gather(*tasks)
        assert sorted(entered) == ["first", "second"]
        assert channels.subscriber_count("slow-join") == 2


async def test_shutdown_ends_every_subscription_after_what_was_queued() -> None:
    channels = Channels()
    await channels.start()
    async with channels.subscribe("s") as queued, channels.subscribe("s") as waiting:
        await channels.publish("s", "before")
        assert await waiting.get(1) == m("s", "before")
        reader = asyncio.create_task(waiting.get())  # blocked on an empty queue
        await asyncio.sleep(0.01)
        await channels.stop()
        assert await asyncio.wait_for(reader, 1) is None
        assert (queued.closed_reason, waiting.closed_reason) == ("shutdown", "shutdown")
        assert [event async for event in queued] == [m("s", "before")]
        assert channels.subscriber_count() == 0
    with pytest.raises(PublishError):
        await channels.publish("s", "after")


def test_lifespan_runs_the_channels_with_the_app() -> None:
    channels = Channels()
    app = FastAPI(lifespan=channels.lifespan)

    @app.post("/say/{room}")
    async def say(room: str, text: str) -> dict[str, int]:
        listening = channels.subscriber_count(room)  # "bye" ends the subscription
        await channels.publish(room, text)
        return {"subscribers": listening}

    @app.websocket("/listen/{room}")
    async def listen(websocket: WebSocket, room: str) -> None:
        await websocket.accept()
        async with channels.subscribe(room) as sub:
            await websocket.send_text("ready")
            async for event in sub:
                assert isinstance(event, Message)
                await websocket.send_text(event.text)
                if event.text == "bye":
                    break

    with TestClient(app) as client, client.websocket_connect("/listen/lobby") as ws:
        assert ws.receive_text() == "ready"
        for text in ("hi", "bye"):
            response = client.post("/say/lobby", params={"text": text})
            assert (response.status_code, response.json()) == (200, {"subscribers": 1})
        assert [ws.receive_text(), ws.receive_text()] == ["hi", "bye"]
    assert channels.backend.stats() == {"backend": "memory", "connected": False}


# -- Redis ------------------------------------------------------------------------------


@pytest.fixture
def redis_client(redis_server: Any) -> Any:
    import redis

    client = redis.Redis.from_url(redis_server.url)
    yield client
    client.close()


def redis_backend(kind: str, url: str, **options: Any) -> Any:
    fast = {"timeout": 1.0, "retry_delay": 0.02, "max_retry_delay": 0.2, **options}
    if kind == "pubsub":
        return RedisPubSubBackend(url, **fast)
    return RedisStreamBackend(url, **fast)


def eventually(check: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


async def aeventually(check: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("kind", ["pubsub", "streams"])
async def test_redis_two_processes_each_get_every_message(redis_server: Any, kind: str) -> None:
    channel = f"fw-two-{kind}"
    async with (
        Channels(redis_backend(kind, redis_server.url)) as one,
        Channels(redis_backend(kind, redis_server.url)) as two,
        one.subscribe(channel) as sub_one,
        two.subscribe(channel) as sub_two,
        two.subscribe(channel, f"{channel}-x") as sub_two_b,
    ):
        ids = []
        for i in range(10):
            ids.append(await (one if i % 2 else two).publish(channel, f"m{i}"))
        if kind == "pubsub":
            assert ids == [None] * 10
        else:  # Streams ids, increasing
            assert all(isinstance(i, str) for i in ids) and ids == sorted(ids, key=_order)
        expected = [Message(channel, f"m{i}".encode(), ids[i]) for i in range(10)]
        for sub in (sub_one, sub_two, sub_two_b):
            assert await take(sub, 10) == expected
        await nothing_more(sub_one)
        assert one.stats()["delivered"] == 10
        assert two.stats()["delivered"] == 20


def _order(entry_id: str) -> tuple[int, int]:
    ms, seq = entry_id.split("-")
    return int(ms), int(seq)


async def test_redis_pubsub_one_subscription_per_process_gone_with_the_last_subscriber(
    redis_server: Any, redis_client: Any
) -> None:
    channel = "fw-numsub"

    def numsub() -> int:
        return int(redis_client.pubsub_numsub(channel)[0][1])

    def listed() -> bool:
        return channel.encode() in redis_client.pubsub_channels()

    async with (
        Channels(redis_backend("pubsub", redis_server.url)) as one,
        Channels(redis_backend("pubsub", redis_server.url)) as two,
    ):
        assert numsub() == 0 and not listed()
        async with one.subscribe(channel), one.subscribe(channel), one.subscribe(channel):
            assert numsub() == 1  # three local subscribers, one Redis subscription
            async with two.subscribe(channel):
                assert numsub() == 2
                assert listed()
            await aeventually(lambda: numsub() == 1)
        await aeventually(lambda: numsub() == 0)
        assert not listed()
        # Gone from Redis, gone from the process: a new subscriber subscribes again.
        async with one.subscribe(channel) as again:
            assert numsub() == 1
            await two.publish(channel, "back")
            assert await take(again, 1) == [m(channel, "back")]


async def test_redis_pubsub_a_subscriber_right_after_start_misses_nothing(
    redis_server: Any,
) -> None:
    """subscribe() returns once Redis will deliver to it, even while the reader is still
    connecting (it used to return at once, and a message published then was lost)."""
    channel = "fw-early"
    async with Channels(redis_backend("pubsub", redis_server.url)) as publisher:
        await publisher.publish(channel, "warm-up")  # the publisher's connection is up
        for attempt in range(3):
            async with (
                Channels(redis_backend("pubsub", redis_server.url)) as late,
                late.subscribe(channel) as sub,
            ):
                await publisher.publish(channel, f"first {attempt}")
                assert await take(sub, 1, timeout=5) == [m(channel, f"first {attempt}")]


async def test_redis_shutdown_closes_the_connections_and_cleans_up(
    redis_server: Any, redis_client: Any
) -> None:
    """Stopped channels leave no connection behind (told apart from any other test's by
    their database, 4) and no key of their own."""
    import redis

    url = redis_server.url.rsplit("/", 1)[0] + "/4"

    with redis.Redis.from_url(url) as db4:
        me = str(db4.client_id())

        def ours() -> int:
            return len([c for c in redis_client.client_list() if c["db"] == "4" and c["id"] != me])

        for kind in ("pubsub", "streams"):
            assert ours() == 0
            channels = Channels(redis_backend(kind, url))
            async with channels:
                async with channels.subscribe(f"fw-close-{kind}") as sub:
                    await channels.publish(f"fw-close-{kind}", "x")
                    await take(sub, 1)
                    assert ours() == 2  # one for commands, one reader
                    wake_key = getattr(channels.backend, "_wake_key", None)
                    if wake_key is not None:
                        assert db4.exists(wake_key) == 1
            assert sub.closed_reason == "closed"
            assert channels.backend.stats()["connected"] is False
            await aeventually(lambda: ours() == 0)
            if wake_key is not None:
                assert db4.exists(wake_key) == 0


# -- Redis Streams: history -------------------------------------------------------------


async def test_streams_history_gives_the_last_n_then_live_ones_each_once(
    redis_server: Any,
) -> None:
    channel = "fw-history"
    async with Channels(redis_backend("streams", redis_server.url)) as channels:
        ids = [await channels.publish(channel, f"h{i}") for i in range(6)]
        past = [Message(channel, f"h{i}".encode(), ids[i]) for i in range(6)]
        async with channels.subscribe(channel, history=3) as sub:
            assert drain(sub) == past[3:]
            new_id = await channels.publish(channel, "live")
            assert await take(sub, 1) == [Message(channel, b"live", new_id)]
            await nothing_more(sub)
        async with channels.subscribe(channel, history=100) as everything:
            assert drain(everything) == [*past, Message(channel, b"live", new_id)]
        async with channels.subscribe(channel, f"{channel}-empty", history=2) as two:
            assert drain(two) == [past[5], Message(channel, b"live", new_id)]
        async with channels.subscribe(channel) as none:
            assert drain(none) == []


async def test_streams_history_and_live_copies_of_the_same_message_arrive_once(
    redis_server: Any,
) -> None:
    """A message published while a subscriber joins is in its history *and* comes live,
    before the history is read (already queued) or after it (the reader was behind):
    either way it arrives once, in order.  The backend's subscribe and history are
    wrapped to make both races happen every time."""
    channel = "fw-dedup"
    backend = redis_backend("streams", redis_server.url)
    channels = Channels(backend)
    fan_out = channels._deliver
    held: list[Event] = []
    seen: list[str] = []
    holding = False

    def deliver(event: Event) -> None:  # between the reader and the fan-out
        if holding:
            held.append(event)
        else:
            seen.append(event.text if isinstance(event, Message) else event.reason)
            fan_out(event)

    channels._deliver = deliver  # type: ignore[method-assign]
    real_subscribe, real_history = backend.subscribe, backend.history

    async def subscribe_then_publish(name: str) -> None:
        await real_subscribe(name)
        await channels.publish(name, "both-ways-early")  # live, and in the history

    async def history_late(name: str, count: int) -> list[Message]:
        nonlocal holding
        await aeventually(lambda: seen == ["both-ways-early"])  # queued live already
        holding = True  # the next one is in Redis before the history is read, live after
        await channels.publish(name, "both-ways-late")
        return await real_history(name, count)

    async with channels:
        await channels.publish(channel, "old")
        backend.subscribe = subscribe_then_publish  # type: ignore[method-assign]
        backend.history = history_late  # type: ignore[method-assign]
        async with channels.subscribe(channel, history=5) as sub:
            texts = [e.text for e in drain(sub)]  # type: ignore[union-attr]
            assert texts == ["old", "both-ways-early", "both-ways-late"]
            await aeventually(lambda: len(held) == 1)
            holding = False
            assert isinstance(held[0], Message) and held[0].text == "both-ways-late"
            deliver(held[0])  # the late live copy
            await channels.publish(channel, "after")
            assert [e.text for e in await take(sub, 1)] == ["after"]  # type: ignore[union-attr]
            await nothing_more(sub)
        # The wrapping was only for that subscription's join.
        backend.subscribe, backend.history = real_subscribe, real_history  # type: ignore[method-assign]


async def test_streams_are_capped_and_expire(redis_server: Any, redis_client: Any) -> None:
    channel = "fw-capped"
    backend = redis_backend("streams", redis_server.url, maxlen=10, ttl=60)
    async with Channels(backend) as channels:
        for i in range(300):
            await channels.publish(channel, str(i))
    key = f"aster:channel:{channel}"
    # MAXLEN ~: trimmed by whole nodes (stream-node-max-entries, 100 by default).
    assert 10 <= redis_client.xlen(key) <= 110
    assert 0 < redis_client.pttl(key) <= 60_000


# -- Redis going away -------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["pubsub", "streams"])
async def test_redis_restart_publish_fails_fast_then_subscribers_hear_and_resume(
    redis_server: Any, kind: str
) -> None:
    channel = f"fw-restart-{kind}"
    backend = redis_backend(kind, redis_server.url, publish_retries=2)
    try:
        async with (
            Channels(backend) as channels,
            channels.subscribe(channel, f"{channel}-b") as sub,
        ):
            await channels.publish(channel, "before")
            assert [e.text for e in await take(sub, 1)] == ["before"]  # type: ignore[union-attr]
            redis_server.stop()
            started = time.monotonic()
            with pytest.raises(PublishError) as info:
                await channels.publish(channel, "lost")
            assert time.monotonic() - started < 5
            assert str(info.value).startswith(
                f"publish: Redis at {redis_server.url} unavailable after 3 attempts:"
            )
            await aeventually(lambda: backend.stats()["connected"] is False)
            redis_server.start()
            # One notice, though the subscription has two channels.
            assert await take(sub, 1) == [Missed("reconnected")]
            await channels.publish(channel, "after")
            assert [e.text for e in await take(sub, 1)] == ["after"]  # type: ignore[union-attr]
            await nothing_more(sub)
            stats = channels.stats()
            assert (stats["reconnects"], stats["missed_notices"], stats["connected"]) == (
                1,
                1,
                True,
            )
            assert (stats["publish_failures"], stats["published"]) == (1, 2)
    finally:
        redis_server.start()
