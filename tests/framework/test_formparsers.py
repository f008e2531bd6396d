"""aster.formparsers and Request.form(): values, limits, errors, spooling, and form_limits."""

from __future__ import annotations

import asyncio
import hashlib
import os
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from aster._form_limits import _merge_form_limits, _validate_form_limits
from aster.datastructures import UploadFile
from aster.exceptions import StarletteHTTPException as HTTPException
from aster.formparsers import MultiPartException, MultiPartParser
from aster.requests import Request
from aster.types import Message, Receive, Scope, Send
from tests.support import serve

URLENCODED = b"application/x-www-form-urlencoded"
MULTIPART = b"multipart/form-data; boundary=bnd"


def chunked(data: bytes, size: int) -> list[Message]:
    pieces = [data[i : i + size] for i in range(0, len(data), size)] or [b""]
    return [
        {"type": "http.request", "body": piece, "more_body": index < len(pieces) - 1}
        for index, piece in enumerate(pieces)
    ]


async def parse(
    body: bytes, content_type: bytes, *, chunk: int = 7, in_app: bool = False, **limits: Any
) -> list[Any]:
    """Parse ``body`` as a form; files come back as (name, filename, size, type, headers, data)."""
    messages = chunked(body, chunk)

    async def receive() -> Message:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    scope: dict[str, Any] = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "query_string": b"",
        "headers": [(b"content-type", content_type)],
    }
    if in_app:
        scope["app"] = object()
    items: list[Any] = []
    async with Request(scope, receive).form(**limits) as form:
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                data = await value.read()
                items.append(
                    (name, value.filename, value.size, value.content_type, value.headers.raw, data)
                )
            else:
                items.append((name, value))
    return items


def multipart(*parts: tuple[list[bytes], bytes], boundary: bytes = b"bnd") -> bytes:
    body = b""
    for headers, data in parts:
        head = b"".join(header + b"\r\n" for header in headers)
        body += b"--" + boundary + b"\r\n" + head + b"\r\n" + data + b"\r\n"
    return body + b"--" + boundary + b"--\r\n"


def field(name: bytes, value: bytes) -> tuple[list[bytes], bytes]:
    return [b'Content-Disposition: form-data; name="' + name + b'"'], value


# -- urlencoded ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "items"),
    [
        (b"a=1&b=2", [("a", "1"), ("b", "2")]),
        (b"a=1;b=2", [("a", "1;b=2")]),
        (b"a", [("a", "")]),
        (b"&&", []),
        (b"", []),
        (b"=x", [("", "x")]),
        (b"a=1&&b=2&", [("a", "1"), ("b", "2")]),
        (b"a==b", [("a", "=b")]),
        (b"a%3Db=c", [("a=b", "c")]),
        (b"a=%20+b&c=%zz", [("a", "  b"), ("c", "%zz")]),
        (b"a=%C3%A9&%C3%A9=1", [("a", "é"), ("é", "1")]),
        (b"a=\xc3\xa9", [("a", "Ã©")]),  # raw bytes are latin-1, as in Starlette
        (b"k=v&k=w", [("k", "v"), ("k", "w")]),
    ],
)
@pytest.mark.parametrize("chunk", [1, 3, 1000])
def test_urlencoded(body: bytes, items: list[Any], chunk: int) -> None:
    assert asyncio.run(parse(body, URLENCODED, chunk=chunk)) == items


def test_urlencoded_content_type_variants() -> None:
    with_charset = URLENCODED + b"; charset=utf-8"
    assert asyncio.run(parse(b"a=1", with_charset)) == [("a", "1")]
    assert asyncio.run(parse(b"a=1", b"Application/X-WWW-Form-Urlencoded")) == [("a", "1")]


@pytest.mark.parametrize(
    ("body", "limits", "message"),
    [
        (b"a=1&b=2&c=3", {"max_fields": 2}, "Too many fields. Maximum number of fields is 2."),
        (b"a=" + b"x" * 2000, {"max_part_size": 1500}, "Field exceeded maximum size of 1KB."),
        (b"a" * 2000 + b"=x", {"max_part_size": 1500}, "Field exceeded maximum size of 1KB."),
        (b"ab=cd", {"max_part_size": 3}, "Field exceeded maximum size of 0KB."),
    ],
)
def test_urlencoded_limits(body: bytes, limits: dict[str, int], message: str) -> None:
    with pytest.raises(MultiPartException) as info:
        asyncio.run(parse(body, URLENCODED, **limits))
    assert info.value.message == message
    with pytest.raises(HTTPException) as http_info:
        asyncio.run(parse(body, URLENCODED, in_app=True, **limits))
    assert (http_info.value.status_code, http_info.value.detail) == (400, message)


