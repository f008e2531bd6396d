"""The aster demo: a small notes service, written as a plain ASGI app.

It exercises what the server offers today: lifespan state, JSON bodies,
streamed (chunked) responses, a long-lived response that notices a client
disconnect, and error handling.  It moves to the aster framework once that
lands.

    make run            # or: aster run app:app --app-dir examples
    curl localhost:8000/notes
    curl -d '{"text": "hello"}' localhost:8000/notes
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from typing import Any

INDEX = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>aster notes</title></head>
<body><h1>aster notes</h1>
<form id="f"><input id="t" placeholder="a note" autofocus><button>Add</button></form>
<ul id="notes"></ul>
<script>
async function load() {
  const notes = await (await fetch('/notes')).json();
  document.getElementById('notes').innerHTML =
    notes.map(n => `<li>${n.id}: ${n.text.replace(/</g, '&lt;')}</li>`).join('');
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


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await lifespan(scope, receive, send)
    elif scope["type"] == "http":
        await http(scope, receive, send)


async def lifespan(scope: dict[str, Any], receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            scope["state"]["notes"] = {}
            scope["state"]["ids"] = itertools.count(1)
            scope["state"]["started"] = time.time()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def respond(
    send: Any, status: int, body: Any, content_type: bytes = b"application/json"
) -> None:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(data)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})


async def read_body(receive: Any, limit: int = 1 << 20) -> bytes | None:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if size > limit:
            return None
        if not message.get("more_body"):
            return b"".join(chunks)


async def http(scope: dict[str, Any], receive: Any, send: Any) -> None:
    state = scope["state"]
    notes: dict[int, dict[str, Any]] = state["notes"]
    method, path = scope["method"], scope["path"]
    if path == "/" and method == "GET":
        await respond(send, 200, INDEX, b"text/html; charset=utf-8")
    elif path == "/health":
        await respond(
            send, 200, {"status": "ok", "uptime": round(time.time() - state["started"], 3)}
        )
    elif path == "/notes" and method == "GET":
        await respond(send, 200, list(notes.values()))
    elif path == "/notes" and method == "POST":
        body = await read_body(receive)
        try:
            text = json.loads(body or b"")["text"]
            if not isinstance(text, str) or not text.strip():
                raise ValueError
        except (ValueError, KeyError, TypeError):
            await respond(send, 422, {"detail": 'send JSON like {"text": "..."}'})
            return
        note = {"id": next(state["ids"]), "text": text.strip()}
        notes[note["id"]] = note
        await respond(send, 201, note)
    elif path.startswith("/notes/") and path[7:].isdigit():
        note_id = int(path[7:])
        if note_id not in notes:
            await respond(send, 404, {"detail": "Note not found"})
        elif method == "GET":
            await respond(send, 200, notes[note_id])
        elif method == "DELETE":
            del notes[note_id]
            await respond(send, 204, b"")
        else:
            await respond(send, 405, {"detail": "Method Not Allowed"})
    elif path == "/stream":
        # Each note on its own line, sent as it is produced: a chunked response.
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/x-ndjson")],
            }
        )
        for note in list(notes.values()):
            await send(
                {
                    "type": "http.response.body",
                    "body": json.dumps(note).encode() + b"\n",
                    "more_body": True,
                }
            )
            await asyncio.sleep(0.01)
        await send({"type": "http.response.body", "body": b""})
    elif path == "/clock":
        # A long-lived response that stops as soon as the client goes away.
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/plain")],
            }
        )
        disconnected = asyncio.ensure_future(receive())
        try:
            while not disconnected.done():
                await send(
                    {
                        "type": "http.response.body",
                        "body": time.strftime("%H:%M:%S\n").encode(),
                        "more_body": True,
                    }
                )
                await asyncio.wait([disconnected], timeout=1)
        except OSError:
            pass
        finally:
            disconnected.cancel()
    else:
        await respond(send, 404, {"detail": "Not Found"})
