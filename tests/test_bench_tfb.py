"""The ``tfb`` bench suite's verifier passes aster's TechEmpower app, served by ``aster
run`` against a real PostgreSQL, and fails an app that breaks the rules while returning
plausible JSON (a batched ``/queries``, unescaped fortunes, updates never written); the
profile summary charges time to the right part of the stack."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Annotated

import asyncpg
import pytest

from aster import Depends, FastAPI
from aster.responses import HTMLResponse
from bench import tfb_db
from bench.apps import tfb_shared as tfb
from bench.postgres import Cluster
from bench.suites import SUITES
from bench.tfb_profile import classify
from bench.tfb_verify import kind_of, verify, verify_path
from tests.support import serve

pytestmark = pytest.mark.timeout(90)


@pytest.fixture(scope="module")
def pg() -> Iterator[Cluster]:
    with Cluster() as cluster:
        tfb_db.load(cluster)
        yield cluster


def _env(pg: Cluster) -> dict[str, str]:
    return {**pg.env(), "TFB_POOL_SIZE": "4"}


def test_aster_tfb_app_passes_the_verifier(pg: Cluster) -> None:
    db = tfb_db.ClusterDatabase(pg)
    assert len(db.world()) == 10_000
    assert [m for _, m in db.fortunes()] == [m for _, m in tfb_db.FORTUNES]
    with serve("bench.apps.tfb_aster:app", "--no-access-log", env=_env(pg)) as server:
        verdict = verify(server.url, db)
        assert verdict.failures == []
        assert verdict.checks > 150
        # What the suite runs before each measurement: the measured test's checks only.
        again = verify_path(server.url, "/updates?queries=20", db)
        assert again.passed and 0 < again.checks < verdict.checks


# -- an app that answers the right shapes the wrong way ------------------------------------

broken_app = FastAPI(lifespan=tfb.lifespan)
Pool = Annotated[asyncpg.Pool, Depends(tfb.get_pool)]


@broken_app.get("/queries")
async def batched_queries(pool: Pool, queries: str | None = None) -> list[tfb.World]:
    """The right rows in one ``= ANY($1)`` query: the JSON is right, the work is not."""
    ids = [random.randint(1, tfb.WORLD_ROWS) for _ in range(tfb.clamp(queries))]
    rows = await pool.fetch(
        "SELECT id, randomnumber FROM world WHERE id = ANY($1::int[])", list(set(ids))
    )
    found = {r[0]: r[1] for r in rows}
    return [tfb.World(id=i, randomNumber=found[i]) for i in ids]


@broken_app.get("/fortunes")
async def raw_fortunes(pool: Pool) -> HTMLResponse:
    """Unescaped, unsorted, and without the fortune added at request time."""
    rows = await pool.fetch(tfb.ALL_FORTUNES)
    cells = "".join(f"<tr><td>{r[0]}</td><td>{r[1]}</td></tr>" for r in rows)
    return HTMLResponse(f"<table><tr><th>id</th><th>message</th></tr>{cells}</table>")


@broken_app.get("/updates")
async def unwritten_updates(pool: Pool, queries: str | None = None) -> list[tfb.World]:
    """New numbers answered, never written."""
    rows = await tfb.many_rows(pool, tfb.clamp(queries))
    return [tfb.World(id=r["id"], randomNumber=r["randomNumber"] % 10_000 + 1) for r in rows]


@broken_app.get("/cached-queries")
async def unclamped_cache(count: int = 1) -> list[tfb.World]:
    """``count`` taken as is: 0 gives nothing, 501 gives 501, ``foo`` is a 422."""
    return tfb.cached_rows(tfb.DB.cache, count)  # type: ignore[return-value]


def test_verifier_catches_a_broken_app(pg: Cluster) -> None:
    db = tfb_db.ClusterDatabase(pg)
    with serve("tests.test_bench_tfb:broken_app", "--no-access-log", env=_env(pg)) as server:
        verdict = verify(server.url, db, ["queries", "fortunes", "updates", "cached-queries"])
    text = "\n".join(verdict.failures)
    assert not verdict.passed
    assert "PostgreSQL executed 3 SELECT(s) on world for 3 request(s), expected >= 60" in text
    assert "the <script> fortune is not HTML-escaped" in text
    assert "/fortunes: 12 rows, expected 13" in text
    assert "/updates?queries=20: 0 of " in text and "answered rows changed" in text
    assert "/cached-queries?count=0: an array of 0, expected an array of 1" in text
    assert "/cached-queries?count=foo: status 422" in text


def test_suite_is_registered_with_every_test_type_at_two_loads() -> None:
    suite = SUITES["tfb"]
    assert not suite.in_all and suite.setup is not None and suite.preflight is not None
    assert {kind_of(s.path) for s in suite.scenarios.values()} == {
        "json", "plaintext", "db", "queries", "fortunes", "updates", "cached-queries"
    }  # fmt: skip
    assert (
        sorted(s.env["TFB_CONNECTIONS"] for s in suite.scenarios.values())
        == ["256"] * 8 + ["64"] * 8
    )
    assert suite.scenarios["pipelined_c256"].env["BENCH_PIPELINE"] == "16"
    assert {t.peer: t.at_least for t in suite.targets} == {
        "fastapi": 2.0, "litestar": 1.0, "blacksheep": 1.0
    }  # fmt: skip


def test_profile_charges_a_socket_write_to_who_asked_for_it() -> None:
    entry = "<module> (aster/__main__.py:3);_serve (aster/server/main.py:44);"
    entry += "Server.run (aster/server/server.py:119);uv_run (core.c:464);"
    write = "UVStream_write (loop.c:1);UVStream__try_write (loop.c:2);write (libc.so.6)"
    query = "Connection.fetchrow (asyncpg/connection.py:775);BaseProtocol__write (protocol.c:9);"
    assert classify(entry + query + write) == ("asyncpg driver", "socket write")
    response = "HTTPCycle.send (aster/server/protocols/cycle.py:225);"
    assert classify(entry + response + write) == ("server", "socket write")
    poll = "uv__io_poll (linux.c:1452);epoll_pwait (libc.so.6)"
    assert classify(entry + poll) == ("event loop", "epoll wait")
    route = "HTTPCycle.run (aster/server/protocols/cycle.py:310);Router.app (aster/_router.py:237)"
    assert classify(entry + route) == ("framework", None)
    assert classify(entry.rstrip(";")) == ("event loop", None)  # only the way into the loop
