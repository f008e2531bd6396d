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


def log_access(cycle: HTTPCycle, now: float) -> None:
    scope = cycle.scope
    client = scope.get("client")
    host = client[0] if client else "-"
    target = scope.get("raw_path") or scope.get("path", "").encode("utf-8")
    if scope.get("query_string"):
        target += b"?" + scope["query_string"]
    stamp = time.strftime("%d/%b/%Y:%H:%M:%S %z", time.localtime())
    access_logger.info(
        '%s - - [%s] "%s %s HTTP/%s" %d %d',
        host,
        stamp,
        scope["method"],
        escape(target),
        scope["http_version"],
        cycle.status,
        cycle.bytes_sent,
        extra={
            "client_addr": host,
            "status_code": cycle.status,
            "duration": now - cycle.start_time,
        },
    )
