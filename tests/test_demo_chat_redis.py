"""The demo's chat (examples/chat.py) on Redis: ``REDIS_URL`` set, two ``aster run``
processes of the demo app on one throwaway redis-server (the ``redis_server`` fixture)
are one chat.  Clients on either process see each other's messages, in order per sender,
a nickname is taken across both, and /chat/stats on either lists everyone; a process that
dies takes its members with it; Redis going away is an error to a sender and a 503 from
/chat/stats, and its coming back a notice to every member, after which the chat carries on.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("websockets")

from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.demo_chat_support import PRESENCE_TTL, serve_on_redis, skip_without_redis
from tests.support import Running
from tests.test_demo import eventually
from tests.test_demo_chat import recv, ws_url

EMPTY = {"members": 0, "rooms": {}}
RECONNECTED = {
    "type": "notice",
    "text": "The chat lost its connection and is back: messages sent meanwhile may be lost.",
}


@pytest.fixture(scope="module")
def redis_url(request: pytest.FixtureRequest) -> str:
    skip_without_redis()  # before asking for the fixture, which needs redis-server
    return str(request.getfixturevalue("redis_server").url)


@pytest.fixture(scope="module")
def servers(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Running]]:
    root = tmp_path_factory.mktemp("demo-chat-redis")
    with serve_on_redis(redis_url, root, "a", "b") as running:
        yield running


@pytest.fixture
def a(servers: list[Running]) -> Running:
    return servers[0]


@pytest.fixture
def b(servers: list[Running]) -> Running:
    return servers[1]


def stats(server: Running) -> dict[str, Any]:
    response = httpx.get(f"{server.url}/chat/stats", timeout=10)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


@pytest.fixture(autouse=True)
def nobody_left_behind(servers: list[Running]) -> Iterator[None]:
    """Every test starts, and must end, with an empty chat, as both processes see it."""
    assert [stats(server) for server in servers] == [EMPTY, EMPTY]
    yield
    eventually(lambda: [stats(server) for server in servers] == [EMPTY, EMPTY])


def joined(nick: str, online: list[str]) -> dict[str, Any]:
    return {"type": "join", "from": nick, "text": f"{nick} joined", "online": online}


def said(nick: str, text: str) -> dict[str, Any]:
    return {"type": "message", "from": nick, "text": text}


def test_members_on_two_processes_are_one_chat(a: Running, b: Running) -> None:
    with connect(ws_url(a, "nick=alice")) as alice:
        assert recv(alice) == joined("alice", ["alice"])
        with connect(ws_url(b, "nick=bob")) as bob:
            assert recv(alice) == joined("bob", ["alice", "bob"])
            assert recv(bob) == joined("bob", ["alice", "bob"])
            everyone = {"members": 2, "rooms": {"lobby": ["alice", "bob"]}}
            assert stats(a) == stats(b) == everyone

            bob.send("hello from b")
            assert recv(alice) == said("bob", "hello from b")
            assert recv(bob) == said("bob", "hello from b")
            alice.send("  hi bob, <b>ünïcode</b> ✓  ")
            assert recv(bob) == said("alice", "hi bob, <b>ünïcode</b> ✓")
            assert recv(alice) == said("alice", "hi bob, <b>ünïcode</b> ✓")

            bob.send("x" * 501)  # refused where it was sent: nothing reaches a
            assert recv(bob) == {"type": "error", "text": "message too long"}
        assert recv(alice) == {
            "type": "leave",
            "from": "bob",
            "text": "bob left",
            "online": ["alice"],
        }
        assert stats(b) == {"members": 1, "rooms": {"lobby": ["alice"]}}


def test_rooms_are_separate_across_processes(a: Running, b: Running) -> None:
    with (
        connect(ws_url(a, "nick=ann&room=red")) as ann,
        connect(ws_url(b, "nick=ben&room=blue")) as ben,
        connect(ws_url(b, "nick=rose&room=red")) as rose,
    ):
        assert recv(ann) == joined("ann", ["ann"])
        assert recv(ben) == joined("ben", ["ben"])
        assert recv(ann) == recv(rose) == joined("rose", ["ann", "rose"])
        assert stats(a) == {"members": 3, "rooms": {"blue": ["ben"], "red": ["ann", "rose"]}}
        ann.send("only red hears this")
        assert recv(rose) == said("ann", "only red hears this")
        ben.send("blue")
        assert recv(ben) == said("ben", "blue")  # and nothing of red's came before it


def test_a_nickname_is_taken_across_processes(a: Running, b: Running) -> None:
    with connect(ws_url(a, "nick=erin")) as erin:
        recv(erin)
        with pytest.raises(InvalidStatus) as info:
            connect(ws_url(b, "nick=erin"), open_timeout=5)
        assert info.value.response.status_code == 403
        with connect(ws_url(b, "nick=erin&room=elsewhere")) as other:  # another room: free
            assert recv(other) == joined("erin", ["erin"])
        erin.send("still here")
        assert recv(erin) == said("erin", "still here")  # no leave notice from the refused one
    with connect(ws_url(b, "nick=erin")) as again:  # gone from a: free on b
        assert recv(again) == joined("erin", ["erin"])


def test_every_message_arrives_once_in_order_per_sender(a: Running, b: Running) -> None:
    count = 200
    with (
        connect(ws_url(a, "nick=alice")) as alice,
        connect(ws_url(b, "nick=bob"), max_queue=None) as bob,
        connect(ws_url(a, "nick=carol"), max_queue=None) as carol,
    ):
        recv(alice)
        for member in (alice, bob, carol):
            while recv(member) != joined("carol", ["alice", "bob", "carol"]):
                pass  # the earlier join notices, as far as this member saw them
        for i in range(count):  # both at once: two processes publishing to the room
            alice.send(f"a{i}")
            bob.send(f"b{i}")

        def received(member: ClientConnection) -> dict[str, list[str]]:
            texts: dict[str, list[str]] = {"alice": [], "bob": []}
            for _ in range(2 * count):
                message = recv(member)
                assert message["type"] == "message"
                texts[message["from"]].append(message["text"])
            return texts

        expected = {
            "alice": [f"a{i}" for i in range(count)],
            "bob": [f"b{i}" for i in range(count)],
        }
        assert received(alice) == received(bob) == received(carol) == expected


def test_a_process_that_dies_takes_its_members_with_it(
    a: Running, redis_url: str, tmp_path: Path
) -> None:
    with connect(ws_url(a, "nick=alice")) as alice:
        recv(alice)
        with serve_on_redis(redis_url, tmp_path, "doomed") as [doomed]:
            bob = connect(ws_url(doomed, "nick=bob"), legacy=True)
            assert recv(alice) == joined("bob", ["alice", "bob"])
            assert stats(a)["rooms"] == {"lobby": ["alice", "bob"]}
            os.killpg(doomed.process.pid, signal.SIGKILL)  # no goodbye: no leave notice
            doomed.process.wait(10)
            bob.close_socket()
            # Its members' keys expire within the ttl: gone from the list, the name free.
            eventually(lambda: stats(a)["rooms"] == {"lobby": ["alice"]}, PRESENCE_TTL * 3)
        with connect(ws_url(a, "nick=bob")) as again:
            assert recv(again) == joined("bob", ["alice", "bob"])
            assert recv(alice) == joined("bob", ["alice", "bob"])


def test_redis_restarting_is_a_notice_and_the_chat_goes_on(tmp_path: Path) -> None:
    """On its own Redis, which it kills and restarts (empty: no persistence)."""
    skip_without_redis()
    from bench.redis_server import RedisServer

    with RedisServer() as redis, serve_on_redis(redis.url, tmp_path, "a", "b") as [a, b]:
        with connect(ws_url(a, "nick=alice")) as alice, connect(ws_url(b, "nick=bob")) as bob:
            recv(alice)
            assert recv(alice) == recv(bob) == joined("bob", ["alice", "bob"])

            redis.stop()
            alice.send("into the void")  # the publish's retries run out: alice is told
            assert recv(alice) == {
                "type": "error",
                "text": "not sent: the chat is unavailable, try again",
            }
            response = httpx.get(f"{a.url}/chat/stats", timeout=10)
            assert response.status_code == 503
            assert response.json() == {"detail": "the chat's presence is unavailable"}
            assert httpx.get(f"{a.url}/health", timeout=10).status_code == 200  # HTTP goes on

            redis.start()  # every member hears that it may have missed messages
            assert recv(alice, timeout=15) == RECONNECTED
            assert recv(bob, timeout=15) == RECONNECTED
            # Each process puts its members back into the empty Redis within a third of
            # the ttl, and messages flow again, both ways.
            everyone = {"members": 2, "rooms": {"lobby": ["alice", "bob"]}}
            eventually(lambda: stats(a) == everyone, PRESENCE_TTL * 3)
            bob.send("back")
            assert recv(alice) == recv(bob) == said("bob", "back")
            alice.send("welcome back")
            assert recv(bob) == recv(alice) == said("alice", "welcome back")
        eventually(lambda: stats(b) == EMPTY)
        assert redis.command("KEYS", "*") == b"*0\r\n"  # the presence left nothing behind
