"""``TestClient``: call an ASGI app in-process through an ``httpx.Client``, with no server.

Same surface and behaviour as Starlette's (and so FastAPI's) TestClient, on plain asyncio rather
than anyio. The app runs on a *portal* (``aster._portal``): an event loop in a background
thread, while the test thread stays synchronous.

* Outside a ``with`` block every request, and every websocket session, gets a fresh portal that
  is closed, and its thread joined, when the response has been read. That isolates tests from
  each other exactly like Starlette's client does.
* ``with TestClient(app) as client:`` keeps one portal for the whole block and runs the app's
  lifespan on it: startup on enter (a failing startup raises from ``__enter__``), shutdown on
  exit, and the lifespan ``state`` is copied into every request's scope.

Request bodies are streamed to the app chunk by chunk; response bodies are handed over one chunk
at a time with back-pressure, so an endless streaming response can be read partially with
``client.stream()``. When ``raise_server_exceptions`` is true an exception raised by the app is
re-raised in the test once the response is consumed; otherwise the test gets whatever the app
sent, or an empty 500 if it sent nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import warnings
from collections.abc import Awaitable, Callable, Generator, Iterator, Mapping, Sequence
from typing import Any, Literal
from urllib.parse import unquote, urljoin

import httpx

from ._asyncio_only import ASYNCIO_ONLY
from ._portal import LoopFactory, Portal, TaskHandle
from ._starlette_exceptions import StarletteDeprecationWarning
from ._testclient_ws import (
    WebSocketDenialResponse,
    WebSocketDisconnect,
    WebSocketTestSession,
    _Upgrade,
)
from .types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "ASGI2App",
    "ASGI3App",
    "ASGIInstance",
    "TestClient",
    "WebSocketDenialResponse",
    "WebSocketDisconnect",
    "WebSocketTestSession",
]

#: What an ASGI2 (double-callable) app returns for a scope; the TestClient accepts such apps.
ASGIInstance = Callable[[Receive, Send], Awaitable[None]]
ASGI2App = Callable[[Scope], ASGIInstance]
ASGI3App = Callable[[Scope, Receive, Send], Awaitable[None]]
PortalFactory = Callable[[], contextlib.AbstractContextManager[Portal]]

_DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}
_EOF = object()


def _is_asgi3(app: Any) -> bool:
    """Starlette's rule: a class is ASGI3 if awaitable, anything else if it is async-callable."""
    if inspect.isclass(app):
        return hasattr(app, "__await__")
    while isinstance(app, functools.partial):
        app = app.func
    if inspect.iscoroutinefunction(app):
        return True
    return callable(app) and inspect.iscoroutinefunction(app.__call__)


class _ASGI2Adapter:
    """Present an ASGI2 (double-callable) app as ASGI3."""

    def __init__(self, app: ASGI2App) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope)(receive, send)


class _ResponseStream(httpx.SyncByteStream):
    """The response body as httpx reads it; closing it finishes (and joins) the exchange."""

    def __init__(self, exchange: _HTTPExchange) -> None:
        self._exchange = exchange

    def __iter__(self) -> Iterator[bytes]:
        return self._exchange.iter_body()

    def close(self) -> None:
        self._exchange.finish()


