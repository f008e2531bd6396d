"""The TechEmpower-style app on BlackSheep (served by uvicorn with httptools and uvloop).

BlackSheep's dependency injection (rodi) resolves services by type from a container
built before start-up, and the pool only exists once the lifespan has run, so the
handlers read it from the module global the lifespan fills (``tfb_shared.DB``), as a
BlackSheep app shares a pool.  Query parameters bind by name; responses are
BlackSheep's ``json``/``text``/``html`` helpers.
"""

from __future__ import annotations

from blacksheep import Application, Router, html, json, text

from bench.apps import tfb_shared as tfb

route = Router()
app = Application(router=route)
DB = tfb.DB


@app.lifespan
async def database(_app: Application):  # an async generator: BlackSheep's lifespan shape
    async with tfb.lifespan():
        yield


@route.get("/json")
async def json_message():
    return json(tfb.message())


@route.get("/plaintext")
async def plaintext():
    return text(tfb.HELLO)


@route.get("/db")
async def single_query():
    return json(await tfb.one_row(DB.pool))


@route.get("/queries")
async def multiple_queries(queries: str | None = None):
    return json(await tfb.many_rows(DB.pool, tfb.clamp(queries)))


@route.get("/fortunes")
async def fortunes():
    return html(await tfb.fortunes_html(DB.pool))


@route.get("/updates")
async def updates(queries: str | None = None):
    return json(await tfb.update_rows(DB.pool, tfb.clamp(queries)))


@route.get("/cached-queries")
async def cached_queries(count: str | None = None):
    return json(tfb.cached_rows(DB.cache, tfb.clamp(count)))
