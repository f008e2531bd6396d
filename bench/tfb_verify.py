"""TechEmpower's rules, checked over real HTTP against a running server, and in the database.

A fast answer only counts if it is the answer TechEmpower asks for, so before a
framework is measured its server is asked every test type and the replies are held to
the rules (:func:`verify`, a list of failures; empty means it passed):

- every response has ``Server`` and ``Date`` headers, and ``Date`` moves on (two
  requests ``date_ticks`` seconds apart; once per server, not per test);
- ``/json`` is ``{"message": "Hello, World!"}`` as ``application/json``; ``/plaintext``
  is exactly ``Hello, World!`` as ``text/plain``;
- ``/db``, ``/queries``, ``/updates`` and ``/cached-queries`` answer well-formed
  ``{"id", "randomNumber"}`` objects (integers, ids in 1..10000), as many as asked
  with ``queries``/``count`` clamped to 1..500 (``0`` -> 1, ``501`` -> 500, ``foo`` ->
  1, missing -> 1), and ``/db``/``/queries`` give the numbers the table holds;
- ``/queries?queries=20`` makes PostgreSQL *execute* at least 20 SELECTs on ``world``
  per request (counted by ``pg_stat_statements``), so a batched ``IN``/``ANY`` query,
  which returns the same JSON, fails; ``/updates`` reads each row with its own query;
- ``/updates?queries=20`` leaves at least 90% of the rows it answered changed in the
  table, to the numbers it answered;
- ``/fortunes`` is ``text/html; charset=utf-8``, the 12 rows plus the one added at
  request time, sorted by message, with the ``<script>`` row escaped.

:func:`verify_path` checks the one test a measured path belongs to; the ``tfb`` suite
runs it before every measurement, and :func:`verify` once per server before the rounds.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any, Protocol

import httpx

from .scenarios import same_json
from .tfb_db import ADDITIONAL_FORTUNE, WORLD_ROWS

HELLO = "Hello, World!"
CLAMPS: tuple[tuple[str | None, int], ...] = (
    ("20", 20),
    ("0", 1),
    ("501", 500),
    ("foo", 1),
    (None, 1),
)
"""(``queries``/``count`` sent, rows expected): TechEmpower's clamping rule."""
STATEMENT_QUERIES = 20
STATEMENT_REQUESTS = 3
UPDATED_AT_LEAST = 0.9


class Database(Protocol):
    """What the verifier reads from PostgreSQL (``bench.tfb_db.ClusterDatabase``)."""

    def reset_statements(self) -> None: ...

    def world_statements(self) -> dict[str, tuple[int, int]]:
        """The app's statements on ``world`` since the reset: kind -> (calls, rows)."""
        ...

    def world(self) -> dict[int, int]: ...

    def fortunes(self) -> list[tuple[int, str]]: ...


