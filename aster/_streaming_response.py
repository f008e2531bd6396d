"""``StreamingResponse``: a body sent chunk by chunk from an iterator, until the client leaves."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ._disconnect import send_raises_on_disconnect, wait_for_disconnect
from ._response import Response
from .concurrency import iterate_in_threadpool
from .requests import BODY_SCOPE_KEY, ClientDisconnect, _receive_token
from .types import Receive, Scope, Send

if TYPE_CHECKING:
    from .background import BackgroundTask

__all__ = [
    "AsyncContentStream",
    "Content",
    "ContentStream",
    "StreamingResponse",
    "SyncContentStream",
]

Content = str | bytes | memoryview
SyncContentStream = Iterable[Content]
AsyncContentStream = AsyncIterable[Content]
ContentStream = AsyncContentStream | SyncContentStream


def _body_may_be_unread(scope: Scope, receive: Receive) -> bool:
    """Whether ``receive()`` may still carry request body the response's iterator wants.

    False when the request has no body, or when a ``Request`` on this very
    ``receive`` has read all of it (it records that in the scope).
    """
    for name, value in scope.get("headers", ()):
        if name == b"transfer-encoding" or (name == b"content-length" and value.strip(b" 0")):
            recorded = scope.get(BODY_SCOPE_KEY)
            return recorded is None or recorded[0] != _receive_token(receive)
    return False


class _Watch:
    """What the disconnect watcher and the streaming loop share."""

    __slots__ = ("waiting", "disconnected", "interrupted")

    def __init__(self) -> None:
        self.waiting = self.disconnected = self.interrupted = False


class StreamingResponse(Response):
    """A response whose body comes from an (async or sync) iterator, chunk by chunk.

    Sync iterators run in the threadpool; the iterator runs in the caller's task, so
    its context is the endpoint's.  A client that leaves stops the stream, as in
    Starlette 1.10, by the signal the server's ASGI version offers:

    * ``send()`` raising ``OSError``: from spec 2.4 (aster's server) that is raised
      as :class:`~aster.requests.ClientDisconnect`, below 2.4 as it is; the
      background task does not run.
    * ``http.disconnect`` from ``receive()``: while streaming, a small task listens
      for it and ends the stream quietly, interrupting the iterator if it is
      waiting for its next chunk (so an idle event stream stops at once, at any
      spec version); the background task runs.  It does not listen while the
      request body may still be unread, since listening consumes ``receive()``
      and the iterator may want the body; then only ``send()`` ends the stream.
    """

    body_iterator: AsyncContentStream

    def __init__(
        self,
        content: ContentStream,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        if isinstance(content, AsyncIterable):
            self.body_iterator = content
        else:
            self.body_iterator = iterate_in_threadpool(content)
        self.status_code = status_code
        self.media_type = self.media_type if media_type is None else media_type
        self.background = background
        self.init_headers(headers)

    async def listen_for_disconnect(self, receive: Receive) -> None:
        await wait_for_disconnect(receive)

    async def stream_response(self, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        charset = self.charset
        async for chunk in self.body_iterator:
            if not isinstance(chunk, (bytes, memoryview)):
                chunk = chunk.encode(charset)
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self.stream_response(self._wrap_websocket_denial_send(send))
        else:
            try:
                if _body_may_be_unread(scope, receive):
                    await self.stream_response(send)
                else:
                    await self._stream_watching(receive, send)
            except OSError:  # the client went away: the server's send says so
                await _aclose(self.body_iterator)
                if send_raises_on_disconnect(scope):
                    raise ClientDisconnect()  # noqa: B904 - its context is the server's error
                raise
        if self.background is not None:
            await self.background()

    async def _stream_watching(self, receive: Receive, send: Send) -> None:
        """Stream while a task listens for ``http.disconnect``; return quietly on it."""
        task = asyncio.current_task()
        assert task is not None
        watch = _Watch()

        async def watcher() -> None:
            try:
                await wait_for_disconnect(receive)
            except Exception:  # a receive that fails cannot tell us anything more
                return
            watch.disconnected = True
            if watch.waiting:
                # The task is suspended inside the iterator: interrupt it there.
                watch.interrupted = True
                task.cancel()

        watcher_task = asyncio.get_running_loop().create_task(watcher())
        iterator = self.body_iterator.__aiter__()
        charset = self.charset
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": self.status_code,
                    "headers": self.raw_headers,
                }
            )
            while not watch.disconnected:
                watch.waiting = True
                try:
                    chunk = await iterator.__anext__()
                except StopAsyncIteration:
                    chunk = _END
                except asyncio.CancelledError:
                    if not watch.interrupted:
                        raise
                    chunk = _END
                finally:
                    watch.waiting = False
                if watch.interrupted:
                    _uncancel(task)
                    break
                if chunk is _END:
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                    return
                if not isinstance(chunk, (bytes, memoryview)):
                    chunk = chunk.encode(charset)
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except OSError:
            await _aclose(iterator)
            raise
        finally:
            watcher_task.cancel()
        await _aclose(iterator)


_END: Any = object()


def _uncancel(task: asyncio.Task[Any]) -> None:
    uncancel = getattr(task, "uncancel", None)  # Python 3.11+
    if uncancel is not None:
        uncancel()


async def _aclose(iterator: Any) -> None:
    """Close an abandoned async iterator now, so its ``finally`` blocks run promptly."""
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        try:
            await aclose()
        except Exception:  # pragma: no cover - the stream is over either way
            pass
