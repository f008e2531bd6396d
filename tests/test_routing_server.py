"""Host routing behind a real ``aster run``, from raw sockets (exact Host headers).

A browser or proxy may send the host in any case, and a client can send any bytes as a
Host header: the case does not matter, and a malformed header (``api.example.org:evil``)
matches no host route at all, not the host it starts with. In-process tests:
tests/framework/test_routing_hosts.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import Running, request, serve


@pytest.fixture(scope="module")
def server() -> Iterator[Running]:
    with serve("tests.apps.st_hosts:app") as running:
        yield running


def _get(server: Running, host: bytes, path: bytes = b"/") -> tuple[int, bytes]:
    response = request(server.port, b"GET " + path + b" HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")
    return response.status, response.body


@pytest.mark.parametrize("host", [b"api.example.org", b"API.EXAMPLE.ORG", b"Api.Example.Org:8000"])
def test_host_routes_ignore_case_and_url_for_fills_each_slot_once(
    server: Running, host: bytes
) -> None:
    assert _get(server, host) == (200, b"api http://{id}.shop.example.org/items/7")


def test_host_params_come_lowercased(server: Running) -> None:
    assert _get(server, b"ACME.Shop.Example.Org") == (200, b"tenant acme")
    assert _get(server, b"acme.shop.example.org:8000", b"/items/3") == (200, b"item 3")


@pytest.mark.parametrize(
    "host", [b"api.example.org:evil", b"api.example.org:1:2", b"api.example.org@evil", b"[::1"]
)
def test_a_malformed_host_matches_no_host_route(server: Running, host: bytes) -> None:
    assert _get(server, host) == (404, b"Not Found")
