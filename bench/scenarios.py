"""The request mixes to measure, as data: what wrk sends and what a correct answer is.

Before any scenario is measured against a server, :func:`verify` sends one request and
checks the status and the exact body, so a server that answers fast but wrong (an error
page, a truncated echo) is reported as broken instead of winning.
"""

from __future__ import annotations

import http.client
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

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


@dataclass(frozen=True)
class Scenario:
    """One measured request mix.

    ``tool`` names the load generator (only "wrk" today; WebSocket and HTTP/2 scenarios
    will add theirs).  ``lua`` is the wrk script, ``env`` what the script reads.
    """

    name: str
    description: str
    method: str
    path: str
    check: Check
    body_size: int = 0
    content_type: str = "application/octet-stream"
    lua: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    tool: str = "wrk"


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
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
}


class VerificationError(Exception):
    """The server answered, but not correctly."""


def verify(scenario: Scenario, host: str, port: int, timeout: float = 5.0) -> None:
    """Send one request of ``scenario`` and raise :class:`VerificationError` if it is wrong.

    The body is random bytes rather than wrk's filler, so an echo that returns the right
    length of the wrong bytes is caught too.
    """
    body = os.urandom(scenario.body_size) if scenario.body_size else b""
    headers = {"Content-Type": scenario.content_type} if body else {}
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(scenario.method, scenario.path, body=body or None, headers=headers)
        response = conn.getresponse()
        got = response.read()
        status = response.status
    except (OSError, http.client.HTTPException) as exc:
        raise VerificationError(f"{scenario.name}: request failed: {exc!r}") from exc
    finally:
        conn.close()
    problem = scenario.check(status, body, got)
    if problem:
        raise VerificationError(f"{scenario.name}: {scenario.method} {scenario.path}: {problem}")
