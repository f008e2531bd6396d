"""Request tables whose expected answers were recorded from the real FastAPI.

A test module defines its app with aster imports, a ``REQUESTS`` table of
``(id, method, url, kwargs)`` and an ``EXPECTED`` mapping ``id -> (status,
content-type, body bytes)`` written between ``# BEGIN RECORDED`` and
``# END RECORDED``.  ``scripts/record_fastapi_expectations.py`` rewrites that
block by importing the same module with ``aster`` pointing at fastapi 0.165 /
starlette 1.10 and sending every request (run ``ruff format tests`` after it); the
tests then compare aster's answers byte for byte.  The same script, used as a pytest
plugin, runs these test modules on the real FastAPI (see its docstring).
"""

from __future__ import annotations

from typing import Any

import httpx

Request = tuple[str, str, str, dict[str, Any]]
Expected = tuple[int, str | None, bytes]


def ids(requests: list[Request]) -> list[str]:
    return [request[0] for request in requests]


def send(client: httpx.Client, request: Request) -> httpx.Response:
    _, method, url, kwargs = request
    return client.request(method, url, **kwargs)


def check(client: httpx.Client, request: Request, expected: dict[str, Expected]) -> None:
    """Send ``request``; the status, content type and body must be the recorded ones."""
    status, content_type, body = expected[request[0]]
    response = send(client, request)
    assert (response.status_code, response.headers.get("content-type"), response.content) == (
        status,
        content_type,
        body,
    )
