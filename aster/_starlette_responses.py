"""``starlette.responses`` under :mod:`aster.compat`: Starlette's responses, without FastAPI's.

A face: every name is defined elsewhere in aster (the classes in :mod:`aster._response`,
:mod:`aster._streaming_response` and :mod:`aster._fileresponse`); the rest are the names
Starlette's module imports and code imports from it.
"""

import json  # noqa: F401 - Starlette's module has it; tests patch starlette.responses.json.dumps

from ._fileresponse import FileResponse, MalformedRangeHeader, RangeNotSatisfiable
from ._response import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from ._streaming_response import (
    AsyncContentStream,
    Content,
    ContentStream,
    StreamingResponse,
    SyncContentStream,
)
from .background import BackgroundTask
from .concurrency import iterate_in_threadpool
from .datastructures import URL, Headers, MutableHeaders
from .requests import ClientDisconnect
from .types import Message, Receive, Scope, Send

__all__ = [
    "URL",
    "AsyncContentStream",
    "BackgroundTask",
    "ClientDisconnect",
    "Content",
    "ContentStream",
    "FileResponse",
    "HTMLResponse",
    "Headers",
    "JSONResponse",
    "MalformedRangeHeader",
    "Message",
    "MutableHeaders",
    "PlainTextResponse",
    "RangeNotSatisfiable",
    "Receive",
    "RedirectResponse",
    "Response",
    "Scope",
    "Send",
    "StreamingResponse",
    "SyncContentStream",
    "iterate_in_threadpool",
]