@dataclass
class Verdict:
    """What :func:`verify` found: the failures (none: passed) out of ``checks`` made."""

    failures: list[str] = field(default_factory=list)
    checks: int = 0

    @property
    def passed(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        if self.passed:
            return f"passed all {self.checks} checks"
        return f"FAILED {len(self.failures)} of {self.checks} checks: " + "; ".join(self.failures)


class _Checker:
    """An HTTP client that records every check it makes and every one that fails."""

    def __init__(self, client: httpx.Client, db: Database, verdict: Verdict) -> None:
        self.client = client
        self.db = db
        self.verdict = verdict

    def expect(self, ok: bool, failure: str) -> bool:
        self.verdict.checks += 1
        if not ok:
            self.verdict.failures.append(failure)
        return ok

    def get(self, path: str, media_type: str) -> httpx.Response | None:
        """GET ``path``: a 200 with ``Server``, a valid ``Date`` and ``media_type``, or a
        recorded failure and None."""
        try:
            response = self.client.get(path)
        except httpx.HTTPError as exc:
            self.expect(False, f"{path}: request failed: {exc!r}")
            return None
        if not self.expect(
            response.status_code == 200,
            f"{path}: status {response.status_code}: {response.text[:120]!r}",
        ):
            return None
        self.expect("server" in response.headers, f"{path}: no Server header")
        date = response.headers.get("date")
        self.expect(
            date is not None and _http_date(date) is not None,
            f"{path}: Date header {date!r} is not an HTTP date",
        )
        got = response.headers.get("content-type", "")
        self.expect(
            got.split(";")[0].strip().lower() == media_type,
            f"{path}: Content-Type {got!r}, expected {media_type}",
        )
        return response

    def json(self, path: str) -> Any:
        response = self.get(path, "application/json")
        if response is None:
            return None
        try:
            return response.json()
        except ValueError:
            self.expect(False, f"{path}: body {response.text[:120]!r} is not JSON")
            return None


def _http_date(value: str) -> float | None:
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None


def _world_problem(value: Any, table: dict[int, int] | None = None) -> str | None:
    """Why ``value`` is not a ``world`` row as TechEmpower's JSON spells it (with the
    number the table holds, if ``table`` is given), or None."""
    if not isinstance(value, dict) or set(value) != {"id", "randomNumber"}:
        return f"{str(value)[:80]} is not an object with exactly id and randomNumber"
    row_id, number = value["id"], value["randomNumber"]
    if type(row_id) is not int or type(number) is not int:
        return f"{value} has a non-integer field"
    if not 1 <= row_id <= WORLD_ROWS:
        return f"id {row_id} is outside 1..{WORLD_ROWS}"
    if table is not None and table.get(row_id) != number:
        return f"row {row_id} holds {table.get(row_id)}, answered {number}"
    return None


def _rows(check: _Checker, path: str, expected: int, table: dict[int, int] | None) -> list[Any]:
    """GET ``path``: a JSON array of ``expected`` valid rows; the rows (or [])."""
    value = check.json(path)
    if value is None:
        return []
    if not check.expect(
        isinstance(value, list) and len(value) == expected,
        f"{path}: {_count(value)}, expected an array of {expected}",
    ):
        return []
    problems = [p for p in (_world_problem(v, table) for v in value) if p]
    check.expect(not problems, f"{path}: {len(problems)} bad row(s), e.g. {problems[:1]}")
    return value


def _count(value: Any) -> str:
    return f"an array of {len(value)}" if isinstance(value, list) else f"a {type(value).__name__}"


def _with(path: str, name: str, value: str | None) -> str:
    return path if value is None else f"{path}?{name}={value}"


# -- the test types ------------------------------------------------------------------------


def check_json(check: _Checker) -> None:
    value = check.json("/json")
    if value is not None:
        check.expect(
            same_json(value, {"message": HELLO}), f"/json: {value!r}, expected message {HELLO!r}"
        )


def check_plaintext(check: _Checker) -> None:
    response = check.get("/plaintext", "text/plain")
    if response is not None:
        check.expect(
            response.content == HELLO.encode(),
            f"/plaintext: body {response.content[:60]!r}, expected {HELLO!r}",
        )


def check_db(check: _Checker) -> None:
    table = check.db.world()
    seen = set()
    for _ in range(8):
        value = check.json("/db")
        if value is None:
            return
        problem = _world_problem(value, table)
        if not check.expect(problem is None, f"/db: {problem}"):
            return
        seen.add(value["id"])
    check.expect(len(seen) > 1, f"/db: 8 requests all answered row {seen}: not random")


def check_queries(check: _Checker) -> None:
    table = check.db.world()
    for sent, expected in CLAMPS:
        _rows(check, _with("/queries", "queries", sent), expected, table)
    path = f"/queries?queries={STATEMENT_QUERIES}"
    check.db.reset_statements()
    for _ in range(STATEMENT_REQUESTS):
        if not _rows(check, path, STATEMENT_QUERIES, None):
            return
    _statements(check, path, "select", STATEMENT_QUERIES * STATEMENT_REQUESTS, STATEMENT_REQUESTS)


def _statements(check: _Checker, path: str, kind: str, at_least: int, requests: int) -> None:
    calls, _rows_read = check.db.world_statements().get(kind, (0, 0))
    check.expect(
        calls >= at_least,
        f"{path}: PostgreSQL executed {calls} {kind.upper()}(s) on world for {requests} "
        f"request(s), expected >= {at_least}: one query per row, not batched",
    )


def check_updates(check: _Checker) -> None:
    for sent, expected in CLAMPS:
        path = _with("/updates", "queries", sent)
        before = check.db.world()
        if sent == str(STATEMENT_QUERIES):
            check.db.reset_statements()
        rows = _rows(check, path, expected, None)
        if not rows:
            continue
        after = check.db.world()
        answered = {v["id"]: v["randomNumber"] for v in rows}  # the last answer per id
        changed = sum(1 for i, n in answered.items() if after[i] == n != before[i])
        check.expect(
            changed >= UPDATED_AT_LEAST * len(answered),
            f"{path}: {changed} of {len(answered)} answered rows changed in the table to the "
            f"answered number, expected >= {UPDATED_AT_LEAST:.0%}",
        )
        if sent == str(STATEMENT_QUERIES):
            _statements(check, path, "select", STATEMENT_QUERIES, 1)


def check_cached_queries(check: _Checker) -> None:
    for sent, expected in CLAMPS:
        _rows(check, _with("/cached-queries", "count", sent), expected, None)


class _Table(HTMLParser):
    """The ``<td>`` texts of each ``<tr>``, with character references resolved."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag == "td" and self.rows:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def check_fortunes(check: _Checker) -> None:
    response = check.get("/fortunes", "text/html")
    if response is None:
        return
    content_type = response.headers.get("content-type", "").replace(" ", "").lower()
    check.expect(
        content_type == "text/html;charset=utf-8",
        f"/fortunes: Content-Type {content_type!r}, expected text/html; charset=utf-8",
    )
    try:
        html = response.content.decode("utf-8")
    except UnicodeDecodeError:
        check.expect(False, "/fortunes: body is not UTF-8")
        return
    check.expect(
        "&lt;script&gt;" in html and "<script>" not in html,
        "/fortunes: the <script> fortune is not HTML-escaped",
    )
    parser = _Table()
    parser.feed(html)
    got = [tuple(r) for r in parser.rows if r]
    expected = sorted([*check.db.fortunes(), ADDITIONAL_FORTUNE], key=lambda f: f[1])
    wanted = [(str(i), m) for i, m in expected]
    if not check.expect(
        len(got) == len(wanted), f"/fortunes: {len(got)} rows, expected {len(wanted)}"
    ):
        return
    added = (str(ADDITIONAL_FORTUNE[0]), ADDITIONAL_FORTUNE[1])
    check.expect(added in got, "/fortunes: the fortune added at request time is missing")
    check.expect(
        sorted(got, key=lambda r: r[1]) == got, "/fortunes: rows are not sorted by message"
    )
    wrong = [f"{w!r} != {g!r}" for w, g in zip(wanted, got, strict=True) if w != g]
    check.expect(not wrong, f"/fortunes: rows differ from the table: {wrong[:2]}")


def check_date_ticks(check: _Checker, seconds: float) -> None:
    """``Date`` is the current time, not a value fixed at start-up."""
    first = check.get("/plaintext", "text/plain")
    time.sleep(seconds)
    second = check.get("/plaintext", "text/plain")
    if first is None or second is None:
        return
    a, b = first.headers.get("date"), second.headers.get("date")
    check.expect(a != b, f"Date stayed {a!r} over {seconds:g}s")
    stamp = _http_date(b or "")
    check.expect(
        stamp is not None and abs(stamp - time.time()) < 60,
        f"Date {b!r} is not the current time",
    )


TESTS: dict[str, Callable[[_Checker], None]] = {
    "json": check_json,
    "plaintext": check_plaintext,
    "db": check_db,
    "queries": check_queries,
    "fortunes": check_fortunes,
    "updates": check_updates,
    "cached-queries": check_cached_queries,
}
"""TechEmpower's test types, by the route they are served at (without the slash)."""


def verify(
    base_url: str,
    db: Database,
    tests: Iterable[str] = TESTS,
    date_ticks: float | None = 3.0,
    timeout: float = 30.0,
) -> Verdict:
    """Check ``tests`` (every test type by default) against the server at ``base_url``,
    and that its ``Date`` ticks over ``date_ticks`` seconds (None: not checked)."""
    verdict = Verdict()
    with httpx.Client(base_url=base_url, timeout=timeout) as client:
        check = _Checker(client, db, verdict)
        for name in tests:
            TESTS[name](check)
        if date_ticks:
            check_date_ticks(check, date_ticks)
    return verdict


def kind_of(path: str) -> str:
    """The test type a measured path belongs to (``/queries?queries=20`` -> ``queries``)."""
    name = path.split("?", 1)[0].strip("/")
    if name not in TESTS:
        raise ValueError(f"{path} is not a TechEmpower test type")
    return name


def verify_path(base_url: str, path: str, db: Database) -> Verdict:
    """The checks of the test type ``path`` belongs to (no ``Date`` wait)."""
    return verify(base_url, db, [kind_of(path)], date_ticks=None)
