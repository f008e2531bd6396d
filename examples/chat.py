"""The demo's chat: a WebSocket endpoint on aster.channels, and a page to use it.

    GET  /chat               the chat page (inline HTML and JS, no external assets)
    WS   /chat/ws            ?nick=name&room=lobby: join a room, send text, receive JSON
    GET  /chat/stats         who is connected, per room

Every message a member sends is broadcast to the whole room (the sender too) as
``{"type": "message", "from": nick, "text": text}``; joining and leaving are announced
as ``{"type": "join" | "leave", "from": nick, "text": ..., "online": [nicks]}``, and a
member is told ``{"type": "error", "text": ...}`` (a message too long, or one the chat
could not pass on) and ``{"type": "notice", "text": ...}`` (messages may have been
missed: the connection to Redis was lost and is back).  The nickname and the room are
validated query parameters: an invalid one (or a nickname already taken in that room)
closes the socket before it is accepted, which the client sees as an HTTP 403 answer to
its handshake.

**One process or many.**  A room is a channel (:mod:`aster.channels`), and who is in
which room is the "presence".  By default both live in this process's memory (the
memory backend: ``make run`` needs nothing).  With ``REDIS_URL`` set, say
``REDIS_URL=redis://localhost:6379/0 aster run app:app --app-dir examples --workers 4``,
rooms are Redis pub/sub channels and the presence is kept in Redis, so any number of
processes and machines on that Redis are one chat: a message sent to one reaches the
members of every process, a nickname is taken across all of them, and ``/chat/stats``
(on any process) lists every member of every process.  Pub/sub rather than Streams: a
chat is live, and a joiner sees what is said from its own join on, as with the memory
backend; a Streams history would replay old join notices with stale "online" lists.

The presence in Redis: ``aster-chat:room:<room>``, a hash of nickname -> member id;
``aster-chat:rooms``, the set of rooms; and ``aster-chat:alive:<member id>``, a key that
expires ``ASTER_DEMO_PRESENCE_TTL`` seconds (15) after the member's process last vouched
for it (every third of that).  A member counts only while its key lives, so the members
of a process that dies without saying goodbye are gone within that time (no leave
notice is sent for them), and after Redis lost its data (a restart) each process puts
its members back within a third of it.  Claiming a nickname, leaving, and listing a
room are Lua scripts: one atomic step each, so two processes never both get a nickname.

Each member has its own subscription, a bounded queue (``BACKLOG`` messages) with the
"disconnect" policy, and its own sender task, so one slow client cannot hold up a room:
a member whose queue overflows is closed with 1008 ("too slow") at once, even while a
send to it is stuck.  Start and stop the chat in the app's lifespan: ``async with
chat:`` (examples/app.py does).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
from typing import Annotated, Any

from aster import APIRouter, HTTPException, Query, WebSocket, WebSocketDisconnect
from aster.channels import (
    Channels,
    MemoryBackend,
    Message,
    Missed,
    PublishError,
    RedisPubSubBackend,
    Subscription,
)
from aster.responses import HTMLResponse
from aster.websockets import WebSocketState

MAX_TEXT = 500
NAME = r"^[\w][\w .-]*$"  # letters, digits and _ first; then also spaces, dots, dashes
#: Messages a member may fall behind before it is disconnected.
BACKLOG = 100
#: Redis keys and channels of the chat begin with this.
PREFIX = "aster-chat:"
#: Seconds a Redis command may take before the chat counts Redis as unavailable.
TIMEOUT = 2.0

logger = logging.getLogger("aster.chat")


class Unavailable(Exception):
    """The presence store (Redis) did not answer."""


class MemoryPresence:
    """Who is in which room, in this process's memory."""

    def __init__(self) -> None:
        self.members: dict[str, dict[str, str]] = {}  # room -> nick -> member id

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        self.members.clear()

    async def claim(self, room: str, nick: str) -> str | None:
        """Take ``nick`` in ``room``: the member's id (for :meth:`release`), or ``None`` if
        it is taken.  No await inside: the check and the taking are one step."""
        members = self.members.setdefault(room, {})
        if nick in members:
            return None
        member = members[nick] = secrets.token_hex(8)
        return member

    async def release(self, room: str, nick: str, member: str) -> None:
        members = self.members.get(room, {})
        if members.get(nick) == member:
            del members[nick]
        if not members:
            self.members.pop(room, None)

    async def online(self, room: str) -> list[str]:
        return sorted(self.members.get(room, {}))

    async def rooms(self) -> dict[str, list[str]]:
        return {room: sorted(members) for room, members in self.members.items()}


