"""The demo app in examples/, served by a real ``aster run`` process over a real socket."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import serve

DEMO = ("app:app", "--app-dir", "examples")


def demo_env(db: Path) -> dict[str, str]:
    return {"ASTER_DEMO_DB": str(db), "ASTER_DEMO_ORIGINS": "http://localhost:3000"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = tmp_path_factory.mktemp("demo") / "notes.sqlite3"
    with serve(*DEMO, env=demo_env(db)) as running:
        yield running.url


@pytest.fixture(scope="module")
def demo(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=10) as client:
        yield client


def login(client: httpx.Client, username: str, password: str) -> dict[str, str]:
    response = client.post("/token", data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "token_type"} and body["token_type"] == "bearer"
    return {"Authorization": f"Bearer {body['access_token']}"}


@pytest.fixture(scope="module")
def auth(demo: httpx.Client) -> dict[str, str]:
    return login(demo, "demo", "demo")


def eventually(check: Callable[[], Any], timeout: float = 5.0) -> Any:
    """``check()``'s first truthy result, polling; for what background tasks do."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
    return result


def read_event(lines: Iterator[str]) -> dict[str, str]:
    """One server-sent event's fields (comments, like keep-alive pings, are skipped)."""
    fields: dict[str, str] = {}
    for line in lines:
        if not line:
            if fields:
                return fields
            continue
        if not line.startswith(":"):
            name, _, value = line.partition(": ")
            fields[name] = value
    raise AssertionError(f"stream ended; partial event {fields}")


# -- lifespan, auth --------------------------------------------------------------------------


def test_health_reports_uptime_and_subscribers_from_lifespan_state(demo: httpx.Client) -> None:
    response = demo.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"status", "uptime", "subscribers"}
    assert body["status"] == "ok" and body["uptime"] >= 0 and body["subscribers"] == 0


def test_token_flow(demo: httpx.Client, auth: dict[str, str]) -> None:
    for username, password in (("demo", "wrong"), ("nobody", "demo")):
        bad = demo.post("/token", data={"username": username, "password": password})
        assert bad.status_code == 400
        assert bad.json() == {"detail": "Incorrect username or password"}
    missing = demo.post("/token", data={"username": "demo"})
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "password"]
    me = demo.get("/users/me", headers=auth)
    assert me.status_code == 200 and me.json() == {"username": "demo"}
    # Every login gets its own opaque token.
    assert login(demo, "demo", "demo") != auth


def test_writes_need_a_valid_bearer_token(demo: httpx.Client) -> None:
    anonymous = demo.post("/notes", json={"text": "sneaky"})
    assert anonymous.status_code == 401
    assert anonymous.json() == {"detail": "Not authenticated"}
    assert anonymous.headers["www-authenticate"] == "Bearer"
    forged = demo.post(
        "/notes", json={"text": "sneaky"}, headers={"Authorization": "Bearer not-a-token"}
    )
    assert forged.status_code == 401
    assert forged.json() == {"detail": "Invalid authentication credentials"}
    assert forged.headers["www-authenticate"] == "Bearer"
    assert demo.delete("/notes/1").status_code == 401
    assert demo.get("/audit").status_code == 401
    assert all(note["text"] != "sneaky" for note in demo.get("/notes").json())


# -- notes ---------------------------------------------------------------------------------


def test_create_read_list_delete(demo: httpx.Client, auth: dict[str, str]) -> None:
    created = demo.post("/notes", json={"text": "  buy milk ", "tags": ["shop"]}, headers=auth)
    assert created.status_code == 201
    note = created.json()
    assert set(note) == {"id", "text", "tags", "owner", "created"}
    assert (note["text"], note["tags"], note["owner"]) == ("  buy milk ", ["shop"], "demo")
    # Reading is public, and the note is committed before the 201 went out.
    assert demo.get(f"/notes/{note['id']}").json() == note
    listed = demo.get("/notes", params={"tag": "shop", "q": "MILK"}).json()
    assert [n["id"] for n in listed] == [note["id"]]
    assert demo.get("/notes", params={"tag": "sho"}).json() == []
    assert demo.get("/notes", params={"q": "%"}).json() == []  # LIKE wildcards are escaped
    deleted = demo.delete(f"/notes/{note['id']}", headers=auth)
    assert deleted.status_code == 204 and deleted.content == b""
    gone = demo.get(f"/notes/{note['id']}")
    assert gone.status_code == 404 and gone.json() == {"detail": "Note not found"}
    again = demo.delete(f"/notes/{note['id']}", headers=auth)
    assert again.status_code == 404 and again.json() == {"detail": "Note not found"}


def test_only_the_owner_deletes_a_note(demo: httpx.Client, auth: dict[str, str]) -> None:
    note = demo.post("/notes", json={"text": "mine"}, headers=auth).json()
    alice = login(demo, "alice", "wonderland")
    refused = demo.delete(f"/notes/{note['id']}", headers=alice)
    assert refused.status_code == 403 and refused.json() == {"detail": "Not your note"}
    assert demo.get(f"/notes/{note['id']}").status_code == 200


