"""A real asyncpg pool as ``Depends(get_pool, scope="lifespan")``, served by ``aster run``
against a throwaway PostgreSQL: opened at startup, shared, closed at shutdown."""

from __future__ import annotations

import concurrent.futures
import signal
import time
from typing import Any

import httpx

from bench.postgres import MYTABLE_ROWS
from tests.support import serve

APP = "tests.apps.db_pool_app:app"


def connections(postgres: Any) -> int:
    sql = "SELECT count(*) FROM pg_stat_activity WHERE usename = 'user' AND datname = 'mydb'"
    return int(postgres.psql(sql, "mydb").strip())


def test_the_pool_opens_at_startup_serves_concurrently_and_closes_at_shutdown(
    postgres: Any,
) -> None:
    env = {**postgres.env(), "POOL_SIZE": "8"}
    assert connections(postgres) == 0
    with serve(APP, "--no-access-log", env=env) as server:
        server.wait_for_log(r"^APP: pool open \(8 connections\)$")
        assert connections(postgres) == 8  # before any request
        response = httpx.get(server.url + "/rows", timeout=10)
        assert (response.status_code, response.headers["content-type"]) == (
            200,
            "application/json",
        )
        assert response.json() == MYTABLE_ROWS
        # Eight requests that each wait 0.5 s in the database, at once: the loop serves
        # them together (about 0.5 s in all, not 4 s), on the same eight connections.
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            answers = list(
                pool.map(
                    lambda _: httpx.get(server.url + "/sleep?seconds=0.5", timeout=10), range(8)
                )
            )
        elapsed = time.monotonic() - started
        assert [a.status_code for a in answers] == [200] * 8
        assert all(a.json()["waited"] >= 0.5 for a in answers)
        assert elapsed < 2.5, elapsed
        assert connections(postgres) == 8
        # Bad input still gets FastAPI's 422, and the pool is untouched.
        bad = httpx.get(server.url + "/sleep?seconds=soon", timeout=10)
        assert bad.status_code == 422
        assert bad.json()["detail"][0]["loc"] == ["query", "seconds"]
        server.signal(signal.SIGTERM)
        assert server.wait() == 0
        assert "APP: pool closed" in server.log()
    assert connections(postgres) == 0
