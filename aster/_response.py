"""Starlette's responses with a complete body: ``Response``, HTML, plain text, JSON, redirects.

A plain ``Response``/``JSONResponse`` is built on every request, so construction
builds ``raw_headers`` directly (``headers`` is a ``MutableHeaders`` made only
when asked for) and ``JSONResponse`` renders JSON-native content with
``pydantic_core.to_json``, which is several times faster than ``json.dumps``.
That is used only for content whose output is byte-identical to Starlette's
``json.dumps(..., ensure_ascii=False, allow_nan=False, separators=(",", ":"))``;
everything else (floats printed with an exponent, NaN, non-str keys, other
types, subclasses, very deep or huge values) goes through the standard library,
errors included.
"""

from __future__ import annotations

import http.cookies
import json
import sys
from collections.abc import Mapping
from datetime import datetime
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from pydantic_core import to_json

from .datastructures import URL, MutableHeaders
from .types import Message, Receive, Scope, Send

if TYPE_CHECKING:
    from .background import BackgroundTask

__all__ = [
    "HTMLResponse",
    "JSONResponse",
    "PlainTextResponse",
    "RedirectResponse",
    "Response",
    "json_response_from_bytes",
    "plain_json",
    "render_json",
]

_content_types: dict[tuple[str, str], bytes] = {}


def _content_type(media_type: str, charset: str) -> bytes:
    """The encoded content-type header; text types get a charset, as Starlette adds."""
    key = (media_type, charset)
    value = _content_types.get(key)
    if value is None:
        if media_type.startswith("text/") and "charset=" not in media_type.lower():
            media_type += "; charset=" + charset
        value = media_type.encode("latin-1")
        if len(_content_types) < 512:
            _content_types[key] = value
    return value


