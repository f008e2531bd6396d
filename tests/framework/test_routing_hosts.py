"""Starlette's ``Host`` routes and ``url_path_for``, as Starlette 1.10 behaves.

Host names are case-insensitive (RFC 9110 section 4.2.3) and a malformed ``Host`` header
matches no host route: ``api.example.org:evil`` is not ``api.example.org`` with a port.
``url_path_for`` fills each slot of a route's format once, so a value that looks like a
slot (``{id}``) is not substituted a second time.
"""

from __future__ import annotations

import pytest

from aster import _routing_base
from aster._response import PlainTextResponse
from aster._router import Host, Mount, Router
from aster._routes import Route
from aster._routing_base import compile_path, replace_params
from aster.convertors import CONVERTOR_TYPES
from aster.requests import Request
from aster.testclient import TestClient


async def api_home(request: Request) -> PlainTextResponse:
    return PlainTextResponse("api")


async def tenant_home(request: Request) -> PlainTextResponse:
    return PlainTextResponse(f"tenant {request.path_params['tenant']}")


async def fallback(request: Request) -> PlainTextResponse:
    return PlainTextResponse("fallback")


app = Router(
    routes=[
        Host("api.example.org", Router([Route("/", api_home)]), name="api"),
        Host("{tenant}.Shop.Example.org", Router([Route("/", tenant_home)]), name="shop"),
        Host("[::1]:8000", Router([Route("/", api_home, name="v6")])),
        Host("{host}", Router([Route("/", fallback)])),
    ]
)
client = TestClient(app)


def _get(host: str) -> tuple[int, str]:
    response = client.get("/", headers={"host": host})
    return response.status_code, response.text


@pytest.mark.parametrize(
    "host",
    ["api.example.org", "API.Example.ORG", "api.example.org:8443", "Api.Example.Org:80"],
)
def test_host_matches_case_insensitively_with_or_without_a_port(host: str) -> None:
    assert _get(host) == (200, "api")


def test_a_host_pattern_written_in_capitals_matches_and_params_come_lowercased() -> None:
    assert _get("ACME.shop.example.org") == (200, "tenant acme")
    assert _get("acme.SHOP.example.org:8080") == (200, "tenant acme")


@pytest.mark.parametrize(
    "host",
    [
        "api.example.org:evil",  # not a port
        "api.example.org:80:80",
        "api.example.org/evil",
        "api.example.org@evil",
        "api.example.org evil",
        "[::1",
        "[not-an-ip]",
        "",
    ],
)
def test_a_malformed_host_header_matches_no_host_route(host: str) -> None:
    # Not even the catch-all ``{host}``: a malformed header is no host at all.
    assert _get(host) == (404, "Not Found")


def test_an_ipv6_literal_host_keeps_its_colons() -> None:
    assert compile_path("[::1]:8000")[0].pattern == r"^\[::1\]$"
    assert _get("[::1]:8000") == (200, "api")
    assert _get("[::1]") == (200, "api")
    assert _get("[::2]") == (200, "fallback")


def test_host_regex_ignores_case_and_drops_only_the_port() -> None:
    regex, path_format, _ = compile_path("{sub}.Example.org:8000")
    assert path_format == "{sub}.Example.org:8000"
    assert regex.match("a.example.ORG")
    assert not regex.match("a.example.org:8000")
    # Paths stay case-sensitive.
    path_regex, _, _ = compile_path("/Users")
    assert path_regex.match("/Users") and not path_regex.match("/users")


def _echo(request: Request) -> PlainTextResponse:
    return PlainTextResponse("")


@pytest.mark.parametrize(
    ("route", "params", "expected"),
    [
        (Route("/u/{id}/{name}", _echo, name="r"), {"id": "{name}", "name": "x"}, "/u/{name}/x"),
        (Route("/u/{id}/{name}", _echo, name="r"), {"id": "a", "name": "{id}"}, "/u/a/{id}"),
        (Route("/{a}/{b}", _echo, name="r"), {"a": "{b}", "b": "{a}"}, "/{b}/{a}"),
        (
            Mount("/org/{org}", routes=[Route("/repo/{repo}", _echo, name="r")], name="m"),
            {"org": "{repo}", "repo": "z"},
            "/org/{repo}/repo/z",
        ),
    ],
)  # fmt: skip
def test_url_path_for_substitutes_each_slot_once(
    route: Route | Mount, params: dict[str, str], expected: str
) -> None:
    name = "m:r" if isinstance(route, Mount) else "r"
    assert route.url_path_for(name, **params) == expected


def test_url_path_for_a_host_route_with_a_placeholder_looking_value() -> None:
    hosted = Host("{tenant}.example.org", Router([Route("/u/{id}", _echo, name="u")]), name="h")
    url = hosted.url_path_for("h:u", tenant="{id}", id="7")
    assert (url.host, str(url)) == ("{id}.example.org", "/u/7")


def test_replace_params_keeps_slots_it_has_no_value_for_and_returns_the_rest() -> None:
    convertors = {"a": CONVERTOR_TYPES["str"], "b": CONVERTOR_TYPES["int"]}
    params: dict[str, object] = {"b": 3, "other": "x"}
    path, remaining = replace_params("/{a}/{b}", convertors, params)  # type: ignore[arg-type]
    assert (path, remaining) == ("/{a}/3", {"other": "x"})
    assert _routing_base.PARAM_FORMAT_REGEX.findall("/{a}/{b:int}/{c}") == ["a", "c"]
