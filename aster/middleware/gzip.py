"""``GZipMiddleware``: gzip response bodies for clients that accept it.

Starlette's behaviour:

* The start message is held back until the first body chunk shows whether
  compression is worth it: a complete body under ``minimum_size`` goes out as is.
* Responses that already have a ``Content-Encoding``, partial (206) responses and
  excluded media types (server-sent events, images, archives... see
  :data:`DEFAULT_EXCLUDED_CONTENT_TYPES`) pass through untouched, unbuffered.
* A complete body gets an exact ``Content-Length``; a streamed one loses it and
  each chunk is compressed and sync-flushed on its own, so a stream keeps
  streaming (the client can decode every chunk as it arrives).
* ``Vary: Accept-Encoding`` is added to every response big enough to be
  considered, compressed or not, so caches keep the two variants apart.
* Chunks of ``thread_minimum_size`` bytes or more are compressed in the worker
  thread pool: compressing megabytes would otherwise stall the event loop.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

from ..concurrency import run_in_threadpool
from ..datastructures import set_raw_header
from ..types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["DEFAULT_EXCLUDED_CONTENT_TYPES", "GZipMiddleware", "GZipResponder", "IdentityResponder"]

DEFAULT_EXCLUDED_CONTENT_TYPES = (
    "application/grpc",
    "application/gzip",
    "application/x-gzip",
    "application/zip",
    "audio/*",
    "font/woff",
    "font/woff2",
    "image/avif",
    "image/gif",
    "image/jpeg",
    "image/png",
    "image/webp",
    "text/event-stream",
    "video/*",
)

RawHeaders = list[tuple[bytes, bytes]]


def _normalize(content_types: Iterable[str]) -> frozenset[str]:
    """Media types without parameters, lowercase (an already normalized set is kept)."""
    if isinstance(content_types, frozenset):
        return content_types
    return frozenset(value.partition(";")[0].strip().lower() for value in content_types)


def _is_excluded(content_type: bytes, excluded: frozenset[str]) -> bool:
    media_type = content_type.decode("latin-1").partition(";")[0].strip().lower()
    if media_type in excluded or media_type.partition("/")[0] + "/*" in excluded:
        return True
    return media_type.startswith("application/grpc+") and "application/grpc" in excluded


class IdentityResponder:
    """Runs the app for one request, sending its body through :meth:`apply_compression`.

    This base class compresses nothing; it exists so responses that *could*
    have been compressed are labelled ``Vary: Accept-Encoding`` all the same.
    """

    content_encoding: bytes | None = None

    __slots__ = ("app", "minimum_size", "exclude_content_types", "send", "initial_message",
                 "started", "passthrough")  # fmt: skip

    def __init__(
        self,
        app: ASGIApp,
        minimum_size: int,
        *,
        exclude_content_types: Iterable[str] = DEFAULT_EXCLUDED_CONTENT_TYPES,
    ) -> None:
        self.app = app
        self.minimum_size = minimum_size
        self.exclude_content_types = _normalize(exclude_content_types)
        self.initial_message: Message = {}
        self.started = False  # the first body chunk was seen
        self.passthrough = False  # this response is sent as the app made it

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.send = send
        await self.app(scope, receive, self.send_with_compression)

    async def send_with_compression(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.body":
            if self.passthrough:
                await self.send(message)
            elif self.started:
                more_body = message.get("more_body", False)
                body = await self.apply_compression(message.get("body", b""), more_body=more_body)
                await self.send({**message, "body": body})
            else:
                self.started = True
                await self._send_first(message)
        elif kind == "http.response.start":
            self.initial_message = message
            if self._leave_alone(message):
                self.passthrough = True
                await self.send(message)
        elif kind == "http.response.pathsend" and not self.passthrough:
            await self.send(self.initial_message)  # a file is sent as it is
            await self.send(message)
        else:  # early hints, trailers, debug info, or a passed-through pathsend
            await self.send(message)

    def _leave_alone(self, start: Message) -> bool:
        """Whether the response must not be touched: encoded, partial or an excluded type."""
        if start["status"] == 206:
            return True
        content_type = b""
        for name, value in start.get("headers", ()):
            if name == b"content-encoding":
                return True
            if name == b"content-type" and not content_type:
                content_type = value
        return _is_excluded(content_type, self.exclude_content_types)

    async def _send_first(self, message: Message) -> None:
        """Decide on the first body chunk: send small bodies as is, else compress."""
        start = self.initial_message
        body = message.get("body", b"")
        more_body = message.get("more_body", False)
        if not more_body and len(body) < self.minimum_size:
            await self.send(start)
            await self.send(message)
            return
        raw = list(start.get("headers", ()))
        vary = [value for name, value in raw if name == b"vary"]
        vary.append(b"Accept-Encoding")
        set_raw_header(raw, b"vary", b", ".join(vary))
        if self.content_encoding is not None:
            body = await self.apply_compression(body, more_body=more_body)
            message = {**message, "body": body}
            set_raw_header(raw, b"content-encoding", self.content_encoding)
            if more_body or start.get("trailers", False):
                set_raw_header(raw, b"content-length", None)
            else:
                set_raw_header(raw, b"content-length", b"%d" % len(body))
        await self.send({**start, "headers": raw})
        await self.send(message)

    async def apply_compression(self, body: bytes, *, more_body: bool) -> bytes:
        """The chunk to send for ``body``; the last one (``more_body`` false) ends the stream."""
        return body


class GZipResponder(IdentityResponder):
    """Gzips the body; the compressor is only created once a body is compressed."""

    content_encoding = b"gzip"

    __slots__ = ("compresslevel", "thread_minimum_size", "_compressor")

    def __init__(
        self,
        app: ASGIApp,
        minimum_size: int,
        compresslevel: int = 9,
        *,
        thread_minimum_size: int = 128 * 1024,
        exclude_content_types: Iterable[str] = DEFAULT_EXCLUDED_CONTENT_TYPES,
    ) -> None:
        super().__init__(app, minimum_size, exclude_content_types=exclude_content_types)
        self.compresslevel = compresslevel
        self.thread_minimum_size = thread_minimum_size
        self._compressor: zlib._Compress | None = None

    async def apply_compression(self, body: bytes, *, more_body: bool) -> bytes:
        if len(body) >= self.thread_minimum_size:
            return await run_in_threadpool(self._compress, body, more_body)
        return self._compress(body, more_body)

    def _compress(self, body: bytes, more_body: bool) -> bytes:
        compressor = self._compressor
        if compressor is None:
            # wbits 16 + MAX_WBITS: the gzip container, not a bare zlib stream.
            compressor = self._compressor = zlib.compressobj(
                self.compresslevel, zlib.DEFLATED, 16 + zlib.MAX_WBITS
            )
        # A sync flush makes every chunk decodable on arrival; the last one ends the stream.
        return compressor.compress(body) + compressor.flush(
            zlib.Z_SYNC_FLUSH if more_body else zlib.Z_FINISH
        )


class GZipMiddleware:
    """Gzip responses of at least ``minimum_size`` bytes when ``Accept-Encoding`` has gzip."""

    def __init__(
        self,
        app: ASGIApp,
        minimum_size: int = 500,
        compresslevel: int = 9,
        thread_minimum_size: int = 128 * 1024,
        *,
        exclude_content_types: tuple[str, ...] = DEFAULT_EXCLUDED_CONTENT_TYPES,
    ) -> None:
        self.app = app
        self.minimum_size = minimum_size
        self.compresslevel = compresslevel
        self.thread_minimum_size = thread_minimum_size
        self.exclude_content_types = tuple(
            value.partition(";")[0].strip().lower() for value in exclude_content_types
        )
        self._excluded = frozenset(self.exclude_content_types)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        accept = b""
        for name, value in scope["headers"]:
            if name == b"accept-encoding":
                accept = value
                break
        responder: IdentityResponder
        if b"gzip" in accept:
            responder = GZipResponder(
                self.app,
                self.minimum_size,
                self.compresslevel,
                thread_minimum_size=self.thread_minimum_size,
                exclude_content_types=self._excluded,
            )
        else:
            responder = IdentityResponder(
                self.app, self.minimum_size, exclude_content_types=self._excluded
            )
        await responder(scope, receive, send)
