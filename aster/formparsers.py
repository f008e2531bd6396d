"""Form bodies: ``application/x-www-form-urlencoded`` and ``multipart/form-data``.

Both parsers feed the request stream to python-multipart chunk by chunk, so a
limit is enforced as soon as it is crossed rather than after the whole body
has been buffered:

* ``max_fields``: non-file fields (and, for urlencoded bodies, all fields);
* ``max_files``: file parts of a multipart body;
* ``max_part_size``: the bytes of one non-file field.  File parts are not
  limited here; they spool to a ``SpooledTemporaryFile`` that stays in memory
  up to 1 MiB and then rolls over to disk.

Violations raise :class:`MultiPartException` with Starlette's messages, which
``Request.form()`` turns into a 400.
"""

from __future__ import annotations

import codecs
from collections.abc import AsyncGenerator
from enum import Enum
from tempfile import SpooledTemporaryFile
from typing import Any
from urllib.parse import unquote_plus

import python_multipart
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import parse_options_header
from typing_extensions import deprecated

from aster._starlette_exceptions import StarletteDeprecationWarning
from aster.datastructures import FormData, Headers, UploadFile

__all__ = ["FormMessage", "FormParser", "MultiPartException", "MultiPartParser", "MultipartPart"]


@deprecated(
    "`FormMessage` is deprecated and will be removed in a future version.",
    category=StarletteDeprecationWarning,
    stacklevel=2,  # past enum's own __call__, to the caller
)
class FormMessage(Enum):
    """The event kinds of Starlette's old form parser; unused, kept for code that imports it."""

    FIELD_START = 1
    FIELD_NAME = 2
    FIELD_DATA = 3
    FIELD_END = 4
    END = 5


class MultiPartException(Exception):
    """A form body that is malformed or over a limit; ``message`` is safe to show the client."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _decode(data: bytes | bytearray, charset: str) -> str:
    """Decode with the form's charset, falling back to latin-1 (which always succeeds)."""
    try:
        return data.decode(charset)
    except (UnicodeDecodeError, LookupError):
        return data.decode("latin-1")


def _kib(size: int | float) -> int:
    return int(size / 1024)


class FormParser:
    """Parses an ``application/x-www-form-urlencoded`` body."""

    def __init__(
        self,
        headers: Headers,
        stream: AsyncGenerator[bytes, None],
        *,
        max_fields: int | float = 1000,
        max_part_size: int = 1024 * 1024,
    ) -> None:
        self.headers = headers
        self.stream = stream
        self.max_fields = max_fields
        self.max_part_size = max_part_size
        self._field_size = 0
        self._current_fields = 0
        self._field_name = bytearray()
        self._field_value = bytearray()
        self._items: list[tuple[str, str | UploadFile]] = []

    def on_field_start(self) -> None:
        self._field_size = 0
        self._field_name = bytearray()
        self._field_value = bytearray()

    def _grow(self, size: int) -> None:
        # Name and value together count against the limit, before unquoting.
        self._field_size += size
        if self._field_size > self.max_part_size:
            raise MultiPartException(
                f"Field exceeded maximum size of {_kib(self.max_part_size)}KB."
            )

    def on_field_name(self, data: bytes, start: int, end: int) -> None:
        self._grow(end - start)
        self._field_name += data[start:end]

    def on_field_data(self, data: bytes, start: int, end: int) -> None:
        self._grow(end - start)
        self._field_value += data[start:end]

    def on_field_end(self) -> None:
        self._current_fields += 1
        if self._current_fields > self.max_fields:
            raise MultiPartException(
                f"Too many fields. Maximum number of fields is {self.max_fields}."
            )
        # Latin-1 first keeps every raw byte; %-escapes then decode as UTF-8.
        name = self._field_name.decode("latin-1")
        value = self._field_value.decode("latin-1")
        if "%" in name or "+" in name:
            name = unquote_plus(name)
        if "%" in value or "+" in value:
            value = unquote_plus(value)
        self._items.append((name, value))

    async def parse(self) -> FormData:
        parser = python_multipart.QuerystringParser(
            {
                "on_field_start": self.on_field_start,
                "on_field_name": self.on_field_name,
                "on_field_data": self.on_field_data,
                "on_field_end": self.on_field_end,
            }
        )
        async for chunk in self.stream:
            if chunk:
                parser.write(chunk)
        parser.finalize()
        return FormData(self._items)


class MultipartPart:
    """The part being parsed: its headers so far, and its data or its file."""

    __slots__ = ("content_disposition", "data", "field_name", "file", "item_headers")

    def __init__(self) -> None:
        self.content_disposition: bytes | None = None
        self.field_name = ""
        self.data = bytearray()
        self.file: UploadFile | None = None
        self.item_headers: list[tuple[bytes, bytes]] = []


