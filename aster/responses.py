"""``fastapi.responses``: Starlette's response classes and FastAPI's own.

A face: Starlette's classes come from :mod:`aster._response`,
:mod:`aster._streaming_response` and :mod:`aster._fileresponse`, FastAPI's from
:mod:`aster.sse` (``EventSourceResponse``) and :mod:`aster._json_libraries`
(``UJSONResponse``/``ORJSONResponse``).
"""

from ._fileresponse import FileResponse, MalformedRangeHeader, RangeNotSatisfiable
from ._json_libraries import ORJSONResponse, UJSONResponse
from ._response import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    render_json,
)
from ._streaming_response import (
    AsyncContentStream,
    Content,
    ContentStream,
    StreamingResponse,
    SyncContentStream,
)
from .exceptions import FastAPIDeprecationWarning
from .sse import EventSourceResponse

__all__ = [
    "AsyncContentStream",
    "Content",
    "ContentStream",
    "EventSourceResponse",
    "FastAPIDeprecationWarning",
    "FileResponse",
    "HTMLResponse",
    "JSONResponse",
    "MalformedRangeHeader",
    "ORJSONResponse",
    "PlainTextResponse",
    "RangeNotSatisfiable",
    "RedirectResponse",
    "Response",
    "StreamingResponse",
    "SyncContentStream",
    "UJSONResponse",
    "render_json",
]
