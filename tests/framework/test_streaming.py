"""Yielding path operations: JSON Lines, Server-Sent Events and raw streams, in-process."""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from aster import Depends, FastAPI, Response
from aster.exceptions import ResponseValidationError
from aster.responses import StreamingResponse
from aster.sse import EventSourceResponse, ServerSentEvent, format_sse_event
from aster.testclient import TestClient


class Item(BaseModel):
    name: str
    price: float | None = None


app = FastAPI()


@app.get("/jsonl/typed", response_model_exclude_none=True)
async def jsonl_typed() -> AsyncIterable[Item]:
    yield Item(name="a", price=1.5)
    yield {"name": "b"}  # validated into an Item, then dumped without the None


@app.get("/jsonl/untyped")
def jsonl_untyped():
    yield {"x": float("nan"), "y": [1, float("inf")]}
    yield "text"


@app.get("/jsonl/invalid")
async def jsonl_invalid() -> AsyncIterable[Item]:
    yield {"name": "ok"}
    yield {"price": "not a number"}


def add_header(response: Response) -> None:
    # A generator's body runs only once the response streams, after the headers
    # are sent, so headers come from dependencies, as in FastAPI.
    response.headers["x-extra"] = "1"


@app.get("/jsonl/status", status_code=201, dependencies=[Depends(add_header)])
async def jsonl_status(response: Response) -> AsyncIterable[int]:
    response.headers["x-late"] = "ignored"
    yield 1


@app.get("/sse/events", response_class=EventSourceResponse)
async def sse_events() -> AsyncIterable[ServerSentEvent]:
    yield ServerSentEvent(comment="two\nlines")
    yield ServerSentEvent(data="quoted", event="e", id="7", retry=100)
    yield ServerSentEvent(data=Item(name="m"))
    yield ServerSentEvent(raw_data="raw\r\ntext")
    yield ServerSentEvent()


@app.get("/sse/typed", response_class=EventSourceResponse)
def sse_typed() -> Iterable[Item]:
    yield Item(name="s", price=2)


@app.post("/sse/post", response_class=EventSourceResponse)
async def sse_post(item: Item) -> AsyncIterable[dict[str, Any]]:
    yield {"got": item.name}


@app.get("/raw", response_class=StreamingResponse)
async def raw() -> AsyncIterable[str]:
    yield "a"
    yield "b"


client = TestClient(app)


def test_jsonl_typed_items_are_validated_and_dumped_with_the_route_options() -> None:
    response = client.get("/jsonl/typed")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/jsonl"
    assert response.text == '{"name":"a","price":1.5}\n{"name":"b"}\n'


def test_jsonl_untyped_items_use_json_dumps_and_null_for_non_finite_floats() -> None:
    response = client.get("/jsonl/untyped")
    assert response.text == '{"x": null, "y": [1, null]}\n"text"\n'


def test_jsonl_invalid_item_raises_response_validation_error() -> None:
    with pytest.raises(ResponseValidationError) as info:
        client.get("/jsonl/invalid")
    errors = info.value.errors()
    assert [(e["type"], e["loc"]) for e in errors] == [
        ("missing", ("response", "name")),
        ("float_parsing", ("response", "price")),
    ]


def test_jsonl_status_code_and_injected_response_headers() -> None:
    response = client.get("/jsonl/status")
    assert response.status_code == 201
    assert response.headers["x-extra"] == "1"
    assert "x-late" not in response.headers
    assert response.text == "1\n"


def test_sse_wire_format() -> None:
    response = client.get("/sse/events")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
    assert response.text == (
        ": two\n: lines\n\n"
        'event: e\ndata: "quoted"\nid: 7\nretry: 100\n\n'
        'data: {"name":"m","price":null}\n\n'
        "data: raw\ndata: text\n\n"
        "\n"
    )


def test_sse_plain_items_from_a_sync_generator_are_validated_json() -> None:
    assert client.get("/sse/typed").text == 'data: {"name":"s","price":2.0}\n\n'


def test_sse_over_post_with_a_body() -> None:
    response = client.post("/sse/post", json={"name": "p"})
    assert response.text == 'data: {"got":"p"}\n\n'
    assert client.post("/sse/post", json={}).status_code == 422


def test_raw_streams_use_the_declared_response_class() -> None:
    response = client.get("/raw")
    assert response.text == "ab"


def test_server_sent_event_validation() -> None:
    with pytest.raises(ValidationError, match="Cannot set both 'data' and 'raw_data'"):
        ServerSentEvent(data=1, raw_data="x")
    with pytest.raises(ValidationError, match="SSE 'event' must be a single line"):
        ServerSentEvent(event="a\nb")
    with pytest.raises(ValidationError, match="SSE 'id' must not contain null characters"):
        ServerSentEvent(id="a\0b")
    with pytest.raises(ValidationError):
        ServerSentEvent(retry=-1)


def test_format_sse_event() -> None:
    assert format_sse_event() == b"\n"
    assert format_sse_event(data_str="a\nb", id="1") == b"data: a\ndata: b\nid: 1\n\n"
    assert format_sse_event(comment="", event="x") == b": \nevent: x\n\n"
