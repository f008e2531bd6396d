"""``SessionMiddleware``: ``request.session`` kept in a signed cookie.

The session is a JSON object, base64-encoded and signed with a timestamp by itsdangerous
(``TimestampSigner``), so the client can read it but not forge or replay it past ``max_age``.
A cookie that fails the signature or has expired is treated as no session: the request gets
an empty one and nothing is raised.

The cookie is only written when the session was changed: ``Set-Cookie`` with the new value if
anything is left in it, or an expired empty cookie when a session that came in was cleared.
A session that was read (or changed) adds ``Vary: Cookie``, so caches keep such responses apart.

itsdangerous is an optional dependency (``pip install 'aster[sessions]'``), imported when the
middleware is constructed, so an app without sessions never needs it.
"""

from __future__ import annotations

import json
from base64 import b64decode, b64encode
from typing import Any, Literal

from ..datastructures import MutableHeaders, Secret
from ..requests import HTTPConnection
from ..types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["Session", "SessionMiddleware"]

_EXPIRED = "expires=Thu, 01 Jan 1970 00:00:00 GMT; "


def _import_itsdangerous() -> Any:
    try:
        import itsdangerous
    except ModuleNotFoundError:  # pragma: no cover - exercised only without the extra
        raise RuntimeError(
            "SessionMiddleware needs itsdangerous: pip install 'aster[sessions]'"
        ) from None
    return itsdangerous


class Session(dict[str, Any]):
    """A dict that remembers whether it was read (``accessed``) or changed (``modified``)."""

    accessed: bool = False
    modified: bool = False

    def mark_accessed(self) -> None:
        self.accessed = True

    def mark_modified(self) -> None:
        self.accessed = True
        self.modified = True

    def __setitem__(self, key: str, value: Any) -> None:
        self.mark_modified()
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self.mark_modified()
        super().__delitem__(key)

    def __ior__(self, other: Any, /) -> Session:  # type: ignore[override,misc]
        self.mark_modified()
        return super().__ior__(other)

    def clear(self) -> None:
        self.mark_modified()
        super().clear()

    def pop(self, key: str, *default: Any) -> Any:
        if key in self:
            self.mark_modified()
        return super().pop(key, *default)

    def popitem(self) -> tuple[str, Any]:
        item = super().popitem()
        self.mark_modified()
        return item

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self.mark_modified()
        return super().setdefault(key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        self.mark_modified()
        super().update(*args, **kwargs)


class SessionMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        secret_key: str | Secret,
        session_cookie: str = "session",
        max_age: int | None = 14 * 24 * 60 * 60,  # 14 days, in seconds
        path: str = "/",
        same_site: Literal["lax", "strict", "none"] = "lax",
        https_only: bool = False,
        domain: str | None = None,
        partitioned: bool = False,
    ) -> None:
        itsdangerous = _import_itsdangerous()
        self.app = app
        self.signer = itsdangerous.TimestampSigner(str(secret_key))
        self._bad_signature: type[Exception] = itsdangerous.BadSignature
        self.session_cookie = session_cookie
        self.max_age = max_age
        self.path = path
        flags = "httponly; samesite=" + same_site
        if https_only:  # browsers then send the cookie over HTTPS only
            flags += "; secure"
        if domain is not None:
            flags += f"; domain={domain}"
        if partitioned:
            flags += "; partitioned"
        self.security_flags = flags

    def _load(self, connection: HTTPConnection) -> Session | None:
        """The session the request's cookie carries, or None if it has none that is valid."""
        cookie = connection.cookies.get(self.session_cookie)
        if cookie is None:
            return None
        try:
            payload = self.signer.unsign(cookie.encode("utf-8"), max_age=self.max_age)
        except self._bad_signature:  # forged, or expired (SignatureExpired is a subclass)
            return None
        return Session(json.loads(b64decode(payload)))

    def _cookie(self, value: str, lifetime: str) -> str:
        return f"{self.session_cookie}={value}; path={self.path}; {lifetime}{self.security_flags}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        loaded = self._load(HTTPConnection(scope))
        came_with_session = loaded is not None
        scope["session"] = loaded if loaded is not None else Session()

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                session: Session = scope["session"]
                message.setdefault("headers", [])
                headers = MutableHeaders(scope=message)
                if session.accessed:
                    headers.add_vary_header("Cookie")
                if session.modified and session:
                    data = self.signer.sign(b64encode(json.dumps(session).encode("utf-8")))
                    max_age = "" if self.max_age is None else f"Max-Age={self.max_age}; "
                    headers.append("Set-Cookie", self._cookie(data.decode("utf-8"), max_age))
                elif session.modified and came_with_session:
                    headers.append("Set-Cookie", self._cookie("null", _EXPIRED))
            await send(message)

        await self.app(scope, receive, send_with_cookie)