def test_background_task_writes_the_audit_log(demo: httpx.Client, auth: dict[str, str]) -> None:
    last = demo.get("/audit", params={"limit": 100}, headers=auth).json()
    after = last[-1]["id"] if last else 0
    note = demo.post("/notes", json={"text": "one two  three\nfour"}, headers=auth).json()
    assert demo.delete(f"/notes/{note['id']}", headers=auth).status_code == 204

    def events() -> list[dict[str, Any]] | None:
        response = demo.get("/audit", params={"after": after}, headers=auth)
        assert response.status_code == 200
        body: list[dict[str, Any]] = response.json()
        return body if len(body) == 2 else None

    created, deleted = eventually(events)
    assert set(created) == {"id", "action", "note_id", "username", "words", "at"}
    assert (created["action"], created["note_id"], created["username"]) == (
        "created",
        note["id"],
        "demo",
    )
    assert created["words"] == 4
    assert (deleted["action"], deleted["note_id"], deleted["words"]) == (
        "deleted",
        note["id"],
        None,
    )
    assert deleted["id"] == created["id"] + 1


def test_validation_errors_are_fastapi_shaped(demo: httpx.Client, auth: dict[str, str]) -> None:
    response = demo.post("/notes", json={"text": ""}, headers=auth)
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
    assert demo.get("/notes/abc").status_code == 422


def test_unknown_route_is_404(demo: httpx.Client) -> None:
    response = demo.get("/nope")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


# -- the live feed -------------------------------------------------------------------------


def test_feed_pushes_notes_created_and_deleted_by_another_client(
    server: str, demo: httpx.Client, auth: dict[str, str]
) -> None:
    with (
        httpx.Client(base_url=server, timeout=10) as listener,
        listener.stream("GET", "/notes/feed") as stream,
    ):
        assert stream.status_code == 200
        assert stream.headers["content-type"] == "text/event-stream; charset=utf-8"
        assert stream.headers["cache-control"] == "no-cache"
        assert "content-encoding" not in stream.headers  # GZip leaves event streams alone
        lines = stream.iter_lines()
        assert read_event(lines) == {
            "event": "ready",
            "data": '{"subscribers": 1}',
            "retry": "3000",
        }
        assert demo.get("/health").json()["subscribers"] == 1

        note = demo.post("/notes", json={"text": "live!", "tags": ["sse"]}, headers=auth).json()
        event = read_event(lines)
        assert event["event"] == "note.created" and int(event["id"]) > 0
        assert json.loads(event["data"]) == note

        assert demo.delete(f"/notes/{note['id']}", headers=auth).status_code == 204
        event = read_event(lines)
        assert event["event"] == "note.deleted"
        assert json.loads(event["data"]) == {"id": note["id"]}
    # The client left: its generator was closed and it unsubscribed.
    eventually(lambda: demo.get("/health").json()["subscribers"] == 0)


# -- streaming, middleware, pages ----------------------------------------------------------


def test_export_is_streamed_as_ndjson(demo: httpx.Client, auth: dict[str, str]) -> None:
    for text in ("one", "two"):
        assert demo.post("/notes", json={"text": text}, headers=auth).status_code == 201
    response = demo.get("/export.ndjson")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    assert response.headers["transfer-encoding"] == "chunked"
    texts = [json.loads(line)["text"] for line in response.text.splitlines()]
    assert texts[-2:] == ["one", "two"]


def test_large_responses_are_gzipped(demo: httpx.Client, auth: dict[str, str]) -> None:
    notes = [
        demo.post("/notes", json={"text": f"padding note {i} " * 8}, headers=auth).json()
        for i in range(12)
    ]
    gzipped = {"Accept-Encoding": "gzip"}
    with demo.stream("GET", "/notes", params={"limit": 100}, headers=gzipped) as response:
        assert response.status_code == 200
        assert response.headers["content-encoding"] == "gzip"
        assert "Accept-Encoding" in response.headers["vary"]
        listed = json.loads(gzip.decompress(b"".join(response.iter_raw())))
    assert [n["id"] for n in listed[-12:]] == [n["id"] for n in notes]
    small = demo.get(f"/notes/{notes[0]['id']}", headers=gzipped)
    assert small.status_code == 200 and "content-encoding" not in small.headers


def test_cors(demo: httpx.Client) -> None:
    preflight = demo.options(
        "/notes",
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert preflight.status_code == 200 and preflight.text == "OK"
    assert preflight.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert preflight.headers["access-control-allow-methods"] == "GET, POST, DELETE"
    assert preflight.headers["access-control-max-age"] == "3600"
    evil = demo.options(
        "/notes",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert evil.status_code == 400 and evil.text == "Disallowed CORS origin"
    simple = demo.get("/health", headers={"Origin": "http://localhost:3000"})
    assert simple.headers["access-control-allow-origin"] == "http://localhost:3000"


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
    assert "new EventSource('/notes/feed')" in response.text


# -- persistence ---------------------------------------------------------------------------


def test_notes_and_tokens_survive_a_restart(tmp_path: Path) -> None:
    env = demo_env(tmp_path / "notes.sqlite3")
    with serve(*DEMO, env=env) as first, httpx.Client(base_url=first.url, timeout=10) as client:
        headers = login(client, "demo", "demo")
        note = client.post("/notes", json={"text": "remember me"}, headers=headers).json()
        eventually(lambda: client.get("/audit", headers=headers).json())
    with serve(*DEMO, env=env) as second, httpx.Client(base_url=second.url, timeout=10) as client:
        assert client.get("/notes").json() == [note]
        assert client.get("/users/me", headers=headers).json() == {"username": "demo"}
        [event] = client.get("/audit", headers=headers).json()
        assert (event["action"], event["note_id"], event["words"]) == ("created", note["id"], 2)
        assert client.post("/notes", json={"text": "next"}, headers=headers).json()["id"] == 2
