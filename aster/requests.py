"""``Request`` and its base ``HTTPConnection``, with Starlette's API.

A request is built for every call, so construction only stores the scope and
the channels.  Everything else (headers, query params, URL, cookies, state) is
computed on first access and cached on the instance.

The body, once read, is also recorded in the scope together with the
``receive`` it came from.  A later ``Request`` on the same scope and the same
``receive`` (an exception handler, say) then sees the body instead of waiting
on a stream that has already been drained.  A ``Request`` given a different
``receive`` (middleware that rewrites the body) reads from that one, as in
Starlette.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncGenerator, Awaitable, Generator, Iterator, Mapping
from contextlib import AbstractAsyncContextManager, aclosing
from http.cookies import _unquote  # type: ignore[attr-defined]
from typing import Any, Generic, NoReturn, Protocol, TypeVar, cast

from pydantic_core import from_json
from python_multipart.multipart import parse_options_header

from aster._multidict import query_params_from_bytes
from aster._starlette_exceptions import StarletteHTTPException as HTTPException
from aster.datastructures import (
    URL,
    Address,
    FormData,
    Headers,
    QueryParams,
    State,
    headers_from_scope,
)
from aster.formparsers import FormParser, MultiPartException, MultiPartParser
from aster.types import Message, Receive, Scope, Send

if sys.version_info >= (3, 13):  # pragma: no cover
    from typing import TypeVar as DefaultTypeVar
else:  # pragma: no cover
    from typing_extensions import TypeVar as DefaultTypeVar

__all__ = [
    "SERVER_PUSH_HEADERS_TO_COPY",
    "AwaitableOrContextManager",
    "AwaitableOrContextManagerWrapper",
    "ClientDisconnect",
    "HTTPConnection",
    "Request",
    "cookie_parser",
    "empty_receive",
    "empty_send",
]

SERVER_PUSH_HEADERS_TO_COPY = {
    "accept",
    "accept-encoding",
    "accept-language",
    "cache-control",
    "user-agent",
}

# Where a read body is recorded in the scope: (token of the receive it came from, body).
BODY_SCOPE_KEY = "aster.request_body"


def cookie_parser(cookie_string: str) -> dict[str, str]:
    """Parse a ``Cookie`` header the lenient way browsers do, not by RFC 6265.

    Pairs are split on ``;`` and the first ``=``; a chunk without ``=`` is a
    value with an empty name; names and values are stripped, and a
    double-quoted value is unquoted with ``http.cookies``' algorithm.  Later
    duplicates win.
    """
    cookies: dict[str, str] = {}
    for chunk in cookie_string.split(";"):
        key, sep, value = chunk.partition("=")
        if not sep:
            key, value = "", key
        key = key.strip()
        value = value.strip()
        if key or value:
            cookies[key] = _unquote(value) if value[:1] == '"' else value
    return cookies


class ClientDisconnect(Exception):
    """The client went away before the request body was fully read."""


StateT = DefaultTypeVar("StateT", bound=Mapping[str, Any] | State, default=State)


class HTTPConnection(Mapping[str, Any], Generic[StateT]):
    """What ``Request`` and ``WebSocket`` share; also a read-only mapping over the scope."""

    def __init__(self, scope: Scope, receive: Receive | None = None) -> None:
        assert scope["type"] in ("http", "websocket")
        self.scope = scope

    def __getitem__(self, key: str) -> Any:
        return self.scope[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.scope)

    def __len__(self) -> int:
        return len(self.scope)

    # Two connections are equal only if they are the same object, not if their scopes are.
    __eq__ = object.__eq__
    __hash__ = object.__hash__

    # Computed on first access; class-level None means no per-request cost until then.
    _url: URL | None = None
    _base_url: URL | None = None
    _headers: Headers | None = None
    _query_params: QueryParams | None = None
    _cookies: dict[str, str] | None = None
    _state: State | None = None

    @property
    def app(self) -> Any:
        return self.scope["app"]

    @property
    def url(self) -> URL:
        url = self._url
        if url is None:
            url = self._url = URL(scope=self.scope)
        return url

    @property
    def base_url(self) -> URL:
        """The app's root URL; inside a mount it is still the top-level app's root."""
        base_url = self._base_url
        if base_url is None:
            scope = dict(self.scope)
            root_path = scope.get("app_root_path", scope.get("root_path", ""))
            scope["path"] = root_path if root_path.endswith("/") else root_path + "/"
            scope["query_string"] = b""
            scope["root_path"] = root_path
            base_url = self._base_url = URL(scope=scope)
        return base_url

    @property
    def headers(self) -> Headers:
        headers = self._headers
        if headers is None:
            headers = self._headers = headers_from_scope(self.scope)
        return headers

    @property
    def query_params(self) -> QueryParams:
        query_params = self._query_params
        if query_params is None:
            query_params = self._query_params = query_params_from_bytes(self.scope["query_string"])
        return query_params

    @property
    def path_params(self) -> dict[str, Any]:
        return cast("dict[str, Any]", self.scope.get("path_params", {}))

    @property
    def cookies(self) -> dict[str, str]:
        cookies = self._cookies
        if cookies is None:
            cookies = self._cookies = {}
            for header in self.headers.getlist("cookie"):
                cookies.update(cookie_parser(header))
        return cookies

    @property
    def client(self) -> Address | None:
        host_port = self.scope.get("client")
        return None if host_port is None else Address(*host_port)

    @property
    def session(self) -> dict[str, Any]:
        assert "session" in self.scope, (
            "SessionMiddleware must be installed to access request.session"
        )
        session = self.scope["session"]
        # Tell the session middleware it was read (it may then refresh the cookie).
        mark_accessed = getattr(session, "mark_accessed", None)
        if mark_accessed is not None:
            mark_accessed()
        return cast("dict[str, Any]", session)

    @property
    def auth(self) -> Any:
        assert "auth" in self.scope, (
            "AuthenticationMiddleware must be installed to access request.auth"
        )
        return self.scope["auth"]

    @property
    def user(self) -> Any:
        assert "user" in self.scope, (
            "AuthenticationMiddleware must be installed to access request.user"
        )
        return self.scope["user"]

    @property
    def state(self) -> StateT:
        # The dict lives in the scope, so every connection object of this
        # request (and the lifespan state copied into it) shares it.
        state = self._state
        if state is None:
            state = self._state = State(self.scope.setdefault("state", {}))
        return cast(StateT, state)

    def url_for(self, name: str, /, **path_params: Any) -> URL:
        provider = self.scope.get("router") or self.scope.get("app")
        if provider is None:
            raise RuntimeError(
                "The `url_for` method can only be used inside a Starlette application "
                "or with a router."
            )
        url_path = provider.url_path_for(name, **path_params)
        return cast(URL, url_path.make_absolute_url(base_url=self.base_url))


async def empty_receive() -> NoReturn:
    raise RuntimeError("Receive channel has not been made available")


async def empty_send(message: Message) -> NoReturn:
    raise RuntimeError("Send channel has not been made available")


T_co = TypeVar("T_co", covariant=True)


class AwaitableOrContextManager(
    Awaitable[T_co], AbstractAsyncContextManager[T_co], Protocol[T_co]
): ...


class _SupportsAsyncClose(Protocol):
    async def close(self) -> None: ...


_CloseableT = TypeVar("_CloseableT", bound=_SupportsAsyncClose)


class AwaitableOrContextManagerWrapper(Generic[_CloseableT]):
    """``await x`` gives the result; ``async with x as r`` also closes it on exit."""

    __slots__ = ("aw", "entered")

    def __init__(self, aw: Awaitable[_CloseableT]) -> None:
        self.aw = aw

    def __await__(self) -> Generator[Any, None, _CloseableT]:
        return self.aw.__await__()

    async def __aenter__(self) -> _CloseableT:
        self.entered = await self.aw
        return self.entered

    async def __aexit__(self, *args: Any) -> None:
        await self.entered.close()


def json_loads(body: bytes) -> Any:
    """``json.loads(body)``, through pydantic-core's parser when it accepts the input.

    It is four times faster and builds the same objects; anything it refuses
    (invalid JSON, a BOM, UTF-16, lone surrogates, deep nesting) is parsed again by
    ``json``, so every error and edge case stays exactly ``json``'s.
    """
    if json.loads is not _stdlib_json_loads:  # replaced, e.g. mocked by a test: honour it
        return json.loads(body)
    try:
        return from_json(body)
    except ValueError:
        return json.loads(body)


_stdlib_json_loads = json.loads


def _receive_token(receive: Receive) -> Any:
    """What identifies a ``receive`` without keeping its owner alive.

    Bound methods are new objects on every attribute access, so they are
    identified by (owner id, function); holding the method itself would make a
    reference cycle through the scope when the owner (the server's per-request
    object) holds the scope.
    """
    owner = getattr(receive, "__self__", None)
    if owner is None:
        return receive
    return (id(owner), getattr(receive, "__func__", None))


def _receive_nowait(receive: Receive) -> Message | None:
    """``receive()``'s message if it is available without waiting, else None.

    This is what Starlette gets from awaiting ``receive()`` inside an
    already-cancelled anyio scope: the call runs up to its first suspension, and
    is cancelled there.
    """
    steps = receive().__await__()
    try:
        pending = steps.send(None)
    except StopIteration as done:
        return cast("Message | None", done.value)
    cancel = getattr(pending, "cancel", None)
    if cancel is not None:
        cancel()
    try:
        steps.throw(asyncio.CancelledError())
    except StopIteration as done:  # it swallowed the cancellation and answered anyway
        return cast("Message | None", done.value)
    except asyncio.CancelledError:
        return None
    steps.close()  # pragma: no cover - it suspended again after being cancelled
    return None  # pragma: no cover


class Request(HTTPConnection[StateT]):
    """An HTTP request: the scope, plus the body read through ``receive``."""

    # Class-level defaults: instances only pay for an attribute once it changes.
    _form: FormData | None = None
    _stream_consumed = False
    _is_disconnected = False
    _early_message: Message | None = None  # a body message is_disconnected() received

    def __init__(self, scope: Scope, receive: Receive = empty_receive, send: Send = empty_send):
        assert scope["type"] == "http"
        self.scope = scope
        self._receive = receive
        self._send = send

    @property
    def method(self) -> str:
        return cast(str, self.scope["method"])

    @property
    def receive(self) -> Receive:
        return self._receive

    def _recorded_body(self) -> bytes | None:
        """The body, if this request or an earlier one on the same receive read it."""
        try:
            return cast(bytes, self._body)  # type: ignore[has-type]
        except AttributeError:
            pass
        recorded = self.scope.get(BODY_SCOPE_KEY)
        if recorded is not None and recorded[0] == _receive_token(self._receive):
            self._body: bytes = recorded[1]
            return self._body
        return None

    async def stream(self) -> AsyncGenerator[bytes, None]:
        """The body in chunks as they arrive (or all at once if already read), then ``b""``."""
        body = self._recorded_body()
        if body is not None:
            yield body
            yield b""
            return
        if self._stream_consumed:
            raise RuntimeError("Stream consumed")
        while not self._stream_consumed:
            message = self._early_message
            if message is None:
                message = await self._receive()
            else:
                self._early_message = None
            kind = message["type"]
            if kind == "http.request":
                chunk = message.get("body", b"")
                if not message.get("more_body", False):
                    self._stream_consumed = True
                if chunk:
                    yield chunk
            elif kind == "http.disconnect":
                self._is_disconnected = True
                raise ClientDisconnect()
        yield b""

    async def body(self) -> bytes:
        body = self._recorded_body()
        if body is not None:
            return body
        if type(self).stream is Request.stream:
            body = await self._read_body()
        else:  # a subclass may transform the stream: go through it
            chunks: list[bytes] = []
            async with aclosing(self.stream()) as stream:
                async for chunk in stream:
                    chunks.append(chunk)
            body = b"".join(chunks)
        self._body = body
        self.scope[BODY_SCOPE_KEY] = (_receive_token(self._receive), body)
        return body

    async def _read_body(self) -> bytes:
        """``stream()`` joined, without the async generator (most bodies are one message)."""
        if self._stream_consumed:
            raise RuntimeError("Stream consumed")
        body = b""
        chunks: list[bytes] | None = None
        receive = self._receive
        while True:
            message = self._early_message
            if message is None:
                message = await receive()
            else:
                self._early_message = None
            kind = message["type"]
            if kind == "http.request":
                chunk = message.get("body", b"")
                if chunk:
                    if chunks is not None:
                        chunks.append(chunk)
                    elif body:
                        chunks = [body, chunk]
                    else:
                        body = chunk
                if not message.get("more_body", False):
                    self._stream_consumed = True
                    return body if chunks is None else b"".join(chunks)
            elif kind == "http.disconnect":
                self._is_disconnected = True
                raise ClientDisconnect()

    async def json(self) -> Any:
        try:
            return self._json
        except AttributeError:
            self._json: Any = json_loads(await self.body())
            return self._json

    async def _get_form(
        self,
        *,
        max_files: int | float = 1000,
        max_fields: int | float = 1000,
        max_part_size: int = 1024 * 1024,
    ) -> FormData:
        if self._form is not None:
            # Parsed once per request; later calls get the same data whatever their limits.
            return self._form
        content_type, _ = parse_options_header(self.headers.get("Content-Type"))
        if content_type == b"multipart/form-data":
            multipart = True
        elif content_type == b"application/x-www-form-urlencoded":
            multipart = False
        else:
            self._form = FormData()
            return self._form
        try:
            async with aclosing(self.stream()) as stream:
                parser: FormParser | MultiPartParser
                if multipart:
                    parser = MultiPartParser(
                        self.headers,
                        stream,
                        max_files=max_files,
                        max_fields=max_fields,
                        max_part_size=max_part_size,
                    )
                else:
                    parser = FormParser(
                        self.headers, stream, max_fields=max_fields, max_part_size=max_part_size
                    )
                self._form = await parser.parse()
        except MultiPartException as exc:
            if "app" in self.scope:  # inside an app: a client error, answered with a 400
                raise HTTPException(status_code=400, detail=exc.message) from exc
            raise
        return self._form

    def form(
        self,
        *,
        max_files: int | float = 1000,
        max_fields: int | float = 1000,
        max_part_size: int = 1024 * 1024,
    ) -> AwaitableOrContextManager[FormData]:
        """The parsed form; await it, or ``async with`` it to close its files afterwards."""
        return AwaitableOrContextManagerWrapper(
            self._get_form(max_files=max_files, max_fields=max_fields, max_part_size=max_part_size)
        )

    async def close(self) -> None:
        if self._form is not None:
            await self._form.close()

    async def is_disconnected(self) -> bool:
        """Whether the client has gone; never waits for a message that is not there yet.

        A body message received while checking is kept for ``stream()``/``body()``
        (Starlette drops it, which leaves a later ``body()`` waiting forever).
        """
        early = self._early_message
        # Once the kept message ends the body, only http.disconnect can follow: keep
        # polling for it, or an endpoint that never reads its (empty) body never sees it.
        if not self._is_disconnected and (early is None or not early.get("more_body", False)):
            message = _receive_nowait(self._receive)
            if message is not None:
                kind = message.get("type")
                if kind == "http.disconnect":
                    self._is_disconnected = True
                elif kind == "http.request" and not self._stream_consumed and early is None:
                    self._early_message = message
        return self._is_disconnected

    async def send_push_promise(self, path: str) -> None:
        if "http.response.push" in self.scope.get("extensions", {}):
            raw_headers = [
                (name.encode("latin-1"), value.encode("latin-1"))
                for name in SERVER_PUSH_HEADERS_TO_COPY
                for value in self.headers.getlist(name)
            ]
            await self._send({"type": "http.response.push", "path": path, "headers": raw_headers})

    async def send_early_hints(self, link: str, /, *additional_links: str) -> None:
        if "http.response.early_hint" in self.scope.get("extensions", {}):
            links = [value.encode("latin-1") for value in (link, *additional_links)]
            await self._send({"type": "http.response.early_hint", "links": links})
