"""Server-Sent Events, as FastAPI 0.165 has them (``fastapi.sse``).

A path operation that *yields* and declares ``response_class=EventSourceResponse``
streams ``text/event-stream``: every yielded item becomes one event.  A plain
item (a model, a dict, a string...) is JSON-encoded into the ``data:`` field; a
:class:`ServerSentEvent` gives full control (``event``, ``id``, ``retry``,
comments, and ``raw_data`` for text that must not be JSON-encoded).  While the
generator is idle, a ``: ping`` comment goes out every ``_PING_INTERVAL``
seconds so proxies do not drop the connection.  The encoding itself happens in
:mod:`aster._endpoint_streams`; this module holds the public types.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, model_validator

from ._streaming_response import StreamingResponse

__all__ = [
    "KEEPALIVE_COMMENT",
    "EventSourceResponse",
    "ServerSentEvent",
    "format_sse_event",
]

#: The keep-alive event: a comment line, which ``EventSource`` clients ignore.
KEEPALIVE_COMMENT = b": ping\n\n"

#: Seconds of generator silence before a keep-alive comment is sent.  Private, but
#: tests (FastAPI's included) monkeypatch it, as ``fastapi.routing._PING_INTERVAL``:
#: :mod:`aster.routing` reads and sets this one under that name.
_PING_INTERVAL: float = 15.0

#: The JSON schema of one event (OpenAPI 3.2, "Special Considerations for Server-Sent Events").
_SSE_EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "data": {"type": "string"},
        "event": {"type": "string"},
        "id": {"type": "string"},
        "retry": {"type": "integer", "minimum": 0},
    },
}


class EventSourceResponse(StreamingResponse):
    """``text/event-stream``: a marker ``response_class`` for yielding path operations.

    Any method may use it (MCP streams SSE over POST).  Used directly, it is a
    ``StreamingResponse`` of already-encoded event bytes.
    """

    media_type = "text/event-stream"


def _single_line(field: str) -> Any:
    def check(value: str | None) -> str | None:
        if value is not None and ("\r" in value or "\n" in value):
            raise ValueError(f"SSE '{field}' must be a single line")
        return value

    return AfterValidator(check)


def _no_null(value: str | None) -> str | None:
    # A NUL in an id makes browsers ignore the field (HTML's event-stream parsing rules).
    if value is not None and "\0" in value:
        raise ValueError("SSE 'id' must not contain null characters")
    return value


class ServerSentEvent(BaseModel):
    """One event.  ``data`` is always JSON-encoded (``"hello"`` goes out quoted);
    ``raw_data`` goes out as is.  They are mutually exclusive."""

    data: Any = None
    raw_data: str | None = None
    event: Annotated[str | None, _single_line("event")] = None
    id: Annotated[str | None, _single_line("id"), AfterValidator(_no_null)] = None
    retry: Annotated[int | None, Field(ge=0)] = None
    comment: str | None = None

    @model_validator(mode="after")
    def _data_or_raw_data(self) -> ServerSentEvent:
        if self.data is not None and self.raw_data is not None:
            raise ValueError(
                "Cannot set both 'data' and 'raw_data' on the same ServerSentEvent. "
                "Use 'data' for JSON-serialized payloads or 'raw_data' for pre-formatted strings."
            )
        return self


def _lines(value: str) -> list[str]:
    """Split on the event-stream line ends (CRLF, LF, CR), keeping trailing empty lines."""
    return value.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def format_sse_event(
    *,
    data_str: str | None = None,
    event: str | None = None,
    id: str | None = None,
    retry: int | None = None,
    comment: str | None = None,
) -> bytes:
    """The wire bytes of one event from already-serialized data; ends with a blank line."""
    out: list[str] = []
    if comment is not None:
        out += [f": {line}" for line in _lines(comment)]
    if event is not None:
        out.append(f"event: {event}")
    if data_str is not None:
        out += [f"data: {line}" for line in _lines(data_str)]
    if id is not None:
        out.append(f"id: {id}")
    if retry is not None:
        out.append(f"retry: {retry}")
    out.append("\n")
    return "\n".join(out).encode("utf-8")
