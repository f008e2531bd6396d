"""One ASGI WebSocket session, independent of the wire protocol.

The connection (:mod:`.websocket`, built on the ``websockets`` sans-I/O
protocol) turns frames into messages and hands them to a
:class:`WebSocketCycle`.  The cycle owns everything the ASGI spec (2.5) says
about the session, so a second wire implementation only has to provide the
small :class:`WSWire` interface:

* ``receive()``: ``websocket.connect`` first, then ``websocket.receive``
  messages, then ``websocket.disconnect`` (again on every later call);
* ``send()``: the handshake state machine, then data and close, and the errors
  an app gets for sending out of turn;
* ``run()``: a 500 when the app fails before accepting, 1011 after.

The session, as the app sees it::

    CONNECTING --websocket.accept--> OPEN --websocket.close--> CLOSED
        |---- websocket.close ---------------------------------> CLOSED (HTTP 403)
        +---- websocket.http.response.start --> RESPONDING --last body--> CLOSED

and ``disconnected`` becomes true, in any state, once the peer or the server
has ended the connection.  Received messages wait in a queue of at most
``max_queue`` before the wire is told to stop reading the socket.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Awaitable, Iterable
from typing import TYPE_CHECKING, Any, Protocol

from .cycle import ClientDisconnected

if TYPE_CHECKING:
    from ..config import ASGIApp, Message

logger = logging.getLogger("aster.error")

CONNECTING, OPEN, RESPONDING, CLOSED = 0, 1, 2, 3

#: What the app is told when the connection ends without a close frame (RFC 6455 7.1.5).
ABNORMAL_CLOSURE = 1006


class WSWire(Protocol):
    """What a WebSocket connection offers its cycle."""

    #: A future that is already done: what ``send`` returns when nothing must wait.
    done: asyncio.Future[None]

    def accept(self, subprotocol: str | None, headers: Iterable[Any]) -> None:
        """Complete the handshake (101); raise before writing anything if the headers are bad."""

    def send_data(self, data: str | bytes) -> asyncio.Future[None] | None:
        """Send one message (text if ``str``); return a future if writes must wait."""

    def close(self, code: int, reason: str) -> None:
        """Start the closing handshake with this code and reason."""

    def fail_now(self) -> None:
        """A failure of the peer's, held until the app asked for more, takes effect."""

    def respond(self, status: int, headers: Iterable[Any], body: bytes) -> None:
        """Decline the handshake with a plain HTTP response, then close."""

    def abort(self) -> None:
        """Drop the connection: nothing sensible can be sent any more."""

    def pause_reading(self) -> None:
        """The app's queue is full: stop reading the socket."""

    def resume_reading(self) -> None:
        """The app caught up: read the socket again."""


