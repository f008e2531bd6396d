"""A client that leaves stops a StreamingResponse or a FileResponse, as in Starlette 1.10.

Starlette picks the signal by the server's ASGI spec version (``scope["asgi"]``): from
2.4, ``send()`` raising ``OSError`` (then ``StreamingResponse`` raises ``ClientDisconnect``
to whoever awaited it, and the background task does not run); below 2.4, a listener for
``http.disconnect`` that ends the response quietly, background included.  The socket-level
twins are in tests/test_disconnects_server.py.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from aster._disconnect import run_until_disconnect, send_raises_on_disconnect
from aster.background import BackgroundTask
from aster.requests import ClientDisconnect
from aster.responses import FileResponse, StreamingResponse
from aster.testclient import TestClient
from aster.types import Message

from .asgi import make_scope

SPEC_2_4 = {"version": "3.0", "spec_version": "2.4"}
SPEC_2_3 = {"version": "3.0", "spec_version": "2.3"}


def _scope(asgi: dict[str, str] | None, **changes: Any) -> dict[str, Any]:
    scope = make_scope(**changes)
    if asgi is None:
        del scope["asgi"]
    else:
        scope["asgi"] = asgi
    return scope


@pytest.mark.parametrize(
    ("asgi", "expected"),
    [
        (None, False),
        ({"version": "3.0"}, False),
        (SPEC_2_3, False),
        (SPEC_2_4, True),
        ({"spec_version": "2.5"}, True),
        ({"spec_version": "3"}, True),
        ({"spec_version": "junk"}, False),
    ],
)
def test_which_servers_raise_from_send(asgi: dict[str, str] | None, expected: bool) -> None:
    scope: dict[str, Any] = {"type": "http"} if asgi is None else {"type": "http", "asgi": asgi}
    assert send_raises_on_disconnect(scope) is expected


# -- StreamingResponse: send() raising -------------------------------------------------------


def _endless(events: list[str]) -> AsyncIterator[bytes]:
    async def chunks() -> AsyncIterator[bytes]:
        try:
            while True:
                await asyncio.sleep(0)
                yield b"chunk"
        finally:
            events.append("generator closed")

    return chunks()


async def _stream_until_send_fails(scope: dict[str, Any], events: list[str]) -> None:
    sent = 0
    error = OSError("the client is gone")

    async def send(message: Message) -> None:
        nonlocal sent
        if message["type"] == "http.response.body":
            sent += 1
            if sent > 1:
                raise error

    async def receive() -> Message:
        raise NotImplementedError  # a 2.4 stream must not need it

    response = StreamingResponse(
        _endless(events), background=BackgroundTask(events.append, "background")
    )
    await asyncio.wait_for(response(scope, receive, send), 5)


@pytest.mark.parametrize("body", [False, True], ids=["no-body", "unread-body"])
def test_a_failing_send_raises_client_disconnect_from_asgi_2_4(body: bool) -> None:
    events: list[str] = []
    headers = [("content-length", "3")] if body else []
    scope = _scope(SPEC_2_4, method="POST", headers=headers)
    with pytest.raises(ClientDisconnect) as caught:
        asyncio.run(_stream_until_send_fails(scope, events))
    # Raised from the server's error (the server sees the disconnect in its chain).
    assert isinstance(caught.value.__context__, OSError)
    assert events == ["generator closed"]  # closed at once, and no background task


@pytest.mark.parametrize("asgi", [None, SPEC_2_3], ids=["no-asgi-key", "2.3"])
def test_a_failing_send_raises_its_own_error_below_asgi_2_4(asgi: dict[str, str] | None) -> None:
    events: list[str] = []
    with pytest.raises(OSError, match="the client is gone"):
        asyncio.run(_stream_until_send_fails(_scope(asgi), events))
    assert events == ["generator closed"]


# -- StreamingResponse: http.disconnect ----------------------------------------------------


@pytest.mark.parametrize("asgi", [None, SPEC_2_3, SPEC_2_4], ids=["no-asgi-key", "2.3", "2.4"])
def test_http_disconnect_ends_a_busy_stream_quietly_and_runs_the_background(
    asgi: dict[str, str] | None,
) -> None:
    events: list[str] = []

    async def go() -> int:
        disconnected = asyncio.Event()
        sent = 0

        async def receive() -> Message:
            await disconnected.wait()
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            nonlocal sent
            sent += 1
            if sent == 4:
                disconnected.set()  # sends keep succeeding: a server that drops them

        response = StreamingResponse(
            _endless(events), background=BackgroundTask(events.append, "background")
        )
        await asyncio.wait_for(response(_scope(asgi), receive, send), 5)
        return sent

    sent = asyncio.run(go())
    assert sent < 10  # stopped at the disconnect, not later
    assert events == ["generator closed", "background"]


def test_an_idle_stream_is_interrupted_at_the_disconnect() -> None:
    events: list[str] = []

    async def idle() -> AsyncIterator[bytes]:
        try:
            yield b"first"
            await asyncio.sleep(3600)
            yield b"never"  # pragma: no cover
        finally:
            events.append("generator closed")

    async def go() -> list[Message]:
        sent: list[Message] = []

        async def receive() -> Message:
            await asyncio.sleep(0.05)
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            sent.append(message)

        await asyncio.wait_for(StreamingResponse(idle())(_scope(SPEC_2_4), receive, send), 5)
        return sent

    sent = asyncio.run(go())
    assert [m.get("body") for m in sent] == [None, b"first"]
    assert events == ["generator closed"]


# -- FileResponse ----------------------------------------------------------------------------


@pytest.fixture
def big_file(tmp_path: Path) -> Path:
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(FileResponse.chunk_size * 8))
    return path


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """The files FileResponse opens, to check that each was closed."""
    files: list[Any] = []
    real_open = FileResponse._open

    async def tracking_open(self: FileResponse, start: int = 0) -> Any:
        file = await real_open(self, start)
        files.append(file)
        return file

    monkeypatch.setattr(FileResponse, "_open", tracking_open)
    yield files


RANGES = [None, b"bytes=0-", b"bytes=0-131071,196608-524287"]


@pytest.mark.parametrize("ranges", RANGES, ids=["whole", "one-range", "two-ranges"])
@pytest.mark.parametrize("asgi", [None, SPEC_2_3], ids=["no-asgi-key", "2.3"])
def test_file_response_stops_at_http_disconnect_below_asgi_2_4(
    big_file: Path, opened: list[Any], asgi: dict[str, str] | None, ranges: bytes | None
) -> None:
    events: list[str] = []

    async def go() -> int:
        disconnected = asyncio.Event()
        submitted = 0

        async def receive() -> Message:
            await disconnected.wait()
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            nonlocal submitted
            if message["type"] == "http.response.body":
                submitted += len(message["body"])
                if submitted >= FileResponse.chunk_size:
                    disconnected.set()
                    await asyncio.sleep(3600)  # a server whose send never returns

        def cleanup() -> None:
            events.append(f"background, file closed: {opened[0].closed}")

        headers = [] if ranges is None else [("range", ranges.decode())]
        scope = _scope(asgi, headers=headers)
        # pathsend is offered but not used: the listener must still run for a plain send.
        scope["extensions"] = {"http.response.pathsend": {}} if ranges is not None else {}
        response = FileResponse(big_file, background=BackgroundTask(cleanup))
        await asyncio.wait_for(response(scope, receive, send), 5)
        return submitted

    assert asyncio.run(go()) < FileResponse.chunk_size * 3
    assert events == ["background, file closed: True"]


@pytest.mark.parametrize("asgi", [SPEC_2_3, SPEC_2_4], ids=["2.3", "2.4"])
def test_file_response_closes_its_file_when_cancelled(
    big_file: Path, opened: list[Any], asgi: dict[str, str]
) -> None:
    async def go() -> None:
        async def receive() -> Message:
            await asyncio.sleep(3600)
            raise AssertionError("unreachable")  # pragma: no cover

        async def send(message: Message) -> None:
            if message["type"] == "http.response.body":
                await asyncio.sleep(3600)

        def cleanup() -> None:  # pragma: no cover - must not run
            raise AssertionError("background after a cancellation")

        task = asyncio.ensure_future(
            FileResponse(big_file, background=BackgroundTask(cleanup))(_scope(asgi), receive, send)
        )
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(go())
    assert len(opened) == 1 and opened[0].closed


@pytest.mark.parametrize("asgi", [SPEC_2_3, SPEC_2_4], ids=["2.3", "2.4"])
def test_file_response_raises_a_send_error_as_it_is(
    big_file: Path, opened: list[Any], asgi: dict[str, str]
) -> None:
    error = OSError("Disconnected")

    async def go() -> None:
        async def receive() -> Message:
            assert asgi is SPEC_2_3, "from 2.4 on nothing listens"
            await asyncio.sleep(3600)
            raise AssertionError("unreachable")  # pragma: no cover

        async def send(message: Message) -> None:
            if message["type"] == "http.response.body":
                raise error

        await asyncio.wait_for(FileResponse(big_file)(_scope(asgi), receive, send), 5)

    with pytest.raises(OSError) as caught:
        asyncio.run(go())
    assert caught.value is error
    assert len(opened) == 1 and opened[0].closed


def test_file_response_head_and_pathsend_do_not_listen(big_file: Path) -> None:
    async def go(scope: dict[str, Any]) -> list[str]:
        async def receive() -> Message:
            raise AssertionError("nothing to listen for")

        sent: list[str] = []

        async def send(message: Message) -> None:
            sent.append(message["type"])

        await FileResponse(big_file)(scope, receive, send)
        return sent

    head = asyncio.run(go(_scope(None, method="HEAD")))
    assert head == ["http.response.start", "http.response.body"]
    pathsend = _scope(None, extensions={"http.response.pathsend": {}})
    assert asyncio.run(go(pathsend)) == ["http.response.start", "http.response.pathsend"]


def test_run_until_disconnect_reports_which_came_first() -> None:
    async def go() -> list[Any]:
        async def never() -> Message:
            await asyncio.sleep(3600)
            raise AssertionError("unreachable")  # pragma: no cover

        async def gone() -> Message:
            return {"type": "http.disconnect"}

        async def work() -> None:
            await asyncio.sleep(0.01)

        async def broken() -> None:
            raise LookupError("work failed")

        async def refused() -> Message:
            raise LookupError("receive refused")  # e.g. a body limit: not a disconnect

        results: list[Any] = [
            await run_until_disconnect(work(), never),
            await run_until_disconnect(asyncio.sleep(3600), gone),
            await run_until_disconnect(work(), refused),  # the work goes on
        ]
        try:
            await run_until_disconnect(broken(), never)
        except LookupError as exc:
            results.append(repr(exc))
        return results

    assert asyncio.run(go()) == [True, False, True, "LookupError('work failed')"]


# -- under the TestClient --------------------------------------------------------------------


def test_test_client_stops_an_endless_stream_it_stopped_reading() -> None:
    events: list[str] = []
    client = TestClient(StreamingResponse(_endless(events)))
    with client.stream("GET", "/") as response:
        chunks = response.iter_bytes()
        assert next(chunks).startswith(b"chunk")
    assert events == ["generator closed"]


def test_test_client_stops_a_file_it_stopped_reading(big_file: Path, opened: list[Any]) -> None:
    client = TestClient(FileResponse(big_file))
    with client.stream("GET", "/") as response:
        assert len(next(response.iter_bytes())) > 0
    assert len(opened) == 1 and opened[0].closed
