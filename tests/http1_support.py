"""Helpers shared by the ``test_http1_*`` modules (on top of ``tests.support``)."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from tests.support import RawConnection, Response, request


def get(port: int, target: str, *headers: str, version: str = "1.1") -> Response:
    """One GET on a fresh connection."""
    lines = [f"GET {target} HTTP/{version}", "Host: test", *headers, "", ""]
    return request(port, "\r\n".join(lines).encode())


def get_json(port: int, target: str, *headers: str) -> Any:
    response = get(port, target, *headers)
    assert response.status == 200, response
    return json.loads(response.body)


def assert_serving(
    port: int, target: str = "/_/log/still-serving", body: bytes = b"logged"
) -> None:
    """The server still answers a fresh, well-formed request."""
    response = get(port, target)
    assert (response.status, response.body) == (200, body), response


def assert_rejected(
    port: int, data: bytes, status: int, reason: str | None = None, **serving: Any
) -> Response:
    """``data`` gets exactly ``status``, the connection closes, the server carries on."""
    with RawConnection(port) as conn:
        conn.send(data)
        response = conn.read_response()
        assert response.status == status, (response.status, response.body)
        if reason is not None:
            assert response.reason == reason
        assert response.header("connection") == "close"
        assert response.header("content-type") == "text/plain; charset=utf-8"
        assert conn.is_closed(timeout=5.0), "the server kept the connection open"
    assert_serving(port, **serving)
    return response


def curl(*args: str, timeout: float = 30.0, stdin: bytes | None = None) -> bytes:
    """Run curl; return its stdout, failing the test on a non-zero exit."""
    result = subprocess.run(
        ["curl", "--silent", "--show-error", "--max-time", "20", *args],
        input=stdin,
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result.stdout