class WebSocketCycle:
    """The state of one WebSocket session: the app's queue and what it has sent."""

    __slots__ = (
        "scope",
        "wire",
        "loop",
        "state",
        "queue",
        "max_queue",
        "waiter",
        "read_paused",
        "disconnect",
        "response",
        "task",
        "failing",
    )

    def __init__(self, scope: dict[str, Any], wire: WSWire, max_queue: int) -> None:
        self.scope = scope
        self.wire = wire
        self.loop = wire.done.get_loop()  # get_running_loop() would cost a getpid() a call
        self.state = CONNECTING
        self.queue: collections.deque[Message] = collections.deque(({"type": "websocket.connect"},))
        self.max_queue = max_queue
        self.waiter: asyncio.Future[None] | None = None
        self.read_paused = False
        #: The ``websocket.disconnect`` message, once the connection has ended.
        self.disconnect: Message | None = None
        #: The denial response being collected: status, headers, body chunks.
        self.response: tuple[int, Any, list[bytes]] | None = None
        self.task: asyncio.Task[None] | None = None
        #: The wire holds a failure until the app asks for its next message.
        self.failing = False

    @property
    def disconnected(self) -> bool:
        return self.disconnect is not None

    # -- events from the wire -------------------------------------------------

    def feed(self, data: str | bytes) -> None:
        """A complete message arrived from the peer."""
        if self.state == CLOSED or self.disconnect is not None:
            return  # the app closed: messages still in flight are of no use to it
        if type(data) is str:
            self.queue.append({"type": "websocket.receive", "text": data})
        else:
            self.queue.append({"type": "websocket.receive", "bytes": data})
        if len(self.queue) >= self.max_queue and not self.read_paused:
            self.read_paused = True
            self.wire.pause_reading()
        if self.waiter is not None:
            self._wake()

    def waiting_for_failure(self) -> bool:
        """The peer just broke the protocol: should the failure wait for the app?

        Yes while the app has messages to take or is busy with the last one (not waiting
        in ``receive``): its answers must go out before the close frame.  The wire
        calls ``fail_now`` when the app next asks for a message.
        """
        if self.state != OPEN or self.disconnect is not None:
            return False
        if self.waiter is not None and not self.queue:
            return False  # the app waits for a message: nothing left to answer
        self.failing = True
        return True

    def lose_connection(self, code: int, reason: str = "") -> None:
        """The connection ended (close frame, failure, or lost socket); only the first counts."""
        if self.disconnect is None:
            self.disconnect = {"type": "websocket.disconnect", "code": code, "reason": reason}
            if self.waiter is not None:
                self._wake()

    def _wake(self) -> None:
        waiter = self.waiter
        self.waiter = None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- the ASGI receive callable ----------------------------------------------

    async def receive(self) -> Message:
        while True:
            queue = self.queue
            if queue:
                message = queue.popleft()
                if self.read_paused and len(queue) < self.max_queue // 2 + 1:
                    self.read_paused = False
                    if self.disconnect is None:
                        self.wire.resume_reading()
                return message
            if self.disconnect is not None:
                return dict(self.disconnect)
            if self.failing:
                self.failing = False
                self.wire.fail_now()  # which reports the disconnect
                continue
            self.waiter = self.loop.create_future()
            await self.waiter

    # -- the ASGI send callable ---------------------------------------------------

    def send(self, message: Message) -> Awaitable[None]:
        """The ASGI ``send`` callable: does its work now, returns something to await."""
        kind = message["type"]
        state = self.state
        if state == OPEN and self.disconnect is None:
            if kind == "websocket.send":
                text = message.get("text")
                data = message.get("bytes")
                if (text is None) == (data is None):
                    raise RuntimeError("ASGI: 'websocket.send' needs exactly one of bytes or text")
                waiter = self.wire.send_data(data if text is None else text)
                return self.wire.done if waiter is None else waiter
            if kind == "websocket.close":
                code, reason = _close_args(message)
                self.wire.close(code, reason)
                self.state = CLOSED
                self.lose_connection(code, reason)
                return self.wire.done
        elif kind == "websocket.close" and self.disconnect is not None and state != RESPONDING:
            # Closing what is already closed: harmless, and common in ``finally`` blocks.
            self.state = CLOSED
            return self.wire.done
        elif state == CONNECTING and self.disconnect is None:
            return self._handshake(kind, message)
        elif state == RESPONDING and self.disconnect is None and kind == _BODY:
            return self._response_body(message)
        if self.disconnect is not None and state != CLOSED:
            raise ClientDisconnected("the WebSocket connection is closed")
        raise RuntimeError(f"ASGI: unexpected message {kind!r} in WebSocket state {_NAMES[state]}")

    def _handshake(self, kind: str, message: Message) -> Awaitable[None]:
        if kind == "websocket.accept":
            headers = message.get("headers") or ()
            self.wire.accept(message.get("subprotocol"), headers)
            self.state = OPEN
        elif kind == "websocket.close":
            # RFC-less but specified by ASGI: closing before accepting denies with a 403.
            self.state = CLOSED
            self.wire.respond(403, (), b"")
            self.lose_connection(ABNORMAL_CLOSURE)
        elif kind == "websocket.http.response.start":
            status = message["status"]
            if type(status) is not int or not 200 <= status <= 599:
                raise RuntimeError(f"ASGI: invalid WebSocket denial status {status!r}")
            self.response = (status, message.get("headers") or (), [])
            self.state = RESPONDING
        else:
            raise RuntimeError(
                "ASGI: expected 'websocket.accept', 'websocket.close' or "
                f"'websocket.http.response.start'; got {kind!r}"
            )
        return self.wire.done

    def _response_body(self, message: Message) -> Awaitable[None]:
        assert self.response is not None
        status, headers, chunks = self.response
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            # Collected and sent in one piece: denial bodies are small, and this way the
            # response always has a content-length.
            self.state = CLOSED
            self.wire.respond(status, headers, b"".join(chunks))
            self.lose_connection(ABNORMAL_CLOSURE)
        return self.wire.done

    # -- running the app ------------------------------------------------------------

    async def run(self, app: ASGIApp, tasks: set[asyncio.Task[None]]) -> None:
        """Run the app for this session; ``tasks`` is the server's set of running app tasks."""
        try:
            await app(self.scope, self.receive, self.send)
        except BaseException as exc:
            tasks.discard(self.task)  # type: ignore[arg-type]
            self._app_failed(exc)
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
        else:
            tasks.discard(self.task)  # type: ignore[arg-type]
            self._app_returned()

    def _app_returned(self) -> None:
        if self.disconnect is not None and self.state != OPEN:
            return
        if self.state == OPEN:
            # Returning ends the session: close it properly rather than just dropping it.
            self.state = CLOSED
            if self.disconnect is None:
                self.wire.close(1000, "")
                self.lose_connection(1000)
            return
        logger.error("ASGI callable returned without completing the WebSocket handshake.")
        self._fail_handshake()

    def _app_failed(self, exc: BaseException) -> None:
        if isinstance(exc, asyncio.CancelledError):
            self.state = CLOSED
            self.wire.abort()  # a forced shutdown: nothing useful can be sent any more
            return
        if self.disconnect is not None and isinstance(exc, OSError):
            logger.debug("WebSocket peer went away while the app was running: %r", exc)
            return
        logger.error("Exception in ASGI application", exc_info=exc)
        if self.state == OPEN:
            self.state = CLOSED
            if self.disconnect is None:
                self.wire.close(1011, "")
                self.lose_connection(1011)
        else:
            self._fail_handshake()

    def _fail_handshake(self) -> None:
        """Answer 500 in place of the handshake (or of a denial response never completed)."""
        if self.state in (CONNECTING, RESPONDING) and self.disconnect is None:
            self.state = CLOSED
            self.wire.respond(500, (), b"Internal Server Error")
            self.lose_connection(ABNORMAL_CLOSURE)


_BODY = "websocket.http.response.body"
_NAMES = {CONNECTING: "CONNECTING", OPEN: "OPEN", RESPONDING: "RESPONDING", CLOSED: "CLOSED"}


def _close_args(message: Message) -> tuple[int, str]:
    code = message.get("code")
    reason = message.get("reason")
    code = 1000 if code is None else code
    if type(code) is not int:
        raise RuntimeError(f"ASGI: invalid WebSocket close code {code!r}")
    return code, reason or ""
