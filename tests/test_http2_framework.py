"""The framework over HTTP/2, through ``aster run`` and httpx[http2]: JSON, a pydantic POST (and its
422), streaming, Server-Sent Events, a file response, and an upload larger than the initial
window."""

from __future__ import annotations

import hashlib
import json
import os
import threading

import httpx
import pytest

from tests.h2_support import serve_h2


@pytest.fixture(scope="module")
def demo():
    with serve_h2("tests.apps.fw_demo:app", "--http2-initial-window-size", "65535") as running:
        yield running


@pytest.fixture(scope="module")
def streams():
    with serve_h2("tests.apps.fw_streams:app") as running:
        yield running


@pytest.fixture()
def client():
    with httpx.Client(http1=False, http2=True, timeout=20) as http2:
        yield http2


def test_json(demo, client) -> None:
    response = client.get(f"{demo.url}/json")
    assert response.http_version == "HTTP/2"
    assert (response.status_code, response.json()) == (200, {"hello": "world", "n": [1, 2, 3]})
    assert response.headers["content-type"] == "application/json"


def test_pydantic_post_and_its_422(demo, client) -> None:
    created = client.post(f"{demo.url}/items", json={"name": "pen", "price": 2.5, "quantity": 4})
    assert (created.status_code, created.json()) == (
        201,
        {"name": "pen", "price": 2.5, "quantity": 4, "total": 10.0},
    )
    invalid = client.post(f"{demo.url}/items", json={"name": "pen", "price": -1})
    assert invalid.status_code == 422
    assert invalid.json()["detail"][0]["loc"] == ["body", "price"]


def test_upload_larger_than_the_initial_window(demo, client) -> None:
    data = os.urandom(3 * 1024 * 1024)  # 48 stream windows of 64 KiB
    response = client.post(
        f"{demo.url}/upload",
        files={"file": ("blob.bin", data, "application/octet-stream")},
        data={"label": "big"},
    )
    assert response.status_code == 200
    assert response.json() == {
        "filename": "blob.bin",
        "content_type": "application/octet-stream",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "label": "big",
    }


def test_streaming_response_streams(demo) -> None:
    with httpx.Client(http1=False, http2=True, timeout=20) as client:
        with client.stream("GET", f"{demo.url}/stream?id=h2") as response:
            chunks = response.iter_bytes()
            assert next(chunks) == b"first\n"  # before /release: it really streams
            threading.Thread(
                target=lambda: httpx.Client(http2=True).get(f"{demo.url}/release?id=h2")
            ).start()
            assert b"".join(chunks) == b"second\nthird\n"


def test_server_sent_events(streams, client) -> None:
    with client.stream("GET", f"{streams.url}/sse/ticks?n=3&interval=0.05") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        body = b"".join(response.iter_bytes()).decode()
    events = [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: ")]
    assert events == [{"i": 0}, {"i": 1}, {"i": 2}]


def test_file_response_and_range(tmp_path) -> None:
    data = bytes(range(256)) * 1024  # 256 KiB: four windows of the client's 64 KiB
    (tmp_path / "static").mkdir()
    (tmp_path / "site").mkdir()
    (tmp_path / "static" / "data.bin").write_bytes(data)
    env = {"FW_STATIC_DIR": str(tmp_path)}
    with serve_h2("tests.apps.fw_static:app", env=env) as static:
        with httpx.Client(http1=False, http2=True) as client:
            response = client.get(f"{static.url}/static/data.bin")
            assert response.http_version == "HTTP/2"
            assert response.status_code == 200
            assert response.content == data
            assert response.headers["content-length"] == str(len(data))
            assert "etag" in response.headers
            partial = client.get(f"{static.url}/static/data.bin", headers={"range": "bytes=10-19"})
            assert (partial.status_code, partial.content) == (206, data[10:20])
