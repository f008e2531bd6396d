"""Class-based endpoints: ``HTTPEndpoint`` (one method per HTTP verb) and ``WebSocketEndpoint``.

Both classes *are* ASGI apps: ``Route("/users", UserEndpoint)`` instantiates the class with
``(scope, receive, send)`` for each request and awaits the instance, which dispatches. The
router treats any non-function endpoint as an ASGI app, so no wrapping is needed.

``HTTPEndpoint`` calls the method named after the request's verb (``get``, ``post``...; HEAD
falls back to ``get``). An unknown verb gets 405 with an ``Allow`` header listing the verbs the
class implements, raised as an ``HTTPException`` inside an application so its handlers can
render it. ``WebSocketEndpoint`` accepts the connection in ``on_connect``, decodes each message
according to ``encoding`` (``"text"``, ``"bytes"``, ``"json"`` or None for as-is), hands it to
``on_receive``, and always calls ``on_disconnect`` with the close code: the client's, or 1011
when the endpoint failed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator
from typing import Any, Literal

from . import status
from ._response import PlainTextResponse, Response
from ._starlette_exceptions import StarletteHTTPException as HTTPException
from .concurrency import is_async_callable, run_in_threadpool
from .requests import Request
from .types import Message, Receive, Scope, Send
from .websockets import WebSocket

__all__ = ["HTTPEndpoint", "WebSocketEndpoint"]

#: The verbs an ``HTTPEndpoint`` dispatches, in the order the ``Allow`` header lists them.
_VERBS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "QUERY")
_EXPECTED = "Expected {} websocket messages, but got {}"


class HTTPEndpoint:
    """Subclass and define ``async def get(self, request)`` (or sync) per verb."""

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        self.scope = scope
        self.receive = receive
        self.send = send
        # Only the verbs' own names count: a method like ``_do_delete`` is never dispatched.
        self._allowed_methods = [
            verb
            for verb in _VERBS
            if getattr(self, verb.lower(), None) is not None
            or (verb == "HEAD" and getattr(self, "get", None) is not None)
        ]

    def __await__(self) -> Generator[Any, None, None]:
        return self.dispatch().__await__()

    async def dispatch(self) -> None:
        request = Request(self.scope, receive=self.receive, send=self.send)
        method = request.method
        handler: Callable[[Request], Any]
        if method not in self._allowed_methods:
            handler = self.method_not_allowed
        elif method == "HEAD" and not hasattr(self, "head"):
            handler = self.get  # type: ignore[attr-defined]
        else:
            handler = getattr(self, method.lower())
        if is_async_callable(handler):
            response = await handler(request)
        else:
            response = await run_in_threadpool(handler, request)
        await response(self.scope, self.receive, self.send)

    async def method_not_allowed(self, request: Request) -> Response:
        headers = {"Allow": ", ".join(self._allowed_methods)}
        if "app" in self.scope:
            # Inside an application its exception handlers render the 405.
            raise HTTPException(status_code=405, headers=headers)
        return PlainTextResponse("Method Not Allowed", status_code=405, headers=headers)


class WebSocketEndpoint:
    """Subclass and override ``on_connect``/``on_receive``/``on_disconnect``."""

    #: How ``on_receive`` gets each message: str, bytes, parsed JSON, or None for as sent.
    encoding: Literal["text", "bytes", "json"] | None = None

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "websocket"
        self.scope = scope
        self.receive = receive
        self.send = send

    def __await__(self) -> Generator[Any, None, None]:
        return self.dispatch().__await__()

    async def dispatch(self) -> None:
        websocket = WebSocket(self.scope, receive=self.receive, send=self.send)
        await self.on_connect(websocket)
        close_code = status.WS_1000_NORMAL_CLOSURE
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.receive":
                    data = await self.decode(websocket, message)
                    await self.on_receive(websocket, data)
                elif message["type"] == "websocket.disconnect":
                    close_code = int(message.get("code") or status.WS_1000_NORMAL_CLOSURE)
                    break
        except Exception:
            close_code = status.WS_1011_INTERNAL_ERROR
            raise
        finally:
            await self.on_disconnect(websocket, close_code)

    async def _reject(self, websocket: WebSocket, reason: str) -> RuntimeError:
        """Close with 1003 (unsupported data) and return the error to raise."""
        await websocket.close(code=status.WS_1003_UNSUPPORTED_DATA)
        return RuntimeError(reason)

    async def decode(self, websocket: WebSocket, message: Message) -> Any:
        """The message's payload as ``encoding`` asks; a mismatch closes with 1003 and raises."""
        text = message.get("text")
        if self.encoding == "text":
            if text is None:
                raise await self._reject(websocket, _EXPECTED.format("text", "bytes"))
            return text
        if self.encoding == "bytes":
            data = message.get("bytes")
            if data is None:
                raise await self._reject(websocket, _EXPECTED.format("bytes", "text"))
            return data
        if self.encoding == "json":
            if text is None:
                text = message["bytes"].decode("utf-8")
            try:
                return json.loads(text)
            except json.JSONDecodeError:
                raise await self._reject(websocket, "Malformed JSON data received.")  # noqa: B904
        assert self.encoding is None, f"Unsupported 'encoding' attribute {self.encoding}"
        return text if text is not None else message["bytes"]

    async def on_connect(self, websocket: WebSocket) -> None:
        """Called once the client asked to connect; the default accepts."""
        await websocket.accept()

    async def on_receive(self, websocket: WebSocket, data: Any) -> None:
        """Called with each decoded message."""

    async def on_disconnect(self, websocket: WebSocket, close_code: int) -> None:
        """Called once, when the connection ends (``close_code`` 1011 if the endpoint failed)."""
