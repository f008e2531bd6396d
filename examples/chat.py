"""The demo's chat: a WebSocket endpoint, an in-memory broadcaster and a page to use them.

    GET  /chat               the chat page (inline HTML and JS, no external assets)
    WS   /chat/ws            ?nick=name&room=lobby: join a room, send text, receive JSON
    GET  /chat/stats         who is connected, per room

Every message a member sends is broadcast to the whole room (the sender too) as
``{"type": "message", "from": nick, "text": text}``; joining and leaving are announced
as ``{"type": "join" | "leave", "from": nick, "text": ..., "online": [nicks]}``.  The
nickname and the room are validated query parameters: an invalid one (or a nickname
already taken in that room) closes the socket before it is accepted, which the client
sees as an HTTP 403 answer to its handshake.

Each member has a bounded queue and its own sender task, so one slow client cannot hold
up a broadcast; a member whose queue overflows is disconnected.  The rooms live in this
process's memory: run one worker.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from aster import APIRouter, Query, WebSocket, WebSocketDisconnect
from aster.responses import HTMLResponse

MAX_TEXT = 500
NAME = r"^[\w][\w .-]*$"  # letters, digits and _ first; then also spaces, dots, dashes


class Member:
    def __init__(self, nick: str, backlog: int = 100) -> None:
        self.nick = nick
        self.queue: asyncio.Queue[str | None] = asyncio.Queue(backlog)

    def deliver(self, data: str) -> None:
        if self.queue.full():  # too slow to keep up: make room for the goodbye, then go
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(None)
        else:
            self.queue.put_nowait(data)


class Broadcaster:
    """Rooms of members; :meth:`publish` queues a message for every member of a room."""

    def __init__(self) -> None:
        self.rooms: dict[str, dict[str, Member]] = {}

    def __len__(self) -> int:
        return sum(len(members) for members in self.rooms.values())

    def online(self, room: str) -> list[str]:
        return sorted(self.rooms.get(room, {}))

    def taken(self, room: str, nick: str) -> bool:
        return nick in self.rooms.get(room, {})

    @contextmanager
    def join(self, room: str, nick: str) -> Iterator[Member]:
        member = Member(nick)
        self.rooms.setdefault(room, {})[nick] = member
        try:
            yield member
        finally:
            members = self.rooms.get(room, {})
            if members.get(nick) is member:
                del members[nick]
            if not members:
                self.rooms.pop(room, None)

    def publish(self, room: str, message: dict[str, Any]) -> None:
        data = json.dumps(message, ensure_ascii=False)
        for member in list(self.rooms.get(room, {}).values()):
            member.deliver(data)

    def announce(self, room: str, kind: str, nick: str) -> None:
        verb = "joined" if kind == "join" else "left"
        self.publish(
            room,
            {"type": kind, "from": nick, "text": f"{nick} {verb}", "online": self.online(room)},
        )


broadcaster = Broadcaster()
router = APIRouter()

Nick = Annotated[str, Query(min_length=2, max_length=20, pattern=NAME)]
Room = Annotated[str, Query(min_length=1, max_length=30, pattern=NAME)]


async def _send_queued(websocket: WebSocket, member: Member) -> None:
    while (data := await member.queue.get()) is not None:
        await websocket.send_text(data)
    await websocket.close(code=1008, reason="too slow")


@router.websocket("/chat/ws")
async def chat(websocket: WebSocket, nick: Nick, room: Room = "lobby") -> None:
    if broadcaster.taken(room, nick):
        await websocket.close(code=1008, reason="nickname taken")  # before accept: a 403
        return
    with broadcaster.join(room, nick) as member:  # no await since the check: no race
        await websocket.accept()
        sender = asyncio.create_task(_send_queued(websocket, member))
        broadcaster.announce(room, "join", nick)
        try:
            async for text in websocket.iter_text():  # ends when the client leaves
                text = text.strip()
                if len(text) > MAX_TEXT:
                    member.deliver(json.dumps({"type": "error", "text": "message too long"}))
                elif text:
                    broadcaster.publish(room, {"type": "message", "from": nick, "text": text})
        finally:
            sender.cancel()
            try:
                await sender
            except (asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
                pass
    broadcaster.announce(room, "leave", nick)


@router.get("/chat/stats", include_in_schema=False)
async def chat_stats() -> dict[str, Any]:
    rooms = {room: sorted(members) for room, members in broadcaster.rooms.items()}
    return {"members": len(broadcaster), "rooms": rooms}


@router.get("/chat", response_class=HTMLResponse, include_in_schema=False)
async def chat_page() -> str:
    return PAGE


PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>aster chat</title>
<style>
body { font: 15px system-ui, sans-serif; max-width: 40em; margin: 2em auto; }
#log { list-style: none; padding: 0; border: 1px solid #ccc; height: 20em; overflow-y: auto; }
#log li { padding: .2em .5em; } #log .notice { color: #777; font-style: italic; }
#log .error { color: #b00; } form { display: flex; gap: .5em; margin: .5em 0; }
#text { flex: 1; }
</style></head>
<body><h1>aster chat</h1>
<form id="join"><input id="nick" placeholder="nickname" minlength="2" maxlength="20" required>
<input id="room" value="lobby" maxlength="30" required><button>Join</button></form>
<p id="status">Not connected.</p><p>Online: <span id="online"></span></p>
<ul id="log"></ul>
<form id="send"><input id="text" placeholder="message" maxlength="500" disabled>
<button id="send-button" disabled>Send</button></form>
<script>
const $ = id => document.getElementById(id);
let socket = null;
function show(text, kind) {
  const item = document.createElement('li');
  item.className = kind;
  item.textContent = text;  // text, never HTML: nothing a member sends is markup
  $('log').appendChild(item);
  $('log').scrollTop = $('log').scrollHeight;
}
function connected(yes) {
  $('text').disabled = $('send-button').disabled = !yes;
  $('nick').disabled = $('room').disabled = yes;
}
$('join').addEventListener('submit', event => {
  event.preventDefault();
  if (socket) socket.close();
  const query = new URLSearchParams({nick: $('nick').value, room: $('room').value});
  const scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
  socket = new WebSocket(`${scheme}${location.host}/chat/ws?${query}`);
  socket.onopen = () => {
    $('status').textContent = `Connected as ${$('nick').value} in ${$('room').value}.`;
    connected(true);
    $('text').focus();
  };
  socket.onmessage = event => {
    const m = JSON.parse(event.data);
    if (m.online) $('online').textContent = m.online.join(', ');
    if (m.type === 'message') show(`${m.from}: ${m.text}`, 'message');
    else show(m.text, m.type === 'error' ? 'error' : 'notice');
  };
  socket.onclose = event => {
    $('status').textContent = event.code === 1006 && !event.wasClean
      ? 'Refused or lost: nicknames are 2-20 letters, digits, spaces, dots or dashes.'
      : `Disconnected (${event.code}).`;
    connected(false);
    socket = null;
  };
});
$('send').addEventListener('submit', event => {
  event.preventDefault();
  if (socket && $('text').value.trim()) socket.send($('text').value);
  $('text').value = '';
});
addEventListener('pagehide', () => { if (socket) socket.close(1000, 'page left'); });
const preset = new URLSearchParams(location.search);
if (preset.get('room')) $('room').value = preset.get('room');
if (preset.get('nick')) { $('nick').value = preset.get('nick'); $('join').requestSubmit(); }
</script></body></html>
"""