# The presence scripts: ARGV[1] is the key prefix.  They name their keys from ARGV, which
# a single Redis allows (a Redis Cluster would not).
_LIVE = """
local function live(prefix, room)
  local key = prefix .. 'room:' .. room
  local flat = redis.call('HGETALL', key)
  local nicks = {}
  for i = 1, #flat, 2 do
    if redis.call('EXISTS', prefix .. 'alive:' .. flat[i + 1]) == 1 then
      nicks[#nicks + 1] = flat[i]
    else
      redis.call('HDEL', key, flat[i])  -- its process died without releasing it
    end
  end
  if #nicks == 0 then redis.call('SREM', prefix .. 'rooms', room) end
  return nicks
end
"""
# ARGV: prefix, room, nick, member id, ttl (ms) -> 1 if claimed, 0 if taken.
_CLAIM = """
local prefix, room, nick, member = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local key = prefix .. 'room:' .. room
local holder = redis.call('HGET', key, nick)
if holder and redis.call('EXISTS', prefix .. 'alive:' .. holder) == 1 then return 0 end
redis.call('SET', prefix .. 'alive:' .. member, '1', 'PX', ARGV[5])
redis.call('HSET', key, nick, member)
redis.call('SADD', prefix .. 'rooms', room)
return 1
"""
# ARGV: prefix, room, nick, member id.
_RELEASE = """
local prefix, room, nick, member = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local key = prefix .. 'room:' .. room
redis.call('DEL', prefix .. 'alive:' .. member)
if redis.call('HGET', key, nick) == member then redis.call('HDEL', key, nick) end
if redis.call('EXISTS', key) == 0 then redis.call('SREM', prefix .. 'rooms', room) end
return 1
"""
# ARGV: prefix, ttl (ms), then room, nick, member id for each member of this process:
# they are alive for another ttl, and back in their rooms if Redis lost them.
_VOUCH = """
local prefix, ttl = ARGV[1], ARGV[2]
for i = 3, #ARGV, 3 do
  local room, nick, member = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  redis.call('SET', prefix .. 'alive:' .. member, '1', 'PX', ttl)
  local key = prefix .. 'room:' .. room
  local holder = redis.call('HGET', key, nick)
  if not holder or (holder ~= member and redis.call('EXISTS', prefix .. 'alive:' .. holder) == 0)
  then
    redis.call('HSET', key, nick, member)
    redis.call('SADD', prefix .. 'rooms', room)
  end
end
return 1
"""
# ARGV: prefix, room -> the room's live nicknames.
_ONLINE = _LIVE + "return live(ARGV[1], ARGV[2])"
# ARGV: prefix -> room, {nicks}, room, {nicks}... for every room with a live member.
_ROOMS = (
    _LIVE
    + """
local result = {}
for _, room in ipairs(redis.call('SMEMBERS', ARGV[1] .. 'rooms')) do
  local nicks = live(ARGV[1], room)
  if #nicks > 0 then
    result[#result + 1] = room
    result[#result + 1] = nicks
  end
end
return result
"""
)


