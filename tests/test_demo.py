"""The demo app in examples/, served by a real ``aster run`` process."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.support import serve


@pytest.fixture(scope="module")
def demo():  # type: ignore[no-untyped-def]
    with serve("app:app", "--app-dir", "examples") as server:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            yield client


def test_health_reports_uptime_from_lifespan_state(demo: httpx.Client) -> None:
    response = demo.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["uptime"] >= 0


def test_create_read_list_delete(demo: httpx.Client) -> None:
    created = demo.post("/notes", json={"text": "  buy milk ", "tags": ["shop"]})
    assert created.status_code == 201
    note = created.json()
    assert note["text"] == "  buy milk " and note["tags"] == ["shop"]
    assert set(note) == {"id", "text", "tags", "created"}
    assert demo.get(f"/notes/{note['id']}").json() == note
    listed = demo.get("/notes", params={"tag": "shop", "q": "MILK"}).json()
    assert [n["id"] for n in listed] == [note["id"]]
    deleted = demo.delete(f"/notes/{note['id']}")
    assert deleted.status_code == 204 and deleted.content == b""
    assert demo.get(f"/notes/{note['id']}").json() == {"detail": "Note not found"}


def test_validation_errors_are_fastapi_shaped(demo: httpx.Client) -> None:
    response = demo.post("/notes", json={"text": ""})
    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {
                "type": "string_too_short",
                "loc": ["body", "text"],
                "msg": "String should have at least 1 character",
                "input": "",
                "ctx": {"min_length": 1},
            }
        ]
    }
    bad_id = demo.get("/notes/0")
    assert bad_id.status_code == 422
    assert bad_id.json()["detail"][0]["loc"] == ["path", "note_id"]
    assert demo.get("/notes", params={"limit": 1000}).status_code == 422


def test_export_is_streamed_as_ndjson(demo: httpx.Client) -> None:
    for text in ("one", "two"):
        demo.post("/notes", json={"text": text})
    response = demo.get("/export.ndjson")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    assert response.headers["transfer-encoding"] == "chunked"
    texts = [json.loads(line)["text"] for line in response.text.splitlines()]
    assert texts[-2:] == ["one", "two"]


def test_clock_streams_until_the_client_leaves(demo: httpx.Client) -> None:
    started = time.monotonic()
    with demo.stream("GET", "/clock") as response:
        lines = response.iter_lines()
        first = json.loads(next(lines))
        second = json.loads(next(lines))
    assert set(first) == set(second) == {"time"}
    assert time.monotonic() - started < 5
    # The server is still fine after the client went away mid-stream.
    assert demo.get("/health").status_code == 200


def test_index_page_is_html(demo: httpx.Client) -> None:
    response = demo.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "<title>aster notes</title>" in response.text
