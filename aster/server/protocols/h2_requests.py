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
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote

from .h1_framing import _INVALID_VALUE, NO_BODY_STATUSES

_NAME_OK = re.compile(rb"[!#$%&'*+\-.^_`|~0-9a-z]+\Z").match
#: Over the values joined by LF: NUL, CR, or whitespace next to a join (the ends: see below).
_BAD_VALUES = re.compile(rb"[\x00\r]|\n[ \t]|[ \t]\n").search
_EDGE_SPACE = (b" ", b"\t")
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
#: ``scope["server"]`` per ``:authority`` and scheme (one server sees few): parsed once each.
_servers: dict[tuple[bytes, str], Any] = {}

#: Response fields an HTTP/2 message must not carry (RFC 9113 section 8.2.2); dropped.
_DROPPED_RESPONSE = _CONNECTION_SPECIFIC | {b"te"}
#: Response field names as the app wrote them -> lower-cased and validated, or ``_DROP``.
_response_names: dict[bytes, bytes] = {}
#: Response field values already checked (most repeat: types, lengths, the server's own).
_response_values: set[bytes] = set()
_DROP = b"\x00(dropped)"  # never a valid name: compared by identity
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

    def on(self, base: dict[str, Any]) -> Request:
        """This request (a template: its scope has the request's own items) on ``base``."""
        request = Request.__new__(Request)
        request.content_length = self.content_length
        request.protocol = self.protocol
        request.forwarded = self.forwarded
        request.expect_continue = self.expect_continue
        scope = request.scope = base.copy()
        scope.update(self.scope)
        scope["headers"] = scope["headers"].copy()  # the app may change its own
        return request


#: Request templates per connection, at most (see ``parse_request``).
REQUEST_CACHE = 64


def parse_request(
    fields: Sequence[tuple[bytes, bytes]],
    base: dict[str, Any],
    limit_fields: int,
    cache: dict[Any, Request] | None = None,
) -> Request:
    """Validate ``fields`` and build the scope on a copy of ``base`` (the connection's part).

    Raises :class:`Malformed`, or ``ValueError`` with "431" when there are more
    than ``limit_fields`` regular fields (answered as an HTTP response).

    The result is a pure function of its arguments, so a connection that hands
    the same (hashable) field tuple again, as an engine whose HPACK decoder
    caches blocks does, gets its validated template from ``cache``.
    """
    if cache is None or type(fields) is not tuple:
        return _parse(fields, base, limit_fields).on(base)
    template = cache.get(fields)
    if template is None:
        template = _parse(fields, base, limit_fields)
        if len(cache) >= REQUEST_CACHE:
            cache.clear()
        cache[fields] = template
    return template.on(base)


def _parse(
    fields: Sequence[tuple[bytes, bytes]], base: dict[str, Any], limit_fields: int
) -> Request:
    """The validation and the request's own scope items (``Request.on`` adds ``base``)."""
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
    if (
        joined.count(b"\n") != len(values) - 1
        or _BAD_VALUES(joined)
        or joined[:1] in _EDGE_SPACE
        or joined[-1:] in _EDGE_SPACE
    ):
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
    scope = request.scope
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
        server = _servers.get((authority, base["scheme"]))
        if server is None:
            server = _server_from(authority, base["scheme"])
            if len(_servers) < 1024:
                _servers[(authority, base["scheme"])] = server
        scope["server"] = server or base["server"]
    root = base["root_path"]
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
    names = _response_names
    values = _response_values
    for name, value in headers:
        lowered = names.get(name)
        if lowered is None:
            lowered = _response_name(name)
        if type(value) is not bytes or value not in values:
            if type(value) is not bytes or _INVALID_VALUE.search(value):
                raise RuntimeError(f"invalid response header value {value!r} for {name!r}")
            if len(values) >= 4096:
                values.clear()
            values.add(value)
        if lowered is _DROP:
            continue
        if lowered == b"content-length":
            if not value.isdigit():
                raise RuntimeError(f"invalid content-length {value!r}")
            if status in NO_BODY_STATUSES:
                continue
            length = int(value)
        fields.append((lowered, value))
    return fields, length


def _response_name(name: Any) -> bytes:
    """A response field name not seen before: validated, lower-cased (or ``_DROP``), cached."""
    if type(name) is not bytes:
        raise RuntimeError(f"invalid response header name {name!r}")
    lowered = name.lower()
    if not _NAME_OK(lowered):
        raise RuntimeError(f"invalid response header name {name!r}")
    if lowered in _DROPPED_RESPONSE:
        lowered = _DROP
    if len(_response_names) < 4096:
        _response_names[name] = lowered
    return lowered


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
