"""What every TechEmpower-style app (``bench/apps/tfb_*.py``) shares: the database work.

Nothing here imports a web framework, so each app module adds only its framework's
routing and responses, and the database code every framework runs is the same code:
one asyncpg pool of :data:`POOL_SIZE` connections (``TFB_POOL_SIZE``, default 16),
reached through libpq's variables (``PGHOST``, ``PGPORT``, ``PGUSER``...), which the
bench sets from its throwaway cluster.

The rules followed (TechEmpower's test types; ``bench/tfb_verify.py`` checks them):

- ``/db``: one random row of ``world``; ``/queries``: N rows, one query each (no
  ``IN``/``ANY``, no batching), N clamped to 1..500, anything else than an integer is 1;
- ``/fortunes``: every row of ``fortune`` plus one added at request time, sorted by
  message, rendered through a Jinja2 template with HTML escaping;
- ``/updates``: N rows read one by one, then written back with new random numbers in
  one batched ``executemany`` (allowed), ids sorted so concurrent requests lock rows in
  the same order and cannot deadlock;
- ``/cached-queries``: N rows from an in-process copy of ``world`` made at start-up.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from operator import itemgetter
from random import randint, sample
from typing import Any

import asyncpg
import jinja2
from pydantic import BaseModel

HELLO = "Hello, World!"
WORLD_ROWS = 10_000
POOL_SIZE = int(os.environ.get("TFB_POOL_SIZE", "16"))

READ_ROW = "SELECT id, randomnumber FROM world WHERE id = $1"
READ_NUMBER = "SELECT randomnumber FROM world WHERE id = $1"
WRITE_ROW = "UPDATE world SET randomnumber = $2 WHERE id = $1"
ALL_FORTUNES = "SELECT id, message FROM fortune"
ADDITIONAL_FORTUNE = (0, "Additional fortune added at request time.")

_TEMPLATE = jinja2.Environment(autoescape=True).from_string(
    "<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table>"
    "<tr><th>id</th><th>message</th></tr>"
    "{% for id, message in fortunes %}<tr><td>{{ id }}</td><td>{{ message }}</td></tr>"
    "{% endfor %}</table></body></html>"
)
_by_message = itemgetter(1)


class World(BaseModel):
    """A ``world`` row as TechEmpower spells it (``randomNumber``): the response model
    the FastAPI-style apps declare, so FastAPI serializes through pydantic's fast path."""

    id: int
    randomNumber: int  # the name TechEmpower's JSON uses


@asynccontextmanager
async def open_pool() -> AsyncIterator[asyncpg.Pool]:
    """The pool, min = max, so no framework pays for growing it mid-run."""
    pool = await asyncpg.create_pool(min_size=POOL_SIZE, max_size=POOL_SIZE)
    try:
        yield pool
    finally:
        await pool.close()


async def load_cache(pool: asyncpg.Pool) -> dict[int, dict[str, int]]:
    """``world`` copied into the process, for ``/cached-queries``."""
    rows = await pool.fetch("SELECT id, randomnumber FROM world")
    return {r[0]: {"id": r[0], "randomNumber": r[1]} for r in rows}


class Database:
    """The pool and the cache of an app that keeps them in a module global: filled by
    :func:`lifespan`, one per server process."""

    pool: asyncpg.Pool | None = None
    cache: dict[int, dict[str, int]] = {}


DB = Database()


@asynccontextmanager
async def lifespan(_app: Any = None) -> AsyncIterator[None]:
    """The app's lifespan, for frameworks without lifespan-scoped dependencies: open the
    pool and fill the cache into :data:`DB`; close the pool at shutdown."""
    async with open_pool() as pool:
        DB.cache = await load_cache(pool)
        DB.pool = pool
        try:
            yield
        finally:
            DB.pool = None


async def get_pool() -> asyncpg.Pool:
    """:data:`DB`'s pool, as a dependency (async, so FastAPI does not send it to a thread)."""
    assert DB.pool is not None, "the app's lifespan did not run"
    return DB.pool


def clamp(value: str | None) -> int:
    """TechEmpower's rule for ``queries``/``count``: an integer clamped to 1..500;
    missing or not an integer is 1."""
    try:
        n = int(value) if value is not None else 1
    except ValueError:
        return 1
    return 1 if n < 1 else 500 if n > 500 else n


def message() -> dict[str, str]:
    """A new object per request, as the JSON test requires (no cached bytes)."""
    return {"message": HELLO}


async def one_row(pool: asyncpg.Pool) -> dict[str, int]:
    row = await pool.fetchrow(READ_ROW, randint(1, WORLD_ROWS))
    return {"id": row[0], "randomNumber": row[1]}


async def many_rows(pool: asyncpg.Pool, n: int) -> list[dict[str, int]]:
    """``n`` rows, one round trip each, on one connection."""
    async with pool.acquire() as conn:
        out = []
        for _ in range(n):
            row = await conn.fetchrow(READ_ROW, randint(1, WORLD_ROWS))
            out.append({"id": row[0], "randomNumber": row[1]})
        return out


async def fortunes_html(pool: asyncpg.Pool) -> str:
    rows: list[tuple[int, str]] = [tuple(r) for r in await pool.fetch(ALL_FORTUNES)]
    rows.append(ADDITIONAL_FORTUNE)
    rows.sort(key=_by_message)
    return _TEMPLATE.render(fortunes=rows)


async def update_rows(pool: asyncpg.Pool, n: int) -> list[dict[str, int]]:
    """Read ``n`` distinct rows one by one, then write new numbers in one batch."""
    ids = sorted(sample(range(1, WORLD_ROWS + 1), n))
    async with pool.acquire() as conn:
        updates = []
        for row_id in ids:
            old = await conn.fetchval(READ_NUMBER, row_id)
            new = randint(1, WORLD_ROWS - 1)
            updates.append((row_id, new if new < old else new + 1))  # always a change
        await conn.executemany(WRITE_ROW, updates)
    return [{"id": i, "randomNumber": r} for i, r in updates]


def cached_rows(cache: dict[int, dict[str, int]], n: int) -> list[dict[str, int]]:
    return [cache[randint(1, WORLD_ROWS)] for _ in range(n)]
