"""The TechEmpower-style app on Litestar (served by uvicorn with httptools and uvloop).

Litestar's idiom for the same thing: the pool is opened by an app ``lifespan`` and
``Provide``d by name to the handlers that ask for it; handlers return plain data,
which Litestar encodes with msgspec; HTML is a ``Response`` with ``MediaType.HTML``.
"""

from __future__ import annotations

import asyncpg
from litestar import Litestar, MediaType, Response, get
from litestar.di import Provide

from bench.apps import tfb_shared as tfb


@get("/json")
async def json_message() -> dict[str, str]:
    return tfb.message()


@get("/plaintext", media_type=MediaType.TEXT)
async def plaintext() -> str:
    return tfb.HELLO


@get("/db")
async def single_query(pool: asyncpg.Pool) -> dict[str, int]:
    return await tfb.one_row(pool)


@get("/queries")
async def multiple_queries(pool: asyncpg.Pool, queries: str | None = None) -> list[dict[str, int]]:
    return await tfb.many_rows(pool, tfb.clamp(queries))


@get("/fortunes")
async def fortunes(pool: asyncpg.Pool) -> Response[str]:
    return Response(await tfb.fortunes_html(pool), media_type=MediaType.HTML)


@get("/updates")
async def updates(pool: asyncpg.Pool, queries: str | None = None) -> list[dict[str, int]]:
    return await tfb.update_rows(pool, tfb.clamp(queries))


@get("/cached-queries")
async def cached_queries(count: str | None = None) -> list[dict[str, int]]:
    return tfb.cached_rows(tfb.DB.cache, tfb.clamp(count))


app = Litestar(
    route_handlers=[
        json_message,
        plaintext,
        single_query,
        multiple_queries,
        fortunes,
        updates,
        cached_queries,
    ],
    dependencies={"pool": Provide(tfb.get_pool)},
    lifespan=[tfb.lifespan],
)