class _HTTPExchange:
    """One HTTP request/response cycle between httpx and the app, spanning two threads.

    The ``_receive``/``_send``/``_next_chunk`` coroutines run on the portal's loop and are the
    only code touching the asyncio primitives; the test thread drives them through the portal.
    """

    def __init__(
        self, transport: _TestClientTransport, request: httpx.Request, scope: Scope
    ) -> None:
        self.transport = transport
        self.request = request
        self.scope = scope
        self.started = False
        self.status = 500
        self.headers: list[tuple[bytes, bytes]] = []
        self.trailers: list[tuple[bytes, bytes]] = []
        self.trailers_expected = False
        self.debug_info: dict[str, Any] | None = None
        self._response_available = asyncio.Event()
        self._response_complete = asyncio.Event()
        self._chunks: asyncio.Queue[Any] = asyncio.Queue()
        self._body_done = False
        #: The app sent its last body chunk (``_body_done`` is the test thread's view).
        self._body_sent = False
        self._request_chunks: Iterator[bytes] | None = None
        #: Read the request stream in a worker thread: it may read files (``files=``).
        self._request_reads_block = not isinstance(request.stream, httpx.ByteStream)
        self._next_request_chunk: bytes | None = None
        self._request_complete = False
        self._finished = False
        self._stack = contextlib.ExitStack()

    # --- test thread ---------------------------------------------------------------------

    def run(self) -> httpx.Response:
        with self._stack:
            self.portal = self._stack.enter_context(self.transport.portal_factory())
            self.task: TaskHandle = self.portal.start_task(self._run_app)
            self.portal.call(self._response_available.wait)
            if self.started:
                self._stack = self._stack.pop_all()  # finish() closes it once the body is read
                self.transport.open_exchanges.add(self)
                return self._make_response(_ResponseStream(self))
            self.task.wait()  # it has ended without responding: join it before the portal goes
        self._finished = True
        self._raise_server_exception()
        if self.transport.raise_server_exceptions:
            raise AssertionError("TestClient did not receive any response.")
        return httpx.Response(500, stream=httpx.ByteStream(b""), request=self.request)

    def _make_response(self, stream: httpx.SyncByteStream) -> httpx.Response:
        response = httpx.Response(
            self.status, headers=self.headers, stream=stream, request=self.request
        )
        if self.trailers_expected:
            response.extensions["http.response.trailers"] = self.trailers
        if self.debug_info is not None:
            response.extensions["http.response.debug"] = self.debug_info
            if "template" in self.debug_info:
                response.template = self.debug_info["template"]  # type: ignore[attr-defined]
            if "context" in self.debug_info:
                response.context = self.debug_info["context"]  # type: ignore[attr-defined]
        return response

    def iter_body(self) -> Generator[bytes, None, None]:
        is_head = self.request.method == "HEAD"
        while not self._finished:
            chunk = self.portal.call(self._next_chunk)
            if chunk is _EOF:
                break
            if chunk and not is_head:
                yield chunk
        self.finish()

    def finish(self) -> None:
        """Stop the app if the body was abandoned, join it, close the portal, report errors."""
        if self._finished:
            return
        self._finished = True
        try:
            if not self.task.done():
                self.portal.call_soon(self._cancel_if_incomplete)
            self.task.wait()
        finally:
            self.transport.open_exchanges.discard(self)
            self._stack.close()
        self._raise_server_exception()

    def abort(self) -> None:
        """Close from the client side (the client itself is being closed)."""
        if not self._finished:
            self.task.cancel()
            self.finish()

    def _raise_server_exception(self) -> None:
        exc = self.task.exception()
        if exc is not None and self.transport.raise_server_exceptions:
            raise exc

    # --- portal loop ---------------------------------------------------------------------

    def _cancel_if_incomplete(self) -> None:
        if not self._response_complete.is_set():
            self.task.cancel()

    async def _run_app(self) -> None:
        try:
            await self.transport.app(self.scope, self._receive, self._send)
        finally:
            self._response_available.set()
            self._chunks.put_nowait(_EOF)

    async def _next_chunk(self) -> Any:
        if self._body_done:
            return _EOF
        item = await self._chunks.get()
        if item is _EOF:
            self._body_done = True
            return _EOF
        body, final, taken = item
        if not taken.done():
            taken.set_result(None)
        if final:
            self._body_done = True
            if not self.trailers_expected:
                self._response_complete.set()
        return body

    def _read_request_chunk(self) -> bytes | None:
        assert self._request_chunks is not None
        for chunk in self._request_chunks:
            if isinstance(chunk, str):
                chunk = chunk.encode("utf-8")
            if chunk:
                return bytes(chunk)
        return None

    async def _next_request_read(self) -> bytes | None:
        if self._request_reads_block:
            return await asyncio.to_thread(self._read_request_chunk)
        return self._read_request_chunk()

    async def _receive(self) -> Message:
        if self._request_complete:
            await self._response_complete.wait()
            return {"type": "http.disconnect"}
        if self._request_chunks is None:
            self._request_chunks = iter(self.request.stream)  # type: ignore[arg-type]
            self._next_request_chunk = await self._next_request_read()
        body = self._next_request_chunk or b""
        self._next_request_chunk = await self._next_request_read() if body else None
        more_body = self._next_request_chunk is not None
        self._request_complete = not more_body
        return {"type": "http.request", "body": body, "more_body": more_body}

    async def _send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            assert not self.started, 'Received multiple "http.response.start" messages.'
            self.status = message["status"]
            self.headers = [(bytes(k), bytes(v)) for k, v in message.get("headers", [])]
            self.trailers_expected = bool(message.get("trailers", False))
            self.started = True
            self._response_available.set()
        elif kind in ("http.response.body", "http.response.pathsend"):
            assert self.started, f'Received "{kind}" without "http.response.start".'
            assert not self._response_complete.is_set(), (
                f'Received "{kind}" after response completed.'
            )
            assert not self._body_sent, f'Received "{kind}" after body completed.'
            if kind == "http.response.pathsend":
                body, more_body = await asyncio.to_thread(_read_file, message["path"]), False
            else:
                body, more_body = bytes(message.get("body", b"")), message.get("more_body", False)
            self._body_sent = not more_body
            taken = asyncio.get_running_loop().create_future()
            self._chunks.put_nowait((body, not more_body, taken))
            await taken  # hand-over: the app waits until the test has taken the chunk
        elif kind == "http.response.trailers":
            assert self.trailers_expected, (
                'Received "http.response.trailers" without declaring trailers.'
            )
            assert self._body_sent, 'Received "http.response.trailers" before body completed.'
            assert not self._response_complete.is_set(), (
                'Received "http.response.trailers" after response completed.'
            )
            self.trailers.extend(message.get("headers", []))
            if not message.get("more_trailers", False):
                self._response_complete.set()
        elif kind == "http.response.debug":
            self.debug_info = message["info"]


