"""``TrustedHostMiddleware``: refuse requests whose ``Host`` is not one of ours.

Guards against Host header attacks (poisoned absolute URLs in password-reset
mails, cache poisoning): anything built from ``request.url`` trusts the Host.
Patterns are exact names or ``*.example.com`` (any subdomain, not the bare
domain); ``"*"`` allows everything and costs nothing per request.  A missing,
malformed or unknown Host gets 400 ``Invalid host header``, except that with
``www_redirect`` a request for ``example.com`` is redirected (307) to
``www.example.com`` when only the latter is allowed.
"""

from __future__ import annotations

from collections.abc import Sequence

from .._response import PlainTextResponse, RedirectResponse, Response
from .._url import host_match
from ..datastructures import URL
from ..types import ASGIApp, Receive, Scope, Send

__all__ = ["ENFORCE_DOMAIN_WILDCARD", "TrustedHostMiddleware"]

ENFORCE_DOMAIN_WILDCARD = "Domain wildcard patterns must be like '*.example.com'."


def _host_name(value: bytes | None) -> str | None:
    """The lowercased host of a Host header value (IPv6 keeps its brackets), None if invalid."""
    if value is None:
        return None
    match = host_match(value.decode("latin-1"))
    if match is None:
        return None
    return match["host"].lower()  # type: ignore[no-any-return]


class TrustedHostMiddleware:
    """Only let requests for ``allowed_hosts`` through (HTTP and WebSocket)."""

    def __init__(
        self,
        app: ASGIApp,
        allowed_hosts: Sequence[str] | None = None,
        www_redirect: bool = True,
    ) -> None:
        if allowed_hosts is None:
            allowed_hosts = ["*"]
        for pattern in allowed_hosts:
            assert "*" not in pattern[1:], ENFORCE_DOMAIN_WILDCARD
            if pattern.startswith("*") and pattern != "*":
                assert pattern.startswith("*."), ENFORCE_DOMAIN_WILDCARD
        self.app = app
        self.allowed_hosts = [pattern.lower() for pattern in allowed_hosts]
        self.allow_any = "*" in allowed_hosts
        self.www_redirect = www_redirect
        # Split once: exact names for a set lookup, "*.x" as ".x" suffixes.
        self._exact = frozenset(p for p in self.allowed_hosts if not p.startswith("*"))
        self._suffixes = tuple(p[1:] for p in self.allowed_hosts if p.startswith("*."))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if self.allow_any or (kind != "http" and kind != "websocket"):
            await self.app(scope, receive, send)
            return
        value = None
        for name, header in scope["headers"]:
            if name == b"host":
                value = header
                break
        host = _host_name(value)
        if host is not None and (host in self._exact or host.endswith(self._suffixes)):
            await self.app(scope, receive, send)
            return
        response: Response
        if host is not None and self.www_redirect and "www." + host in self._exact:
            url = URL(scope=scope)
            response = RedirectResponse(url=str(url.replace(netloc="www." + url.netloc)))
        else:
            response = PlainTextResponse("Invalid host header", status_code=400)
        await response(scope, receive, send)
