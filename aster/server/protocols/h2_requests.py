"""HTTP/2 request heads to ASGI scopes, and HTTP/2 response heads from ASGI messages.

The engine hands over a request's header list as decoded, unvalidated.  One
pass over it here checks what RFC 9113 sections 8.2 and 8.3 require and
builds the scope: a request that breaks a rule is *malformed*, a stream
error of type PROTOCOL_ERROR (section 8.1.1), so :class:`Malformed` resets
that stream and the connection's other streams carry on.

Checked: field names are lower-case tokens; values carry no NUL, CR or LF and
no leading or trailing whitespace; no connection-specific field
(``connection``, ``keep-alive``, ``proxy-connection``, ``transfer-encoding``,
``upgrade``) and ``te`` only as ``trailers``; the request pseudo-headers
appear once each, before every regular field, and only those RFC 9113 (and
RFC 8441's ``:protocol``) define; ``:method``, ``:scheme`` and a non-empty
``:path`` are present except for a plain CONNECT; ``host``, if also sent,
names what ``:authority`` does.

What the ASGI app sees: ``http_version`` "2", the regular fields with
``:authority`` as a leading ``host``, cookie fields joined into one
(section 8.2.3), ``scheme`` from the connection and ``server`` from
``:authority``.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

from .h1_framing import _INVALID_VALUE, NO_BODY_STATUSES

_NAME_OK = re.compile(rb"[!#$%&'*+\-.^_`|~0-9a-z]+\Z").match
_BAD_VALUES = re.compile(rb"[\x00\r]|(?:\A|\n)[ \t]|[ \t](?:\n|\Z)").search
_CONNECTION_SPECIFIC = frozenset(
    (b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade")
)
_PSEUDO = frozenset((b":method", b":scheme", b":authority", b":path", b":protocol"))
_METHODS = {m.encode(): m for m in ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")}
#: Request fields that need more than passing on; checked once the loop has met one.
_NOTED = frozenset(
    (
        b"cookie",
        b"content-length",
        b"te",
        b"host",
        b"expect",
        b"forwarded",
        b"x-forwarded-for",
        b"x-forwarded-proto",
        b"x-forwarded-host",
    )
)
#: Names already validated (they repeat across requests): skips the regex.
_valid_names: set[bytes] = set()
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: ``scope["server"]`` per ``:authority`` (one server sees few): parsed once each.
_servers: dict[bytes, Any] = {}

#: Response fields an HTTP/2 message must not carry (RFC 9113 section 8.2.2); dropped.
_DROPPED_RESPONSE = _CONNECTION_SPECIFIC | {b"te"}
_NOT_CACHED = _NOTED | _DROPPED_RESPONSE
_STATUS = {status: str(status).encode() for status in range(100, 600)}


class Malformed(Exception):
    """The request breaks RFC 9113's rules: reset its stream with PROTOCOL_ERROR."""


class Request:
    """A validated request head: the scope and what the connection needs from the fields."""

    __slots__ = ("scope", "content_length", "protocol", "forwarded", "expect_continue")

    def __init__(self) -> None:
        self.content_length: int | None = None
        self.protocol: bytes | None = None
        self.forwarded = False
        self.expect_continue = False
        self.scope: dict[str, Any] = {}


def parse_request(
    fields: list[tuple[bytes, bytes]], base: dict[str, Any], limit_fields: int
) -> Request:
    """Validate ``fields`` and build the scope on a copy of ``base`` (the connection's part).

    Raises :class:`Malformed`, or ``ValueError`` with "431" when there are more
    than ``limit_fields`` regular fields (answered as an HTTP response).
    """
    pseudo: dict[bytes, bytes] = {}
    headers: list[tuple[bytes, bytes]] = []
    values = []
    noted = False
    valid = _valid_names
    for name, value in fields:
        values.append(value)
        if name not in valid:
            if name[:1] == b":":
                if headers or name not in _PSEUDO:
                    raise Malformed(f"pseudo-header {name!r} misplaced or unknown")
                if name in pseudo:
                    raise Malformed(f"duplicate {name!r}")
                pseudo[name] = value
                continue
            if not _NAME_OK(name):
                raise Malformed(f"invalid field name {name!r}")
            if name in _CONNECTION_SPECIFIC:
                raise Malformed(f"connection-specific field {name!r}")
            if name in _NOTED:
                noted = True
            elif len(valid) < 4096:
                valid.add(name)
        headers.append((name, value))
    # Every value at once: no NUL, CR or LF, no whitespace at either end (RFC 9113 8.2.1).
    joined = b"\n".join(values)
    if joined.count(b"\n") != len(values) - 1 or _BAD_VALUES(joined):
        raise Malformed("invalid field value")
    method = pseudo.get(b":method")
    scheme = pseudo.get(b":scheme")
    authority = pseudo.get(b":authority")
    path = pseudo.get(b":path")
    protocol = pseudo.get(b":protocol")
    if method is None:
        raise Malformed("missing :method")
    request = Request()
    if method == b"CONNECT" and protocol is None:
        if scheme is not None or path is not None or authority is None:
            raise Malformed("CONNECT needs :authority and no :scheme or :path")
        # A tunnel: not something an ASGI app can serve.  Answered 501 by the caller.
        path = b"/"
    elif protocol is not None and method != b"CONNECT":
        raise Malformed(":protocol on a request that is not CONNECT")
    elif scheme is None or not path or (protocol is not None and authority is None):
        raise Malformed("missing :scheme or :path")
    if len(headers) > limit_fields:
        raise ValueError("431")
    request.protocol = protocol
    if noted:
        headers = _special_fields(request, headers, authority)
    if authority is not None:
        headers.insert(0, (b"host", authority))
    scope = request.scope = base.copy()
    scope["method"] = _METHODS.get(method) or method.decode("ascii", "replace")
    if path[0] == 47:  # "/"
        raw_path, _, query = path.partition(b"?")
        raw_path, _, _ = raw_path.partition(b"#")
    elif path == b"*" and method == b"OPTIONS":
        raw_path, query = path, b""
    else:
        raise Malformed("the :path is neither absolute nor '*'")
    text = raw_path.decode("latin-1")
    scope["path"] = unquote(text) if "%" in text else text
    scope["raw_path"] = raw_path
    scope["query_string"] = query
    scope["headers"] = headers
    if authority:
        server = _servers.get(authority)
        if server is None:
            server = _server_from(authority, scope["scheme"]) or scope["server"]
            if len(_servers) < 1024:
                _servers[authority] = server
        scope["server"] = server
    root = scope["root_path"]
    if root:
        scope["path"] = root + scope["path"]
        scope["raw_path"] = root.encode("utf-8") + raw_path
    return request


