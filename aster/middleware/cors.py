"""``CORSMiddleware``: answers CORS preflights and adds CORS headers to responses.

Starlette's rules, exactly (a frontend's CORS handling depends on every detail):

* A preflight is an ``OPTIONS`` request with both ``Origin`` and
  ``Access-Control-Request-Method``.  It never reaches the app: it is answered
  200 ``OK``, or 400 ``Disallowed CORS <what>`` naming every check that failed
  (origin, method, headers, private-network).
* Any other request goes to the app; if it has an ``Origin``, the response gets
  the configured CORS headers, and ``Access-Control-Allow-Origin`` echoes an
  allowed origin when ``*`` cannot be used (specific origins, or credentials).
  ``Vary`` always gains ``Origin``, since the headers depend on it.

Everything that does not depend on the request is encoded once, at init.  If
the app raises before responding, the same headers are registered for the
500 that ``ServerErrorMiddleware`` (outside this middleware) will send, so a
browser can read the error instead of reporting a CORS failure.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from functools import partial

from .._response import PlainTextResponse, Response
from ..datastructures import Headers, set_raw_header
from ..types import ASGIApp, Message, Receive, Scope, Send
from .errors import ERROR_RESPONSE_HOOKS_KEY

__all__ = ["ALL_METHODS", "SAFELISTED_HEADERS", "CORSMiddleware"]

ALL_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "QUERY")
#: Headers a browser may always send; they are listed in every preflight answer.
SAFELISTED_HEADERS = {"Accept", "Accept-Language", "Content-Language", "Content-Type"}

_PREFLIGHT_VARY = (
    "Origin, Access-Control-Request-Method, Access-Control-Request-Headers, "
    "Access-Control-Request-Private-Network"
)

RawHeaders = list[tuple[bytes, bytes]]


def _add_vary(raw: RawHeaders, token: bytes) -> None:
    """Append ``token`` to ``Vary``, merging any existing Vary headers into one."""
    values = [value for name, value in raw if name == b"vary"]
    values.append(token)
    set_raw_header(raw, b"vary", b", ".join(values))


def _encode(headers: dict[str, str]) -> RawHeaders:
    return [
        (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()
    ]


class CORSMiddleware:
    """Cross-origin resource sharing, with Starlette's parameters and defaults."""

    def __init__(
        self,
        app: ASGIApp,
        allow_origins: Collection[str] = (),
        allow_methods: Collection[str] = ("GET",),
        allow_headers: Collection[str] = (),
        allow_credentials: bool = False,
        allow_origin_regex: str | None = None,
        allow_private_network: bool = False,
        expose_headers: Collection[str] = (),
        max_age: int = 600,
    ) -> None:
        if "*" in allow_methods:
            allow_methods = ALL_METHODS
        allow_all_origins = "*" in allow_origins
        allow_all_headers = "*" in allow_headers
        # "*" is not allowed with credentials: the requesting origin is echoed instead.
        explicit_origin = not allow_all_origins or allow_credentials

        simple_headers: dict[str, str] = {}
        if allow_all_origins:
            simple_headers["Access-Control-Allow-Origin"] = "*"
        if allow_credentials:
            simple_headers["Access-Control-Allow-Credentials"] = "true"
        if expose_headers:
            simple_headers["Access-Control-Expose-Headers"] = ", ".join(expose_headers)

        preflight_headers: dict[str, str] = {"Vary": _PREFLIGHT_VARY}
        if not explicit_origin:
            preflight_headers["Access-Control-Allow-Origin"] = "*"
        preflight_headers["Access-Control-Allow-Methods"] = ", ".join(allow_methods)
        preflight_headers["Access-Control-Max-Age"] = str(max_age)
        listed_headers = sorted(SAFELISTED_HEADERS | set(allow_headers))
        if not allow_all_headers:
            preflight_headers["Access-Control-Allow-Headers"] = ", ".join(listed_headers)
        if allow_credentials:
            preflight_headers["Access-Control-Allow-Credentials"] = "true"

        self.app = app
        self.allow_origins = allow_origins
        self.allow_methods = allow_methods
        self.allow_headers = [header.lower() for header in listed_headers]
        self.allow_all_origins = allow_all_origins
        self.allow_all_headers = allow_all_headers
        self.allow_credentials = allow_credentials
        self.preflight_explicit_allow_origin = explicit_origin
        self.allow_origin_regex = (
            None if allow_origin_regex is None else re.compile(allow_origin_regex)
        )
        self.allow_private_network = allow_private_network
        self.simple_headers = simple_headers
        self.preflight_headers = preflight_headers

        self._simple_raw = _encode(simple_headers)
        self._preflight_raw = _encode(preflight_headers)
        self._origin_set = frozenset(allow_origins)
        self._header_set = frozenset(self.allow_headers)
        # Whether an Origin must be checked (and echoed) on a simple request.
        self._echo_any_origin = allow_all_origins and allow_credentials

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        origin: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"origin":
                origin = value
                break
        if origin is not None and scope["method"] == "OPTIONS":
            headers = Headers(scope=scope)
            if "access-control-request-method" in headers:
                await self.preflight_response(request_headers=headers)(scope, receive, send)
                return
        cors_send = _CORSSend(self, send, origin)
        try:
            await self.app(scope, receive, cors_send)
        except Exception:
            if not cors_send.started:
                # ServerErrorMiddleware answers this one, from outside: give it our headers.
                scope.setdefault(ERROR_RESPONSE_HOOKS_KEY, []).append(
                    partial(self._decorated, origin=origin)
                )
            raise

    def is_allowed_origin(self, origin: str) -> bool:
        if self.allow_all_origins:
            return True
        regex = self.allow_origin_regex
        if regex is not None and regex.fullmatch(origin):
            return True
        return origin in self._origin_set

    def preflight_response(self, request_headers: Headers) -> Response:
        """The answer to a preflight: 200 ``OK``, or 400 listing what is not allowed."""
        origin = request_headers["origin"]
        method = request_headers["access-control-request-method"]
        requested_headers = request_headers.get("access-control-request-headers")
        private_network = request_headers.get("access-control-request-private-network")

        raw = list(self._preflight_raw)
        failures: list[str] = []
        if self.is_allowed_origin(origin=origin):
            if self.preflight_explicit_allow_origin:
                raw.append((b"access-control-allow-origin", origin.encode("latin-1")))
        else:
            failures.append("origin")
        if method not in self.allow_methods:
            failures.append("method")
        if requested_headers is not None:
            if self.allow_all_headers:
                # Nothing to list for "*": mirror what was asked for.
                raw.append((b"access-control-allow-headers", requested_headers.encode("latin-1")))
            else:
                allowed = self._header_set
                if any(h.strip() not in allowed for h in requested_headers.lower().split(",")):
                    failures.append("headers")
        if private_network is not None:
            if self.allow_private_network:
                raw.append((b"access-control-allow-private-network", b"true"))
            else:
                failures.append("private-network")

        if failures:
            response = PlainTextResponse("Disallowed CORS " + ", ".join(failures), status_code=400)
        else:
            response = PlainTextResponse("OK", status_code=200)
        response.raw_headers[:0] = raw
        return response

    def _decorated(self, message: Message, origin: bytes | None) -> Message:
        """A copy of the start ``message`` with the CORS headers for ``origin`` added."""
        raw = list(message.get("headers", ()))
        if origin is not None:
            for name, value in self._simple_raw:
                set_raw_header(raw, name, value)
            if self._echo_any_origin or (
                not self.allow_all_origins and self.is_allowed_origin(origin.decode("latin-1"))
            ):
                set_raw_header(raw, b"access-control-allow-origin", origin)
        _add_vary(raw, b"Origin")
        return {**message, "headers": raw}


class _CORSSend:
    """The ``send`` given to the app for a simple request: decorates the start message."""

    __slots__ = ("middleware", "send", "origin", "started")

    def __init__(self, middleware: CORSMiddleware, send: Send, origin: bytes | None) -> None:
        self.middleware = middleware
        self.send = send
        self.origin = origin
        self.started = False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
            message = self.middleware._decorated(message, self.origin)
        await self.send(message)
