"""The demo's persistence: notes, users, bearer tokens and an audit log in one SQLite file.

Plain stdlib ``sqlite3``.  :class:`Database` is opened once, in the app's lifespan
(it creates the schema and the demo users); every request then gets its own
connection and transaction from :meth:`Database.connect`, wrapped in a
:class:`Store` with the queries the endpoints need.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

#: Where the notes live unless ``ASTER_DEMO_DB`` says otherwise.
DEFAULT_PATH = Path(tempfile.gettempdir()) / "aster-demo-notes.sqlite3"

#: Username -> password, created at startup if missing (a demo, not a user registry).
DEMO_USERS = {"demo": "demo", "alice": "wonderland"}

TOKEN_TTL = 3600  # seconds

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    username TEXT PRIMARY KEY, salt BLOB NOT NULL, hash BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (
    token TEXT PRIMARY KEY, username TEXT NOT NULL REFERENCES users, expires REAL NOT NULL);
CREATE TABLE IF NOT EXISTS notes (
    id INTEGER PRIMARY KEY AUTOINCREMENT, text TEXT NOT NULL, tags TEXT NOT NULL,
    owner TEXT NOT NULL, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, action TEXT NOT NULL, note_id INTEGER NOT NULL,
    username TEXT NOT NULL, words INTEGER, at TEXT NOT NULL);
"""


def _hash(password: str, salt: bytes) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 100_000)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


class Store:
    """The queries, over one connection; the caller owns the transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    # -- users and tokens

    def check_password(self, username: str, password: str) -> bool:
        row = self.conn.execute(
            "SELECT salt, hash FROM users WHERE username = ?", (username,)
        ).fetchone()
        if row is None:
            _hash(password, b"no such user")  # the same work either way: no timing oracle
            return False
        return hmac.compare_digest(_hash(password, row["salt"]), row["hash"])

    def issue_token(self, username: str) -> str:
        token = secrets.token_urlsafe(32)
        self.conn.execute("DELETE FROM tokens WHERE expires < ?", (time.time(),))
        self.conn.execute(
            "INSERT INTO tokens VALUES (?, ?, ?)", (token, username, time.time() + TOKEN_TTL)
        )
        return token

    def user_for_token(self, token: str) -> str | None:
        row = self.conn.execute(
            "SELECT username FROM tokens WHERE token = ? AND expires >= ?", (token, time.time())
        ).fetchone()
        return None if row is None else str(row["username"])

    # -- notes

    @staticmethod
    def _note(row: sqlite3.Row) -> dict[str, Any]:
        return {**dict(row), "tags": json.loads(row["tags"])}

    def add_note(self, text: str, tags: list[str], owner: str) -> dict[str, Any]:
        cursor = self.conn.execute(
            "INSERT INTO notes (text, tags, owner, created) VALUES (?, ?, ?, ?)",
            (text, json.dumps(tags), owner, _now()),
        )
        return self.get_note(cursor.lastrowid or 0) or {}

    def get_note(self, note_id: int) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT * FROM notes WHERE id = ?", (note_id,)).fetchone()
        return None if row is None else self._note(row)

    def list_notes(
        self, q: str | None = None, tag: str | None = None, limit: int = -1
    ) -> Iterator[dict[str, Any]]:
        """Oldest first; ``q`` is a case-insensitive substring, ``tag`` an exact tag."""
        pattern = None
        if q:
            pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = self.conn.execute(
            "SELECT * FROM notes WHERE (:pattern IS NULL OR text LIKE :pattern ESCAPE '\\')"
            " AND (:tag IS NULL OR EXISTS (SELECT 1 FROM json_each(notes.tags) WHERE value = :tag))"
            " ORDER BY id LIMIT :limit",
            {"pattern": pattern, "tag": tag, "limit": limit},
        )
        return map(self._note, rows)

    def delete_note(self, note_id: int) -> None:
        self.conn.execute("DELETE FROM notes WHERE id = ?", (note_id,))

    # -- the audit log

    def record_event(
        self, action: str, note_id: int, username: str, words: int | None
    ) -> dict[str, Any]:
        cursor = self.conn.execute(
            "INSERT INTO events (action, note_id, username, words, at) VALUES (?, ?, ?, ?, ?)",
            (action, note_id, username, words, _now()),
        )
        row = self.conn.execute("SELECT * FROM events WHERE id = ?", (cursor.lastrowid,))
        return dict(row.fetchone())

    def events(self, after: int = 0, limit: int = 50) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT * FROM events WHERE id > ? ORDER BY id LIMIT ?", (after, limit)
        )
        return [dict(row) for row in rows]


class Database:
    """One SQLite file; :meth:`open` prepares it, :meth:`connect` lends a transaction."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)

    def open(self) -> None:
        with self.connect() as store:
            store.conn.execute("PRAGMA journal_mode = WAL")  # readers do not block the writer
            store.conn.executescript(SCHEMA)
            for username, password in DEMO_USERS.items():
                if store.conn.execute(
                    "SELECT 1 FROM users WHERE username = ?", (username,)
                ).fetchone():
                    continue
                salt = secrets.token_bytes(16)
                store.conn.execute(
                    "INSERT INTO users VALUES (?, ?, ?)", (username, salt, _hash(password, salt))
                )

    @contextmanager
    def connect(self) -> Iterator[Store]:
        """A connection whose work is committed on success and rolled back on an exception."""
        # check_same_thread=False: a sync endpoint (run in the threadpool) may use the
        # connection its async dependency opened; one request still uses it at a time.
        conn = sqlite3.connect(self.path, timeout=5, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA foreign_keys = ON")
        try:
            yield Store(conn)
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        finally:
            conn.close()
