"""The aster demo: a small notes API, written with the aster framework (FastAPI's API).

    make run            # or: aster run app:app --app-dir examples
    curl localhost:8000/notes
    curl -H 'content-type: application/json' -d '{"text": "hello"}' localhost:8000/notes

It shows the framework's everyday parts: pydantic models in and out
(``response_model``), validated path and query parameters, ``HTTPException``,
lifespan state, a streamed (chunked) export, and a long-lived response that
stops when the client leaves.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from typing import Annotated, Any

from pydantic import BaseModel, Field

from aster import App, HTTPException, Path, Query, Request
from aster.responses import HTMLResponse, StreamingResponse


class NoteIn(BaseModel):
    text: str = Field(min_length=1, max_length=500, examples=["Buy milk"])
    tags: list[str] = Field(default_factory=list, max_length=10)


class Note(NoteIn):
    id: int
    created: datetime


class NoteStore:
    """In memory for now; the composition work moves it to SQLite behind a dependency."""

    def __init__(self) -> None:
        self.notes: dict[int, Note] = {}
        self._ids = itertools.count(1)

    def add(self, data: NoteIn) -> Note:
        note = Note(id=next(self._ids), created=datetime.now(timezone.utc), **data.model_dump())
        self.notes[note.id] = note
        return note


@asynccontextmanager
async def lifespan(app: App) -> AsyncIterator[dict[str, Any]]:
    yield {"store": NoteStore(), "started": time.time()}


app = App(title="aster notes", version="1.0", lifespan=lifespan)


def store_of(request: Request) -> NoteStore:
    return request.state.store  # type: ignore[no-any-return]


@app.get("/", response_class=HTMLResponse, include_in_schema=False)
async def index() -> str:
    return INDEX


@app.get("/health")
async def health(request: Request) -> dict[str, Any]:
    return {"status": "ok", "uptime": round(time.time() - request.state.started, 3)}


@app.get("/notes", response_model=list[Note])
async def list_notes(
    request: Request,
    q: Annotated[str | None, Query(max_length=100, description="text to search for")] = None,
    tag: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> list[Note]:
    notes = list(store_of(request).notes.values())
    if q:
        notes = [note for note in notes if q.lower() in note.text.lower()]
    if tag:
        notes = [note for note in notes if tag in note.tags]
    return notes[:limit]


@app.post("/notes", response_model=Note, status_code=201)
async def create_note(request: Request, note: NoteIn) -> Note:
    return store_of(request).add(note)


@app.get("/notes/{note_id}", response_model=Note)
async def read_note(request: Request, note_id: Annotated[int, Path(ge=1)]) -> Note:
    note = store_of(request).notes.get(note_id)
    if note is None:
        raise HTTPException(status_code=404, detail="Note not found")
    return note


@app.delete("/notes/{note_id}", status_code=204)
async def delete_note(request: Request, note_id: Annotated[int, Path(ge=1)]) -> None:
    if store_of(request).notes.pop(note_id, None) is None:
        raise HTTPException(status_code=404, detail="Note not found")


@app.get("/export.ndjson")
async def export(request: Request) -> StreamingResponse:
    """Every note on its own JSON line, sent as it is produced (a chunked response)."""

    async def lines() -> AsyncIterator[bytes]:
        for note in list(store_of(request).notes.values()):
            yield note.model_dump_json().encode() + b"\n"
            await asyncio.sleep(0)

    return StreamingResponse(lines(), media_type="application/x-ndjson")


@app.get("/clock")
async def clock() -> StreamingResponse:
    """The time, once a second, until the client goes away."""

    async def ticks() -> AsyncIterator[str]:
        while True:
            yield json.dumps({"time": time.strftime("%H:%M:%S")}) + "\n"
            await asyncio.sleep(1)

    return StreamingResponse(ticks(), media_type="application/x-ndjson")


INDEX = """<!doctype html>
<html><head><meta charset="utf-8"><title>aster notes</title></head>
<body><h1>aster notes</h1>
<form id="f"><input id="t" placeholder="a note" autofocus> <button>Add</button></form>
<ul id="notes"></ul>
<p><a href="/docs">API docs</a></p>
<script>
async function load() {
  const notes = await (await fetch('/notes')).json();
  document.getElementById('notes').innerHTML = notes
    .map(n => `<li>${n.id}: ${n.text.replace(/</g, '&lt;')}</li>`).join('');
}
document.getElementById('f').onsubmit = async (e) => {
  e.preventDefault();
  const t = document.getElementById('t');
  await fetch('/notes', {method: 'POST', headers: {'content-type': 'application/json'},
                         body: JSON.stringify({text: t.value})});
  t.value = ''; load();
};
load();
</script></body></html>
"""
