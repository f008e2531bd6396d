"""Calling ASGI apps directly, for tests that check exact messages."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Result:
    messages: list[dict[str, Any]] = field(default_factory=list)
    error: BaseException | None = None

    @property
    def start(self) -> dict[str, Any]:
        return next(m for m in self.messages if m["type"].endswith("http.response.start"))

    @property
    def status(self) -> int:
        return int(self.start["status"])

    @property
    def headers(self) -> list[tuple[bytes, bytes]]:
        return list(self.start["headers"])

    def header(self, name: str) -> str | None:
        wanted = name.lower().encode()
        values = [v.decode("latin-1") for k, v in self.headers if k == wanted]
        return values[0] if values else None

    @property
    def body(self) -> bytes:
        return b"".join(
            bytes(m.get("body", b"")) for m in self.messages if m["type"].endswith("response.body")
        )


def make_scope(
    path: str = "/",
    method: str = "GET",
    headers: Iterable[tuple[str, str]] = (),
    **extra: Any,
) -> dict[str, Any]:
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    scope.update(extra)
    return scope


async def call(
    app: Any,
    scope: dict[str, Any] | None = None,
    body: bytes | list[bytes] = b"",
    *,
    disconnect_after: float | None = None,
    raise_errors: bool = True,
) -> Result:
    """Run ``app`` once; ``receive`` gives ``body``, then waits for the response to end
    (or for ``disconnect_after`` seconds from the start) and reports a disconnect."""
    scope = scope if scope is not None else make_scope()
    chunks = [body] if isinstance(body, bytes) else list(body)
    pending = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]
    result = Result()
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    deadline = None if disconnect_after is None else loop.time() + disconnect_after

    async def receive() -> dict[str, Any]:
        if pending:
            return pending.pop(0)
        if deadline is not None:
            if loop.time() < deadline:
                await asyncio.sleep(deadline - loop.time())
        else:
            await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        result.messages.append(dict(message))
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            done.set()

    try:
        await app(scope, receive, send)
    except BaseException as exc:
        if raise_errors:
            raise
        result.error = exc
    return result


def run(app: Any, scope: dict[str, Any] | None = None, body: bytes = b"", **kw: Any) -> Result:
    return asyncio.run(call(app, scope, body, **kw))
