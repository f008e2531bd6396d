"""The request mixes to measure, as data: what wrk sends and what a correct answer is.

Before any scenario is measured against a server, :func:`verify` sends one request and
checks the status, the exact body (for JSON: the same value, with the same types, so
``"42"`` or ``42.0`` is not ``42``), the media type and any required headers, and that
each of the scenario's invalid requests is refused with a 4xx.  A server that answers
fast but wrong (an error page, a truncated echo, a route that skips validation) is
reported as broken instead of winning.

Two sets: :data:`SERVER_SCENARIOS` for the raw-ASGI app every server runs, and
:data:`FRAMEWORK_SCENARIOS` for the same app written for each framework
(``bench/apps/fw_*.py``).
"""

from __future__ import annotations

import http.client
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

LUA_DIR = Path(__file__).parent / "lua"

Check = Callable[[int, bytes, bytes], str | None]
"""(status, body sent, body received) -> a description of what is wrong, or None."""


def exact(expected: bytes, status: int = 200) -> Check:
    """The response must be ``status`` with exactly ``expected`` as its body."""

    def check(got_status: int, sent: bytes, got: bytes) -> str | None:
        if got_status != status:
            return f"status {got_status}, expected {status}"
        if got != expected:
            return f"body {got[:60]!r}, expected {expected[:60]!r}"
        return None

    return check


def echoes(status: int = 200) -> Check:
    """The response must be ``status`` with the request body, byte for byte."""

    def check(got_status: int, sent: bytes, got: bytes) -> str | None:
        if got_status != status:
            return f"status {got_status}, expected {status}"
        if got != sent:
            return f"echoed {len(got)} bytes that differ from the {len(sent)} sent"
        return None

    return check


def same_json(a: Any, b: Any) -> bool:
    """JSON values equal *with their types*: ``1 != 1.0 != True``, object key order ignored."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def json_equals(expected: Any, status: int = 200) -> Check:
    """The response must be ``status`` with a JSON body equal to ``expected`` (see
    :func:`same_json`); whitespace and key order are the framework's business."""

    def check(got_status: int, sent: bytes, got: bytes) -> str | None:
        if got_status != status:
            return f"status {got_status}, expected {status}: {got[:200]!r}"
        try:
            value = json.loads(got)
        except ValueError:
            return f"body {got[:100]!r} is not JSON"
        if not same_json(value, expected):
            return f"body {got[:200].decode(errors='replace')}, expected {json.dumps(expected)}"
        return None

    return check


@dataclass(frozen=True)
class Probe:
    """An invalid request the app must refuse with a 4xx (proof that it validates)."""

    method: str
    path: str
    body: bytes = b""
    content_type: str = "application/json"


@dataclass(frozen=True)
class Scenario:
    """One measured request mix.

    ``tool`` names the load generator: "wrk", "ws" (:mod:`bench.ws_load`) or "h2load".
    ``lua`` is the wrk script, ``env`` what the script or the tool reads.  The request
    body is ``body`` if given, else ``body_size`` bytes (random ones when verifying).
    ``app`` names another app of the contender to serve this scenario from: one of its
    :attr:`~bench.servers.Contender.apps`, else another attribute of its app module
    (``middleware_app``: middleware must not slow the other routes).  ``tls``: the server
    is started with a certificate and the load goes over TLS.
    """

    name: str
    description: str
    method: str
    path: str
    check: Check
    body_size: int = 0
    body: bytes = b""
    content_type: str = "application/octet-stream"
    lua: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    tool: str = "wrk"
    media_type: str | None = None
    headers: tuple[str, ...] = ()
    rejects: tuple[Probe, ...] = ()
    app: str | None = None
    tls: bool = False


def _scenarios(*scenarios: Scenario) -> dict[str, Scenario]:
    return {s.name: s for s in scenarios}


SERVER_SCENARIOS: dict[str, Scenario] = _scenarios(
    Scenario(
        "plaintext",
        "GET / -> 13-byte text/plain",
        "GET",
        "/",
        exact(b"Hello, world!"),
    ),
    Scenario(
        "echo10k",
        "POST /echo, 10 KiB body read fully and echoed",
        "POST",
        "/echo",
        echoes(),
        body_size=10 * 1024,
        lua=LUA_DIR / "post.lua",
        env={"BENCH_BODY_SIZE": str(10 * 1024)},
    ),
)
SCENARIOS = SERVER_SCENARIOS  # the name before there were two sets


def _item() -> dict[str, Any]:
    """A ~200-byte JSON item for ``post_model``; every field set, so the echo is exact."""
    item: dict[str, Any] = {
        "name": "Widget Pro 3000",
        "price": 19.99,
        "tags": ["tools", "hardware", "sale", "new"],
        "description": "",
    }
    item["description"] = "A sturdy widget. " * 6
    return item


ITEM = _item()
ITEM_BODY = json.dumps(ITEM).encode()
JSON = "application/json"
HELLO = "Hello, World!"

