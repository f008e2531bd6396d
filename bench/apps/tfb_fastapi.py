"""The TechEmpower-style app on FastAPI (served by uvicorn with httptools and uvloop).

The pool is opened in the app's ``lifespan`` and kept in a module global
(:data:`~bench.apps.tfb_shared.DB`), handed to the endpoints by an async dependency:
FastAPI's dependencies live for one request, so that is how a pool is shared in
FastAPI.  JSON endpoints declare their return type, so FastAPI serializes them with
pydantic (its fast path) rather than ``jsonable_encoder``.  ``tfb_aster`` is this
file with ``fastapi`` -> ``aster`` and the pool as a lifespan-scoped dependency.

This must import the real ``fastapi`` package, never aster's compat aliases.
"""

from __future__ import annotations

from typing import Annotated

import asyncpg
import fastapi
from fastapi import Depends, FastAPI
from fastapi.responses import HTMLResponse, PlainTextResponse

from bench.apps import tfb_shared as tfb
from bench.apps.tfb_shared import World

if hasattr(fastapi, "__aster_version__"):  # aster.compat.install() aliases ``fastapi``
    raise RuntimeError("the tfb bench must run the real FastAPI, not aster.compat's alias")

app = FastAPI(lifespan=tfb.lifespan)
Pool = Annotated[asyncpg.Pool, Depends(tfb.get_pool)]


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
async def cached_queries(count: str | None = None) -> list[World]:
    return tfb.cached_rows(tfb.DB.cache, tfb.clamp(count))  # type: ignore[return-value]