class RedisPresence:
    """Who is in which room, in Redis: the same answers on every process (module doc)."""

    def __init__(self, url: str, ttl: float = 15.0) -> None:
        from redis.exceptions import RedisError

        self.url = url
        self.ttl = ttl
        self.errors: tuple[type[BaseException], ...] = (RedisError, OSError)
        self.local: dict[str, tuple[str, str]] = {}  # member id -> (room, nick): ours
        self.client: Any = None
        self.scripts: dict[str, Any] = {}
        self._vouching: asyncio.Task[None] | None = None

    async def start(self) -> None:
        import redis.asyncio as redis

        self.client = redis.Redis.from_url(
            self.url, decode_responses=True, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT
        )
        for name, source in [
            ("claim", _CLAIM),
            ("release", _RELEASE),
            ("vouch", _VOUCH),
            ("online", _ONLINE),
            ("rooms", _ROOMS),
        ]:
            self.scripts[name] = self.client.register_script(source)
        self._vouching = asyncio.create_task(self._vouch_forever())

    async def stop(self) -> None:
        vouching, self._vouching = self._vouching, None
        if vouching is not None:
            vouching.cancel()
            try:
                await vouching
            except asyncio.CancelledError:
                pass
        for member, (room, nick) in list(self.local.items()):
            try:  # members still here at shutdown: gone now, not in ttl seconds
                await self.release(room, nick, member)
            except Unavailable:
                break
        if self.client is not None:
            await self.client.aclose()
            self.client = None

    async def _run(self, name: str, *args: Any) -> Any:
        if self.client is None:
            raise Unavailable("the chat is not started")
        try:
            return await asyncio.wait_for(self.scripts[name](args=[PREFIX, *args]), TIMEOUT)
        except self.errors as exc:
            raise Unavailable(f"Redis: {exc}") from exc

    async def claim(self, room: str, nick: str) -> str | None:
        member = secrets.token_hex(8)
        if not await self._run("claim", room, nick, member, int(self.ttl * 1000)):
            return None
        self.local[member] = (room, nick)
        return member

    async def release(self, room: str, nick: str, member: str) -> None:
        self.local.pop(member, None)  # if Redis does not answer, the key expires
        await self._run("release", room, nick, member)

    async def online(self, room: str) -> list[str]:
        return sorted(await self._run("online", room))

    async def rooms(self) -> dict[str, list[str]]:
        flat = await self._run("rooms")
        return {flat[i]: sorted(flat[i + 1]) for i in range(0, len(flat), 2)}

    async def _vouch_forever(self) -> None:
        failing = False
        while True:
            await asyncio.sleep(self.ttl / 3)
            if not self.local:
                continue
            args: list[Any] = [int(self.ttl * 1000)]
            for member, (room, nick) in self.local.items():
                args += [room, nick, member]
            try:
                await self._run("vouch", *args)
            except Unavailable as exc:
                if not failing:
                    logger.warning("chat: cannot vouch for %d members: %s", len(self.local), exc)
                failing = True
            else:
                failing = False


def _channel(room: str) -> str:
    return f"room:{room}"


class Chat:
    """The chat's moving parts: channels for what is said, a presence for who is there.

    In memory (one process), or on Redis with ``redis_url``.  Start and stop it with the
    app: ``async with chat:`` in the lifespan.
    """

    def __init__(self, redis_url: str | None = None, ttl: float = 15.0) -> None:
        self.presence: MemoryPresence | RedisPresence
        if redis_url:
            self.presence = RedisPresence(redis_url, ttl)
            backend: Any = RedisPubSubBackend(redis_url, prefix=PREFIX, timeout=TIMEOUT)
        else:
            self.presence = MemoryPresence()
            backend = MemoryBackend()
        self.channels = Channels(backend, max_queue=BACKLOG, policy="disconnect")

    async def __aenter__(self) -> Chat:
        await self.presence.start()
        try:
            await self.channels.start()
        except BaseException:
            await self.presence.stop()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        try:
            await self.channels.stop()
        finally:
            await self.presence.stop()

    async def publish(self, room: str, message: dict[str, Any]) -> None:
        """To every member of ``room``, in every process; PublishError if it cannot."""
        await self.channels.publish(_channel(room), json.dumps(message, ensure_ascii=False))

    async def announce(self, room: str, kind: str, nick: str) -> None:
        verb = "joined" if kind == "join" else "left"
        try:
            online = await self.presence.online(room)
            await self.publish(
                room, {"type": kind, "from": nick, "text": f"{nick} {verb}", "online": online}
            )
        except (Unavailable, PublishError) as exc:
            logger.warning("chat: %s %s %s, but could not say so: %s", nick, verb, room, exc)


chat = Chat(os.environ.get("REDIS_URL"), float(os.environ.get("ASTER_DEMO_PRESENCE_TTL") or 15))
router = APIRouter()

