"""OpenAPI for plain (Starlette-style) apps, from YAML in the endpoints' docstrings.

``SchemaGenerator(base)`` walks the routes (into mounts and hosts), and for every endpoint whose
docstring holds a YAML mapping adds it as the operation at ``paths[path][method]``; text before
a ``---`` line is ordinary documentation and is skipped. Path converters are dropped
(``/users/{id:int}`` appears as ``/users/{id}``), HEAD is never listed, and the QUERY method only
appears in documents of OpenAPI 3.2 or newer. ``OpenAPIResponse`` renders a schema as YAML.

FastAPI apps get their document from :mod:`aster.openapi` instead; this is the docstring-based
generator Starlette offers. pyyaml is imported the first time a docstring or response needs it.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any, NamedTuple

from ._response import Response
from ._router import Host, Mount
from ._routes import Route
from ._routing_base import BaseRoute
from .requests import Request

__all__ = ["BaseSchemaGenerator", "EndpointInfo", "OpenAPIResponse", "SchemaGenerator"]

_CONVERTER = re.compile(r":\w+}")
_OPENAPI_VERSION = re.compile(r"^(\d+)\.(\d+)")
#: The methods looked up on a class endpoint (``HTTPEndpoint``), in document order.
_CLASS_METHODS = ("get", "post", "put", "patch", "delete", "options", "query")


def _yaml(purpose: str) -> Any:
    try:
        import yaml
    except ModuleNotFoundError:  # pragma: no cover - only without pyyaml
        raise AssertionError(f"`pyyaml` must be installed to use {purpose}.") from None
    return yaml


class OpenAPIResponse(Response):
    """A schema dict rendered as YAML (``application/vnd.oai.openapi``)."""

    media_type = "application/vnd.oai.openapi"

    def render(self, content: Any) -> bytes:
        yaml = _yaml("OpenAPIResponse")
        assert isinstance(content, dict), (
            "The schema passed to OpenAPIResponse should be a dictionary."
        )
        return yaml.dump(content, default_flow_style=False).encode("utf-8")  # type: ignore[no-any-return]


class EndpointInfo(NamedTuple):
    path: str
    http_method: str
    func: Callable[..., Any]


class BaseSchemaGenerator:
    """Override ``get_schema``; the walking and docstring parsing are shared."""

    def get_schema(self, routes: list[BaseRoute]) -> dict[str, Any]:
        raise NotImplementedError()  # pragma: no cover

    def get_endpoints(self, routes: list[BaseRoute]) -> list[EndpointInfo]:
        """Every (path, lowercase method, function) the routes expose, mounts included."""
        found: list[EndpointInfo] = []
        for route in routes:
            if isinstance(route, (Mount, Host)):
                prefix = self._remove_converter(route.path) if isinstance(route, Mount) else ""
                found.extend(
                    EndpointInfo(prefix + sub.path, sub.http_method, sub.func)
                    for sub in self.get_endpoints(route.routes or [])
                )
            elif not isinstance(route, Route) or not route.include_in_schema:
                continue
            elif inspect.isfunction(route.endpoint) or inspect.ismethod(route.endpoint):
                path = self._remove_converter(route.path)
                for method in route.methods or ["GET"]:
                    if method != "HEAD":
                        found.append(EndpointInfo(path, method.lower(), route.endpoint))
            else:  # a class endpoint: one operation per verb method it defines
                path = self._remove_converter(route.path)
                for method in _CLASS_METHODS:
                    func = getattr(route.endpoint, method, None)
                    if func is not None:
                        found.append(EndpointInfo(path, method, func))
        return found

    def _remove_converter(self, path: str) -> str:
        """``/users/{id:int}`` -> ``/users/{id}``: OpenAPI paths have no converters."""
        return _CONVERTER.sub("}", path)

    def parse_docstring(self, func_or_method: Callable[..., Any]) -> dict[str, Any]:
        """The YAML mapping after the last ``---`` of the docstring; {} for anything else."""
        docstring = func_or_method.__doc__
        if not docstring:
            return {}
        parsed = _yaml("parse_docstring").safe_load(docstring.split("---")[-1])
        # A plain-prose docstring parses as a string: it is not a schema.
        return parsed if isinstance(parsed, dict) else {}

    def OpenAPIResponse(self, request: Request) -> Response:
        return OpenAPIResponse(self.get_schema(routes=request.app.routes))


class SchemaGenerator(BaseSchemaGenerator):
    """``base_schema`` (``openapi``, ``info``...) plus the operations found in docstrings."""

    def __init__(self, base_schema: dict[str, Any]) -> None:
        self.base_schema = base_schema

    def get_schema(self, routes: list[BaseRoute]) -> dict[str, Any]:
        schema = dict(self.base_schema)
        schema.setdefault("paths", {})
        version = _OPENAPI_VERSION.match(str(schema.get("openapi", "")))
        supports_query = version is not None and (int(version[1]), int(version[2])) >= (3, 2)
        for endpoint in self.get_endpoints(routes):
            if endpoint.http_method == "query" and not supports_query:
                continue
            operation = self.parse_docstring(endpoint.func)
            if operation:
                schema["paths"].setdefault(endpoint.path, {})[endpoint.http_method] = operation
        return schema
