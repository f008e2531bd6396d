"""The aster demo: a small notes API, written with the aster framework (FastAPI's API).

Notes live in SQLite (the file named by ``ASTER_DEMO_DB``; by default
``aster-demo-notes.sqlite3`` in the temp directory).  Anyone may read them;
writing needs a bearer token from the OAuth2 password flow.  The demo users are
``demo`` (password ``demo``) and ``alice`` (password ``wonderland``).

Endpoints:

    GET    /                 a live page of the notes (follows the feed)
    GET    /health           status, uptime and live feed subscribers (lifespan state)
    POST   /token            OAuth2 password flow: form username/password -> bearer token
    GET    /users/me         who the token belongs to                          (auth)
    GET    /notes            list: ?q=text&tag=tag&limit=20
    POST   /notes            create {"text": ..., "tags": [...]}               (auth)
    GET    /notes/feed       Server-Sent Events: note.created / note.deleted, live
    GET    /notes/{id}       one note
    DELETE /notes/{id}       delete one of your own notes                      (auth)
    GET    /audit            the audit log a background task writes: ?after=id  (auth)
    GET    /export.ndjson    every note, streamed as JSON lines
    GET    /clock            the time once a second, until the client leaves
    GET    /chat             a WebSocket chat page; WS /chat/ws?nick=... (see chat.py)
                             (one process; REDIS_URL=redis://...: across processes)

Try it:

    make run            # or: aster run app:app --app-dir examples
    # then open localhost:8000/docs (Swagger UI: Authorize as demo / demo) or /redoc
    curl -N localhost:8000/notes/feed &                       # watch the live feed
    TOKEN=$(curl -s -d username=demo -d password=demo localhost:8000/token \\
            | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')
    curl -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \\
         -d '{"text": "buy milk", "tags": ["shop"]}' localhost:8000/notes
    curl 'localhost:8000/notes?q=milk&tag=shop'
    curl -H "Authorization: Bearer $TOKEN" localhost:8000/audit
    curl -X DELETE -H "Authorization: Bearer $TOKEN" localhost:8000/notes/1
    curl -i -d '{"text": "no token"}' localhost:8000/notes      # 401, WWW-Authenticate: Bearer

What it shows: a lifespan that opens the database and shares it through
``request.state``; a yield dependency (``get_store``) giving each request a
transaction, committed before the response is sent (``scope="function"``) or
kept open while a body streams (the default); OAuth2 password-flow security;
background tasks that write the audit log and then publish to the feed;
Server-Sent Events from an async generator; CORS and GZip middleware; pydantic
models in and out, validated parameters and ``HTTPException``.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime
from typing import Annotated, Any, Literal

from chat import chat as chat_service
from chat import router as chat_router
from pydantic import BaseModel, Field
from store import DEFAULT_PATH, Database, Store

from aster import App, BackgroundTasks, Depends, HTTPException, Path, Query, Request
from aster.middleware.cors import CORSMiddleware
from aster.middleware.gzip import GZipMiddleware
from aster.responses import HTMLResponse, StreamingResponse
from aster.security import OAuth2PasswordBearer, OAuth2PasswordRequestForm
from aster.sse import EventSourceResponse, ServerSentEvent


class NoteIn(BaseModel):
    text: str = Field(min_length=1, max_length=500, examples=["Buy milk"])
    tags: list[Annotated[str, Field(min_length=1, max_length=30)]] = Field(
        default_factory=list, max_length=10
    )


class Note(NoteIn):
    id: int
    owner: str
    created: datetime


class Token(BaseModel):
    access_token: str
    token_type: str


class User(BaseModel):
    username: str


class Message(BaseModel):
    """An error: what went wrong, in a sentence."""

    detail: str = Field(examples=["Note not found"])


class AuditEvent(BaseModel):
    id: int
    action: Literal["created", "deleted"]
    note_id: int
    username: str
    words: int | None  # of the note, counted by the background task; None for deletions
    at: datetime


class Feed:
    """An in-memory broadcaster: each subscriber has a queue, :meth:`publish` fills them all."""

    def __init__(self, backlog: int = 100) -> None:
        self.backlog = backlog
        self.queues: set[asyncio.Queue[ServerSentEvent | None]] = set()

    def __len__(self) -> int:
        return len(self.queues)

    @contextmanager
    def subscribe(self) -> Iterator[asyncio.Queue[ServerSentEvent | None]]:
        queue: asyncio.Queue[ServerSentEvent | None] = asyncio.Queue(self.backlog)
        self.queues.add(queue)
        try:
            yield queue
        finally:
            self.queues.discard(queue)

    def publish(self, event: ServerSentEvent | None) -> None:
        for queue in self.queues:
            if queue.full():  # a subscriber that cannot keep up loses its oldest events
                queue.get_nowait()
            queue.put_nowait(event)

    def close(self) -> None:
        self.publish(None)  # ends every subscriber's stream


@asynccontextmanager
async def lifespan(app: App) -> AsyncIterator[dict[str, Any]]:
    db = Database(os.environ.get("ASTER_DEMO_DB") or DEFAULT_PATH)
    db.open()
    feed = Feed()
    # The chat's channels and presence: in memory, or on Redis if REDIS_URL is set.
    async with chat_service:
        try:
            # Lifespan state: a shallow copy reaches every request as request.state.
            yield {"db": db, "feed": feed, "started": time.time()}
        finally:
            feed.close()


DESCRIPTION = """\
A small notes API, the demo of aster: anyone may read the notes, writing needs a bearer
token from `POST /token`.

