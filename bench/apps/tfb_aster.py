"""The TechEmpower-style app on aster (served by ``aster run``): the baseline.

It is ``tfb_fastapi`` with ``fastapi`` -> ``aster``, except for how the pool is
shared: aster has lifespan-scoped dependencies (``Depends(..., scope="lifespan")``),
so the pool and the ``world`` cache are dependencies created once at start-up and
closed at shutdown, instead of FastAPI's module global filled by the app's lifespan.
The database code is the same (``tfb_shared``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import asyncpg

from aster import Depends, FastAPI
from aster.responses import HTMLResponse, PlainTextResponse
from bench.apps import tfb_shared as tfb
from bench.apps.tfb_shared import World


async def open_pool() -> AsyncIterator[asyncpg.Pool]:
    async with tfb.open_pool() as pool:
        yield pool


Pool = Annotated[asyncpg.Pool, Depends(open_pool, scope="lifespan")]


async def world_cache(pool: Pool) -> dict[int, dict[str, int]]:
    return await tfb.load_cache(pool)


Cache = Annotated[dict[int, dict[str, int]], Depends(world_cache, scope="lifespan")]

app = FastAPI()


@app.get("/json")
async def json_message() -> dict[str, str]:
    return tfb.message()


@app.get("/plaintext")
async def plaintext() -> PlainTextResponse:
    return PlainTextResponse(tfb.HELLO)


@app.get("/db")
async def single_query(pool: Pool) -> World:
    return await tfb.one_row(pool)  # type: ignore[return-value]


@app.get("/queries")
async def multiple_queries(pool: Pool, queries: str | None = None) -> list[World]:
    return await tfb.many_rows(pool, tfb.clamp(queries))  # type: ignore[return-value]


@app.get("/fortunes")
async def fortunes(pool: Pool) -> HTMLResponse:
    return HTMLResponse(await tfb.fortunes_html(pool))


@app.get("/updates")
async def updates(pool: Pool, queries: str | None = None) -> list[World]:
    return await tfb.update_rows(pool, tfb.clamp(queries))  # type: ignore[return-value]


@app.get("/cached-queries")
async def cached_queries(cache: Cache, count: str | None = None) -> list[World]:
    return tfb.cached_rows(cache, tfb.clamp(count))  # type: ignore[return-value]
