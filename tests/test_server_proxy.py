"""Proxy headers: X-Forwarded-For/-Proto/-Host and RFC 7239 Forwarded, from trusted peers only.

The end-to-end tests run real servers and look at the scope the app saw (and
the access log); the unit tests call ``apply_proxy_headers`` and
``TrustedProxies`` directly for the parsing edge cases.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from aster.server.config import ConfigError, TrustedProxies
from aster.server.proxy import apply_proxy_headers
from tests.support import Running, request, serve

APP = "tests.apps.life_app:app"


def scope_seen(server: Running, *headers: str, host: str = "app.local") -> dict[str, Any]:
    """GET /scope with these extra header lines; return what the app saw."""
    head = "".join(f"{h}\r\n" for h in headers)
    raw = f"GET /scope HTTP/1.1\r\nHost: {host}\r\n{head}\r\n".encode("latin-1")
    response = request(server.port, raw)
    assert response.status == 200
    return json.loads(response.body)


@pytest.fixture(scope="module")
def default_trust():  # type: ignore[no-untyped-def]
    with serve(APP) as server:
        yield server


def test_no_proxy_headers_means_the_socket_peer(default_trust: Running) -> None:
    seen = scope_seen(default_trust)
    assert seen["client"][0] == "127.0.0.1"
    assert seen["client"][1] > 0
    assert (seen["scheme"], seen["host"]) == ("http", "app.local")


def test_x_forwarded_headers_from_the_default_trusted_loopback(default_trust: Running) -> None:
    seen = scope_seen(
        default_trust,
        "X-Forwarded-For: 203.0.113.7",
        "X-Forwarded-Proto: https",
        "X-Forwarded-Host: example.com",
    )
    assert seen["client"] == ["203.0.113.7", 0]
    assert seen["scheme"] == "https"
    assert seen["host"] == "example.com"
    # The access log shows the forwarded client.
    default_trust.wait_for_log(r'^203\.0\.113\.7 - - \[.*\] "GET /scope HTTP/1\.1" 200 \d+$')


def test_multi_hop_x_forwarded_for_with_default_trust(default_trust: Running) -> None:
    # Only 127.0.0.1 is trusted: the rightmost entry (added by our proxy) is the client,
    # whatever the client itself claimed further left.
    seen = scope_seen(default_trust, "X-Forwarded-For: 1.1.1.1, 10.1.2.3, 198.51.100.2")
    assert seen["client"] == ["198.51.100.2", 0]


def test_forwarded_header(default_trust: Running) -> None:
    seen = scope_seen(default_trust, "Forwarded: for=192.0.2.60;proto=https;host=shop.example")
    assert seen["client"] == ["192.0.2.60", 0]
    assert seen["scheme"] == "https"
    assert seen["host"] == "shop.example"


def test_forwarded_header_with_quoted_ipv6_and_port(default_trust: Running) -> None:
    seen = scope_seen(default_trust, 'Forwarded: for="[2001:db8::1]:4711";proto=http')
    assert seen["client"] == ["2001:db8::1", 4711]
    assert seen["scheme"] == "http"
    assert seen["host"] == "app.local"


def test_forwarded_wins_over_x_forwarded(default_trust: Running) -> None:
    seen = scope_seen(
        default_trust,
        "X-Forwarded-For: 203.0.113.9",
        "X-Forwarded-Proto: http",
        "Forwarded: for=192.0.2.43;proto=https",
    )
    assert seen["client"] == ["192.0.2.43", 0]
    assert seen["scheme"] == "https"


def test_garbage_proxy_headers_change_nothing(default_trust: Running) -> None:
    seen = scope_seen(
        default_trust,
        "X-Forwarded-For: not-an-ip",
        "X-Forwarded-Proto: gopher",
        "X-Forwarded-Host: bad host/name",
    )
    assert seen["client"][0] == "127.0.0.1"
    assert (seen["scheme"], seen["host"]) == ("http", "app.local")
    # And the server still answers normally afterwards.
    assert scope_seen(default_trust)["client"][0] == "127.0.0.1"


def test_untrusted_peer_is_ignored() -> None:
    with serve(APP, "--forwarded-allow-ips", "10.0.0.1") as server:
        seen = scope_seen(
            server,
            "X-Forwarded-For: 203.0.113.7",
            "X-Forwarded-Proto: https",
            "X-Forwarded-Host: example.com",
            "Forwarded: for=192.0.2.60;proto=https;host=shop.example",
        )
        assert seen["client"][0] == "127.0.0.1"
        assert (seen["scheme"], seen["host"]) == ("http", "app.local")


def test_rightmost_untrusted_address_with_a_trusted_network() -> None:
    with serve(APP, "--forwarded-allow-ips", "127.0.0.1,10.0.0.0/8") as server:
        seen = scope_seen(server, "X-Forwarded-For: 1.1.1.1, 203.0.113.5, 10.0.0.7, 10.9.9.9")
        assert seen["client"] == ["203.0.113.5", 0]
        # When every hop is trusted, the leftmost one is the client.
        seen = scope_seen(server, "X-Forwarded-For: 10.1.1.1, 10.2.2.2")
        assert seen["client"] == ["10.1.1.1", 0]
        # The same walk for Forwarded.
        seen = scope_seen(
            server,
            "Forwarded: for=1.1.1.1;proto=http, for=203.0.113.5;proto=https, for=10.0.0.7",
        )
        assert seen["client"] == ["203.0.113.5", 0]
        assert seen["scheme"] == "https"


def test_no_proxy_headers_flag() -> None:
    with serve(APP, "--no-proxy-headers", "--forwarded-allow-ips", "*") as server:
        seen = scope_seen(
            server,
            "X-Forwarded-For: 203.0.113.7",
            "X-Forwarded-Proto: https",
            "Forwarded: for=192.0.2.60;proto=https",
        )
        assert seen["client"][0] == "127.0.0.1"
        assert seen["scheme"] == "http"


def test_star_trusts_everyone() -> None:
    with serve(APP, "--forwarded-allow-ips", "*") as server:
        seen = scope_seen(server, "X-Forwarded-For: 1.1.1.1, 203.0.113.5, 10.0.0.7")
        # Every hop is trusted, so the leftmost one is the client.
        assert seen["client"] == ["1.1.1.1", 0]


def test_forwarded_allow_ips_environment_variable() -> None:
    with serve(APP, env={"FORWARDED_ALLOW_IPS": "10.0.0.1"}) as server:
        seen = scope_seen(server, "X-Forwarded-For: 203.0.113.7")
        assert seen["client"][0] == "127.0.0.1"
    with serve(APP, env={"FORWARDED_ALLOW_IPS": "10.0.0.1, 127.0.0.0/8"}) as server:
        seen = scope_seen(server, "X-Forwarded-For: 203.0.113.7")
        assert seen["client"] == ["203.0.113.7", 0]
    # The flag wins over the environment.
    with serve(
        APP, "--forwarded-allow-ips", "10.0.0.1", env={"FORWARDED_ALLOW_IPS": "*"}
    ) as server:
        seen = scope_seen(server, "X-Forwarded-For: 203.0.113.7")
        assert seen["client"][0] == "127.0.0.1"


# -- unit tests ---------------------------------------------------------------------------------


def make_scope(*headers: tuple[bytes, bytes], kind: str = "http") -> dict[str, Any]:
    return {
        "type": kind,
        "scheme": "http" if kind == "http" else "ws",
        "client": ("127.0.0.1", 5000),
        "headers": [(b"host", b"app.local"), *headers],
    }


def applied(*headers: tuple[bytes, bytes], trust: str = "127.0.0.1", kind: str = "http") -> dict:
    scope = make_scope(*headers, kind=kind)
    apply_proxy_headers(scope, TrustedProxies(trust))
    return scope


def host_of(scope: dict[str, Any]) -> list[bytes]:
    return [value for name, value in scope["headers"] if name == b"host"]


@pytest.mark.parametrize(
    ("value", "client"),
    [
        (b"for=192.0.2.60", ("192.0.2.60", 0)),
        (b"For=192.0.2.60:8080", ("192.0.2.60", 8080)),
        (b'for="[2001:db8:cafe::17]:4711"', ("2001:db8:cafe::17", 4711)),
        (b'for="[2001:DB8::1]"', ("2001:db8::1", 0)),
        (b"for=unknown", ("127.0.0.1", 5000)),
        (b"for=_hidden", ("127.0.0.1", 5000)),
        (b'for="_gazonk"', ("127.0.0.1", 5000)),
        (b"for=", ("127.0.0.1", 5000)),
        (b"for=999.1.1.1", ("127.0.0.1", 5000)),
        (b'for="[::1"', ("127.0.0.1", 5000)),
        (b"garbage", ("127.0.0.1", 5000)),
        (b";;,,;", ("127.0.0.1", 5000)),
        (b'for=192.0.2.1;host="a;b,c"', ("192.0.2.1", 0)),
        (b'host="x,y", for=198.51.100.1', ("198.51.100.1", 0)),
    ],
)
def test_forwarded_for_parsing(value: bytes, client: tuple[str, int]) -> None:
    assert applied((b"forwarded", value))["client"] == client


def test_forwarded_unknown_client_still_applies_proto_and_host() -> None:
    scope = applied((b"forwarded", b"for=unknown;proto=https;host=example.org"))
    assert scope["client"] == ("127.0.0.1", 5000)
    assert scope["scheme"] == "https"
    assert host_of(scope) == [b"example.org"]


def test_forwarded_unknown_hop_is_never_trusted() -> None:
    # An "unknown" hop to the right stops the walk even under '*'-like trust of the rest.
    scope = applied(
        (b"forwarded", b"for=203.0.113.1, for=unknown;proto=https, for=10.0.0.2"),
        trust="127.0.0.1,10.0.0.0/8",
    )
    assert scope["client"] == ("127.0.0.1", 5000)
    assert scope["scheme"] == "https"


def test_forwarded_several_header_lines_are_one_list() -> None:
    scope = applied(
        (b"forwarded", b"for=203.0.113.1"),
        (b"forwarded", b"for=10.0.0.2"),
        trust="127.0.0.1,10.0.0.0/8",
    )
    assert scope["client"] == ("203.0.113.1", 0)


def test_forwarded_quoted_host_with_escapes() -> None:
    scope = applied((b"forwarded", b'host="ex\\ample.com:8443";proto=HTTPS'))
    assert host_of(scope) == [b"example.com:8443"]
    assert scope["scheme"] == "https"


@pytest.mark.parametrize(
    ("value", "client"),
    [
        (b"203.0.113.7", ("203.0.113.7", 0)),
        (b"  203.0.113.7  ", ("203.0.113.7", 0)),
        (b"203.0.113.7:5555", ("203.0.113.7", 5555)),
        (b"2001:db8::5", ("2001:db8::5", 0)),
        (b"[2001:db8::5]:80", ("2001:db8::5", 80)),
        (b"unknown", ("127.0.0.1", 5000)),
        (b"<script>", ("127.0.0.1", 5000)),
        (b"", ("127.0.0.1", 5000)),
        (b",,,", ("127.0.0.1", 5000)),
        (b"1.2.3.4, garbage", ("127.0.0.1", 5000)),
    ],
)
def test_x_forwarded_for_parsing(value: bytes, client: tuple[str, int]) -> None:
    assert applied((b"x-forwarded-for", value))["client"] == client


def test_x_forwarded_for_header_lines_are_joined() -> None:
    scope = applied(
        (b"x-forwarded-for", b"203.0.113.1"),
        (b"x-forwarded-for", b"10.0.0.2"),
        trust="127.0.0.1,10.0.0.0/8",
    )
    assert scope["client"] == ("203.0.113.1", 0)


def test_x_forwarded_proto_per_hop() -> None:
    # One proto per hop: the chosen client hop's proto applies.
    scope = applied(
        (b"x-forwarded-for", b"203.0.113.1, 10.0.0.2"),
        (b"x-forwarded-proto", b"https, http"),
        trust="127.0.0.1,10.0.0.0/8",
    )
    assert (scope["client"], scope["scheme"]) == (("203.0.113.1", 0), "https")
    # Otherwise the nearest proxy's (last) value.
    scope = applied((b"x-forwarded-proto", b"http, https"))
    assert scope["scheme"] == "https"
    assert scope["client"] == ("127.0.0.1", 5000)


@pytest.mark.parametrize(
    ("proto", "kind", "scheme"),
    [
        (b"https", "http", "https"),
        (b"HTTPS", "http", "https"),
        (b"https", "websocket", "wss"),
        (b"wss", "http", "https"),
        (b"http", "websocket", "ws"),
        (b"ftp", "http", "http"),
        (b"", "http", "http"),
    ],
)
def test_x_forwarded_proto_values(proto: bytes, kind: str, scheme: str) -> None:
    assert applied((b"x-forwarded-proto", proto), kind=kind)["scheme"] == scheme


@pytest.mark.parametrize(
    ("value", "host"),
    [
        (b"example.com", b"example.com"),
        (b"example.com:8443", b"example.com:8443"),
        (b"[2001:db8::1]:80", b"[2001:db8::1]:80"),
        (b"evil.com/path", b"app.local"),
        (b"a b", b"app.local"),
        (b'"quoted"', b"app.local"),
        (b"", b"app.local"),
    ],
)
def test_x_forwarded_host_values(value: bytes, host: bytes) -> None:
    assert host_of(applied((b"x-forwarded-host", value))) == [host]


def test_x_forwarded_host_keeps_header_order_and_adds_a_missing_host() -> None:
    scope = make_scope((b"x-forwarded-host", b"example.com"), (b"accept", b"*/*"))
    apply_proxy_headers(scope, TrustedProxies("127.0.0.1"))
    assert scope["headers"] == [
        (b"host", b"example.com"),
        (b"x-forwarded-host", b"example.com"),
        (b"accept", b"*/*"),
    ]
    scope = make_scope((b"x-forwarded-host", b"example.com"))
    scope["headers"] = scope["headers"][1:]  # an HTTP/1.0 request without Host
    apply_proxy_headers(scope, TrustedProxies("127.0.0.1"))
    assert host_of(scope) == [b"example.com"]


def test_no_proxy_headers_leave_the_scope_alone() -> None:
    scope = make_scope((b"accept", b"*/*"))
    before = {**scope, "headers": list(scope["headers"])}
    apply_proxy_headers(scope, TrustedProxies("*"))
    assert scope == before


@pytest.mark.parametrize(
    ("spec", "inside", "outside"),
    [
        ("127.0.0.1", ["127.0.0.1", "::ffff:127.0.0.1"], ["127.0.0.2", "::1", None, "x", ""]),
        ("10.0.0.0/8, ::1", ["10.255.0.1", "::1", "0:0::1"], ["11.0.0.1", "::2", None]),
        (["192.168.0.0/16", "2001:db8::/32"], ["192.168.9.9", "2001:DB8::9"], ["2001:db9::1"]),
        ("10.0.0.1/8", ["10.200.0.1"], ["9.0.0.1"]),  # host bits set: accepted, not strict
        ("*", ["1.2.3.4", "::1", None, "anything"], []),
        ("unix:", [None], ["127.0.0.1"]),
        ("", [], ["127.0.0.1", None]),
    ],
)
def test_trusted_proxies(spec: str | list[str], inside: list, outside: list) -> None:
    trusted = TrustedProxies(spec)
    assert [host for host in inside if host in trusted] == inside
    assert [host for host in outside if host in trusted] == []


@pytest.mark.parametrize("spec", ["localhost", "10.0.0.0/33", "1.2.3", "10.0.0.1,nope"])
def test_trusted_proxies_rejects_garbage(spec: str) -> None:
    with pytest.raises(ConfigError, match="is not an IP address or network"):
        TrustedProxies(spec)
