"""What the two channels-suite apps share: the channel, where Redis is, and ``/stats``.

``channels_aster`` (aster.channels on ``aster run``) and ``channels_fastapi`` (FastAPI
and encode/broadcaster on uvicorn) are the same chat: ``WebSocket /ws`` subscribes to
:data:`CHANNEL` and forwards every message to the socket as a text frame, while a
receive loop waits for the client to leave; ``GET /stats`` answers this process's
figures (:func:`process_figures`, plus the channel library's own).  The publisher is
the load generator, straight to Redis, so the apps have no publish route.
"""

from __future__ import annotations

import os
import resource
from typing import Any

CHANNEL = "chat"
KEEPALIVE_CHANNEL = "__bench_keepalive__"
REDIS_URL_VARIABLE = "CHANNELS_REDIS_URL"


def redis_url() -> str:
    """The suite's Redis (``bench.channels_suite.redis`` puts it in the environment)."""
    url = os.environ.get(REDIS_URL_VARIABLE)
    if not url:
        raise RuntimeError(f"{REDIS_URL_VARIABLE} is not set: the channels apps need Redis")
    return url


def process_figures() -> dict[str, Any]:
    """The process id and the CPU seconds it has used (all threads; and of them, in the
    kernel), for the load's CPU-per-message figures."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "pid": os.getpid(),
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "system_seconds": usage.ru_stime,
    }


def missed_text(reason: str, count: int | None) -> str:
    """The text frame that stands for a gap (aster's ``Missed`` event), so the client can
    tell a gap the server owned up to from a silent one."""
    return f"!missed {reason} {count if count is not None else '?'}"
