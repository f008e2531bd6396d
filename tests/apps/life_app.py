"""A raw ASGI app for the server lifecycle tests.

Routes:
  /            "ok"
  /scope       the interesting parts of the scope, as JSON
  /state       the request's ``scope["state"]`` as JSON; then it mutates that copy
  /sleep?S     sleeps S seconds (asyncio), printing ``APP: sleeping S`` and ``APP: slept S``
  /block?S     blocks the event loop for S seconds (``APP: blocking S``), then answers the pid
  /pid         ``os.getpid()``
  /lifespan    how many times the app was called with a lifespan scope

The lifespan handler stores ``{"greeting": "hello", "hits": []}`` as state and
prints ``APP: startup`` / ``APP: shutdown`` so tests can check the ordering.
"""

import asyncio
import json
import os
import time

LIFESPAN_CALLS = 0


async def _lifespan(scope, receive, send):
    global LIFESPAN_CALLS
    LIFESPAN_CALLS += 1
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            scope["state"]["greeting"] = "hello"
            scope["state"]["hits"] = []
            print("APP: startup", flush=True)
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            print("APP: shutdown", flush=True)
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _respond(send, body, content_type=b"text/plain"):
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", content_type)],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _host(scope):
    return next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), None)


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await _lifespan(scope, receive, send)
        return
    path = scope["path"]
    query = scope["query_string"].decode()
    if path.endswith("/scope"):
        info = {
            "client": scope["client"],
            "server": scope["server"],
            "scheme": scope["scheme"],
            "host": _host(scope),
            "root_path": scope["root_path"],
            "path": scope["path"],
            "raw_path": scope["raw_path"].decode("latin-1"),
            "http_version": scope["http_version"],
            "spec_version": scope["asgi"].get("spec_version"),
        }
        await _respond(send, json.dumps(info).encode(), b"application/json")
    elif path == "/state":
        state = scope["state"]
        body = json.dumps(state, sort_keys=True).encode()
        state["added_by_request"] = True
        state.setdefault("hits", []).append(1)
        await _respond(send, body, b"application/json")
    elif path == "/sleep":
        seconds = float(query or "1")
        print(f"APP: sleeping {seconds:g}", flush=True)
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            print("APP: sleep cancelled", flush=True)
            raise
        print(f"APP: slept {seconds:g}", flush=True)
        await _respond(send, b"slept %g" % seconds)
    elif path == "/block":
        print(f"APP: blocking {float(query or '0.2'):g}", flush=True)
        time.sleep(float(query or "0.2"))
        await _respond(send, str(os.getpid()).encode())
    elif path == "/pid":
        await _respond(send, str(os.getpid()).encode())
    elif path == "/lifespan":
        await _respond(send, str(LIFESPAN_CALLS).encode())
    else:
        await _respond(send, b"ok")


def create_app():
    """For --factory."""
    return app


NOT_CALLABLE = 42