Nick = Annotated[str, Query(min_length=2, max_length=20, pattern=NAME)]
Room = Annotated[str, Query(min_length=1, max_length=30, pattern=NAME)]


def _notice(missed: Missed) -> str:
    if missed.reason == "reconnected":
        text = "The chat lost its connection and is back: messages sent meanwhile may be lost."
    else:
        text = f"{missed.count or 'Some'} messages were missed."
    return json.dumps({"type": "notice", "text": text})


async def _tell(websocket: WebSocket, error: str) -> None:
    await websocket.send_text(json.dumps({"type": "error", "text": error}))


async def _forward(websocket: WebSocket, subscription: Subscription) -> None:
    """Send the room to one member until its subscription ends, then close the socket if
    it ended because the member fell ``BACKLOG`` messages behind or the chat stopped
    (after what was queued: a shutdown still delivers it).

    A send to a client that does not read waits; the room's messages wait in the
    subscription's bounded queue meanwhile, and if that overflows the subscription
    ends, which :func:`_close_when_slow` sees even while this send is stuck."""
    async for event in subscription:
        data = event.text if isinstance(event, Message) else _notice(event)
        await websocket.send_text(data)
    await _close_ended(websocket, subscription.closed_reason)


async def _close_when_slow(websocket: WebSocket, subscription: Subscription) -> None:
    """Close the socket the moment the "disconnect" policy fires, even mid-send."""
    if await subscription.wait_closed() == "slow":
        await _close_ended(websocket, "slow")


async def _close_ended(websocket: WebSocket, reason: str | None) -> None:
    if websocket.application_state is not WebSocketState.CONNECTED:
        return  # closed already (by the sender or by the watcher)
    if reason == "slow":
        await websocket.close(code=1008, reason="too slow")
    elif reason == "shutdown":
        await websocket.close(code=1012, reason="chat stopped")


@router.websocket("/chat/ws")
async def chat_socket(websocket: WebSocket, nick: Nick, room: Room = "lobby") -> None:
    try:
        member = await chat.presence.claim(room, nick)
    except Unavailable as exc:
        logger.warning("chat: %s refused, the presence is unavailable: %s", nick, exc)
        await websocket.close(code=1013, reason="try again later")  # before accept: a 403
        return
    if member is None:
        await websocket.close(code=1008, reason="nickname taken")  # before accept: a 403
        return
    try:
        async with chat.channels.subscribe(_channel(room)) as subscription:
            await websocket.accept()
            sender = asyncio.create_task(_forward(websocket, subscription))
            closer = asyncio.create_task(_close_when_slow(websocket, subscription))
            await chat.announce(room, "join", nick)
            try:
                async for text in websocket.iter_text():  # ends when the client leaves
                    text = text.strip()
                    if len(text) > MAX_TEXT:
                        await _tell(websocket, "message too long")
                    elif text:
                        message = {"type": "message", "from": nick, "text": text}
                        try:
                            await chat.publish(room, message)
                        except PublishError:
                            await _tell(websocket, "not sent: the chat is unavailable, try again")
            finally:
                for task in (sender, closer):
                    task.cancel()
                    try:
                        await task
                    except (asyncio.CancelledError, WebSocketDisconnect, RuntimeError, OSError):
                        pass
    finally:
        try:
            await chat.presence.release(room, nick, member)
        except Unavailable as exc:  # its key expires: the nickname is free within the ttl
            logger.warning("chat: %s left %s, but the presence is unavailable: %s", nick, room, exc)
    await chat.announce(room, "leave", nick)


@router.get("/chat/stats", include_in_schema=False)
async def chat_stats() -> dict[str, Any]:
    """Who is in which room: this process's members (memory) or every process's (Redis)."""
    try:
        rooms = await chat.presence.rooms()
    except Unavailable as exc:
        raise HTTPException(status_code=503, detail="the chat's presence is unavailable") from exc
    return {"members": sum(len(nicks) for nicks in rooms.values()), "rooms": rooms}


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
      : `Disconnected (${event.code}${event.reason ? ': ' + event.reason : ''}).`;
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