def _read_file(path: str) -> bytes:
    with open(path, "rb") as file:
        return file.read()


class _TestClientTransport(httpx.BaseTransport):
    """An httpx transport that turns each request into an ASGI call on a portal."""

    def __init__(
        self,
        app: ASGIApp,
        portal_factory: PortalFactory,
        raise_server_exceptions: bool = True,
        root_path: str = "",
        *,
        client: tuple[str, int],
        app_state: dict[str, Any],
    ) -> None:
        self.app = app
        self.portal_factory = portal_factory
        self.raise_server_exceptions = raise_server_exceptions
        self.root_path = root_path
        self.client = client
        self.app_state = app_state
        self.open_exchanges: set[_HTTPExchange] = set()

    def close(self) -> None:
        """Abort responses that were opened with ``stream()`` and never closed."""
        with contextlib.ExitStack() as stack:
            while self.open_exchanges:
                stack.callback(self.open_exchanges.pop().abort)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        scheme = url.scheme
        port = url.port if url.port is not None else _DEFAULT_PORTS.get(scheme, 80)
        headers: list[tuple[bytes, bytes]] = []
        if "host" not in request.headers:
            headers.append((b"host", url.netloc))
        headers += [(key.lower(), value) for key, value in request.headers.raw]
        # Like Starlette: httpx has already decoded the path once and it is unquoted again.
        path = unquote(url.path)
        raw_path = url.raw_path.split(b"?", 1)[0]
        server = [url.raw_host.decode("ascii"), port]
        if scheme in ("ws", "wss"):
            protocols = request.headers.get("sec-websocket-protocol")
            subprotocols = [p.strip() for p in protocols.split(",")] if protocols else []
            ws_scope: Scope = {
                "type": "websocket",
                "path": path,
                "raw_path": raw_path,
                "root_path": self.root_path,
                "scheme": scheme,
                "query_string": url.query,
                "headers": headers,
                "client": self.client,
                "server": server,
                "subprotocols": subprotocols,
                "state": self.app_state.copy(),
                "extensions": {"websocket.http.response": {}},
            }
            raise _Upgrade(WebSocketTestSession(self.app, ws_scope, self.portal_factory))
        scope: Scope = {
            "type": "http",
            "http_version": "1.1",
            "method": request.method,
            "path": path,
            "raw_path": raw_path,
            "root_path": self.root_path,
            "scheme": scheme,
            "query_string": url.query,
            "headers": headers,
            "client": self.client,
            "server": server,
            "extensions": {"http.response.debug": {}, "http.response.trailers": {}},
            "state": self.app_state.copy(),
        }
        return _HTTPExchange(self, request, scope).run()


