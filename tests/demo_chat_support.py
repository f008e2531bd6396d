"""The demo chat on Redis, for tests/test_demo_chat_redis.py and test_demo_chat_browser.py:
demo processes sharing one redis-server (``REDIS_URL``), each with its own notes file."""

from __future__ import annotations

import contextlib
import importlib.util
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import Running, serve
from tests.test_demo import DEMO, demo_env

#: Seconds a member outlives its process's last word in Redis: short, so that a test can
#: watch a killed process's members go (the demo's default is 15).
PRESENCE_TTL = 1.5


def skip_without_redis() -> None:
    """Skip unless the server processes can reach a Redis: the package and the binary."""
    if importlib.util.find_spec("redis") is None:
        pytest.skip("the redis package (aster[redis], in the test extra) is missing")
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (make sysdeps)")


def redis_env(redis_url: str, db: Path) -> dict[str, str]:
    return {
        **demo_env(db),
        "REDIS_URL": redis_url,
        "ASTER_DEMO_PRESENCE_TTL": str(PRESENCE_TTL),
    }


@contextlib.contextmanager
def serve_on_redis(redis_url: str, root: Path, *names: str) -> Iterator[list[Running]]:
    """One ``aster run`` of the demo per name, all on ``redis_url``."""
    with contextlib.ExitStack() as stack:
        yield [
            stack.enter_context(serve(*DEMO, env=redis_env(redis_url, root / f"{name}.sqlite3")))
            for name in names
        ]