**Try it here:** press *Authorize*, log in as `demo` / `demo` (or `alice` / `wonderland`),
then *Try it out* on any operation.  The live streams (`/notes/feed`, `/clock`) never end:
follow them with `curl -N` rather than from this page.
"""

TAGS = [
    {"name": "auth", "description": "The OAuth2 password flow: trade a password for a token."},
    {"name": "notes", "description": "Read notes (public), write and delete them (with a token)."},
    {"name": "live", "description": "Responses that stream: the event feed, an export, a clock."},
    {"name": "audit", "description": "What happened, as the background tasks recorded it."},
    {"name": "meta", "description": "The service itself."},
]

app = App(
    title="aster notes",
    version="2.0",
    summary="Notes in SQLite, OAuth2 password flow, an audit log and a live feed.",
    description=DESCRIPTION,
    openapi_tags=TAGS,
    license_info={"name": "MIT", "identifier": "MIT"},
    lifespan=lifespan,
)
# The last added is the outermost: CORS answers preflights before anything else runs.
app.add_middleware(GZipMiddleware, minimum_size=1000)
app.add_middleware(
    CORSMiddleware,
    allow_origins=os.environ.get("ASTER_DEMO_ORIGINS", "http://localhost:3000").split(","),
    allow_methods=["GET", "POST", "DELETE"],
    allow_headers=["Authorization", "Content-Type"],
    max_age=3600,
)
app.include_router(chat_router)  # the WebSocket chat: examples/chat.py


async def get_store(request: Request) -> AsyncIterator[Store]:
    """A connection and a transaction for one request: committed, or rolled back on error."""
    with request.state.db.connect() as store:
        yield store


# scope="function": the transaction ends when the endpoint returns, before the response is
# sent, so a client that got its 201 can read the note at once.
StoreDep = Annotated[Store, Depends(get_store, scope="function")]

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="token")


async def current_user(token: Annotated[str, Depends(oauth2_scheme)], store: StoreDep) -> User:
    username = store.user_for_token(token)
    if username is None:
        raise HTTPException(
            status_code=401,
            detail="Invalid authentication credentials",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return User(username=username)


UserDep = Annotated[User, Depends(current_user)]

#: The largest id SQLite's INTEGER holds: a larger one is a 422, not a crash in the driver.
MAX_ID = 2**63 - 1
NoteId = Annotated[int, Path(ge=1, le=MAX_ID, description="the note's id")]

# Documented error responses (``responses=``), beside the 422 every validated operation has.
UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: {"model": Message, "description": "No bearer token, or an unknown or expired one"}
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": Message, "description": "No note has this id"}
}


async def audit_and_publish(
    db: Database, feed: Feed, action: str, note: dict[str, Any], username: str
) -> None:
    """The background task: one audit row (with a word count), then the live event.

    Async, so it runs on the event loop, where the feed's queues live.
    """
    words = len(note["text"].split()) if action == "created" else None
    with db.connect() as store:
        event = store.record_event(action, note["id"], username, words)
    data = Note(**note) if action == "created" else {"id": note["id"]}
    feed.publish(ServerSentEvent(event=f"note.{action}", data=data, id=str(event["id"])))


@app.get("/", response_class=HTMLResponse, include_in_schema=False)
async def index() -> str:
    return INDEX


@app.get("/health", tags=["meta"], summary="Health, uptime and feed subscribers")
async def health(request: Request) -> dict[str, Any]:
    return {
        "status": "ok",
        "uptime": round(time.time() - request.state.started, 3),
        "subscribers": len(request.state.feed),
    }


@app.post(
    "/token",
    response_model=Token,
    tags=["auth"],
    summary="Log in: a bearer token for a username and password",
    responses={400: {"model": Message, "description": "Incorrect username or password"}},
)
async def login(form: Annotated[OAuth2PasswordRequestForm, Depends()], store: StoreDep) -> Token:
    if not store.check_password(form.username, form.password):
        raise HTTPException(status_code=400, detail="Incorrect username or password")
    return Token(access_token=store.issue_token(form.username), token_type="bearer")


@app.get(
    "/users/me",
    response_model=User,
    tags=["auth"],
    summary="Who the token belongs to",
    responses=UNAUTHORIZED,
)
async def me(user: UserDep) -> User:
    return user


@app.get("/notes", response_model=list[Note], tags=["notes"], summary="List and search notes")
async def list_notes(
    store: StoreDep,
    q: Annotated[str | None, Query(max_length=100, description="text to search for")] = None,
    tag: Annotated[str | None, Query(description="only notes with this tag")] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="at most this many notes")] = 20,
) -> list[dict[str, Any]]:
    return list(store.list_notes(q, tag, limit))


@app.post(
    "/notes",
    response_model=Note,
    status_code=201,
    tags=["notes"],
    summary="Create a note",
    responses=UNAUTHORIZED,
)
async def create_note(
    request: Request, note: NoteIn, user: UserDep, store: StoreDep, tasks: BackgroundTasks
) -> dict[str, Any]:
    created = store.add_note(note.text, note.tags, user.username)
    state = request.state
    tasks.add_task(audit_and_publish, state.db, state.feed, "created", created, user.username)
    return created


# Declared before /notes/{note_id}, which would otherwise take "feed" for an id.
@app.get(
    "/notes/feed",
    response_class=EventSourceResponse,
    tags=["live"],
    summary="Live feed of note events (Server-Sent Events)",
)
async def note_feed(request: Request) -> AsyncIterator[ServerSentEvent]:
    """Note creations and deletions as they happen; a ``ready`` event first."""
    feed: Feed = request.state.feed
    with feed.subscribe() as queue:  # left when the client goes: the generator is closed
        yield ServerSentEvent(event="ready", data={"subscribers": len(feed)}, retry=3000)
        while (event := await queue.get()) is not None:
            yield event


@app.get(
    "/notes/{note_id}",
    response_model=Note,
    tags=["notes"],
    summary="Read a note",
    responses=NOT_FOUND,
)
async def read_note(store: StoreDep, note_id: NoteId) -> dict[str, Any]:
    note = store.get_note(note_id)
    if note is None:
        raise HTTPException(status_code=404, detail="Note not found")
    return note


@app.delete(
    "/notes/{note_id}",
    status_code=204,
    tags=["notes"],
    summary="Delete one of your notes",
    responses={
        **UNAUTHORIZED,
        403: {"model": Message, "description": "The note is someone else's"},
        **NOT_FOUND,
    },
)
async def delete_note(
    request: Request,
    note_id: NoteId,
    user: UserDep,
    store: StoreDep,
    tasks: BackgroundTasks,
) -> None:
    note = store.get_note(note_id)
    if note is None:
        raise HTTPException(status_code=404, detail="Note not found")
    if note["owner"] != user.username:
        raise HTTPException(status_code=403, detail="Not your note")
    store.delete_note(note_id)
    state = request.state
    tasks.add_task(audit_and_publish, state.db, state.feed, "deleted", note, user.username)


@app.get(
    "/audit",
    response_model=list[AuditEvent],
    tags=["audit"],
    summary="Read the audit log",
    responses=UNAUTHORIZED,
)
async def audit(
    user: UserDep,
    store: StoreDep,
    after: Annotated[int, Query(ge=0, le=MAX_ID, description="only events after this id")] = 0,
    limit: Annotated[int, Query(ge=1, le=100, description="at most this many events")] = 50,
) -> list[dict[str, Any]]:
    return store.events(after, limit)


# Both return their StreamingResponse: response_class and responses= only document them.
NDJSON_NOTES = {"application/x-ndjson": {"itemSchema": {"$ref": "#/components/schemas/Note"}}}
NDJSON_TIME = {
    "application/x-ndjson": {
        "itemSchema": {
            "type": "object",
            "properties": {"time": {"type": "string", "examples": ["12:34:56"]}},
            "required": ["time"],
        }
    }
}


@app.get(
    "/export.ndjson",
    response_class=StreamingResponse,
    tags=["live"],
    summary="Export every note, one JSON line each",
    responses={200: {"description": "The notes as JSON lines", "content": NDJSON_NOTES}},
)
async def export(store: Annotated[Store, Depends(get_store)]) -> StreamingResponse:
    """Every note on its own JSON line, sent as it is read (a chunked response).
    \f
    The dependency has the default ("request") scope: its connection stays open
    until the body has been sent.
    """

    async def lines() -> AsyncIterator[bytes]:
        for note in store.list_notes():
            yield Note(**note).model_dump_json().encode() + b"\n"
            await asyncio.sleep(0)

    return StreamingResponse(lines(), media_type="application/x-ndjson")


@app.get(
    "/clock",
    response_class=StreamingResponse,
    tags=["live"],
    summary="The time, once a second, forever",
    responses={200: {"description": "A JSON line a second", "content": NDJSON_TIME}},
)
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
<p>Live: this list follows <code>/notes/feed</code>.  Write notes with curl (log in as
demo / demo at <code>POST /token</code>, see examples/app.py) and watch them appear.</p>
<ul id="notes"></ul>
<script>
const esc = s => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
async function load() {
  const notes = await (await fetch('/notes?limit=100')).json();
  document.getElementById('notes').innerHTML = notes
    .map(n => `<li>${n.id}: ${esc(n.text)} <small>(${esc(n.owner)})</small></li>`).join('');
}
const feed = new EventSource('/notes/feed');
feed.addEventListener('note.created', load);
feed.addEventListener('note.deleted', load);
load();
</script></body></html>
"""
