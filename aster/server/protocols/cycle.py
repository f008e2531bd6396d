"""One ASGI HTTP request/response exchange, independent of the wire protocol.

A connection (HTTP/1.1, or one HTTP/2 stream) turns bytes into a scope and body
chunks and hands them to an :class:`HTTPCycle`.  The cycle owns everything the
ASGI spec says about the exchange:

* ``receive()``: body chunks with ``more_body``, ``100 Continue`` on the first
  read, then ``http.disconnect`` once the client is gone or the response done;
* ``send()``: the start → body* → trailers? state machine, pathsend, and the errors an app
  gets for sending out of order;
* ``run()``: the 500 fallback when the app fails before responding, and a hard
  close when it fails half-way.

What the cycle needs from the wire side is the small :class:`Wire` interface.
Each method is called at most once per ASGI message, so the hot path costs one
Python call per ``send``.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..config import ASGIApp, Message

logger = logging.getLogger("aster.error")

#: Above this many buffered request-body bytes the wire stops reading the socket.
BODY_HIGH_WATER = 65536
PATHSEND_CHUNK = 262144

_ERROR_HEADERS = [(b"content-type", b"text/plain; charset=utf-8"), (b"connection", b"close")]


class ClientDisconnected(OSError):
    """Raised by ``send`` once the client has gone (ASGI: a server-specific OSError)."""


def _from_a_send_error(exc: BaseException) -> bool:
    """Whether ``exc`` is an ``OSError`` or was raised while handling one.

    Once the client is gone, ``send`` raises an ``OSError``; frameworks often turn it
    into their own error (Starlette raises ``ClientDisconnect`` from it).  Either way
    it is the disconnect, not a fault in the application.
    """
    for _ in range(8):  # a chain that long is not a translated send error
        if isinstance(exc, OSError):
            return True
        cause = exc.__cause__ or exc.__context__
        if cause is None:
            return False
        exc = cause
    return False


class Wire(Protocol):
    """What a connection offers the cycles it runs."""

    #: A future that is already done: what ``send`` returns when nothing must wait.
    done: asyncio.Future[None]

    def start_response(
        self, cycle: HTTPCycle, status: int, headers: Any, body: bytes, more_body: bool
    ) -> asyncio.Future[None] | None:
        """Emit the response head with the first body chunk; return a future if writes must wait."""

    def send_body(
        self, cycle: HTTPCycle, body: bytes, more_body: bool
    ) -> asyncio.Future[None] | None:
        """Emit a later body chunk; return a future if writes must wait."""

    def send_trailers(self, cycle: HTTPCycle, headers: Any) -> asyncio.Future[None] | None:
        """End the response with trailer fields (the body was sent with ``more_body``)."""

    def send_continue(self, cycle: HTTPCycle) -> None:
        """Tell the client to go ahead with its body (Expect: 100-continue)."""

    def body_consumed(self, cycle: HTTPCycle) -> None:
        """The app drained the body buffer; reading may resume."""

    def abort(self, cycle: HTTPCycle) -> None:
        """The response cannot be completed; drop the connection (HTTP/1) or stream (HTTP/2)."""


class HTTPCycle:
    """The state of one request: what has been received, and what has been sent."""

    __slots__ = (
        "scope",
        "wire",
        "keep_alive",
        "body",
        "body_size",
        "body_complete",
        "body_delivered",
        "disconnected",
        "expect_continue",
        "response_started",
        "response_complete",
        "head_sent",
        "status",
        "response_headers",
        "trailers",
        "waiter",
        "read_paused",
        "bytes_sent",
        "start_time",
        "task",
    )

    def __init__(self, scope: dict[str, Any], wire: Wire, keep_alive: bool) -> None:
        self.scope = scope
        self.wire = wire
        self.keep_alive = keep_alive
        self.body: list[bytes] | None = None  # received chunks the app has not read yet
        self.body_size = self.bytes_sent = self.status = 0
        self.body_complete = self.body_delivered = self.disconnected = False
        self.expect_continue = self.read_paused = False
        self.response_started = self.response_complete = self.head_sent = False
        self.response_headers: Any = ()
        #: ``http.response.trailers``: None unless the start message announced them; then
        #: ``()`` until the last body message, and the list of trailers collected after it.
        self.trailers: Any = None
        self.waiter: asyncio.Future[None] | None = None
        self.start_time = 0.0
        self.task: asyncio.Task[None] | None = None

    # -- events from the wire -------------------------------------------------

    def feed_body(self, chunk: bytes) -> None:
        if self.body is None:
            self.body = [chunk]
        else:
            self.body.append(chunk)
        self.body_size += len(chunk)
        if self.waiter is not None:
            self._wake()

    def end_body(self) -> None:
        self.body_complete = True
        if self.waiter is not None:
            self._wake()

    def lose_connection(self) -> None:
        self.disconnected = True
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
            if self.disconnected or self.response_complete:
                return {"type": "http.disconnect"}
            chunks = self.body
            if chunks is not None or (self.body_complete and not self.body_delivered):
                if chunks is None:
                    body = b""
                elif len(chunks) == 1:
                    body = chunks[0]
                else:
                    body = b"".join(chunks)
                self.body = None
                self.body_size = 0
                more_body = not self.body_complete
                self.body_delivered = not more_body
                if self.read_paused:
                    self.read_paused = False
                    self.wire.body_consumed(self)
                return {"type": "http.request", "body": body, "more_body": more_body}
            if self.expect_continue:
                self.expect_continue = False
                if not self.head_sent:  # a final response already sent makes a 100 pointless
                    self.wire.send_continue(self)
            # Either more body is on its way, or it has all been delivered and
            # the next event is the disconnect (or the end of our response).
            self.waiter = self.wire.done.get_loop().create_future()
            await self.waiter

    # -- the ASGI send callable ---------------------------------------------------

    def send(self, message: Message) -> Awaitable[None]:
        """The ASGI ``send`` callable.

        It does its work at once and returns something to await: a future that
        is already done, or the wire's drain future while writes must wait.  No
        coroutine is created per message, which is most of what a plain
        ``async def send`` would cost on a small response.
        """
        kind = message["type"]
        if kind == "http.response.body":
            if self.response_complete or self.disconnected or not self.response_started:
                self._refuse(kind)
            body = message.get("body", b"")
            more_body = message.get("more_body", False)
            if not more_body:
                if self.trailers is not None:
                    # The wire keeps the message open for the trailers that end it.
                    more_body = True
                    self.trailers = []
                else:
                    self.response_complete = True
            self.bytes_sent += len(body)
            if self.head_sent:
                try:
                    waiter = self.wire.send_body(self, body, more_body)
                except Exception:
                    # E.g. more bytes than the content-length: all we can do is cut it off.
                    self.response_complete = True
                    self.wire.abort(self)
                    raise
            else:
                self.head_sent = True
                try:
                    waiter = self.wire.start_response(
                        self, self.status, self.response_headers, body, more_body
                    )
                except Exception:
                    # The wire validates the head before writing anything, so run()
                    # can still answer 500 in place of this response.
                    self.head_sent = self.response_complete = False
                    self.bytes_sent -= len(body)
                    raise
            if self.waiter is not None and not more_body:
                self._wake()
            return self.wire.done if waiter is None else waiter
        if kind == "http.response.start":
            if self.response_started or self.disconnected:
                self._refuse(kind)
            # The wire validates the status when it renders it (and caches what it validated).
            self.status = message["status"]
            self.response_headers = message.get("headers", ())
            self.response_started = True
            if message.get("trailers"):
                self.trailers = ()
            return self.wire.done
        if kind == "http.response.pathsend":
            return self._send_path(message["path"])
        if kind == "http.response.trailers":
            return self._send_trailers(message)
        raise RuntimeError(f"ASGI: unexpected message type {kind!r} for an HTTP connection")

    def _send_trailers(self, message: Message) -> Awaitable[None]:
        """The ``http.response.trailers`` extension: the fields that end the response."""
        trailers = self.trailers
        if type(trailers) is not list or self.response_complete or self.disconnected:
            if self.disconnected:
                raise ClientDisconnected("the client disconnected")
            raise RuntimeError(
                "ASGI: 'http.response.trailers' needs 'trailers' in the start message "
                "and must follow the last body message"
            )
        trailers.extend(message.get("headers", ()))
        if message.get("more_trailers", False):
            return self.wire.done
        self.response_complete = True
        try:
            waiter = self.wire.send_trailers(self, trailers)
        except Exception:
            self.wire.abort(self)
            raise
        if self.waiter is not None:
            self._wake()
        return self.wire.done if waiter is None else waiter

    def _refuse(self, kind: str) -> None:
        """Raise the precise error for a message sent out of turn."""
        if self.disconnected:
            raise ClientDisconnected("the client disconnected")
        if kind == "http.response.start":
            raise RuntimeError("ASGI: 'http.response.start' sent twice")
        if not self.response_started:
            raise RuntimeError("ASGI: 'http.response.body' sent before 'http.response.start'")
        raise RuntimeError("ASGI: 'http.response.body' sent after the response completed")

    async def _send_path(self, path: str) -> None:
        """The ``http.response.pathsend`` extension: stream a file the app named."""
        if not self.response_started or self.head_sent:
            raise RuntimeError(
                "ASGI: 'http.response.pathsend' must directly follow the start message"
            )
        if not os.path.isabs(path):
            raise RuntimeError("ASGI: 'http.response.pathsend' needs an absolute path")
        with open(path, "rb") as fh:
            chunk = fh.read(PATHSEND_CHUNK)
            while True:
                following = fh.read(PATHSEND_CHUNK) if chunk else b""
                await self.send(
                    {"type": "http.response.body", "body": chunk, "more_body": bool(following)}
                )
                if not following:
                    return
                chunk = following

    # -- running the app ------------------------------------------------------------

    async def run(self, app: ASGIApp, tasks: set[asyncio.Task[None]]) -> None:
        """Run the app for this request; ``tasks`` is the server's set of running app tasks."""
        try:
            await app(self.scope, self.receive, self.send)
        except BaseException as exc:
            tasks.discard(self.task)  # type: ignore[arg-type]
            self._app_failed(exc)
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
        else:
            tasks.discard(self.task)  # type: ignore[arg-type]
            if not self.response_complete:
                self._returned_early()

    def _returned_early(self) -> None:
        if self.disconnected:
            return
        if not self.head_sent:
            logger.error("ASGI callable returned without sending a response.")
            self._send_500()
        else:
            logger.error("ASGI callable returned without completing the response.")
            self.wire.abort(self)

    def _app_failed(self, exc: BaseException) -> None:
        if isinstance(exc, asyncio.CancelledError):
            # Cancelled by a forced shutdown: nothing useful can be sent any more.
            if not self.response_complete:
                self.wire.abort(self)
            return
        if self.disconnected and _from_a_send_error(exc):
            logger.debug("Client went away during the response: %r", exc)
            return
        logger.error("Exception in ASGI application", exc_info=exc)
        if not self.head_sent:
            # Nothing reached the client yet (the head goes out with the first body chunk).
            self._send_500()
        elif not self.response_complete:
            self.wire.abort(self)

    def _send_500(self) -> None:
        if self.disconnected:
            return
        self.response_started = self.head_sent = self.response_complete = True
        self.keep_alive = False
        self.status = 500
        body = b"Internal Server Error"
        self.bytes_sent = len(body)
        self.wire.start_response(self, 500, _ERROR_HEADERS, body, False)
