"""The demo's WebSocket chat (examples/chat.py) under a real ``aster run``, driven by the
``websockets`` client library over real sockets."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

pytest.importorskip("websockets")

from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.support import Running, serve
from tests.test_demo import DEMO, demo_env, eventually


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    db = tmp_path_factory.mktemp("demo-chat") / "notes.sqlite3"
    with serve(*DEMO, env=demo_env(db)) as running:
        yield running


@pytest.fixture
def http(server: Running) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


@pytest.fixture(autouse=True)
def nobody_left_behind(http: httpx.Client) -> Iterator[None]:
    """Every test starts, and must end, with an empty chat."""
    assert http.get("/chat/stats").json() == {"members": 0, "rooms": {}}
    yield
    eventually(lambda: http.get("/chat/stats").json() == {"members": 0, "rooms": {}})


def ws_url(server: Running, query: str) -> str:
    return f"ws://{server.host}:{server.port}/chat/ws?{query}"


def recv(client: ClientConnection, timeout: float = 5) -> dict[str, Any]:
    message = client.recv(timeout=timeout)
    assert isinstance(message, str)
    data: dict[str, Any] = json.loads(message)
    return data


def test_two_clients_exchange_messages_with_join_and_leave_notices(
    server: Running, http: httpx.Client
) -> None:
    with connect(ws_url(server, "nick=alice")) as alice:
        assert recv(alice) == {
            "type": "join",
            "from": "alice",
            "text": "alice joined",
            "online": ["alice"],
        }
        with connect(ws_url(server, "nick=bob")) as bob:
            joined = {
                "type": "join",
                "from": "bob",
                "text": "bob joined",
                "online": ["alice", "bob"],
            }
            assert recv(alice) == joined
            assert recv(bob) == joined
            assert http.get("/chat/stats").json() == {
                "members": 2,
                "rooms": {"lobby": ["alice", "bob"]},
            }

            bob.send("hello, alice")
            said = {"type": "message", "from": "bob", "text": "hello, alice"}
            assert recv(alice) == said
            assert recv(bob) == said  # the sender sees its message broadcast too

            alice.send("  hi bob, <b>ünïcode</b> ✓  ")
            said = {"type": "message", "from": "alice", "text": "hi bob, <b>ünïcode</b> ✓"}
            assert recv(bob) == said
            assert recv(alice) == said
        assert recv(alice) == {
            "type": "leave",
            "from": "bob",
            "text": "bob left",
            "online": ["alice"],
        }
        assert http.get("/chat/stats").json() == {"members": 1, "rooms": {"lobby": ["alice"]}}


def test_rooms_are_separate(server: Running) -> None:
    with (
        connect(ws_url(server, "nick=ann&room=red")) as ann,
        connect(ws_url(server, "nick=ben&room=blue")) as ben,
    ):
        assert recv(ann)["online"] == ["ann"]
        assert recv(ben)["online"] == ["ben"]
        ann.send("only red hears this")
        assert recv(ann) == {"type": "message", "from": "ann", "text": "only red hears this"}
        ben.send("blue")
        assert recv(ben)["text"] == "blue"  # and nothing of red's came before it


def test_blank_messages_are_ignored_and_long_ones_refused(server: Running) -> None:
    with connect(ws_url(server, "nick=carol")) as carol:
        recv(carol)  # joined
        carol.send("   ")
        carol.send("x" * 501)
        assert recv(carol) == {"type": "error", "text": "message too long"}
        carol.send("x" * 500)
        assert recv(carol)["text"] == "x" * 500


@pytest.mark.parametrize(
    "query",
    [
        "",  # no nickname at all
        "nick=a",  # shorter than min_length
        "nick=" + "n" * 21,  # longer than max_length
        "nick=%3Cscript%3E",  # not matching the pattern
        "nick=dave&room=",  # an empty room
    ],
)
def test_an_invalid_nickname_is_refused_at_the_handshake(
    server: Running, http: httpx.Client, query: str
) -> None:
    with pytest.raises(InvalidStatus) as info:
        connect(ws_url(server, query), open_timeout=5)
    assert info.value.response.status_code == 403
    assert http.get("/chat/stats").json()["members"] == 0


def test_a_nickname_in_use_is_refused_at_the_handshake(server: Running) -> None:
    with connect(ws_url(server, "nick=erin")) as erin:
        recv(erin)
        with pytest.raises(InvalidStatus) as info:
            connect(ws_url(server, "nick=erin"), open_timeout=5)
        assert info.value.response.status_code == 403
        with connect(ws_url(server, "nick=erin&room=elsewhere")) as other:  # another room
            assert recv(other)["online"] == ["erin"]
        erin.send("still here")
        assert recv(erin)["text"] == "still here"  # no leave notice from the refused one


def test_disconnects_clean_up_the_broadcaster(server: Running, http: httpx.Client) -> None:
    clients = [connect(ws_url(server, f"nick=user{i}"), legacy=True) for i in range(5)]
    try:
        eventually(lambda: http.get("/chat/stats").json()["members"] == 5)
    finally:
        clients[0].close()  # a clean close handshake
        for client in clients[1:]:
            client.close_socket()  # gone without a close frame: the TCP connection drops
    eventually(lambda: http.get("/chat/stats").json() == {"members": 0, "rooms": {}})
    with connect(ws_url(server, "nick=user0")) as again:  # the nickname is free again
        assert recv(again)["online"] == ["user0"]


def test_a_member_that_stops_reading_is_disconnected_and_the_room_goes_on(
    server: Running, http: httpx.Client
) -> None:
    """A client that reads nothing stalls the sends to it; the room's messages queue for it
    (at most the chat's BACKLOG) until the queue overflows, and then it is closed with 1008
    at once, while still stalled: the others hear that it left.  When it reads again, it
    gets what was on the way to it, then the close."""
    stalled = socket.socket()
    # A small receive buffer fills all the sooner; set before connecting, so that the
    # window it announces is small from the start and opens again once it reads.
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.connect((server.host, server.port))
    # No compression (which would make the repeated text tiny) and a one-frame buffer.
    slow = connect(
        ws_url(server, "nick=slowpoke"), sock=stalled, compression=None, max_queue=1, legacy=True
    )
    try:
        with connect(ws_url(server, "nick=chatty"), max_queue=None) as chatty:
            assert recv(chatty) == {
                "type": "join",
                "from": "chatty",
                "text": "chatty joined",
                "online": ["chatty", "slowpoke"],
            }
            left = {
                "type": "leave",
                "from": "slowpoke",
                "text": "slowpoke left",
                "online": ["chatty"],
            }
            sent = 0
            while sent < 200_000:  # a few tens of thousands fill the socket buffers
                for _ in range(100):
                    chatty.send(f"{sent:06} " + "x" * 400)
                    sent += 1
                if _drain(chatty, until=left, timeout=0):  # flood: no pause
                    break
            else:
                raise AssertionError("slowpoke was never disconnected")
            assert http.get("/chat/stats").json() == {"members": 1, "rooms": {"lobby": ["chatty"]}}
            chatty.send("still talking")  # the room goes on
            assert _drain(
                chatty, until={"type": "message", "from": "chatty", "text": "still talking"}
            )

        got = 0
        with pytest.raises(ConnectionClosed) as info:
            while True:
                recv(slow)
                got += 1
        assert info.value.rcvd is not None
        assert (info.value.rcvd.code, info.value.rcvd.reason) == (1008, "too slow")
        assert 0 < got < sent  # what was in the buffers, not what was said after the close
    finally:
        slow.close_socket()
    assert server.wait_for_log(r"subscriber to room:lobby disconnected: 100 messages behind")


def _drain(client: ClientConnection, until: dict[str, Any], timeout: float = 5) -> bool:
    """Read what arrives until ``until`` does (True) or nothing has for ``timeout`` s."""
    while True:
        try:
            message = client.recv(timeout=timeout)
        except TimeoutError:
            return False
        if json.loads(message) == until:
            return True


def test_the_server_ends_the_session_when_the_client_closes(server: Running) -> None:
    with connect(ws_url(server, "nick=frank")) as client:
        recv(client)
        client.close(code=1000, reason="bye")
        with pytest.raises(ConnectionClosed):
            client.recv(timeout=1)
    assert client.close_code == 1000
    assert server.wait_for_log(r'"WebSocket /chat/ws\?nick=frank" \[accepted\]')


def test_chat_page_is_self_contained_html(http: httpx.Client) -> None:
    response = http.get("/chat")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "new WebSocket(" in page and "/chat/ws?" in page
    assert "http://" not in page and "https://" not in page and "src=" not in page


def test_chat_is_not_in_the_openapi_document(http: httpx.Client) -> None:
    paths = http.get("/openapi.json").json()["paths"]
    assert not any(path.startswith("/chat") for path in paths)
