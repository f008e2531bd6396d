"""``--health-path``: a readiness and liveness endpoint the server answers itself.

An orchestrator (a Kubernetes probe, a load balancer's health check) asks the
path and gets, without the app being called:

* ``200 {"status": "ready"}`` once the lifespan startup is complete,
* ``503 {"status": "starting"}`` while it runs, and
* ``503 {"status": "stopping"}`` from the moment the server starts shutting down.

Because the answer comes from the worker's event loop, like every response, a
loop blocked by the app answers nothing at all: the probe's timeout is the
liveness signal.  Only ``GET`` and ``HEAD`` are answered (405 otherwise); the
query string is ignored.

With a health path, a server alone on its socket accepts connections while the
app is still starting, so that probes are answered 503 instead of waiting in the
backlog.  Any other request made meanwhile waits (``HealthCheck`` holds it)
until the startup is complete, then goes to the app with the state the lifespan
set up; if the startup fails, it is answered 503.

The check is an ASGI wrapper around the app, installed only with the flag: the
request path pays nothing without it, and one string comparison with it, on
HTTP/1.1 and HTTP/2 alike.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import ASGIApp, Receive, Scope, Send
    from .state import ServerState

_HEADERS = [
    (b"content-type", b"application/json"),
    (b"cache-control", b"no-store"),
]
_METHODS = ("GET", "HEAD")


def _body(status: str) -> bytes:
    return json.dumps({"status": status}).encode()


class HealthCheck:
    """The app as the server runs it with ``--health-path``: that path answered here."""

    def __init__(
        self, app: ASGIApp, path: str, state: ServerState, app_state: dict[str, Any]
    ) -> None:
        self.app = app
        self.path = path
        self.state = state
        #: The lifespan's state, which a request that waited for the startup gets a copy of.
        self.app_state = app_state
        self.ready = False
        self.failed = False
        self._started = asyncio.Event()

    def startup_complete(self) -> None:
        self.ready = True
        self._started.set()

    def startup_failed(self) -> None:
        self.failed = True
        self._started.set()

    @property
    def status(self) -> str:
        if self.state.stopping or self.failed:
            return "stopping"
        return "ready" if self.ready else "starting"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http" and scope["path"] == self.path:
            await self._answer(scope, send)
            return
        if not self.ready and kind != "lifespan":
            # Accepted while the app was starting: wait for it to be ready.
            await self._started.wait()
            if self.failed:
                await self._unavailable(kind, send)
                return
            if "state" in scope:
                scope["state"] = self.app_state.copy()
        await self.app(scope, receive, send)

    async def _answer(self, scope: Scope, send: Send) -> None:
        status = self.status
        if scope["method"] not in _METHODS:
            code, body = 405, _body(status)
            headers = [*_HEADERS, (b"allow", b"GET, HEAD")]
        else:
            code, body, headers = (200 if status == "ready" else 503), _body(status), _HEADERS
        headers = [*headers, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": code, "headers": headers})
        if scope["method"] == "HEAD":
            body = b""
        await send({"type": "http.response.body", "body": body})

    async def _unavailable(self, kind: str, send: Send) -> None:
        """A request that waited for a startup that failed."""
        if kind == "websocket":
            await send({"type": "websocket.close", "code": 1013})  # before accept: a 403
            return
        body = b"Service Unavailable"
        headers = [(b"content-type", b"text/plain"), (b"content-length", b"19")]
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": body})