def _special_fields(
    request: Request, headers: list[tuple[bytes, bytes]], authority: bytes | None
) -> list[tuple[bytes, bytes]]:
    """The rare fields: cookies to join, content-length, te, host, expect, proxy headers."""
    cookies = []
    kept = []
    for name, value in headers:
        if name == b"cookie":
            cookies.append(value)
            continue
        if name == b"content-length":
            if not value.isdigit() or (
                request.content_length is not None and int(value) != request.content_length
            ):
                raise Malformed(f"invalid content-length {value!r}")
            request.content_length = int(value)
        elif name == b"te":
            if value.lower() != b"trailers":
                raise Malformed("te other than 'trailers'")
        elif name == b"host":
            if authority is not None:
                if value != authority:
                    raise Malformed("host differs from :authority")
                continue  # the :authority one leads the list
        elif name == b"expect":
            request.expect_continue = value.lower() == b"100-continue"
        else:
            request.forwarded = True
        kept.append((name, value))
    if cookies:
        kept.append((b"cookie", b"; ".join(cookies)))
    return kept


def _server_from(authority: bytes, scheme: str) -> tuple[str, int] | None:
    """``(host, port)`` from ``:authority`` (``[::1]:8000``, ``example.com``); None if garbage."""
    text = authority.decode("latin-1")
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep:
            return None
        port = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port = text.rpartition(":") if ":" in text else (text, "", "")
    if port and not port.isdigit():
        return None
    if not host or "@" in host:
        return None
    default = _DEFAULT_PORTS.get("https" if scheme in ("https", "wss") else "http", 80)
    return host, int(port) if port else default


def response_fields(
    status: int, headers: Any, default_fields: list[tuple[bytes, bytes]]
) -> tuple[list[tuple[bytes, bytes]], int | None]:
    """The HTTP/2 field list for a response head, and its content-length if the app gave one.

    Names are lower-cased (HTTP/2 requires it), values checked as for HTTP/1.1,
    and the fields that only mean something to HTTP/1.1 dropped.  Raises
    ``RuntimeError`` before anything is sent, so a 500 can still go instead.
    """
    code = _STATUS.get(status) if type(status) is int else None
    if code is None or status < 200:
        raise RuntimeError(f"ASGI: invalid response status {status!r}")
    fields = [(b":status", code), *default_fields]
    length = None
    for name, value in headers:
        if type(name) is not bytes or type(value) is not bytes:
            raise RuntimeError(f"invalid response header {name!r}: {value!r}")
        lowered = name.lower()
        if lowered not in _valid_names:
            if not _NAME_OK(lowered):
                raise RuntimeError(f"invalid response header name {name!r}")
            if len(_valid_names) < 4096 and lowered not in _NOT_CACHED:
                _valid_names.add(lowered)
        if _INVALID_VALUE.search(value):
            raise RuntimeError(f"invalid response header value {value!r} for {name!r}")
        if lowered in _DROPPED_RESPONSE:
            continue
        if lowered == b"content-length":
            if not value.isdigit():
                raise RuntimeError(f"invalid content-length {value!r}")
            if status in NO_BODY_STATUSES:
                continue
            length = int(value)
        fields.append((lowered, value))
    return fields, length


def trailer_fields(headers: Any) -> list[tuple[bytes, bytes]]:
    """Trailers, validated like response fields (no pseudo-headers, no framing fields)."""
    fields = []
    for name, value in headers:
        if type(name) is not bytes or type(value) is not bytes:
            raise RuntimeError(f"invalid trailer {name!r}: {value!r}")
        lowered = name.lower()
        if not _NAME_OK(lowered) or _INVALID_VALUE.search(value):
            raise RuntimeError(f"invalid trailer {name!r}: {value!r}")
        if lowered not in _DROPPED_RESPONSE and lowered != b"content-length":
            fields.append((lowered, value))
    return fields