class MultiPartParser:
    """Parses a ``multipart/form-data`` body; file parts become :class:`UploadFile`."""

    spool_max_size = 1024 * 1024
    """Bytes an upload keeps in memory before its temporary file rolls over to disk."""
    max_part_size = 1024 * 1024
    """Bytes allowed in one non-file part."""

    def __init__(
        self,
        headers: Headers,
        stream: AsyncGenerator[bytes, None],
        *,
        max_files: int | float = 1000,
        max_fields: int | float = 1000,
        max_part_size: int = 1024 * 1024,
    ) -> None:
        self.headers = headers
        self.stream = stream
        self.max_files = max_files
        self.max_fields = max_fields
        self.max_part_size = max_part_size
        self.items: list[tuple[str, str | UploadFile]] = []
        self._files = 0
        self._current_fields = 0
        self._header_name = b""
        self._header_value = b""
        self._part = MultipartPart()
        self._charset = "utf-8"
        # File data arrives in (synchronous) parser callbacks; it is written
        # after each chunk, with await, since a write may go to the threadpool.
        self._pending_writes: list[tuple[UploadFile, bytes]] = []
        self._pending_rewinds: list[UploadFile] = []
        self._tempfiles: list[SpooledTemporaryFile[bytes]] = []

    def on_part_begin(self) -> None:
        self._part = MultipartPart()

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        part = self._part
        if part.file is None:
            if len(part.data) + (end - start) > self.max_part_size:
                raise MultiPartException(
                    f"Part exceeded maximum size of {_kib(self.max_part_size)}KB."
                )
            part.data += data[start:end]
        else:
            self._pending_writes.append((part.file, data[start:end]))

    def on_part_end(self) -> None:
        part = self._part
        if part.file is None:
            self.items.append((part.field_name, _decode(part.data, self._charset)))
        else:
            # Listed now; its data is written and it is rewound before parse() returns.
            self._pending_rewinds.append(part.file)
            self.items.append((part.field_name, part.file))

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        name = self._header_name.lower()
        if name == b"content-disposition":
            self._part.content_disposition = self._header_value
        self._part.item_headers.append((name, self._header_value))
        self._header_name = self._header_value = b""

    def on_headers_finished(self) -> None:
        part = self._part
        _, options = parse_options_header(part.content_disposition)
        try:
            part.field_name = _decode(options[b"name"], self._charset)
        except KeyError:
            raise MultiPartException(
                'The Content-Disposition header field "name" must be provided.'
            ) from None
        if b"filename" in options:
            self._files += 1
            if self._files > self.max_files:
                raise MultiPartException(
                    f"Too many files. Maximum number of files is {self.max_files}."
                )
            # Owned by the UploadFile from here on (closed with the form, or on error below).
            tempfile: SpooledTemporaryFile[bytes] = SpooledTemporaryFile(  # noqa: SIM115
                max_size=self.spool_max_size
            )
            self._tempfiles.append(tempfile)
            part.file = UploadFile(
                file=tempfile,  # type: ignore[arg-type]
                size=0,
                filename=_decode(options[b"filename"], self._charset),
                headers=Headers(raw=part.item_headers),
            )
        else:
            self._current_fields += 1
            if self._current_fields > self.max_fields:
                raise MultiPartException(
                    f"Too many fields. Maximum number of fields is {self.max_fields}."
                )

    def on_end(self) -> None:
        pass

    async def _flush(self) -> None:
        writes = self._pending_writes
        if writes:
            self._pending_writes = []
            # Consecutive pieces of one file become one write (one threadpool hop at most).
            index, count = 0, len(writes)
            while index < count:
                upload, data = writes[index]
                index += 1
                if index < count and writes[index][0] is upload:
                    pieces = [data]
                    while index < count and writes[index][0] is upload:
                        pieces.append(writes[index][1])
                        index += 1
                    data = b"".join(pieces)
                await upload.write(data)
        if self._pending_rewinds:
            rewinds, self._pending_rewinds = self._pending_rewinds, []
            for upload in rewinds:
                await upload.seek(0)

    async def parse(self) -> FormData:
        _, params = parse_options_header(self.headers["Content-Type"])
        charset: Any = params.get(b"charset", "utf-8")
        if isinstance(charset, bytes):
            charset = charset.decode("latin-1")
        try:
            self._charset = codecs.lookup(charset).name
        except LookupError:
            self._charset = "latin-1"
        try:
            boundary = params[b"boundary"]
        except KeyError:
            raise MultiPartException("Missing boundary in multipart.") from None

        callbacks: Any = {
            "on_part_begin": self.on_part_begin,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_end": self.on_end,
        }
        try:
            parser = python_multipart.MultipartParser(boundary, callbacks)
            async for chunk in self.stream:
                if chunk:
                    parser.write(chunk)
                    await self._flush()
            parser.finalize()
            await self._flush()
        except BaseException as exc:
            # Nothing parsed so far reaches the caller, so nothing else would close these.
            for tempfile in self._tempfiles:
                tempfile.close()
            if isinstance(exc, FormParserError):
                raise MultiPartException("Invalid multipart data.") from exc
            raise
        return FormData(self.items)
