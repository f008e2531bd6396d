"""The TechEmpower schema in a throwaway cluster (:class:`bench.postgres.Cluster`), and
what the verifier reads back from it.

``load(pg)`` creates TechEmpower's two tables in the cluster's database: ``world``
(10,000 rows, ``randomnumber`` uniform in 1..10000) and ``fortune`` (the 12 standard
messages, among them a ``<script>`` one that must come out escaped and a Japanese one
that must come out as UTF-8).  :class:`ClusterDatabase` is the verifier's view of the
same database: what the apps' connections really executed (``pg_stat_statements``)
and what the tables really hold, read as the superuser over the Unix socket.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from .postgres import DATABASE, USER, Cluster

WORLD_ROWS = 10_000

FORTUNES: tuple[tuple[int, str], ...] = (
    (1, "fortune: No such file or directory"),
    (2, "A computer scientist is someone who fixes things that aren't broken."),
    (3, "After enough decimal places, nobody gives a damn."),
    (4, "A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1"),
    (5, "A computer program does what you tell it to do, not what you want it to do."),
    (6, "Emacs is a nice operating system, but I prefer UNIX. — Tom Christaensen"),
    (7, "Any program that runs right is obsolete."),
    (8, "A list is only as strong as its weakest link. — Donald Knuth"),
    (9, "Feature: A bug with seniority."),
    (10, "Computers make very fast, very accurate mistakes."),
    (11, '<script>alert("This should not be displayed in a browser alert box.");</script>'),
    (12, "フレームワークのベンチマーク"),
)
"""TechEmpower's fortune rows, as its database set-up inserts them."""

ADDITIONAL_FORTUNE = (0, "Additional fortune added at request time.")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def schema_sql() -> list[str]:
    """The statements that make the tables and their rows (recreated from scratch)."""
    fortunes = ", ".join(f"({i}, {_literal(m)})" for i, m in FORTUNES)
    return [
        "DROP TABLE IF EXISTS world, fortune",
        "CREATE TABLE world (id integer PRIMARY KEY, randomnumber integer NOT NULL)",
        "INSERT INTO world (id, randomnumber) SELECT i, 1 + floor(random() * "
        f"{WORLD_ROWS})::integer FROM generate_series(1, {WORLD_ROWS}) AS i",
        "CREATE TABLE fortune (id integer PRIMARY KEY, message text NOT NULL)",
        f"INSERT INTO fortune (id, message) VALUES {fortunes}",
        f'ALTER TABLE world OWNER TO "{USER}"',
        f'ALTER TABLE fortune OWNER TO "{USER}"',
        "VACUUM ANALYZE world",
        "VACUUM ANALYZE fortune",
    ]


def load(pg: Cluster) -> None:
    """Create the schema in ``pg``'s database, owned by the apps' role."""
    for statement in schema_sql():  # one by one: VACUUM cannot run in a transaction
        pg.psql(statement, DATABASE)


def pin(pg: Cluster, cpus: Iterable[int] | None) -> int:
    """Pin the postmaster and every process it has started to ``cpus`` (backends forked
    later inherit it), so PostgreSQL shares the load generator's cores and the server
    under test keeps its own; how many processes were pinned (0 if ``cpus`` is None)."""
    if cpus is None or not hasattr(os, "sched_setaffinity"):
        return 0
    wanted = set(cpus)
    postmaster = int((pg.data / "postmaster.pid").read_text().split()[0])
    pids = [postmaster, *_children(postmaster)]
    pinned = 0
    for pid in pids:
        try:
            os.sched_setaffinity(pid, wanted)
            pinned += 1
        except OSError:  # exited meanwhile
            pass
    return pinned


def _children(parent: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            found.append(int(stat.parent.name))
    return found


class ClusterDatabase:
    """The verifier's window on the database (:class:`bench.tfb_verify.Database`).

    Statements are counted for the apps' role only, so the verifier's own reads (as the
    superuser) are not mistaken for the app's queries.
    """

    def __init__(self, pg: Cluster) -> None:
        self.pg = pg

    def _sql(self, sql: str) -> str:
        return self.pg.psql(sql, DATABASE)

    def reset_statements(self) -> None:
        self._sql("SELECT pg_stat_statements_reset()")

    def world_statements(self) -> dict[str, tuple[int, int]]:
        """The app role's statements on ``world`` since the reset: kind (``select``,
        ``update``...) -> (executions, rows)."""
        out = self._sql(
            "SELECT lower(split_part(ltrim(s.query), ' ', 1)), sum(s.calls), sum(s.rows) "
            "FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid "
            f"WHERE r.rolname = '{USER}' AND s.dbid = "
            "(SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND s.query ~* '\\mworld\\M' GROUP BY 1"
        )
        stats: dict[str, tuple[int, int]] = {}
        for line in out.splitlines():
            kind, calls, rows = line.split("\t")
            stats[kind] = (int(calls), int(rows))
        return stats

    def vacuum(self) -> None:
        """Clear the dead row versions earlier ``/updates`` runs left in ``world``.

        Each updated row leaves one behind; reads then walk longer chains until autovacuum
        comes by, so without this a run is slower for following another contender's
        ``/updates`` run, and the order of a round would bias its figures."""
        self._sql("VACUUM (ANALYZE) world")

    def world(self) -> dict[int, int]:
        """Every ``world`` row: id -> randomnumber."""
        out = self._sql("SELECT id, randomnumber FROM world")
        return {int(i): int(r) for i, r in (line.split("\t") for line in out.splitlines())}

    def fortunes(self) -> list[tuple[int, str]]:
        out = self._sql("SELECT id, message FROM fortune ORDER BY id")
        return [(int(i), m) for i, m in (line.split("\t", 1) for line in out.splitlines())]