def test_urlencoded_limits_are_inclusive() -> None:
    assert asyncio.run(parse(b"ab=cd", URLENCODED, max_part_size=4)) == [("ab", "cd")]
    assert asyncio.run(parse(b"a=1&b=2", URLENCODED, max_fields=2)) == [("a", "1"), ("b", "2")]


# -- multipart ----------------------------------------------------------------------------

BASIC = multipart(
    field(b"field", b"value"),
    (
        [
            b'Content-Disposition: form-data; name="file"; filename="a.txt"',
            b"Content-Type: text/plain",
            b"X-Custom: yes",
        ],
        b"file content\r\nline2",
    ),
    field(b"field", b"second"),
    ([b'Content-Disposition: form-data; name="empty"; filename=""'], b""),
    field(b"utf", "é€".encode()),
)
BASIC_ITEMS = [
    ("field", "value"),
    (
        "file",
        "a.txt",
        19,
        "text/plain",
        [
            (b"content-disposition", b'form-data; name="file"; filename="a.txt"'),
            (b"content-type", b"text/plain"),
            (b"x-custom", b"yes"),
        ],
        b"file content\r\nline2",
    ),
    ("field", "second"),
    (
        "empty",
        "",
        0,
        None,
        [(b"content-disposition", b'form-data; name="empty"; filename=""')],
        b"",
    ),
    ("utf", "é€"),
]


@pytest.mark.parametrize("chunk", [1, 5, 64, 100000])
def test_multipart_fields_and_files(chunk: int) -> None:
    assert asyncio.run(parse(BASIC, MULTIPART, chunk=chunk)) == BASIC_ITEMS


@pytest.mark.parametrize(
    ("body", "content_type", "items"),
    [
        (
            multipart(field(b"f\xe9", b"v\xe9")),
            MULTIPART + b"; charset=latin-1",
            [("fé", "vé")],
        ),
        (multipart(field(b"f", b"v\xe9")), MULTIPART + b"; charset=bogus", [("f", "vé")]),
        (multipart(field(b"f", b"v\xe9")), MULTIPART, [("f", "vé")]),  # bad UTF-8: latin-1
        (
            multipart(field(b"f", b"v"), boundary=b"a b"),
            b'multipart/form-data; boundary="a b"',
            [("f", "v")],
        ),
        (b"--bnd--\r\n", MULTIPART, []),
    ],
)
def test_multipart_charsets_and_boundaries(
    body: bytes, content_type: bytes, items: list[Any]
) -> None:
    assert asyncio.run(parse(body, content_type)) == items


@pytest.mark.parametrize(
    ("body", "content_type", "limits", "message"),
    [
        (BASIC, MULTIPART, {"max_files": 1}, "Too many files. Maximum number of files is 1."),
        (BASIC, MULTIPART, {"max_fields": 2}, "Too many fields. Maximum number of fields is 2."),
        (BASIC, MULTIPART, {"max_part_size": 5}, "Part exceeded maximum size of 0KB."),
        (
            multipart(field(b"f", b"x" * 3000)),
            MULTIPART,
            {"max_part_size": 2048},
            "Part exceeded maximum size of 2KB.",
        ),
        (BASIC, b"multipart/form-data", {}, "Missing boundary in multipart."),
        (
            multipart(([b'Content-Disposition: form-data; filename="x"'], b"v")),
            MULTIPART,
            {},
            'The Content-Disposition header field "name" must be provided.',
        ),
        (b"garbage", MULTIPART, {}, "Invalid multipart data."),
        (
            multipart(
                (
                    [b'Content-Disposition: form-data; name="f"']
                    + [b"X-%d: 1" % i for i in range(9)],
                    b"",
                )
            ),
            MULTIPART,
            {},
            "Invalid multipart data.",
        ),
    ],
)
def test_multipart_errors(
    body: bytes, content_type: bytes, limits: dict[str, int], message: str
) -> None:
    with pytest.raises(MultiPartException) as info:
        asyncio.run(parse(body, content_type, **limits))
    assert info.value.message == message
    with pytest.raises(HTTPException) as http_info:
        asyncio.run(parse(body, content_type, in_app=True, **limits))
    assert (http_info.value.status_code, http_info.value.detail) == (400, message)


def test_file_parts_are_not_limited_by_max_part_size() -> None:
    body = multipart(([b'Content-Disposition: form-data; name="f"; filename="big"'], b"x" * 5000))
    items = asyncio.run(parse(body, MULTIPART, max_part_size=10))
    assert items[0][2] == 5000


