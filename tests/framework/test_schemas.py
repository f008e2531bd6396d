"""``aster.schemas``: Starlette's OpenAPI document from YAML in endpoint docstrings."""

from __future__ import annotations

import subprocess
import sys

import yaml

from aster.applications import Starlette
from aster.endpoints import HTTPEndpoint
from aster.requests import Request
from aster.responses import Response
from aster.routing import Host, Mount, Route, Router, WebSocketRoute
from aster.schemas import BaseSchemaGenerator, EndpointInfo, OpenAPIResponse, SchemaGenerator
from aster.testclient import TestClient
from aster.websockets import WebSocket

BASE = {"openapi": "3.2.0", "info": {"title": "Shop", "version": "1.0"}}
schemas = SchemaGenerator(BASE)


def list_items(request: Request) -> Response:  # pragma: no cover - never called
    """
    responses:
      200:
        description: The items.
    """
    raise AssertionError


def get_item(request: Request) -> Response:  # pragma: no cover
    """Fetch one item.

    Prose before the marker is documentation, not schema.
    ---
    parameters:
      - name: item_id
        in: path
    responses:
      200:
        description: One item.
    """
    raise AssertionError


def search(request: Request) -> Response:  # pragma: no cover
    """
    responses:
      200:
        description: Matching items.
    """
    raise AssertionError


def prose_only(request: Request) -> Response:  # pragma: no cover
    """Just a sentence, which YAML reads as a string, so not an operation."""
    raise AssertionError


def undocumented(request: Request) -> Response:  # pragma: no cover
    raise AssertionError


def hidden(request: Request) -> Response:  # pragma: no cover
    """
    responses:
      200:
        description: Not in the schema.
    """
    raise AssertionError


def socket(websocket: WebSocket) -> None:  # pragma: no cover
    """
    responses: {}
    """


class Orders(HTTPEndpoint):
    def get(self, request: Request) -> Response:  # pragma: no cover
        """
        responses:
          200:
            description: The orders.
        """
        raise AssertionError

    def post(self, request: Request) -> Response:  # pragma: no cover
        """
        responses:
          201:
            description: Created.
        """
        raise AssertionError


def schema_endpoint(request: Request) -> Response:
    return schemas.OpenAPIResponse(request)


def admin_status(request: Request) -> Response:  # pragma: no cover
    """
    responses:
      200:
        description: Admin status.
    """
    raise AssertionError


sub = Router([Route("/status", admin_status)])
ROUTES = [
    Route("/items", list_items, methods=["GET", "HEAD"]),
    Route("/items", search, methods=["QUERY"]),
    Route("/items/{item_id:int}", get_item),
    Route("/orders", Orders),
    Route("/prose", prose_only),
    Route("/undocumented", undocumented),
    Route("/hidden", hidden, include_in_schema=False),
    Route("/schema", schema_endpoint, include_in_schema=False),
    WebSocketRoute("/ws", socket),
    Mount("/admin/{org}", sub),
    Host("api.example.org", Router([Mount("/v2", sub)])),
]

EXPECTED_PATHS = {
    "/items": {
        "get": {"responses": {200: {"description": "The items."}}},
        "query": {"responses": {200: {"description": "Matching items."}}},
    },
    "/items/{item_id}": {
        "get": {
            "parameters": [{"name": "item_id", "in": "path"}],
            "responses": {200: {"description": "One item."}},
        }
    },
    "/orders": {
        "get": {"responses": {200: {"description": "The orders."}}},
        "post": {"responses": {201: {"description": "Created."}}},
    },
    "/admin/{org}/status": {"get": {"responses": {200: {"description": "Admin status."}}}},
    "/v2/status": {"get": {"responses": {200: {"description": "Admin status."}}}},
}


def test_schema_from_docstrings() -> None:
    assert schemas.get_schema(ROUTES) == {**BASE, "paths": EXPECTED_PATHS}
    assert "paths" not in BASE  # the base schema is not modified


def test_query_needs_openapi_3_2() -> None:
    for version in ("3.1.0", "3.0.3", "", "not a version"):
        schema = SchemaGenerator({"openapi": version}).get_schema(ROUTES)
        assert "query" not in schema["paths"]["/items"]
    assert "query" in SchemaGenerator({"openapi": "3.10.0"}).get_schema(ROUTES)["paths"]["/items"]


def test_endpoints_list_methods_and_functions() -> None:
    endpoints = BaseSchemaGenerator().get_endpoints(ROUTES)
    assert EndpointInfo("/items", "get", list_items) in endpoints
    assert EndpointInfo("/items", "query", search) in endpoints
    assert EndpointInfo("/orders", "post", Orders.post) in endpoints
    assert all(info.http_method != "head" for info in endpoints)
    assert not any(info.path in ("/hidden", "/schema", "/ws") for info in endpoints)


def test_openapi_response_is_yaml() -> None:
    client = TestClient(Starlette(routes=ROUTES))
    response = client.get("/schema")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.oai.openapi"
    assert yaml.safe_load(response.text) == {**BASE, "paths": EXPECTED_PATHS}
    assert response.text.startswith("info:\n  title: Shop\n  version: '1.0'\nopenapi: 3.2.0\n")


def test_openapi_response_needs_a_dict() -> None:
    try:
        OpenAPIResponse(["not", "a", "dict"])
    except AssertionError as exc:
        assert str(exc) == "The schema passed to OpenAPIResponse should be a dictionary."
    else:  # pragma: no cover
        raise AssertionError("a list was rendered")


def test_pyyaml_is_imported_only_when_needed() -> None:
    code = (
        "import sys, aster.schemas as s\n"
        "assert 'yaml' not in sys.modules\n"
        "s.BaseSchemaGenerator().parse_docstring(lambda: None)\n"
        "assert 'yaml' not in sys.modules\n"
        "def f():\n    'a: 1'\n"
        "assert s.BaseSchemaGenerator().parse_docstring(f) == {'a': 1}\n"
        "assert 'yaml' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
