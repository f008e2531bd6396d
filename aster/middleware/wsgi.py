"""``WSGIMiddleware``: serve a WSGI app (Flask, Django...) from an ASGI app. Deprecated.

Starlette deprecates it in favour of a2wsgi and so does aster (same warning, on import), but
apps still mount legacy WSGI apps with it, so it works as before:

* the request body is read in full, then the WSGI app runs in the threadpool with an environ
  built by :func:`build_environ` (``SCRIPT_NAME`` from ``root_path``, the rest in ``PATH_INFO``);
* the response is streamed back chunk by chunk as the app yields it; the worker thread waits
  for each chunk to be sent, so a slow client slows the app instead of filling memory, and a
  client that is gone stops the iteration;
* as PEP 3333 asks, the status and headers go out with the first non-empty chunk, so a second
  ``start_response(..., exc_info)`` before that can still replace them; ``write()`` works; and
  the iterable's ``close()`` is called;
* ``exc_info`` given to ``start_response`` is re-raised once the response is sent.
"""

from __future__ import annotations

import asyncio
import io
import sys
import warnings
from collections.abc import Callable, Iterable
from typing import Any

from .._starlette_exceptions import StarletteDeprecationWarning
from ..concurrency import run_in_threadpool
from ..types import Message, Receive, Scope, Send

__all__ = ["WSGIMiddleware", "WSGIResponder", "build_environ"]

warnings.warn(
    "starlette.middleware.wsgi is deprecated and will be removed in a future release. "
    "Please refer to https://github.com/abersheeran/a2wsgi as a replacement.",
    StarletteDeprecationWarning,
    stacklevel=2,
)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _latin1(text: str) -> str:
    """A str as WSGI wants it: its UTF-8 bytes, each one a latin-1 character (PEP 3333)."""
    return text.encode("utf-8").decode("latin-1")


def build_environ(scope: Scope, body: bytes) -> dict[str, Any]:
    """The WSGI environ for an HTTP scope and its (complete) request body."""
    script_name = _latin1(scope.get("root_path", ""))
    path_info = _latin1(scope["path"])
    if path_info == script_name or path_info.startswith(script_name.rstrip("/") + "/"):
        path_info = path_info[len(script_name) :]
    server = scope.get("server") or ("localhost", 80)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": script_name,
        "PATH_INFO": path_info,
        "QUERY_STRING": scope["query_string"].decode("ascii"),
        "SERVER_PROTOCOL": f"HTTP/{scope['http_version']}",
        "SERVER_NAME": server[0],
        "SERVER_PORT": server[1],
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stdout,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    client = scope.get("client")
    if client:
        environ["REMOTE_ADDR"] = client[0]
    for raw_name, raw_value in scope.get("headers", []):
        name = raw_name.decode("latin-1")
        if name == "content-length":
            key = "CONTENT_LENGTH"
        elif name == "content-type":
            key = "CONTENT_TYPE"
        else:
            key = "HTTP_" + name.upper().replace("-", "_")
        value = raw_value.decode("latin-1")
        # Repeated headers are joined with commas, as a CGI environ has one value per name.
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ


class WSGIMiddleware:
    """An ASGI app that runs ``app``, a WSGI application, for each HTTP request."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        await WSGIResponder(self.app, scope)(receive, send)


class WSGIResponder:
    """One request: the WSGI call in a worker thread, its output sent from the event loop."""

    def __init__(self, app: WSGIApp, scope: Scope) -> None:
        self.app = app
        self.scope = scope
        self.status: int | None = None
        self.response_headers: list[tuple[bytes, bytes]] | None = None
        self.response_started = False
        self.exc_info: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._send: Send | None = None

    async def __call__(self, receive: Receive, send: Send) -> None:
        chunks = []
        more_body = True
        while more_body:
            message = await receive()
            chunks.append(message.get("body", b""))
            more_body = message.get("more_body", False)
        environ = build_environ(self.scope, b"".join(chunks))
        self._loop = asyncio.get_running_loop()
        self._send = send
        await run_in_threadpool(self.wsgi, environ, self.start_response)
        if self.exc_info is not None:
            raise self.exc_info[1].with_traceback(self.exc_info[2])

    # --- the worker thread ---------------------------------------------------------------

    def _send_from_thread(self, message: Message) -> None:
        """Send ``message`` on the event loop and wait until it has been sent."""
        assert self._loop is not None and self._send is not None
        send = self._send

        async def deliver() -> None:
            await send(message)

        asyncio.run_coroutine_threadsafe(deliver(), self._loop).result()

    def _start(self) -> None:
        if not self.response_started:
            assert self.status is not None, "The WSGI app returned before calling start_response"
            self.response_started = True
            self._send_from_thread(
                {
                    "type": "http.response.start",
                    "status": self.status,
                    "headers": self.response_headers or [],
                }
            )

    def start_response(
        self,
        status: str,
        response_headers: list[tuple[str, str]],
        exc_info: Any = None,
    ) -> Callable[[bytes], None]:
        if exc_info is not None:
            self.exc_info = exc_info
            if self.response_started:  # too late to change the status: PEP 3333 re-raises
                raise exc_info[1].with_traceback(exc_info[2])
        elif self.status is not None:
            raise AssertionError("start_response was already called without exc_info")
        self.status = int(status.split(" ", 1)[0])
        self.response_headers = [
            (name.strip().lower().encode("latin-1"), value.strip().encode("latin-1"))
            for name, value in response_headers
        ]
        return self._write

    def _write(self, data: bytes) -> None:
        """PEP 3333's ``write()``, for apps that push body bytes instead of yielding them."""
        self._start()
        if data:
            self._send_from_thread({"type": "http.response.body", "body": data, "more_body": True})

    def wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> None:
        output = self.app(environ, start_response)
        try:
            for chunk in output:
                if chunk:
                    self._write(chunk)
        finally:
            close = getattr(output, "close", None)
            if close is not None:
                close()
        self._start()
        self._send_from_thread({"type": "http.response.body", "body": b""})