def test_files_are_closed_when_parsing_fails() -> None:
    created: list[Any] = []
    original = MultiPartParser.on_headers_finished

    def tracking(self: MultiPartParser) -> None:
        original(self)
        if self._part.file is not None:
            created.append(self._part.file.file)

    body = multipart(
        ([b'Content-Disposition: form-data; name="a"; filename="1"'], b"one"),
        ([b'Content-Disposition: form-data; name="b"; filename="2"'], b"two"),
    )
    MultiPartParser.on_headers_finished = tracking  # type: ignore[method-assign]
    try:
        with pytest.raises(MultiPartException, match="Too many files"):
            asyncio.run(parse(body, MULTIPART, max_files=1))
    finally:
        MultiPartParser.on_headers_finished = original  # type: ignore[method-assign]
    assert len(created) == 1 and created[0].closed


def test_large_upload_spools_to_disk() -> None:
    data = os.urandom(3 * 1024 * 1024 + 7)
    body = multipart(([b'Content-Disposition: form-data; name="f"; filename="big.bin"'], data))
    messages = chunked(body, 64 * 1024)

    async def receive() -> Message:
        return messages.pop(0)

    async def main() -> tuple[Any, ...]:
        scope = {"type": "http", "headers": [(b"content-type", MULTIPART)], "query_string": b""}
        async with Request(scope, receive).form() as form:
            upload = form["f"]
            assert isinstance(upload, UploadFile)
            rolled = upload.file._rolled  # type: ignore[attr-defined]
            content = await upload.read()
            return rolled, upload.size, content == data

    assert asyncio.run(main()) == (True, len(data), True)


# -- form_limits ----------------------------------------------------------------------------


def test_form_limits_validation() -> None:
    assert _validate_form_limits(None) == {}
    limits = {"max_fields": 1, "max_files": 0, "max_part_size": 10}
    validated = _validate_form_limits(limits)  # type: ignore[arg-type]
    assert validated == limits and validated is not limits
    for bad in ({"max_parts": 1}, {"max_files": -1}, {"max_fields": False}, {"max_part_size": 1.5}):
        with pytest.raises(ValidationError, match=next(iter(bad))):
            _validate_form_limits(bad)  # type: ignore[arg-type]
    assert _merge_form_limits({"max_fields": 1}, {"max_files": 2}) == {
        "max_fields": 1,
        "max_files": 2,
    }
    inherited = {"max_fields": 1}
    assert _merge_form_limits(inherited, None) is inherited  # type: ignore[arg-type]
    assert _merge_form_limits(inherited, {"max_fields": 3}) == {"max_fields": 3}  # type: ignore[arg-type]


# -- Through httpx and through the real server ------------------------------------------------


async def upload_app(scope: Scope, receive: Receive, send: Send) -> None:
    request = Request(scope, receive, send)
    async with request.form() as form:
        summary = []
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                summary.append(f"{name}={value.filename}:{len(await value.read())}")
            else:
                summary.append(f"{name}={value}")
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": ";".join(summary).encode()})


def test_httpx_multipart_and_urlencoded() -> None:
    async def main() -> tuple[str, str]:
        transport = httpx.ASGITransport(app=upload_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            multi = await client.post(
                "/",
                data={"name": "x y"},
                files=[("f", ("a.bin", b"123")), ("f", ("b.bin", b"4567"))],
            )
            plain = await client.post("/", data={"a": "1&2", "b": "é"})
            return multi.text, plain.text

    assert asyncio.run(main()) == ("name=x y;f=a.bin:3;f=b.bin:4", "a=1&2;b=é")


def test_five_megabyte_upload_over_a_socket() -> None:
    data = os.urandom(5 * 1024 * 1024)
    with serve("tests.framework.foundation_app:app") as server:
        response = httpx.post(
            f"{server.url}/upload",
            data={"note": "five"},
            files={"file": ("five.bin", data, "application/octet-stream")},
            timeout=30,
        )
        too_many = httpx.post(
            f"{server.url}/upload",
            files=[("file", ("1", b"1")), ("file", ("2", b"2")), ("file", ("3", b"3"))],
        )
    assert response.status_code == 200
    assert response.json() == {
        "filename": "five.bin",
        "content_type": "application/octet-stream",
        "size": len(data),
        "read": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "rolled_to_disk": True,
        "note": "five",
    }
    assert too_many.status_code == 500  # no "app" in this bare scope: the parser's own error
    assert too_many.json() == {"error": "Too many files. Maximum number of files is 2."}
