"""The websocket half of the test client: :class:`WebSocketTestSession` and its exceptions.

Kept apart from ``aster.testclient`` only to keep modules small; import the names from there.

Design: the app's outgoing messages go into a thread-safe ``queue.SimpleQueue`` that the test
thread reads directly, and the test's messages are handed to the app's loop with
``call_soon_threadsafe``. Neither direction needs a blocking round trip through the portal, and,
more importantly, the app may call ``send`` for this session from *another* session's loop (a
chat room broadcasting to every connection, each running in its own portal) without touching
asyncio objects that belong to a different loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any, Literal, cast

import httpx

from ._portal import Portal, TaskHandle
from .types import ASGIApp, Message, Scope
from .websockets import WebSocketDisconnect

PortalFactory = Callable[[], AbstractContextManager[Portal]]

# Close code reported when the app returns or crashes without closing the socket: what a real
# client sees when the connection drops without a close frame (RFC 6455 "abnormal closure").
ABNORMAL_CLOSURE = 1006

# How many loop iterations an app gets to react to the final disconnect before it is cancelled.
_DISCONNECT_GRACE_ITERATIONS = 20

_APP_FINISHED = object()


class WebSocketDenialResponse(httpx.Response, WebSocketDisconnect):  # type: ignore[misc]
    """The HTTP response an app sent instead of accepting (``websocket.http.response.*``).

    It is both an ``httpx.Response`` (status, headers, body) and a ``WebSocketDisconnect``, so
    tests written for either expectation catch it.
    """


class _Upgrade(Exception):
    """Carries a websocket session out of the httpx transport back to ``websocket_connect``."""

    def __init__(self, session: WebSocketTestSession) -> None:
        self.session = session


class WebSocketTestSession:
    """A websocket connection to the app, driven synchronously from the test.

    Nothing runs until the session is entered: ``__enter__`` starts the app, sends
    ``websocket.connect`` and waits for the app's answer, raising ``WebSocketDisconnect`` if it
    closed the socket or :class:`WebSocketDenialResponse` if it answered with HTTP. ``__exit__``
    sends ``websocket.disconnect`` (code 1000), lets the app react briefly, cancels it, and
    re-raises any exception the app died with.
    """

    def __init__(self, app: ASGIApp, scope: Scope, portal_factory: PortalFactory) -> None:
        self.app = app
        self.scope = scope
        self.portal_factory = portal_factory
        self.accepted_subprotocol: str | None = None
        self.extra_headers: list[tuple[bytes, bytes]] | None = None
        self._outbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._inbox: asyncio.Queue[Message] | None = None
        self._finished = False
        self._reported: BaseException | None = None

    def __enter__(self) -> WebSocketTestSession:
        with contextlib.ExitStack() as stack:
            self.portal = portal = stack.enter_context(self.portal_factory())
            self._inbox = asyncio.Queue()
            self._task = task = portal.start_task(self._run)
            stack.callback(self._raise_app_exception, task)
            stack.callback(self._stop, portal, task)
            self.send({"type": "websocket.connect"})
            message = self.receive()
            self._raise_on_close(message)
            self.accepted_subprotocol = message.get("subprotocol")
            self.extra_headers = message.get("headers")
            stack.callback(self.close, 1000)
            self._exit_stack = stack.pop_all()
        return self

    def __exit__(self, *exc_info: object) -> bool | None:
        return self._exit_stack.__exit__(*exc_info)  # type: ignore[arg-type]

    async def _run(self) -> None:
        try:
            await self.app(self.scope, self._app_receive, self._app_send)
        finally:
            self._outbox.put(_APP_FINISHED)

    async def _app_receive(self) -> Message:
        assert self._inbox is not None
        return await self._inbox.get()

    async def _app_send(self, message: Message) -> None:
        self._outbox.put(dict(message))

    async def _settle(self, task: TaskHandle) -> None:
        for _ in range(_DISCONNECT_GRACE_ITERATIONS):
            if task.task is None or task.task.done():
                return
            await asyncio.sleep(0)
        task.task.cancel()

    def _stop(self, portal: Portal, task: TaskHandle) -> None:
        portal.call(self._settle, task)
        task.wait()

    def _raise_app_exception(self, task: TaskHandle) -> None:
        exc = task.wait()
        if exc is not None and exc is not self._reported:
            raise exc

    def _raise_on_close(self, message: Message) -> None:
        if message["type"] == "websocket.close":
            raise WebSocketDisconnect(
                code=message.get("code", 1000), reason=message.get("reason") or ""
            )
        if message["type"] == "websocket.http.response.start":
            status: int = message["status"]
            headers: list[tuple[bytes, bytes]] = list(message.get("headers", []))
            body = b"".join(self._denial_body())
            raise WebSocketDenialResponse(status_code=status, headers=headers, content=body)

    def _denial_body(self) -> Iterator[bytes]:
        while True:
            message = self.receive()
            if message["type"] != "websocket.http.response.body":
                raise AssertionError(f"expected websocket.http.response.body, got {message!r}")
            yield bytes(message.get("body", b""))
            if not message.get("more_body", False):
                return

    # The public surface, as Starlette's WebSocketTestSession has it.

    def send(self, message: Message) -> None:
        """Deliver an ASGI message to the app's ``receive``."""
        assert self._inbox is not None, "enter the session first: `with client.websocket_connect()`"
        self.portal.call_soon(self._inbox.put_nowait, message)

    def send_text(self, data: str) -> None:
        self.send({"type": "websocket.receive", "text": data})

    def send_bytes(self, data: bytes) -> None:
        self.send({"type": "websocket.receive", "bytes": data})

    def send_json(self, data: Any, mode: Literal["text", "binary"] = "text") -> None:
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        if mode == "text":
            self.send({"type": "websocket.receive", "text": text})
        else:
            self.send({"type": "websocket.receive", "bytes": text.encode("utf-8")})

    def close(self, code: int = 1000, reason: str | None = None) -> None:
        """Tell the app the client went away (``websocket.disconnect``)."""
        self.send({"type": "websocket.disconnect", "code": code, "reason": reason})

    def receive(self) -> Message:
        """The next message the app sent; blocks until there is one.

        If the app has finished without closing the socket, a ``websocket.close`` with code 1006
        is returned instead of hanging forever; if it crashed, its exception is raised here.
        """
        if self._finished:
            return self._abnormal_close()
        item = self._outbox.get()
        if item is not _APP_FINISHED:
            return cast(Message, item)
        self._finished = True
        exc = self._task.wait()
        if exc is not None:
            self._reported = exc
            raise exc
        return self._abnormal_close()

    @staticmethod
    def _abnormal_close() -> Message:
        reason = "the application finished without closing the websocket"
        return {"type": "websocket.close", "code": ABNORMAL_CLOSURE, "reason": reason}

    def receive_text(self) -> str:
        message = self.receive()
        self._raise_on_close(message)
        return cast(str, message["text"])

    def receive_bytes(self) -> bytes:
        message = self.receive()
        self._raise_on_close(message)
        return cast(bytes, message["bytes"])

    def receive_json(self, mode: Literal["text", "binary"] = "text") -> Any:
        message = self.receive()
        self._raise_on_close(message)
        if mode == "text":
            return json.loads(message["text"])
        return json.loads(message["bytes"].decode("utf-8"))