FRAMEWORK_SCENARIOS: dict[str, Scenario] = _scenarios(
    Scenario(
        "plaintext",
        'GET /plaintext -> text/plain "Hello, World!"',
        "GET",
        "/plaintext",
        exact(HELLO.encode()),
        media_type="text/plain",
    ),
    Scenario(
        "json",
        'GET /json -> {"message": "Hello, World!"}',
        "GET",
        "/json",
        json_equals({"message": HELLO}),
        media_type=JSON,
    ),
    Scenario(
        "path_query",
        "GET /items/42?q=hello&limit=5: int path param, str and int (default 10) query "
        "params, echoed as JSON",
        "GET",
        "/items/42?q=hello&limit=5",
        json_equals({"item_id": 42, "q": "hello", "limit": 5}),
        media_type=JSON,
        rejects=(Probe("GET", "/items/42?q=hello&limit=many"),),
    ),
    Scenario(
        "post_model",
        f"POST /items, a {len(ITEM_BODY)}-byte JSON body validated into a pydantic model "
        "and returned (response_model)",
        "POST",
        "/items",
        json_equals(ITEM),
        body=ITEM_BODY,
        content_type=JSON,
        lua=LUA_DIR / "post_body.lua",
        env={"BENCH_BODY": ITEM_BODY.decode(), "BENCH_CONTENT_TYPE": JSON},
        media_type=JSON,
        rejects=(Probe("POST", "/items", b'{"name": "Widget", "price": "cheap"}'),),
    ),
    Scenario(
        "sync",
        "GET /sync: a plain def endpoint, run in the threadpool (it reports that it was)",
        "GET",
        "/sync",
        json_equals({"message": HELLO, "worker_thread": True}),
        media_type=JSON,
    ),
    Scenario(
        "dependency",
        "GET /dependency?q=hello&limit=5: one dependency reads two query params",
        "GET",
        "/dependency?q=hello&limit=5",
        json_equals({"q": "hello", "limit": 5}),
        media_type=JSON,
        rejects=(Probe("GET", "/dependency?q=hello&limit=many"),),
    ),
    Scenario(
        "deps3",
        "GET /deps3: a three-level dependency chain (a <- b <- c)",
        "GET",
        "/deps3",
        json_equals({"depth": 3}),
        media_type=JSON,
    ),
    Scenario(
        "middleware3",
        "GET /json behind three pure-ASGI middlewares, each adding a header",
        "GET",
        "/json",
        json_equals({"message": HELLO}),
        media_type=JSON,
        headers=("x-mw-1", "x-mw-2", "x-mw-3"),
        app="middleware_app",
    ),
)


class VerificationError(Exception):
    """The server answered, but not correctly."""


class Headers(Protocol):
    """Response headers, looked up case-insensitively (http.client's or httpx's)."""

    def get(self, name: str) -> str | None: ...

    def __contains__(self, name: object) -> bool: ...


Request = Callable[[str, int, str, str, bytes, str, float], tuple[int, Headers, bytes]]
"""(host, port, method, path, body, content type, timeout) -> (status, headers, body);
raises OSError or http.client.HTTPException if no answer came, or VerificationError
when the answer is in the wrong protocol."""


def http1_request(
    host: str, port: int, method: str, path: str, body: bytes, content_type: str, timeout: float
) -> tuple[int, http.client.HTTPMessage, bytes]:
    headers = {"Content-Type": content_type} if body else {}
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, body=body or None, headers=headers)
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def verify(
    scenario: Scenario,
    host: str,
    port: int,
    timeout: float = 5.0,
    request: Request = http1_request,
) -> None:
    """Send one request of ``scenario`` and raise :class:`VerificationError` if it is wrong.

    Without a fixed body, the body is random bytes rather than wrk's filler, so an echo
    that returns the right length of the wrong bytes is caught too.  ``request`` sends
    it (HTTP/1.1 unless the scenario's tool speaks something else).
    """
    s = scenario
    body = s.body or (os.urandom(s.body_size) if s.body_size else b"")
    where = f"{s.name}: {s.method} {s.path}"
    try:
        status, headers, got = request(host, port, s.method, s.path, body, s.content_type, timeout)
    except (OSError, http.client.HTTPException) as exc:
        raise VerificationError(f"{s.name}: request failed: {exc!r}") from exc
    problem = s.check(status, body, got)
    if problem:
        raise VerificationError(f"{where}: {problem}")
    media_type = (headers.get("content-type") or "").split(";")[0].strip().lower()
    if s.media_type and media_type != s.media_type:
        raise VerificationError(f"{where}: content-type {media_type!r}, expected {s.media_type!r}")
    missing = [h for h in s.headers if h not in headers]
    if missing:
        raise VerificationError(f"{where}: header(s) {', '.join(missing)} missing")
    for probe in s.rejects:
        try:
            status, _, got = request(
                host, port, probe.method, probe.path, probe.body, probe.content_type, timeout
            )
        except (OSError, http.client.HTTPException) as exc:
            raise VerificationError(f"{s.name}: invalid request failed: {exc!r}") from exc
        if not 400 <= status < 500:
            raise VerificationError(
                f"{s.name}: invalid {probe.method} {probe.path} {probe.body[:60]!r} answered "
                f"{status}, expected a 4xx refusal: {got[:100]!r}"
            )