class _Lifespan:
    """Drives the ASGI lifespan protocol on the client's portal."""

    def __init__(self, app: ASGIApp, state: dict[str, Any]) -> None:
        self.app = app
        self.state = state
        self._to_app: asyncio.Queue[Message] = asyncio.Queue()
        self._from_app: asyncio.Queue[Message | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._running = False

    async def _run(self) -> None:
        scope = {"type": "lifespan", "state": self.state}
        try:
            await self.app(scope, self._to_app.get, self._send)
        finally:
            self._from_app.put_nowait(None)

    async def _send(self, message: Message) -> None:
        self._from_app.put_nowait(message)
        await asyncio.sleep(0)  # let the client see it, even if the app never awaits anything

    async def _exchange(self, phase: str) -> None:
        assert self._task is not None
        await self._to_app.put({"type": f"lifespan.{phase}"})
        message = await self._from_app.get()
        if message is None:  # the app returned or raised without answering
            self._running = False
            await self._task  # re-raises the app's exception, if any
            return
        expected = (f"lifespan.{phase}.complete", f"lifespan.{phase}.failed")
        assert message["type"] in expected, f"unexpected lifespan message {message!r}"
        if message["type"].endswith(".failed"):
            self._running = False
            while await self._from_app.get() is not None:
                pass
            await self._task
            raise RuntimeError(message.get("message") or f"lifespan {phase} failed")

    async def startup(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())
        self._running = True
        await self._exchange("startup")

    async def shutdown(self) -> None:
        if self._running:
            await self._exchange("shutdown")


class TestClient(httpx.Client):
    """An ``httpx.Client`` that sends its requests to an ASGI app in-process.

    ``backend`` must be ``"asyncio"`` (aster runs on asyncio only). ``backend_options`` accepts
    ``use_uvloop`` and ``debug`` (as anyio's asyncio backend does) and ``loop_factory``.
    """

    __test__ = False  # not a pytest test class, despite the name

    def __init__(
        self,
        app: ASGIApp,
        base_url: str = "http://testserver",
        raise_server_exceptions: bool = True,
        root_path: str = "",
        backend: Literal["asyncio", "trio"] = "asyncio",
        backend_options: dict[str, Any] | None = None,
        cookies: httpx._types.CookieTypes | None = None,
        headers: Mapping[str, str] | None = None,
        follow_redirects: bool = True,
        client: tuple[str, int] = ("testclient", 50000),
    ) -> None:
        self._loop_factory, self._loop_debug = _loop_options(backend, backend_options or {})
        self.app: ASGIApp = app if _is_asgi3(app) else _ASGI2Adapter(app)  # type: ignore[arg-type]
        self.app_state: dict[str, Any] = {}
        self.portal: Portal | None = None
        transport = _TestClientTransport(
            self.app,
            portal_factory=self._portal_factory,
            raise_server_exceptions=raise_server_exceptions,
            root_path=root_path,
            app_state=self.app_state,
            client=client,
        )
        merged_headers = dict(headers or {})
        merged_headers.setdefault("user-agent", "testclient")
        super().__init__(
            base_url=base_url,
            headers=merged_headers,
            transport=transport,
            follow_redirects=follow_redirects,
            cookies=cookies,
        )

    def _new_portal(self) -> Portal:
        return Portal(loop_factory=self._loop_factory, debug=self._loop_debug, name="testclient")

    @contextlib.contextmanager
    def _portal_factory(self) -> Generator[Portal, None, None]:
        if self.portal is not None:
            yield self.portal
        else:
            with self._new_portal() as portal:
                yield portal

    def request(  # type: ignore[override]
        self, method: str, url: httpx._types.URLTypes, **kwargs: Any
    ) -> httpx.Response:
        if kwargs.get("timeout", httpx.USE_CLIENT_DEFAULT) is not httpx.USE_CLIENT_DEFAULT:
            warnings.warn(
                "You should not use the 'timeout' argument with the TestClient. "
                "It has no effect: the app runs in-process and is never interrupted.",
                StarletteDeprecationWarning,
                stacklevel=2,
            )
        return super().request(method, url, **kwargs)

    def websocket_connect(
        self, url: str, subprotocols: Sequence[str] | None = None, **kwargs: Any
    ) -> WebSocketTestSession:
        """Open a websocket session; use it as a context manager to actually connect."""
        url = urljoin("ws://testserver", url)
        headers = dict(kwargs.get("headers") or {})
        headers.setdefault("connection", "upgrade")
        headers.setdefault("sec-websocket-key", "testserver==")
        headers.setdefault("sec-websocket-version", "13")
        if subprotocols is not None:
            headers.setdefault("sec-websocket-protocol", ", ".join(subprotocols))
        kwargs["headers"] = headers
        try:
            super().request("GET", url, **kwargs)
        except _Upgrade as upgrade:
            return upgrade.session
        raise RuntimeError("Expected WebSocket upgrade")  # pragma: no cover

    def __enter__(self) -> TestClient:
        with contextlib.ExitStack() as stack:
            self.portal = portal = stack.enter_context(self._new_portal())
            stack.callback(setattr, self, "portal", None)
            lifespan = _Lifespan(self.app, self.app_state)
            portal.call(lifespan.startup)
            stack.callback(portal.call, lifespan.shutdown)
            stack.callback(self._transport.close)
            self.exit_stack = stack.pop_all()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.exit_stack.close()


def _loop_options(backend: str, options: dict[str, Any]) -> tuple[LoopFactory | None, bool]:
    """Translate Starlette's backend arguments into a loop factory for the portal."""
    if backend != "asyncio":
        raise NotImplementedError(
            f"TestClient(backend={backend!r}): the TestClient runs the app on asyncio "
            "(backend='asyncio', with backend_options={'use_uvloop': True} for uvloop). "
            + ASYNCIO_ONLY
        )
    unknown = set(options) - {"use_uvloop", "debug", "loop_factory"}
    if unknown:
        raise TypeError(f"unsupported backend_options: {', '.join(sorted(unknown))}")
    factory: LoopFactory | None = options.get("loop_factory")
    if factory is None and options.get("use_uvloop"):
        import uvloop

        factory = uvloop.new_event_loop
    return factory, bool(options.get("debug", False))
