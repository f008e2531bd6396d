"""Host routes on a plain Starlette-level app, for tests/test_routing_server.py."""

from __future__ import annotations

from aster._response import PlainTextResponse
from aster._router import Host, Router
from aster._routes import Route
from aster._starlette_applications import Starlette
from aster.requests import Request


async def api(request: Request) -> PlainTextResponse:
    # url_for fills each slot once: a tenant named "{id}" stays "{id}".
    link = request.url_for("tenant:item", tenant="{id}", id="7")
    return PlainTextResponse(f"api {link}")


async def tenant(request: Request) -> PlainTextResponse:
    return PlainTextResponse(f"tenant {request.path_params['tenant']}")


async def item(request: Request) -> PlainTextResponse:
    return PlainTextResponse(f"item {request.path_params['id']}")


async def anything(request: Request) -> PlainTextResponse:
    return PlainTextResponse("fallback")


app = Starlette(
    routes=[
        Host("api.example.org", Router([Route("/", api)]), name="api"),
        Host(
            "{tenant}.shop.example.org",
            Router([Route("/", tenant), Route("/items/{id}", item, name="item")]),
            name="tenant",
        ),
        Host("{name}", Router([Route("/", anything)])),
    ]
)
