"""``FileResponse`` (exported by :mod:`aster.responses`): files with ranges and validators.

Range handling follows Starlette 1.10 exactly: one range gives a 206 with
``content-range``, several give ``multipart/byteranges`` (overlapping ones
merged), a start past the end gives 416 and a malformed header 400.  When the
server offers ``http.response.pathsend`` and the whole file is sent, the
server streams it itself.  Unlike Starlette's ``FileResponse`` (where only
``StaticFiles`` does it), a matching ``If-None-Match``/``If-Modified-Since``
answers 304, as HTTP caches expect of any response carrying validators.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Callable, Coroutine, Mapping, Sequence
from email.utils import formatdate, parsedate
from mimetypes import guess_type
from secrets import token_hex
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import quote

from ._disconnect import run_until_disconnect, send_raises_on_disconnect
from ._response import PlainTextResponse, Response
from .concurrency import run_cleanup_in_threadpool, run_in_threadpool
from .datastructures import Headers, MutableHeaders
from .types import Receive, Scope, Send

if TYPE_CHECKING:
    from .background import BackgroundTask

__all__ = ["FileResponse", "MalformedRangeHeader", "RangeNotSatisfiable", "etag_matches"]

# What a 304 keeps of the 200 it stands for (RFC 9110 section 15.4.5).
_NOT_MODIFIED_HEADERS = frozenset(
    {b"cache-control", b"content-location", b"date", b"etag", b"expires", b"vary"}
)


# One member of an If-None-Match list: ``*``, an entity-tag (whose quotes may hold commas),
# or, leniently, any other run of characters up to a comma.
_ETAG_LIST_MEMBER = re.compile(r'\*|(?:W/)?"[^"]*"|[^\s,]+')


def etag_matches(if_none_match: str, etag: str) -> bool:
    """Whether an ``If-None-Match`` value matches the representation's ``etag``.

    RFC 9110 section 13.1.2: entity-tags compare weakly (``W/"x"`` matches ``"x"``), and
    ``*`` matches any current representation.  The list is split at commas outside quotes,
    so ``"a,*,b"`` is one opaque tag, not three members.
    """
    etag = etag.removeprefix("W/")
    for member in _ETAG_LIST_MEMBER.findall(if_none_match):
        if member == "*" or member.removeprefix("W/") == etag:
            return True
    return False


class MalformedRangeHeader(Exception):
    def __init__(self, content: str = "Malformed range header.") -> None:
        self.content = content


class RangeNotSatisfiable(Exception):
    def __init__(self, max_size: int) -> None:
        self.max_size = max_size


class FileResponse(Response):
    """Send a file from disk; ``filename`` makes it a download (``content-disposition``)."""

    chunk_size = 64 * 1024
    max_ranges = 100

    def __init__(
        self,
        path: str | os.PathLike[str],
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
        filename: str | None = None,
        stat_result: os.stat_result | None = None,
        content_disposition_type: str = "attachment",
        *,
        method: str | None = None,
    ) -> None:
        self.path = path
        self.status_code = status_code
        self.filename = filename
        # ``method`` is the pre-1.0 Starlette way to ask for headers only.
        self.send_header_only = method is not None and method.upper() == "HEAD"
        if media_type is None:
            media_type = guess_type(filename or path)[0] or "application/octet-stream"
        self.media_type = media_type
        self.background = background
        self.init_headers(headers)
        self.headers.setdefault("accept-ranges", "bytes")
        if filename is not None:
            quoted = quote(filename)
            if quoted != filename:
                disposition = f"{content_disposition_type}; filename*=utf-8''{quoted}"
            else:
                disposition = f'{content_disposition_type}; filename="{filename}"'
            self.headers.setdefault("content-disposition", disposition)
        self.stat_result = stat_result
        if stat_result is not None:
            self.set_stat_headers(stat_result)

    def set_stat_headers(self, stat_result: os.stat_result) -> None:
        """content-length, last-modified and an ETag derived from mtime and size."""
        tag_source = f"{stat_result.st_mtime}-{stat_result.st_size}".encode()
        etag = f'"{hashlib.md5(tag_source, usedforsecurity=False).hexdigest()}"'
        headers = self.headers
        headers.setdefault("content-length", str(stat_result.st_size))
        headers.setdefault("last-modified", formatdate(stat_result.st_mtime, usegmt=True))
        headers.setdefault("etag", etag)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        is_http = scope["type"] == "http"
        method = scope["method"].upper() if is_http else "GET"
        header_only = self.send_header_only or (is_http and method == "HEAD")
        pathsend = is_http and "http.response.pathsend" in (scope.get("extensions") or {})
        if scope["type"] == "websocket":
            send = self._wrap_websocket_denial_send(send)

        stat_result = self.stat_result
        if stat_result is None:
            try:
                stat_result = await run_in_threadpool(os.stat, self.path)
            except FileNotFoundError:
                raise RuntimeError(f"File at path {self.path} does not exist.") from None
            self.set_stat_headers(stat_result)
            if not stat.S_ISREG(stat_result.st_mode):
                raise RuntimeError(f"File at path {self.path} is not a file.")

        request_headers = Headers(scope=scope)
        if (
            is_http
            and self.status_code == 200
            and method in ("GET", "HEAD")
            and self._not_modified(request_headers)
        ):
            kept = [(k, v) for k, v in self.raw_headers if k in _NOT_MODIFIED_HEADERS]
            await send({"type": "http.response.start", "status": 304, "headers": kept})
            await send({"type": "http.response.body", "body": b""})
        else:
            sending = self._plan(scope, request_headers, stat_result, header_only, pathsend, send)
            if isinstance(sending, Response):  # a malformed or unsatisfiable Range
                await sending(scope, receive, send)
                return
            body_sent, sending = sending
            if is_http and body_sent and not send_raises_on_disconnect(scope):
                # Below ASGI 2.4 a send after the client left may just be dropped:
                # listen for http.disconnect and stop sending when it comes.
                await run_until_disconnect(sending, receive)
            else:
                await sending
        if self.background is not None:
            await self.background()

    def _plan(
        self,
        scope: Scope,
        request_headers: Headers,
        stat_result: os.stat_result,
        header_only: bool,
        pathsend: bool,
        send: Send,
    ) -> Response | tuple[bool, Coroutine[Any, Any, None]]:
        """What to send: an error response for a bad Range, or (body sent by us, coroutine).

        The first item is False when no body bytes go through ``send`` (HEAD, or the
        server sending the file itself through ``pathsend``).
        """
        http_range = request_headers.get("range")
        if_range = request_headers.get("if-range")
        if (
            self.status_code != 200
            or http_range is None
            or (scope["type"] == "http" and scope["method"].upper() not in ("GET", "HEAD"))
            or (if_range is not None and not self._should_use_range(if_range))
        ):
            return not (header_only or pathsend), self._handle_simple(send, header_only, pathsend)
        size = stat_result.st_size
        try:
            ranges = self._parse_range_header(http_range, size)
        except MalformedRangeHeader as exc:
            return PlainTextResponse(exc.content, status_code=400)
        except RangeNotSatisfiable as exc:
            return PlainTextResponse(
                status_code=416, headers={"Content-Range": f"bytes */{exc.max_size}"}
            )
        if not ranges:
            return not (header_only or pathsend), self._handle_simple(send, header_only, pathsend)
        if len(ranges) == 1:
            start, end = ranges[0]
            return not header_only, self._handle_single_range(send, start, end, size, header_only)
        return not header_only, self._handle_multiple_ranges(send, ranges, size, header_only)

    def _not_modified(self, request_headers: Headers) -> bool:
        if_none_match = request_headers.get("if-none-match")
        if if_none_match is not None:
            etag = self.headers.get("etag")
            return etag is not None and etag_matches(if_none_match, etag)
        if_modified_since = request_headers.get("if-modified-since")
        last_modified = self.headers.get("last-modified")
        if if_modified_since is None or last_modified is None:
            return False
        since, modified = parsedate(if_modified_since), parsedate(last_modified)
        return since is not None and modified is not None and since >= modified

    async def _open(self, start: int = 0) -> IO[bytes]:
        def open_at() -> IO[bytes]:
            file = open(self.path, "rb")  # noqa: SIM115 - closed by the caller
            if start:
                file.seek(start)
            return file

        return await run_in_threadpool(open_at)

    async def _handle_simple(self, send: Send, header_only: bool, pathsend: bool) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        if header_only:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        elif pathsend:
            # The extension requires an absolute path; open() would resolve it the same way.
            # (abspath reads the working directory: off the loop, and only when needed.)
            path = os.fspath(self.path)
            if not os.path.isabs(path):
                path = await run_in_threadpool(os.path.abspath, path)
            await send({"type": "http.response.pathsend", "path": path})
        else:
            file = await self._open()
            try:
                chunk_size = self.chunk_size
                more_body = True
                while more_body:
                    chunk = await run_in_threadpool(file.read, chunk_size)
                    more_body = len(chunk) == chunk_size
                    await send(
                        {"type": "http.response.body", "body": chunk, "more_body": more_body}
                    )
            finally:
                await run_cleanup_in_threadpool(file.close)

    async def _handle_single_range(
        self, send: Send, start: int, end: int, file_size: int, header_only: bool
    ) -> None:
        headers = MutableHeaders(raw=list(self.raw_headers))
        headers["content-range"] = f"bytes {start}-{end - 1}/{file_size}"
        headers["content-length"] = str(end - start)
        await send({"type": "http.response.start", "status": 206, "headers": headers.raw})
        if header_only:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        file = await self._open(start)
        try:
            chunk_size = self.chunk_size
            more_body = True
            while more_body:
                chunk = await run_in_threadpool(file.read, min(chunk_size, end - start))
                start += len(chunk)
                more_body = len(chunk) == chunk_size and start < end
                await send({"type": "http.response.body", "body": chunk, "more_body": more_body})
        finally:
            await run_cleanup_in_threadpool(file.close)

    async def _handle_multiple_ranges(
        self, send: Send, ranges: list[tuple[int, int]], file_size: int, header_only: bool
    ) -> None:
        boundary = token_hex(13)  # about the entropy browsers use for their boundaries
        content_length, part_head = self.generate_multipart(
            ranges, boundary, file_size, self.headers["content-type"]
        )
        headers = MutableHeaders(raw=list(self.raw_headers))
        headers["content-type"] = f"multipart/byteranges; boundary={boundary}"
        headers["content-length"] = str(content_length)
        await send({"type": "http.response.start", "status": 206, "headers": headers.raw})
        if header_only:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        file = await self._open()
        try:
            chunk_size = self.chunk_size
            for start, end in ranges:
                await send(
                    {"type": "http.response.body", "body": part_head(start, end), "more_body": True}
                )
                await run_in_threadpool(file.seek, start)
                while start < end:
                    chunk = await run_in_threadpool(file.read, min(chunk_size, end - start))
                    if not chunk:
                        raise RuntimeError(f"File at path {self.path} is shorter than expected.")
                    start += len(chunk)
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b"\r\n", "more_body": True})
            closing = f"--{boundary}--".encode("latin-1")
            await send({"type": "http.response.body", "body": closing, "more_body": False})
        finally:
            await run_cleanup_in_threadpool(file.close)

    def _should_use_range(self, http_if_range: str) -> bool:
        if http_if_range.startswith("W/"):
            return False
        headers = self.headers
        return http_if_range == headers["last-modified"] or http_if_range == headers["etag"]

    @classmethod
    def _parse_range_header(cls, http_range: str, file_size: int) -> list[tuple[int, int]]:
        """``(start, end)`` pairs, end exclusive; ``[]`` means "ignore it, send everything"."""
        units, sep, spec = http_range.partition("=")
        if not sep:
            raise MalformedRangeHeader()
        if units.strip().lower() != "bytes":
            raise MalformedRangeHeader("Only support bytes range")
        if spec.count(",") + 1 > cls.max_ranges:
            return []
        ranges = cls._parse_ranges(spec, file_size)
        if not ranges:
            raise MalformedRangeHeader("Range header: range must be requested")
        if any(not 0 <= start < file_size for start, _ in ranges):
            raise RangeNotSatisfiable(file_size)
        if any(start >= end for start, end in ranges):
            raise MalformedRangeHeader("Range header: start must be less than end")
        if len(ranges) == 1:
            return ranges
        ranges.sort()
        merged = [ranges[0]]
        for start, end in ranges[1:]:
            last_start, last_end = merged[-1]
            if start <= last_end:
                merged[-1] = (last_start, max(last_end, end))
            else:
                merged.append((start, end))
        return merged

    @classmethod
    def _parse_ranges(cls, spec: str, file_size: int) -> list[tuple[int, int]]:
        """Parse ``a-b``, ``a-`` and ``-n`` parts; unparsable parts are skipped."""
        ranges: list[tuple[int, int]] = []
        for part in spec.split(","):
            part = part.strip()
            if not part or part == "-" or "-" not in part:
                continue
            first, _, last = part.partition("-")
            first, last = first.strip(), last.strip()
            try:
                if first:
                    start = int(first)
                    end = int(last) + 1 if last and int(last) < file_size else file_size
                else:
                    start = max(file_size - int(last), 0)
                    end = file_size
            except ValueError:
                continue
            ranges.append((start, end))
        return ranges

    def generate_multipart(
        self,
        ranges: Sequence[tuple[int, int]],
        boundary: str,
        max_size: int,
        content_type: str,
    ) -> tuple[int, Callable[[int, int], bytes]]:
        """The body length, and a function rendering the head of each part.

        Each part is ``--boundary``, its Content-Type and Content-Range lines, a
        blank line, the bytes and CRLF; the body ends with ``--boundary--``.
        """

        def part_head(start: int, end: int) -> bytes:
            return (
                f"--{boundary}\r\nContent-Type: {content_type}\r\n"
                f"Content-Range: bytes {start}-{end - 1}/{max_size}\r\n\r\n"
            ).encode("latin-1")

        length = sum(len(part_head(start, end)) + (end - start) + 2 for start, end in ranges)
        return length + len(boundary) + 4, part_head
