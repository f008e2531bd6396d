"""Honour X-Forwarded-* and RFC 7239 ``Forwarded`` headers from trusted proxies only.

The protocol calls :func:`apply_proxy_headers` only when the direct peer is a
trusted proxy.  Both header families are lists that every proxy appends to, so
we walk them right to left, skipping hops that are themselves trusted: the
first untrusted address is the real client, and anything to its left was
written by that client and cannot be believed.

``Forwarded`` wins over the X-Forwarded-* family when both are present.  A
client address that is not an IP address (``unknown``, an ``_obfuscated``
token, garbage) leaves ``scope["client"]`` as it was; proto and host from the
same hop still apply.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import TrustedProxies

_SCHEMES = {
    "http": ("http", "ws"),
    "https": ("https", "wss"),
    "ws": ("http", "ws"),
    "wss": ("https", "wss"),
}

Hop = tuple[tuple[str, int] | None, str | None, str | None]


def apply_proxy_headers(scope: dict[str, Any], trusted: TrustedProxies) -> None:
    """Rewrite ``client``, ``scheme`` and the ``host`` header from the proxy headers."""
    forwarded = x_for = x_proto = x_host = None
    for name, value in scope["headers"]:
        if name == b"forwarded":
            forwarded = value if forwarded is None else forwarded + b"," + value
        elif name == b"x-forwarded-for":
            x_for = value if x_for is None else x_for + b"," + value
        elif name == b"x-forwarded-proto":
            x_proto = value
        elif name == b"x-forwarded-host":
            x_host = value
    if forwarded is not None:
        hop = _pick_forwarded(forwarded.decode("latin-1"), trusted)
    elif x_for is not None or x_proto is not None or x_host is not None:
        hop = _pick_x_forwarded(x_for, x_proto, x_host, trusted)
    else:
        return
    if hop is None:
        return
    client, proto, host = hop
    if client is not None:
        scope["client"] = client
    if proto is not None:
        schemes = _SCHEMES.get(proto.lower())
        if schemes is not None:
            scope["scheme"] = schemes[1] if scope["type"] == "websocket" else schemes[0]
    if host and _valid_host(host):
        encoded = host.encode("latin-1")
        headers = scope["headers"]
        if any(name == b"host" for name, _ in headers):
            scope["headers"] = [(n, encoded if n == b"host" else v) for n, v in headers]
        else:  # an HTTP/1.0 request without Host
            scope["headers"] = [*headers, (b"host", encoded)]


def _pick_x_forwarded(
    x_for: bytes | None, x_proto: bytes | None, x_host: bytes | None, trusted: TrustedProxies
) -> Hop:
    """The client's hop from X-Forwarded-For/-Proto/-Host.

    When -Proto or -Host list one value per -For hop, the chosen hop's value is
    used; otherwise the last (the nearest proxy's) value.
    """
    nodes = _split(x_for)
    index = _rightmost_untrusted([_node_address(node)[0] for node in nodes], trusted)
    client = None
    if nodes:
        address, port = _node_address(nodes[index])
        client = (address, port) if address is not None else None

    def pick(values: list[str]) -> str | None:
        if not values:
            return None
        return values[index] if len(values) == len(nodes) else values[-1]

    return client, pick(_split(x_proto)), pick(_split(x_host))


def _split(value: bytes | None) -> list[str]:
    if value is None:
        return []
    return [item.strip() for item in value.decode("latin-1").split(",") if item.strip()]


def _rightmost_untrusted(addresses: list[str | None], trusted: TrustedProxies) -> int:
    """Index of the rightmost hop not in ``trusted`` (0 when every hop is trusted)."""
    for index in range(len(addresses) - 1, -1, -1):
        address = addresses[index]
        if address is None or address not in trusted:
            return index
    return 0


def _pick_forwarded(header: str, trusted: TrustedProxies) -> Hop | None:
    """Parse ``Forwarded: for=..;proto=..;host=.., ...`` and choose the client's hop."""
    hops = [hop for hop in _parse_forwarded(header) if hop]
    if not hops:
        return None
    index = _rightmost_untrusted([_node_address(hop.get("for", ""))[0] for hop in hops], trusted)
    chosen = hops[index]
    address, port = _node_address(chosen.get("for", ""))
    client = (address, port) if address is not None else None
    return client, chosen.get("proto") or None, chosen.get("host") or None


def _parse_forwarded(header: str) -> list[dict[str, str]]:
    """Split a Forwarded header into elements of ``key=value`` pairs, honouring quoted strings."""
    elements: list[dict[str, str]] = [{}]
    i, size = 0, len(header)
    while i < size:
        char = header[i]
        if char in " \t;":
            i += 1
            continue
        if char == ",":
            elements.append({})
            i += 1
            continue
        equals = header.find("=", i)
        stop = min((p for p in (header.find(";", i), header.find(",", i)) if p != -1), default=size)
        if equals == -1 or equals > stop:
            i = stop  # a token without "=": skip it
            continue
        key = header[i:equals].strip().lower()
        i = equals + 1
        if i < size and header[i] == '"':
            value, i = _quoted(header, i + 1)
        else:
            end = min(
                (p for p in (header.find(";", i), header.find(",", i)) if p != -1), default=size
            )
            value, i = header[i:end].strip(), end
        if key and key not in elements[-1]:
            elements[-1][key] = value
    return elements


def _quoted(header: str, i: int) -> tuple[str, int]:
    """Read a quoted-string that starts at ``i`` (after its quote); return it and where it ends."""
    out: list[str] = []
    while i < len(header):
        char = header[i]
        if char == "\\" and i + 1 < len(header):
            out.append(header[i + 1])
            i += 2
        elif char == '"':
            return "".join(out), i + 1
        else:
            out.append(char)
            i += 1
    return "".join(out), i


def _node_address(node: str | None) -> tuple[str | None, int]:
    """A node (``1.2.3.4``, ``1.2.3.4:80``, ``[::1]:80``, ``::1``) as a canonical IP and port.

    ``unknown``, ``_obfuscated`` identifiers and anything else that is not an
    IP address give ``(None, 0)``: they can neither be trusted nor be a client.
    """
    if not node:
        return None, 0
    node = node.strip()
    address, port_text = node, ""
    if node.startswith("["):
        address, closed, rest = node[1:].partition("]")
        if not closed:
            return None, 0
        if rest.startswith(":"):
            port_text = rest[1:]
        elif rest:
            return None, 0
    elif node.count(":") == 1:
        address, _, port_text = node.partition(":")
    if port_text and not (port_text.isdigit() and int(port_text) <= 65535):
        port_text = ""
    try:
        canonical = str(ipaddress.ip_address(address))
    except ValueError:
        return None, 0
    return canonical, int(port_text) if port_text else 0


def _valid_host(host: str) -> bool:
    return all(33 <= ord(c) < 127 and c not in '"<>\\^`{|}/' for c in host)
