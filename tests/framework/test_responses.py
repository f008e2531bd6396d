"""aster.responses: headers and bodies as Starlette 1.10 sends them, plus the protocol guarantees.

Expected header lists were taken from Starlette 1.10 running the same calls.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import re
import struct
import threading
import time
import warnings
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timezone
from email.utils import formatdate
from typing import Any

import httpx
import pytest

from aster import _json_libraries
from aster.background import BackgroundTask
from aster.exceptions import FastAPIDeprecationWarning
from aster.requests import Request
from aster.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    ORJSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
    UJSONResponse,
    render_json,
)
from tests.support import RawConnection, Running, serve

from .asgi import call, make_scope, run

TEXT = b"text/plain; charset=utf-8"

# -- complete-body responses ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "status", "headers", "body"),
    [
        (lambda: Response(), 200, [(b"content-length", b"0")], b""),
        (
            lambda: Response("héllo", media_type="text/plain"),
            200,
            [(b"content-length", b"6"), (b"content-type", TEXT)],
            "héllo".encode(),
        ),
        (
            lambda: Response(b"x", 201, {"X-A": "1"}, "image/png"),
            201,
            [(b"x-a", b"1"), (b"content-length", b"1"), (b"content-type", b"image/png")],
            b"x",
        ),
        (lambda: Response(status_code=204), 204, [], b""),
        (lambda: Response(b"x", status_code=304), 304, [], b"x"),
        (lambda: Response(b"x", status_code=101), 101, [], b"x"),
        (
            lambda: Response(b"xyz", headers={"Content-Length": "9", "content-type": "a/b"}),
            200,
            [(b"content-length", b"9"), (b"content-type", b"a/b")],
            b"xyz",
        ),
        (
            lambda: Response("x", media_type="text/html; Charset=latin-1"),
            200,
            [(b"content-length", b"1"), (b"content-type", b"text/html; Charset=latin-1")],
            b"x",
        ),
        (
            lambda: Response(memoryview(b"abcdef")[::2]),
            200,
            [(b"content-length", b"3")],
            b"ace",
        ),
        (
            lambda: HTMLResponse("<p>é</p>"),
            200,
            [(b"content-length", b"9"), (b"content-type", b"text/html; charset=utf-8")],
            "<p>é</p>".encode(),
        ),
        (
            lambda: PlainTextResponse("p"),
            200,
            [(b"content-length", b"1"), (b"content-type", TEXT)],
            b"p",
        ),
        (
            lambda: JSONResponse({"message": "Hello World"}),
            200,
            [(b"content-length", b"25"), (b"content-type", b"application/json")],
            b'{"message":"Hello World"}',
        ),
        (
            lambda: JSONResponse(None, 500, media_type="application/problem+json"),
            500,
            [(b"content-length", b"4"), (b"content-type", b"application/problem+json")],
            b"null",
        ),
        (
            lambda: RedirectResponse("/a b?x=ü&y=1#f"),
            307,
            [(b"content-length", b"0"), (b"location", b"/a%20b?x=%C3%BC&y=1#f")],
            b"",
        ),
        (
            lambda: RedirectResponse("https://e.com/", 301, headers={"location": "old"}),
            301,
            [(b"location", b"https://e.com/"), (b"content-length", b"0")],
            b"",
        ),
    ],
)
def test_headers_and_body_match_starlette(
    make: Any, status: int, headers: Any, body: bytes
) -> None:
    result = run(make())
    assert [m["type"] for m in result.messages] == ["http.response.start", "http.response.body"]
    assert (result.status, result.headers, result.body) == (status, headers, body)


def test_headers_view_is_lazy_and_live() -> None:
    response = JSONResponse({"a": 1})
    assert "_headers" not in response.__dict__  # nothing built until asked for
    response.headers["X-New"] = "1"
    response.headers["content-length"] = "99"
    del response.headers["content-type"]
    assert response.raw_headers == [(b"content-length", b"99"), (b"x-new", b"1")]
    response.raw_headers = [(b"x-other", b"2")]  # a replaced list gets a fresh view
    assert dict(response.headers) == {"x-other": "2"}


def test_background_runs_after_the_body() -> None:
    events: list[str] = []

    async def go() -> None:
        async def send(message: Any) -> None:
            events.append(message["type"])

        task = BackgroundTask(events.append, "background")
        await PlainTextResponse("x", background=task)(make_scope(), _never, send)

    asyncio.run(go())
    assert events == ["http.response.start", "http.response.body", "background"]


async def _never() -> Any:  # pragma: no cover
    raise AssertionError("receive() should not be called")


def test_websocket_denial_response() -> None:
    result = run(PlainTextResponse("no", status_code=403), {"type": "websocket", "headers": []})
    assert [m["type"] for m in result.messages] == [
        "websocket.http.response.start",
        "websocket.http.response.body",
    ]


def test_cookies() -> None:
    response = Response()
    expires = datetime(2030, 1, 1, tzinfo=timezone.utc)
    response.set_cookie(
        "a",
        "b c",
        max_age=10,
        expires=expires,
        path="/x",
        domain="ex.com",
        secure=True,
        httponly=True,
        samesite="strict",
    )
    response.delete_cookie("d")
    cookies = [v.decode() for k, v in response.raw_headers if k == b"set-cookie"]
    assert cookies[0] == (
        'a="b c"; Domain=ex.com; expires=Tue, 01 Jan 2030 00:00:00 GMT; HttpOnly; '
        "Max-Age=10; Path=/x; SameSite=strict; Secure"
    )
    assert re.fullmatch(
        r'd=""; expires=\w{3}, \d\d \w{3} \d{4} [\d:]{8} GMT; Max-Age=0; Path=/; '
        r"SameSite=lax",
        cookies[1],
    )
    with pytest.raises(AssertionError, match="samesite must be"):
        response.set_cookie("x", samesite="bogus")  # type: ignore[arg-type]


# -- JSON rendering ---------------------------------------------------------------------------


def _starlette_json(content: Any) -> bytes:
    """Starlette's JSONResponse.render, verbatim in behaviour."""
    return json.dumps(
        content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode("utf-8")


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def _mixed_keys() -> dict[Any, str]:
    keys: dict[Any, str] = {1: "a", None: "b"}
    keys[True] = "c"  # the same key as 1: json keeps the first spelling, "1"
    keys[2.5] = "d"
    keys[False] = "e"
    return keys


class IntEnumLike(int):
    pass


JSON_CASES: list[Any] = [
    {"message": "Hello World"},
    {"n": [1, 2.5, None, True, False], "ü": 'ß \u2028 \x00 \x7f " \\ /', "nested": {"a": []}},
    [1e-5, 1e16, 1e300, 0.0001, -0.0, 123.456, 9999999999999998.0, 5e-324],
    _mixed_keys(),
    {"t": (1, (2, 3))},
    10**30,
    -(2**64),
    2**63,
    "",
    None,
    {"deep": _nested(40)},
    IntEnumLike(3),
    {"s": type("S", (str,), {})("sub")},
]


@pytest.mark.parametrize("content", JSON_CASES, ids=range(len(JSON_CASES)))
def test_json_bytes_identical_to_starlette(content: Any) -> None:
    assert render_json(content) == _starlette_json(content)


@pytest.mark.parametrize(
    "content", [float("nan"), {"x": float("inf")}, {"d": datetime(2020, 1, 1)}, "\ud800", {(1,): 2}]
)
def test_json_errors_identical_to_starlette(content: Any) -> None:
    with pytest.raises(Exception) as expected:
        _starlette_json(content)
    with pytest.raises(type(expected.value)) as got:
        JSONResponse(content)
    assert str(got.value) == str(expected.value)


def test_json_random_floats_identical() -> None:
    rng = random.Random(1234)
    values = []
    for _ in range(20000):
        values.append(struct.unpack("d", struct.pack("Q", rng.getrandbits(64)))[0])
        values.append(round(rng.uniform(-1e6, 1e6), rng.randint(0, 8)))
    values = [v for v in values if math.isfinite(v)]
    for chunk in range(0, len(values), 500):
        content = {"v": values[chunk : chunk + 500]}
        assert render_json(content) == _starlette_json(content)


def test_circular_reference_raises_like_json() -> None:
    data: list[Any] = []
    data.append(data)
    with pytest.raises(ValueError, match="Circular reference detected"):
        JSONResponse(data)


def test_orjson_and_ujson_responses_warn_and_render() -> None:
    pytest.importorskip("orjson")
    pytest.importorskip("ujson")
    with pytest.warns(FastAPIDeprecationWarning, match="ORJSONResponse is deprecated"):
        orjson_response = ORJSONResponse({"a": 1, 2: "b"})
    assert orjson_response.body == b'{"a":1,"2":"b"}'
    with pytest.warns(FastAPIDeprecationWarning, match="UJSONResponse is deprecated"):
        ujson_response = UJSONResponse({"a": "é"})
    assert ujson_response.body == '{"a":"é"}'.encode()


def test_missing_orjson_fails_with_fastapis_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(_json_libraries._optional_modules, "orjson", None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FastAPIDeprecationWarning)
        with pytest.raises(AssertionError, match="orjson must be installed to use ORJSONResponse"):
            ORJSONResponse({})


# -- StreamingResponse ------------------------------------------------------------------------


def test_streaming_async_and_sync_iterables() -> None:
    async def agen() -> AsyncIterator[Any]:
        yield "a"
        yield b"b"
        yield memoryview(b"c")

    threads: list[str] = []

    def sgen() -> Iterator[str]:
        threads.append(threading.current_thread().name)
        yield "x"
        yield "y"

    result = run(StreamingResponse(agen(), media_type="text/plain"))
    assert result.headers == [(b"content-type", TEXT)]
    assert [(bytes(m["body"]), m["more_body"]) for m in result.messages[1:]] == [
        (b"a", True),
        (b"b", True),
        (b"c", True),
        (b"", False),
    ]
    result = run(StreamingResponse(sgen(), headers={"x": "1"}))
    assert (result.headers, result.body) == ([(b"x", b"1")], b"xy")
    assert threads and threads[0] != threading.current_thread().name


def test_streaming_stops_promptly_when_an_idle_client_disconnects() -> None:
    events: list[str] = []

    async def idle() -> AsyncIterator[bytes]:
        try:
            yield b"event 1\n"
            await asyncio.sleep(60)
        finally:
            events.append("closed")

    task = BackgroundTask(events.append, "background")
    started = time.monotonic()
    result = asyncio.run(call(StreamingResponse(idle(), background=task), disconnect_after=0.1))
    assert time.monotonic() - started < 5
    assert events == ["closed", "background"]
    assert result.body == b"event 1\n"
    assert [m.get("more_body") for m in result.messages[1:]] == [True]


def test_streaming_does_not_steal_an_unread_request_body() -> None:
    """With a request body, receive() is left to the iterator (here it echoes the body)."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        async def echo() -> AsyncIterator[bytes]:
            while True:
                message = await receive()
                yield message.get("body", b"")
                if not message.get("more_body"):
                    return

        await StreamingResponse(echo())(scope, receive, send)

    scope = make_scope(method="POST", headers=[("content-length", "6")])
    result = asyncio.run(call(app, scope, [b"abc", b"def"]))
    assert result.body == b"abcdef"


# -- FileResponse -----------------------------------------------------------------------------

DATA = bytes(range(256)) * 4
MTIME = 1700000000
ETAG = '"a9d326c0115102c56eaceb600328f87b"'  # md5 of "<st_mtime>-<st_size>", as Starlette
LAST_MODIFIED = "Tue, 14 Nov 2023 22:13:20 GMT"


@pytest.fixture
def data_file(tmp_path: Any) -> str:
    path = tmp_path / "data.txt"
    path.write_bytes(DATA)
    os.utime(path, (MTIME, MTIME))
    return str(path)


def _file_headers(*extra: tuple[bytes, bytes], length: int = 1024) -> list[tuple[bytes, bytes]]:
    return [
        *extra,
        (b"content-type", TEXT),
        (b"accept-ranges", b"bytes"),
        (b"content-length", str(length).encode()),
        (b"last-modified", LAST_MODIFIED.encode()),
        (b"etag", ETAG.encode()),
    ]


def test_file_response_headers_and_body(data_file: str) -> None:
    result = run(FileResponse(data_file))
    assert result.headers == _file_headers()
    assert result.body == DATA
    result = run(FileResponse(data_file, stat_result=os.stat(data_file), method="HEAD"))
    assert result.body == b""


@pytest.mark.parametrize(
    ("filename", "disposition"),
    [
        ("data.txt", b'attachment; filename="data.txt"'),
        ("dätä ü.txt", b"attachment; filename*=utf-8''d%C3%A4t%C3%A4%20%C3%BC.txt"),
    ],
)
def test_file_download_names(data_file: str, filename: str, disposition: bytes) -> None:
    result = run(FileResponse(data_file, filename=filename))
    assert (b"content-disposition", disposition) in result.headers
    inline = run(FileResponse(data_file, filename="a.txt", content_disposition_type="inline"))
    assert inline.header("content-disposition") == 'inline; filename="a.txt"'


def test_file_errors(tmp_path: Any) -> None:
    with pytest.raises(RuntimeError, match="does not exist"):
        run(FileResponse(str(tmp_path / "missing")))
    with pytest.raises(RuntimeError, match="is not a file"):
        run(FileResponse(str(tmp_path)))


def test_file_large_body_chunks(tmp_path: Any) -> None:
    path = tmp_path / "big.bin"
    path.write_bytes(b"z" * (FileResponse.chunk_size * 2 + 5))
    result = run(FileResponse(path))
    sizes = [(len(m["body"]), m["more_body"]) for m in result.messages[1:]]
    assert sizes == [(65536, True), (65536, True), (5, False)]


def test_file_pathsend_when_offered(data_file: str, tmp_path: Any, monkeypatch: Any) -> None:
    scope = make_scope(extensions={"http.response.pathsend": {}})
    result = run(FileResponse(data_file), scope)
    assert result.messages[-1] == {"type": "http.response.pathsend", "path": data_file}
    monkeypatch.chdir(os.path.dirname(data_file))
    relative = run(FileResponse("data.txt"), scope)  # the extension needs an absolute path
    assert relative.messages[-1]["path"] == data_file
    head = run(FileResponse(data_file), make_scope(method="HEAD", extensions=scope["extensions"]))
    assert head.messages[-1] == {"type": "http.response.body", "body": b"", "more_body": False}


def test_file_pathsend_resolves_a_relative_path_off_the_loop(
    data_file: str, monkeypatch: Any
) -> None:
    # abspath() reads the working directory, a blocking call: never in the event loop.
    loop_thread = threading.current_thread()
    calls: list[bool] = []
    real_abspath = os.path.abspath

    def watched_abspath(path: Any) -> str:
        calls.append(threading.current_thread() is loop_thread)
        return real_abspath(path)

    monkeypatch.setattr(os.path, "abspath", watched_abspath)
    scope = make_scope(extensions={"http.response.pathsend": {}})
    assert run(FileResponse(data_file), scope).messages[-1]["path"] == data_file
    assert calls == []  # an absolute path needs no resolving
    monkeypatch.chdir(os.path.dirname(data_file))
    assert run(FileResponse("data.txt"), scope).messages[-1]["path"] == data_file
    assert calls == [False]


def _ranged(
    path: str, value: str, method: str = "GET", headers: Any = (), **response_kw: Any
) -> Any:
    scope = make_scope(method=method, headers=[("range", value), *headers])
    return run(FileResponse(path, **response_kw), scope)


@pytest.mark.parametrize(
    ("value", "start", "end"),
    [
        ("bytes=10-19", 10, 19),
        ("bytes=1000-", 1000, 1023),
        ("bytes=-5", 1019, 1023),
        ("bytes=1000-5000", 1000, 1023),
        ("bytes=0-4,5-8", 0, 8),
    ],
)
def test_single_range(data_file: str, value: str, start: int, end: int) -> None:
    result = _ranged(data_file, value)
    assert result.status == 206
    assert result.headers == [
        (b"content-type", TEXT),
        (b"accept-ranges", b"bytes"),
        (b"content-length", str(end - start + 1).encode()),
        (b"last-modified", LAST_MODIFIED.encode()),
        (b"etag", ETAG.encode()),
        (b"content-range", f"bytes {start}-{end}/1024".encode()),
    ]
    assert result.body == DATA[start : end + 1]


@pytest.mark.parametrize(
    ("value", "parts"),
    [
        ("bytes=0-1, 5-6,-2", [(0, 1), (5, 6), (1022, 1023)]),
        ("bytes=0-4,2-8,20-21", [(0, 8), (20, 21)]),
    ],
)
def test_multiple_ranges(data_file: str, value: str, parts: list[tuple[int, int]]) -> None:
    result = _ranged(data_file, value)
    assert result.status == 206
    content_type = result.header("content-type") or ""
    boundary = content_type.removeprefix("multipart/byteranges; boundary=")
    assert re.fullmatch(r"[0-9a-f]{26}", boundary)
    expected = (
        b"".join(
            f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Range: bytes {a}-{b}/1024\r\n\r\n".encode()
            + DATA[a : b + 1]
            + b"\r\n"
            for a, b in parts
        )
        + f"--{boundary}--".encode()
    )
    assert result.body == expected
    assert result.header("content-length") == str(len(expected))
    head = _ranged(data_file, value, method="HEAD")
    assert (head.body, head.header("content-length")) == (b"", str(len(expected)))


@pytest.mark.parametrize(
    ("value", "status", "body"),
    [
        ("bytes=2000-", 416, b""),
        ("items=0-1", 400, b"Only support bytes range"),
        ("bytes", 400, b"Malformed range header."),
        ("bytes=abc", 400, b"Range header: range must be requested"),
        ("bytes=9-3", 400, b"Range header: start must be less than end"),
    ],
)
def test_bad_ranges(data_file: str, value: str, status: int, body: bytes) -> None:
    result = _ranged(data_file, value)
    assert (result.status, result.body) == (status, body)
    if status == 416:
        assert result.header("content-range") == "bytes */1024"


def test_ranges_ignored(data_file: str) -> None:
    too_many = "bytes=" + ",".join(f"{i}-{i}" for i in range(0, 202, 2))
    assert _ranged(data_file, too_many).status == 200
    assert _ranged(data_file, "bytes=0-1", method="POST").status == 200
    assert _ranged(data_file, "bytes=0-1", status_code=201).status == 201
    weak = _ranged(data_file, "bytes=0-1", headers=[("if-range", 'W/"x"')])
    assert weak.status == 200
    stale = _ranged(data_file, "bytes=0-1", headers=[("if-range", "Tue, 14 Nov 2020 22:13:20 GMT")])
    assert stale.status == 200
    for validator in (LAST_MODIFIED, ETAG):
        fresh = _ranged(data_file, "bytes=0-1", headers=[("if-range", validator)])
        assert (fresh.status, fresh.body) == (206, DATA[:2])


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ([("if-none-match", ETAG)], 304),
        ([("if-none-match", f'"other", W/{ETAG}')], 304),
        ([("if-none-match", "*")], 304),
        ([("if-none-match", '"other", *')], 304),
        ([("if-none-match", f'"a,b",{ETAG}')], 304),
        ([("if-none-match", '"other"')], 200),
        ([("if-none-match", '"*"')], 200),
        ([("if-none-match", '"foo,*,bar"')], 200),
        ([("if-none-match", '"other"'), ("if-modified-since", LAST_MODIFIED)], 200),
        ([("if-modified-since", LAST_MODIFIED)], 304),
        ([("if-modified-since", formatdate(MTIME + 60, usegmt=True))], 304),
        ([("if-modified-since", formatdate(MTIME - 60, usegmt=True))], 200),
        ([("if-modified-since", "garbage")], 200),
    ],
)
def test_conditional_requests(data_file: str, headers: Any, status: int) -> None:
    response = FileResponse(data_file, headers={"Cache-Control": "max-age=60"})
    result = run(response, make_scope(headers=headers))
    assert result.status == status
    if status == 304:
        assert result.headers == [(b"cache-control", b"max-age=60"), (b"etag", ETAG.encode())]
        assert result.body == b""
    post = run(FileResponse(data_file), make_scope(method="POST", headers=headers))
    assert post.status == 200


# -- over a socket, against ``aster run`` ----------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[Running]:
    with serve("tests.apps.fw_stack:plain_app", "--lifespan", "off") as running:
        yield running


def test_socket_streaming_streams(server: Running) -> None:
    key = f"r{time.monotonic_ns()}"
    with httpx.Client(base_url=server.url, timeout=5) as client:
        with client.stream("GET", f"/stream?id={key}") as response:
            chunks = response.iter_raw()
            assert next(chunks) == b"first\n"
            client.get(f"/release?id={key}")
            assert b"".join(chunks) == b"second\n"
        assert response.headers["transfer-encoding"] == "chunked"


def test_socket_disconnect_stops_the_stream(server: Running) -> None:
    key = f"r{time.monotonic_ns()}"
    with RawConnection(server.port) as conn:
        conn.send(f"GET /idle?id={key} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        conn.read_until(b"data: hello\n\n")
    started = time.monotonic()
    server.wait_for_log(f"APP: idle generator closed {key}", timeout=5)
    assert time.monotonic() - started < 2


def test_socket_sync_stream_and_file(server: Running) -> None:
    key = f"r{time.monotonic_ns()}"
    with httpx.Client(base_url=server.url, timeout=5) as client:
        assert client.get(f"/sync-stream?id={key}").text == "123"
        assert client.get(f"/status?id={key}").json()["thread"].startswith("aster-worker")
        before = len(server.lines)
        whole = client.get("/file")
        ranged = client.get("/file", headers={"range": "bytes=100-199"})
        head = client.head("/file")
    assert whole.content == bytes(range(256)) * 1200
    assert whole.headers["content-length"] == "307200"
    assert (ranged.status_code, ranged.content) == (206, (bytes(range(256)) * 1)[100:200])
    assert ranged.headers["content-range"] == "bytes 100-199/307200"
    assert (head.status_code, head.content, head.headers["etag"]) == (
        200,
        b"",
        whole.headers["etag"],
    )
    time.sleep(0.1)
    sent = [line for line in server.lines[before:] if line.startswith("APP: sent")]
    assert sent.count("APP: sent http.response.pathsend") == 1  # the whole file; not the range


def test_streaming_listens_once_the_body_was_read() -> None:
    """A POST whose body the endpoint read (as FastAPI does) still stops promptly."""
    events: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        body = await Request(scope, receive).body()

        async def idle() -> AsyncIterator[bytes]:
            try:
                yield body
                await asyncio.sleep(60)
            finally:
                events.append("closed")

        await StreamingResponse(idle())(scope, receive, send)

    scope = make_scope(method="POST", headers=[("content-length", "4")])
    started = time.monotonic()
    result = asyncio.run(call(app, scope, b"data", disconnect_after=0.1))
    assert time.monotonic() - started < 5
    assert (result.body, events) == (b"data", ["closed"])
