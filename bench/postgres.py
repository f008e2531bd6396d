"""A throwaway PostgreSQL cluster from Debian's ``postgresql`` package, for tests and bench.

``with Cluster() as pg:`` runs ``initdb`` in a temporary directory, starts
``postgres`` on a free loopback port (and a Unix socket in the same directory),
creates the seeds' role and database (``user``/``password``/``mydb``), and on exit
stops the server and deletes the directory.  PostgreSQL refuses to run as root,
and CI runs as root: the cluster then belongs to the package's ``postgres`` user,
and every PostgreSQL program runs as that user.

Clients reach it through the libpq variables (``pg.env()``: ``PGHOST``,
``PGPORT``...), which asyncpg honours, so an example that names only the host
connects unchanged.  ``pg_stat_statements`` is preloaded, so a check can count
the statements the server actually executed.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

USER, PASSWORD, DATABASE = "user", "password", "mydb"
#: ``mytable``'s rows, as the seeds' ``/db-data`` returns them.
MYTABLE_ROWS = [{"id": 1, "name": "alpha"}, {"id": 2, "name": "beta"}, {"id": 3, "name": "gamma"}]


def bin_dir() -> Path:
    """Debian's versioned PostgreSQL binaries (``/usr/lib/postgresql/<n>/bin``), newest first."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parent.parent.name),
    )
    if not found:
        raise RuntimeError(
            "PostgreSQL is not installed: `make test` installs Debian's postgresql"
            " (scripts/sysdeps.sh postgresql)"
        )
    return Path(found[-1]).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Cluster:
    """One PostgreSQL server with its own data directory, port and lifetime."""

    def __init__(self, port: int | None = None) -> None:
        self.bin = bin_dir()
        self.port = port or free_port()
        self.root = Path(tempfile.mkdtemp(prefix="aster-pg-"))
        self.data = self.root / "data"
        self.socket_dir = self.root
        self.log = self.root / "postgres.log"
        self._as_user: dict[str, Any] = {}
        if os.geteuid() == 0:
            account = pwd.getpwnam("postgres")  # the Debian package's system user
            os.chown(self.root, account.pw_uid, account.pw_gid)
            self._as_user = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
        self.running = False

    # -- the server's lifetime -----------------------------------------------------------

    def _run(self, *argv: str, check: bool = True, **kwargs: Any) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(self.bin / argv[0]), *argv[1:]],
            check=check,
            capture_output=True,
            text=True,
            cwd=self.root,
            env={**os.environ, "LC_ALL": "C.UTF-8"},
            **self._as_user,
            **kwargs,
        )

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8")
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(
                f"port = {self.port}\n"
                "listen_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.socket_dir}'\n"
                "shared_preload_libraries = 'pg_stat_statements'\n"
                "max_connections = 400\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
            )
        # Password authentication over TCP, as the seeds' example connects; trust locally.
        (self.data / "pg_hba.conf").write_text(
            "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n"
        )

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")
        self.running = True

    def stop(self, mode: str = "fast") -> None:
        if self.running:
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)
            self.running = False

    def __enter__(self) -> Cluster:
        try:
            self.init()
            self.start()
            self.bootstrap()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    # -- SQL -----------------------------------------------------------------------------

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run SQL as the superuser over the Unix socket; its output, tab-separated."""
        result = self._run(
            "psql", "-h", str(self.socket_dir), "-p", str(self.port), "-U", "postgres",
            "-d", database, "-v", "ON_ERROR_STOP=1", "-At", "-F", "\t", "-c", sql,
        )  # fmt: skip
        return result.stdout

    def bootstrap(self) -> None:
        """The seeds' role and database, and the ``mytable`` their ``/db-data`` reads."""
        self.psql(f"CREATE ROLE \"{USER}\" LOGIN SUPERUSER PASSWORD '{PASSWORD}'")
        self.psql(f'CREATE DATABASE {DATABASE} OWNER "{USER}"')
        self.psql("CREATE EXTENSION pg_stat_statements", DATABASE)
        self.psql(
            "CREATE TABLE mytable (id integer PRIMARY KEY, name text NOT NULL);"
            "INSERT INTO mytable VALUES "
            + ", ".join(f"({row['id']}, '{row['name']}')" for row in MYTABLE_ROWS),
            DATABASE,
        )

    def env(self) -> dict[str, str]:
        """libpq's variables: asyncpg (and psql) connect here without naming a port."""
        return {
            "PGHOST": "127.0.0.1",
            "PGPORT": str(self.port),
            "PGUSER": USER,
            "PGPASSWORD": PASSWORD,
            "PGDATABASE": DATABASE,
        }

    def dsn(self) -> str:
        return f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{DATABASE}"

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (
                self._run(
                    "pg_isready", "-h", "127.0.0.1", "-p", str(self.port), check=False
                ).returncode
                == 0
            ):
                return
            time.sleep(0.1)
        raise TimeoutError(
            f"PostgreSQL on port {self.port} is not ready: {self.log.read_text()[-2000:]}"
        )
