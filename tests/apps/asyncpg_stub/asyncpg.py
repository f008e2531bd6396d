"""Stands in for asyncpg when it is not installed, so the seed's DB example can start.

Put on ``PYTHONPATH`` only when ``import asyncpg`` fails.  ``connect()`` fails the
way asyncpg does when no PostgreSQL server listens: the route answers 500.
"""

from __future__ import annotations

from typing import Any


async def connect(*args: Any, **kwargs: Any) -> Any:
    host = kwargs.get("host", "localhost")
    raise ConnectionRefusedError(111, f"Connect call failed ('{host}', 5432)")
