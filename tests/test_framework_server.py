"""The framework behind a real ``aster run`` server, hit with httpx and curl over sockets."""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import CURL, RawConnection, Running, curl, needs_curl, serve


@pytest.fixture(scope="module")
def server() -> Iterator[Running]:
    with serve("tests.apps.fw_demo:app") as running:
        yield running


@pytest.fixture
def client(server: Running) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


def test_json_route(client: httpx.Client) -> None:
    response = client.get("/json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["content-length"] == "29"
    assert response.content == b'{"hello":"world","n":[1,2,3]}'
    assert response.json() == {"hello": "world", "n": [1, 2, 3]}


def test_validation_error(client: httpx.Client) -> None:
    response = client.get("/items/abc?q=toolong")
    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {
                "type": "int_parsing",
                "loc": ["path", "item_id"],
                "msg": "Input should be a valid integer, unable to parse string as an integer",
                "input": "abc",
            },
            {
                "type": "string_too_long",
                "loc": ["query", "q"],
                "msg": "String should have at most 5 characters",
                "input": "toolong",
                "ctx": {"max_length": 5},
            },
        ]
    }
    assert client.get("/items/7?q=ok").json() == {"item_id": 7, "q": "ok"}


def test_post_model(client: httpx.Client) -> None:
    response = client.post("/items", json={"name": "pen", "price": 1.5, "quantity": 4})
    assert response.status_code == 201
    assert response.json() == {"name": "pen", "price": 1.5, "quantity": 4, "total": 6.0}
    response = client.post(
        "/items", content=b'{"name": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"


def test_raw_http_bytes(server: Running) -> None:
    with RawConnection(server.port) as conn:
        conn.send(b"GET /items/3 HTTP/1.1\r\nHost: t\r\n\r\n")
        response = conn.read_response()
        assert response.status == 200
        assert response.body == b'{"item_id":3,"q":null}'
        assert response.header("content-type") == "application/json"
        # Keep-alive: a second request on the same connection, a 404 this time.
        conn.send(b"GET /nope HTTP/1.1\r\nHost: t\r\n\r\n")
        response = conn.read_response()
        assert (response.status, response.body) == (404, b'{"detail":"Not Found"}')


def test_file_upload(client: httpx.Client) -> None:
    data = os.urandom(5 * 1024 * 1024 + 3)
    response = client.post(
        "/upload",
        files={"file": ("big.bin", data, "application/octet-stream")},
        data={"label": "five megs"},
    )
    assert response.status_code == 200
    assert response.json() == {
        "filename": "big.bin",
        "content_type": "application/octet-stream",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "label": "five megs",
    }


def test_sync_route_runs_in_a_thread_without_blocking(
    client: httpx.Client, server: Running
) -> None:
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        start = time.monotonic()
        slow = pool.submit(httpx.get, f"{server.url}/sync?seconds=1", timeout=10)
        time.sleep(0.1)
        fast = client.get("/json")
        fast_elapsed = time.monotonic() - start
        assert fast.status_code == 200
        slow_response = slow.result()
    assert fast_elapsed < 0.7, fast_elapsed
    assert slow_response.status_code == 200
    assert slow_response.json()["thread"].startswith("aster-worker")


def test_streaming_response_streams(client: httpx.Client) -> None:
    with client.stream("GET", "/stream", params={"id": "httpx"}) as response:
        assert response.status_code == 200
        assert response.headers["transfer-encoding"] == "chunked"
        chunks = response.iter_raw()
        # The generator is blocked until /release: the first chunk arrived before it ended.
        assert next(chunks) == b"first\n"
        with httpx.Client(base_url=str(client.base_url), timeout=10) as other:
            assert other.get("/release", params={"id": "httpx"}).json() == {"released": True}
        assert b"".join(chunks) == b"second\nthird\n"


def test_lifespan_state_reaches_request_state(client: httpx.Client) -> None:
    assert client.get("/state").json() == {
        "pool": {"name": "demo-pool", "size": 4},
        "started": True,
    }


@needs_curl
def test_with_curl(server: Running, tmp_path: Path) -> None:
    status, headers, body = curl(f"{server.url}/json")
    assert (status, headers["content-type"], body) == (
        200,
        "application/json",
        b'{"hello":"world","n":[1,2,3]}',
    )
    status, _, body = curl(f"{server.url}/items/x")
    assert status == 422
    assert json.loads(body)["detail"][0]["loc"] == ["path", "item_id"]
    status, _, body = curl(
        "-X", "POST", "-H", "content-type: application/json",
        "--data", '{"name": "cup", "price": 2}', f"{server.url}/items",
    )  # fmt: skip
    assert (status, json.loads(body)) == (201, {"name": "cup", "price": 2.0, "quantity": 1,
                                                "total": 2.0})  # fmt: skip
    upload = tmp_path / "upload.bin"
    data = os.urandom(3 * 1024 * 1024)
    upload.write_bytes(data)
    status, _, body = curl("-F", f"file=@{upload}", "-F", "label=curl", f"{server.url}/upload")
    assert status == 200
    assert json.loads(body) == {
        "filename": "upload.bin",
        "content_type": "application/octet-stream",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "label": "curl",
    }
    status, _, body = curl(f"{server.url}/sync")
    assert status == 200 and json.loads(body)["thread"].startswith("aster-worker")


@needs_curl
def test_curl_sees_stream_chunks_before_the_end(server: Running) -> None:
    assert CURL is not None
    process = subprocess.Popen(
        [CURL, "-sS", "-N", "--max-time", "10", f"{server.url}/stream?id=curl"],
        stdout=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == b"first\n"
        assert process.poll() is None  # still streaming
        assert httpx.get(f"{server.url}/release?id=curl").status_code == 200
        assert process.stdout.read() == b"second\nthird\n"
        assert process.wait(10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_root_path_option() -> None:
    # As uvicorn does: the server puts root_path in front of the path; routes match below it.
    with serve("tests.apps.fw_demo:app", "--root-path", "/api") as server:
        response = httpx.get(f"{server.url}/items/3", timeout=10)
        assert response.json() == {"item_id": 3, "q": None}
        response = httpx.get(f"{server.url}/api/items/3", timeout=10)
        assert response.status_code == 404


def test_more_sync_requests_than_threads_complete() -> None:
    def timed_get(url: str) -> tuple[httpx.Response, float]:
        response = httpx.get(url, timeout=15)
        return response, time.monotonic()

    with (
        serve("tests.apps.fw_demo:app", env={"ASTER_THREADPOOL_SIZE": "2"}) as server,
        httpx.Client(timeout=10) as client,
    ):
        url = f"{server.url}/sync?seconds=1.0"
        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            start = time.monotonic()
            futures = [pool.submit(timed_get, url) for _ in range(6)]
            time.sleep(0.1)
            quick = client.get(f"{server.url}/json")
            quick_done = time.monotonic()
            results = [future.result() for future in futures]
            elapsed = time.monotonic() - start
    responses = [response for response, _ in results]
    # The async route is not queued behind the full pool: it is answered before the first
    # sync call (1 s of sleep in a worker thread) is.
    assert quick.status_code == 200
    assert quick_done < min(done for _, done in results)
    assert [r.status_code for r in responses] == [200] * 6
    assert len({r.json()["thread"] for r in responses}) == 2  # the pool's size
    assert elapsed >= 3 * 1.0  # six calls, two at a time
