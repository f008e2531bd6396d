"""``HTTPSRedirectMiddleware``: send ``http``/``ws`` requests to ``https``/``wss``.

The redirect is a 307, so the method and body are kept.  An explicit port 80 or
443 is dropped (the secure scheme's default applies); any other port is kept.
Without a usable Host (nor a server address to fall back on) there is nowhere
to redirect to: 400 ``Invalid host header``.
"""

from __future__ import annotations

from .._response import PlainTextResponse, RedirectResponse, Response
from ..datastructures import URL
from ..types import ASGIApp, Receive, Scope, Send

__all__ = ["HTTPSRedirectMiddleware"]

_SECURE = {"http": "https", "ws": "wss"}


class HTTPSRedirectMiddleware:
    """Redirect every plain-text request to the same URL over TLS."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if (kind != "http" and kind != "websocket") or scope["scheme"] not in _SECURE:
            await self.app(scope, receive, send)
            return
        url = URL(scope=scope)
        response: Response
        netloc = url.netloc
        if not netloc:
            response = PlainTextResponse("Invalid host header", status_code=400)
        else:
            if url.port in (80, 443):
                # Drop the port, keeping an IPv6 literal's brackets.
                netloc = netloc.rpartition(":")[0].lower()
            secure = url.replace(scheme=_SECURE[url.scheme], netloc=netloc)
            response = RedirectResponse(secure, status_code=307)
        await response(scope, receive, send)
