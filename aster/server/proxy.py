"""Honour X-Forwarded-* and RFC 7239 ``Forwarded`` headers from trusted proxies only.

The protocol calls :func:`apply_proxy_headers` only when the direct peer is a
trusted proxy.  Both header families are lists that every proxy appends to, so
we walk them right to left, skipping hops that are themselves trusted: the
first untrusted address is the real client, and anything to its left was
written by that client and cannot be believed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import TrustedProxies

_SCHEMES = {
    "http": ("http", "ws"),
    "https": ("https", "wss"),
    "ws": ("http", "ws"),
    "wss": ("https", "wss"),
}


def apply_proxy_headers(scope: dict[str, Any], trusted: TrustedProxies) -> None:
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
        if hop is None:
            return
        client, proto, host = hop
    elif x_for is not None or x_proto is not None or x_host is not None:
        client = proto = host = None
        if x_for is not None:
            hosts = [item.strip() for item in x_for.decode("latin-1").split(",") if item.strip()]
            client = (_rightmost_untrusted(hosts, trusted), 0) if hosts else None
        if x_proto is not None:
            proto = x_proto.decode("latin-1").rsplit(",", 1)[-1].strip().lower()
        if x_host is not None:
            host = x_host.decode("latin-1").rsplit(",", 1)[-1].strip()
    else:
        return
    if client is not None:
        scope["client"] = client
    if proto in _SCHEMES:
        http_scheme, ws_scheme = _SCHEMES[proto]
        scope["scheme"] = ws_scheme if scope["type"] == "websocket" else http_scheme
    if host and _valid_host(host):
        encoded = host.encode("latin-1")
        scope["headers"] = [
            (name, encoded if name == b"host" else value) for name, value in scope["headers"]
        ]


def _rightmost_untrusted(hosts: list[str], trusted: TrustedProxies) -> str:
    for host in reversed(hosts):
        if host not in trusted:
            return host
    return hosts[0]


def _pick_forwarded(
    header: str, trusted: TrustedProxies
) -> tuple[tuple[str, int] | None, str | None, str | None] | None:
    """Parse ``Forwarded: for=..;proto=..;host=.., ...`` and choose the client's hop."""
    hops: list[dict[str, str]] = []
    for element in header.split(","):
        pairs: dict[str, str] = {}
        for pair in element.split(";"):
            key, sep, value = pair.partition("=")
            if not sep:
                continue
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            pairs[key.strip().lower()] = value
        if pairs:
            hops.append(pairs)
    if not hops:
        return None
    chosen = hops[0]
    for hop in reversed(hops):
        address = _node_address(hop.get("for", ""))[0]
        if address is None or address not in trusted:
            chosen = hop
            break
    address, port = _node_address(chosen.get("for", ""))
    client = (address, port) if address is not None else None
    proto = chosen.get("proto", "").lower() or None
    return client, proto, chosen.get("host") or None


def _node_address(node: str) -> tuple[str | None, int]:
    """RFC 7239 node: ``1.2.3.4``, ``1.2.3.4:80``, ``[::1]:80``, ``unknown`` or ``_obfuscated``."""
    node = node.strip()
    if not node or node == "unknown" or node.startswith("_"):
        return None, 0
    port = 0
    if node.startswith("["):
        address, _, rest = node[1:].partition("]")
        if rest.startswith(":") and rest[1:].isdigit():
            port = int(rest[1:])
        return address, port
    if node.count(":") == 1:
        address, _, port_text = node.partition(":")
        if port_text.isdigit():
            port = int(port_text)
        return address, port
    return node, port


def _valid_host(host: str) -> bool:
    return all(33 <= ord(c) < 127 and c not in '"<>\\^`{|}/' for c in host)