class Response:
    """A response with a complete body, sent as one ``http.response.body`` message."""

    media_type: str | None = None
    charset = "utf-8"

    def __init__(
        self,
        content: Any = None,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        self.status_code = status_code
        if media_type is not None:
            self.media_type = media_type
        self.background = background
        self.body = self.render(content)
        self.init_headers(headers)

    def render(self, content: Any) -> bytes | memoryview:
        if content is None:
            return b""
        if isinstance(content, bytes):
            return content
        if isinstance(content, memoryview):
            return content.cast("B") if content.c_contiguous else content.tobytes()
        return content.encode(self.charset)  # type: ignore[no-any-return]

    def init_headers(self, headers: Mapping[str, str] | None = None) -> None:
        """Build ``raw_headers``, adding content-length and content-type unless given."""
        if headers is None:  # the common case, kept short
            raw: list[tuple[bytes, bytes]] = []
            body = getattr(self, "body", None)
            if body is not None:
                status = self.status_code
                if status >= 200 and status != 204 and status != 304:
                    raw.append((b"content-length", b"%d" % len(body)))
            media_type = self.media_type
            if media_type is not None:
                content_type = _content_types.get((media_type, self.charset))
                if content_type is None:
                    content_type = _content_type(media_type, self.charset)
                raw.append((b"content-type", content_type))
            self.raw_headers = raw
            return
        raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        names = {name for name, _ in raw}
        add_length = b"content-length" not in names
        add_type = b"content-type" not in names
        body = getattr(self, "body", None)
        if body is not None and add_length:
            status = self.status_code
            if status >= 200 and status != 204 and status != 304:
                raw.append((b"content-length", b"%d" % len(body)))
        media_type = self.media_type
        if media_type is not None and add_type:
            raw.append((b"content-type", _content_type(media_type, self.charset)))
        self.raw_headers = raw

    @property
    def headers(self) -> MutableHeaders:
        """A case-insensitive view that edits ``raw_headers`` in place."""
        headers: MutableHeaders | None = self.__dict__.get("_headers")
        if headers is None or headers.raw is not self.raw_headers:
            headers = self._headers = MutableHeaders(raw=self.raw_headers)
        return headers

    def set_cookie(
        self,
        key: str,
        value: str = "",
        max_age: int | None = None,
        expires: datetime | str | int | None = None,
        path: str | None = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = False,
        samesite: Literal["lax", "strict", "none"] | None = "lax",
        partitioned: bool = False,
    ) -> None:
        cookie: http.cookies.BaseCookie[str] = http.cookies.SimpleCookie()
        cookie[key] = value
        morsel = cookie[key]
        if max_age is not None:
            morsel["max-age"] = max_age  # type: ignore[assignment]
        if expires is not None:
            if isinstance(expires, datetime):
                morsel["expires"] = format_datetime(expires, usegmt=True)
            else:
                morsel["expires"] = expires  # type: ignore[assignment]
        if path is not None:
            morsel["path"] = path
        if domain is not None:
            morsel["domain"] = domain
        if secure:
            morsel["secure"] = True  # type: ignore[assignment]
        if httponly:
            morsel["httponly"] = True  # type: ignore[assignment]
        if samesite is not None:
            assert samesite.lower() in (
                "strict",
                "lax",
                "none",
            ), "samesite must be either 'strict', 'lax' or 'none'"
            morsel["samesite"] = samesite
        if partitioned:
            if sys.version_info < (3, 14):
                raise ValueError("Partitioned cookies are only supported in Python 3.14 and above.")
            morsel["partitioned"] = True  # type: ignore[assignment]  # pragma: no cover
        output = cookie.output(header="").strip()
        self.raw_headers.append((b"set-cookie", output.encode("latin-1")))

    def delete_cookie(
        self,
        key: str,
        path: str = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = False,
        samesite: Literal["lax", "strict", "none"] | None = "lax",
        partitioned: bool = False,
    ) -> None:
        self.set_cookie(
            key,
            max_age=0,
            expires=0,
            path=path,
            domain=domain,
            secure=secure,
            httponly=httponly,
            samesite=samesite,
            partitioned=partitioned,
        )

    def _wrap_websocket_denial_send(self, send: Send) -> Send:
        """Send as a WebSocket denial response (the ``websocket.http.response.*`` messages)."""

        async def denial_send(message: Message) -> None:
            kind = message["type"]
            if kind == "http.response.start" or kind == "http.response.body":
                message = {**message, "type": "websocket." + kind}
            await send(message)

        return denial_send

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            send = self._wrap_websocket_denial_send(send)
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        await send({"type": "http.response.body", "body": self.body})
        if self.background is not None:
            await self.background()


class HTMLResponse(Response):
    media_type = "text/html"


class PlainTextResponse(Response):
    media_type = "text/plain"


_json_encoder = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
_INT_BOUND = 1 << 64


def _to_json_agrees(value: Any, depth: int) -> bool:
    """Whether ``to_json(value)`` is byte-identical to Starlette's ``json.dumps`` output.

    Exact JSON-native types only.  Floats must print without an exponent
    (``json`` writes ``1e-05``, pydantic ``0.00001``), which also rules out NaN and
    infinities; ints stay far below the int-to-str digit limit ``json`` enforces.
    """
    cls = type(value)
    if cls is dict:
        if depth > 32:
            return False
        for key, item in value.items():
            if type(key) is not str:
                return False
            cls = type(item)
            if cls is str or cls is bool or item is None:
                continue
            if cls is int:
                if -_INT_BOUND < item < _INT_BOUND:
                    continue
                return False
            if not _to_json_agrees(item, depth + 1):
                return False
        return True
    if cls is list or cls is tuple:
        if depth > 32:
            return False
        for item in value:
            cls = type(item)
            if cls is str or cls is bool or item is None:
                continue
            if cls is int:
                if -_INT_BOUND < item < _INT_BOUND:
                    continue
                return False
            if not _to_json_agrees(item, depth + 1):
                return False
        return True
    if cls is str or cls is bool or value is None:
        return True
    if cls is int:
        return -_INT_BOUND < value < _INT_BOUND
    if cls is float:
        return 1e-4 <= abs(value) < 1e16 or value == 0.0
    return False


def render_json(content: Any) -> bytes:
    """Starlette's JSON rendering, byte for byte, using pydantic-core where that agrees."""
    if _to_json_agrees(content, 0):
        try:
            return to_json(content)
        except Exception:  # e.g. a lone surrogate: let json raise its own error below
            pass
    return _json_encoder.encode(content).encode("utf-8")


def plain_json(content: Any) -> bytes | None:
    """``content`` rendered by pydantic-core if it is plain JSON data, else None.

    Plain data (exact str/int/bool/None/float without exponent, in dicts with str
    keys and lists) comes out of ``jsonable_encoder`` unchanged, so the framework
    can skip the encoder and render in one pass when this succeeds.
    """
    if _to_json_agrees(content, 0):
        try:
            return to_json(content)
        except Exception:  # e.g. a lone surrogate: the slow path raises json's error
            return None
    return None


def json_response_from_bytes(
    body: bytes, status_code: int = 200, background: BackgroundTask | None = None
) -> Response:
    """A ``application/json`` response around bytes rendered elsewhere (no re-encoding)."""
    response = Response.__new__(Response)
    response.status_code = status_code
    response.background = background
    response.body = body
    response.media_type = "application/json"
    if status_code >= 200 and status_code != 204 and status_code != 304:
        response.raw_headers = [
            (b"content-length", b"%d" % len(body)),
            (b"content-type", b"application/json"),
        ]
    else:
        response.raw_headers = [(b"content-type", b"application/json")]
    return response


class JSONResponse(Response):
    media_type = "application/json"

    def __init__(
        self,
        content: Any,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        self.status_code = status_code
        if media_type is not None:
            self.media_type = media_type
        self.background = background
        self.body = self.render(content)
        self.init_headers(headers)

    def render(self, content: Any) -> bytes:
        return render_json(content)


class RedirectResponse(Response):
    def __init__(
        self,
        url: str | URL,
        status_code: int = 307,
        headers: Mapping[str, str] | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        super().__init__(
            content=b"", status_code=status_code, headers=headers, background=background
        )
        self.headers["location"] = quote(str(url), safe=":/%#?=@[]!$&'()*+,;")
