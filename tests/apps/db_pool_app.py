"""An asyncpg pool as a lifespan dependency (``Depends(get_pool, scope="lifespan")``).

The pool connects through libpq's environment (PGHOST, PGPORT, PGUSER...), opens at
startup, is shared by every request and closes at shutdown.
"""

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Annotated

import asyncpg

from aster import Depends, FastAPI

POOL_SIZE = int(os.environ.get("POOL_SIZE", "4"))


async def get_pool() -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(min_size=POOL_SIZE, max_size=POOL_SIZE)
    print(f"APP: pool open ({POOL_SIZE} connections)", flush=True)
    yield pool
    await pool.close()
    print("APP: pool closed", flush=True)


Pool = Annotated[asyncpg.Pool, Depends(get_pool, scope="lifespan")]
app = FastAPI()


@app.get("/rows")
async def rows(pool: Pool) -> list[dict[str, object]]:
    return [dict(r) for r in await pool.fetch("SELECT id, name FROM mytable ORDER BY id")]


@app.get("/sleep")
async def sleep(pool: Pool, seconds: float = 0.3) -> dict[str, float]:
    """The database waits; the event loop serves others meanwhile."""
    started = asyncio.get_running_loop().time()
    await pool.execute("SELECT pg_sleep($1)", seconds)
    return {"waited": asyncio.get_running_loop().time() - started}
