"""Path operations that ``yield``: JSON Lines, Server-Sent Events, or a raw stream.

FastAPI 0.165 streams a generator endpoint in one of three ways, chosen when the
route is built:

* no ``response_class``: **JSON Lines** (``application/jsonl``), one JSON
  document per item, validated against the item type of the return annotation
  (``AsyncIterable[Item]``) when there is one;
* ``response_class=EventSourceResponse``: **Server-Sent Events**, see
  :mod:`aster.sse`;
* any other ``response_class`` (``StreamingResponse``...): the items are the
  body chunks.

Async streams give the event loop a turn after every item, so a client that
disconnects stops a generator that never awaits anything itself.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from . import sse
from ._response import Response
from ._streaming_response import StreamingResponse
from .background import BackgroundTasks
from .concurrency import iterate_in_threadpool
from .encoders import jsonable_encoder
from .exceptions import ResponseValidationError
from .fields import ModelField

__all__ = ["item_serializer", "stream_response"]

Encoder = Callable[[Any], bytes]


def _finite(data: Any) -> Any:
    """JSON-ready data with NaN and infinities as null (``json.dumps`` would write NaN)."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {key: _finite(value) for key, value in data.items()}
    if isinstance(data, list):
        return [_finite(value) for value in data]
    return data


def _plain_json(data: Any) -> bytes:
    # FastAPI encodes untyped items with json.dumps' default separators (", ", ": ").
    return json.dumps(_finite(jsonable_encoder(data))).encode("utf-8")


def item_serializer(
    field: ModelField | None, dump_options: dict[str, Any], endpoint_ctx: Callable[[], Any]
) -> Encoder:
    """One item to JSON bytes: validated and dumped by ``field`` when the route has an item type."""
    if field is None:
        return _plain_json
    to_json = field.json_serializer()

    def serialize(data: Any) -> bytes:
        value, errors = field.validate(data, {}, loc=("response",))
        if errors:
            raise ResponseValidationError(errors=errors, body=data, endpoint_ctx=endpoint_ctx())
        return to_json(value, **dump_options)  # type: ignore[no-any-return]

    return serialize


def _event_encoder(serialize: Encoder) -> Encoder:
    def encode(item: Any) -> bytes:
        if not isinstance(item, sse.ServerSentEvent):
            return sse.format_sse_event(data_str=serialize(item).decode("utf-8"))
        # The user shapes the event; its data is not validated against the item type.
        if item.raw_data is not None:
            data: str | None = item.raw_data
        elif item.data is None:
            data = None
        elif hasattr(item.data, "model_dump_json"):
            data = item.data.model_dump_json()
        else:
            data = json.dumps(_finite(jsonable_encoder(item.data)))
        return sse.format_sse_event(
            data_str=data, event=item.event, id=item.id, retry=item.retry, comment=item.comment
        )

    return encode


async def _aclose(iterator: Any) -> None:
    close = getattr(iterator, "aclose", None)
    if close is not None:
        await close()


class _EventStream:
    """Encoded events, with a keep-alive comment whenever the generator is quiet too long.

    A producer task drives the generator, so the keep-alive timeout never
    interrupts the generator itself (a timeout around ``__anext__`` would cancel
    and finalize it).  Closing the stream cancels the producer and closes the
    generator, which is what a client disconnect does.
    """

    _ITEM, _ERROR, _END = range(3)

    def __init__(self, source: AsyncIterator[Any], encode: Encoder) -> None:
        self._source = source
        self._encode = encode
        self._queue: asyncio.Queue[tuple[int, Any]] = asyncio.Queue(maxsize=1)
        self._producer: asyncio.Task[None] | None = None
        # The pending ``queue.get()``: kept across keep-alive timeouts so no item is lost.
        self._getter: asyncio.Task[tuple[int, Any]] | None = None

    def __aiter__(self) -> _EventStream:
        return self

    async def __anext__(self) -> bytes:
        loop = asyncio.get_running_loop()
        if self._producer is None:
            self._producer = loop.create_task(self._produce())
        getter = self._getter
        if getter is None:
            getter = self._getter = loop.create_task(self._queue.get())
        done, _ = await asyncio.wait((getter,), timeout=sse._PING_INTERVAL)
        if not done:
            return sse.KEEPALIVE_COMMENT
        self._getter = None
        kind, value = getter.result()
        if kind == self._ITEM:
            await asyncio.sleep(0)  # a turn for the loop, even when events never wait
            return value  # type: ignore[no-any-return]
        if kind == self._ERROR:
            raise value
        raise StopAsyncIteration

    async def _produce(self) -> None:
        try:
            async for item in self._source:
                await self._queue.put((self._ITEM, self._encode(item)))
        except Exception as exc:  # handed to the consumer, which raises it in the response
            await self._queue.put((self._ERROR, exc))
        else:
            await self._queue.put((self._END, None))

    async def aclose(self) -> None:
        if self._getter is not None:
            self._getter.cancel()
            self._getter = None
        producer = self._producer
        if producer is not None and not producer.done():
            producer.cancel()
            try:
                await producer
            except asyncio.CancelledError:
                pass
        await _aclose(self._source)


async def _jsonl(source: AsyncIterator[Any], encode: Encoder) -> AsyncIterator[bytes]:
    try:
        async for item in source:
            yield encode(item) + b"\n"
            await asyncio.sleep(0)
    finally:
        await _aclose(source)


def _jsonl_sync(source: Iterator[Any], encode: Encoder) -> Iterator[bytes]:
    try:
        for item in source:
            yield encode(item) + b"\n"
    finally:
        close = getattr(source, "close", None)
        if close is not None:
            close()


async def _checkpointed(source: AsyncIterator[Any]) -> AsyncIterator[Any]:
    try:
        async for chunk in source:
            yield chunk
            await asyncio.sleep(0)
    finally:
        await _aclose(source)


def stream_response(
    stream: Any,
    *,
    kind: str,
    response_class: type[Response],
    encode: Encoder,
    status_code: int | None,
    sub: Response | None,
    background: BackgroundTasks | None,
) -> Response:
    """The response for the generator object an endpoint returned.

    ``kind`` is ``"sse"``, ``"jsonl"`` or ``"raw"``.  The status is the route's,
    or the one set on an injected ``Response``, whose headers are added too.
    """
    is_async = hasattr(stream, "__aiter__")
    args: dict[str, Any] = {"background": background}
    code = status_code
    if sub is not None and sub.status_code:
        code = sub.status_code
    if code is not None:
        args["status_code"] = code
    response: Response
    if kind == "sse":
        source = stream if is_async else iterate_in_threadpool(stream)
        response = StreamingResponse(
            _EventStream(source, _event_encoder(encode)), media_type="text/event-stream", **args
        )
        response.headers["Cache-Control"] = "no-cache"
        response.headers["X-Accel-Buffering"] = "no"  # nginx: do not buffer the events
    elif kind == "jsonl":
        body = _jsonl(stream, encode) if is_async else _jsonl_sync(stream, encode)
        response = StreamingResponse(body, media_type="application/jsonl", **args)
    else:
        response = response_class(content=_checkpointed(stream) if is_async else stream, **args)
    if sub is not None:
        response.headers.raw.extend(sub.headers.raw)
    return response
