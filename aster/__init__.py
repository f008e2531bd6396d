"""aster: a FastAPI-compatible framework and a fast, hardened ASGI server in one package.

The framework's public names mirror ``fastapi``'s; ``App`` is ``FastAPI``.
The server is ``aster.run`` / ``aster run module:app``.

Names are imported on first use, so ``aster run`` does not pay for loading
the framework (pydantic, the router...) before it has loaded the user's app.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "App": "applications",
    "FastAPI": "applications",
    "APIRouter": "routing",
    "BackgroundTasks": "background",
    "Body": "param_functions",
    "Cookie": "param_functions",
    "Depends": "param_functions",
    "File": "param_functions",
    "Form": "param_functions",
    "Header": "param_functions",
    "Path": "param_functions",
    "Query": "param_functions",
    "Security": "param_functions",
    "HTTPException": "exceptions",
    "WebSocketException": "exceptions",
    "Request": "requests",
    "Response": "responses",
    "UploadFile": "datastructures",
    "WebSocket": "websockets",
    "WebSocketDisconnect": "websockets",
    "Config": "server",
    "Server": "server",
    "run": "server",
}

__all__ = [
    "APIRouter",
    "App",
    "BackgroundTasks",
    "Body",
    "Config",
    "Cookie",
    "Depends",
    "FastAPI",
    "File",
    "Form",
    "HTTPException",
    "Header",
    "Path",
    "Query",
    "Request",
    "Response",
    "Security",
    "Server",
    "UploadFile",
    "WebSocket",
    "WebSocketDisconnect",
    "WebSocketException",
    "__version__",
    "run",
]


#: Submodules FastAPI's package imports eagerly, so ``fastapi.status`` works without an import.
_SUBMODULES = frozenset({"status", "security", "openapi", "sse"})


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        if name in _SUBMODULES:
            return importlib.import_module(f".{name}", __name__)
        raise AttributeError(f"module 'aster' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


if TYPE_CHECKING:  # pragma: no cover
    from .applications import App, FastAPI
    from .background import BackgroundTasks
    from .datastructures import UploadFile
    from .exceptions import HTTPException, WebSocketException
    from .param_functions import Body, Cookie, Depends, File, Form, Header, Path, Query, Security
    from .requests import Request
    from .responses import Response
    from .routing import APIRouter
    from .server import Config, Server, run
    from .websockets import WebSocket, WebSocketDisconnect
