"""The access log, in Common Log Format, through ``logging`` ("aster.access")."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .protocols.cycle import HTTPCycle

access_logger = logging.getLogger("aster.access")

# Everything outside printable ASCII, plus the quote and backslash, is written as \xNN
# so that a request target can neither forge log lines nor break the quoted field.
_ESCAPES = {i: f"\\x{i:02x}" for i in (*range(0x20), 0x22, 0x5C, *range(0x7F, 0x100))}


def escape(raw: bytes) -> str:
    return raw.decode("latin-1").translate(_ESCAPES)


_stamp_second = -1
_stamp = ""


def _timestamp() -> str:
    """``21/Nov/2026:09:01:10 +0000``, formatted at most once a second."""
    global _stamp_second, _stamp
    now = int(time.time())
    if now != _stamp_second:
        _stamp_second = now
        _stamp = time.strftime("%d/%b/%Y:%H:%M:%S %z", time.localtime(now))
    return _stamp


def log_access(cycle: HTTPCycle, now: float) -> None:
    """One Common Log Format line: ``host - - [time] "METHOD target HTTP/v" status bytes``.

    ``bytes`` counts the body bytes that went on the wire, so 0 for HEAD, 1xx, 204 and 304
    responses, whatever body the app handed over.
    """
    scope = cycle.scope
    client = scope.get("client")
    host = client[0] if client else "-"
    target = scope.get("raw_path") or scope.get("path", "").encode("utf-8")
    if scope.get("query_string"):
        target += b"?" + scope["query_string"]
    status = cycle.status
    method = scope["method"]
    sent = 0 if method == "HEAD" or status < 200 or status in (204, 304) else cycle.bytes_sent
    access_logger.info(
        '%s - - [%s] "%s %s HTTP/%s" %d %d',
        host,
        _timestamp(),
        method,
        escape(target),
        "2.0" if scope["http_version"] == "2" else scope["http_version"],
        status,
        sent,
        extra={
            "client_addr": host,
            "status_code": status,
            "duration": now - cycle.start_time,
        },
    )
