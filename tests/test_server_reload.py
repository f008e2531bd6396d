"""--reload (edit a file, see the new response) and --workers (several processes, one socket)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import ROOT, RawConnection, Running, request, serve
from tests.workers_support import alive, distinct_pids, wait_for_workers

APP_SOURCE = """
import os

BODY = b"{body}"


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = str(os.getpid()).encode() if scope["path"] == "/pid" else BODY
    await send({{"type": "http.response.start", "status": 200, "headers": []}})
    await send({{"type": "http.response.body", "body": body}})
"""


def write_app(directory: Path, body: str) -> None:
    (directory / "reloadable.py").write_text(APP_SOURCE.format(body=body))


def get(port: int, path: str = "/") -> bytes:
    return request(port, f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode()).body


def wait_for_body(port: int, expected: bytes, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    body = b""
    while time.monotonic() < deadline:
        try:
            body = get(port)
        except OSError:
            body = b"<connection failed>"
        if body == expected:
            return
        time.sleep(0.1)
    raise AssertionError(f"still serving {body!r}, not {expected!r}")


def reloads(server: Running) -> list[str]:
    return [line for line in server.lines if "Reloading..." in line]


def test_reload_on_python_change_only(tmp_path: Path) -> None:
    write_app(tmp_path, "v1")
    notes = tmp_path / "notes.txt"
    notes.write_text("one")
    args = (
        "--app-dir",
        str(tmp_path),
        "--reload",
        "--reload-dir",
        str(tmp_path),
        "--reload-exclude",
        "scratch_*.py",
    )
    with serve("reloadable:app", *args) as server:
        assert get(server.port) == b"v1"
        assert f"INFO      Will watch for changes in {tmp_path}" in server.lines
        # Same size, same second: the new source must still be picked up.
        write_app(tmp_path, "v2")
        wait_for_body(server.port, b"v2")
        assert reloads(server) == [
            f"WARNING   Detected changes in {tmp_path / 'reloadable.py'}. Reloading..."
        ]
        pid = get(server.port, "/pid")

        # A syntax error: the new child fails, the supervisor waits for the fix.
        (tmp_path / "reloadable.py").write_text("def app(:\n")
        server.wait_for_log(r"^SyntaxError: ")
        write_app(tmp_path, "v3")
        wait_for_body(server.port, b"v3")

        # Not a Python file, an excluded one, bytecode, a hidden file: no reload.
        count = len(reloads(server))
        pid = get(server.port, "/pid")
        notes.write_text("two")
        (tmp_path / "scratch_1.py").write_text("x = 1\n")
        (tmp_path / "stale.pyc").write_bytes(b"\0")
        (tmp_path / ".hidden.py").write_text("x = 1\n")
        (tmp_path / "reloadable.py~").write_text("backup\n")
        time.sleep(1.5)
        assert len(reloads(server)) == count
        assert get(server.port, "/pid") == pid

        server.signal(signal.SIGTERM)
        assert server.wait() == 0
    assert server.lines[-1].startswith("INFO      Stopping supervisor process [")


def test_reload_dir_must_exist(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "aster",
            "run",
            "tests.apps.life_app:app",
            "--reload",
            "--reload-dir",
            str(tmp_path / "nope"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert result.stderr == f"ERROR     --reload-dir '{tmp_path / 'nope'}' is not a directory\n"


def test_reload_include(tmp_path: Path) -> None:
    write_app(tmp_path, "v1")
    notes = tmp_path / "notes.txt"
    notes.write_text("one")
    args = (
        "--app-dir",
        str(tmp_path),
        "--reload",
        "--reload-dir",
        str(tmp_path),
        "--reload-include",
        "*.txt",
        "--reload-delay",
        "0",
    )
    with serve("reloadable:app", *args) as server:
        pid = get(server.port, "/pid")
        notes.write_text("two")
        server.wait_for_log(r"Detected changes in .*notes\.txt\. Reloading\.\.\.$")
        deadline = time.monotonic() + 15
        while get(server.port, "/pid") == pid:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert get(server.port) == b"v1"
        # Ctrl+C (SIGINT to the whole group) stops the supervisor and its child cleanly.
        os.killpg(server.process.pid, signal.SIGINT)
        assert server.wait() == 0
    assert server.lines[-1].startswith("INFO      Stopping supervisor process [")
    assert "Traceback" not in server.log()
    assert "KeyboardInterrupt" not in server.log()


def test_reload_with_workers_replaces_every_worker(tmp_path: Path) -> None:
    """uvicorn refuses ``--reload --workers``; here each change restarts all of them."""
    write_app(tmp_path, "v1")
    args = ("--app-dir", str(tmp_path), "--reload", "--reload-dir", str(tmp_path))
    with serve("reloadable:app", *args, "--workers", "2", "--reload-delay", "0") as server:
        before = set(wait_for_workers(server, 2))
        assert get(server.port) == b"v1"
        write_app(tmp_path, "v2")
        wait_for_body(server.port, b"v2")
        for pid in before:
            server.wait_for_log(rf"^INFO      Worker \[{pid}\] stopped \(exit code 0\)\.$")
        after = set(wait_for_workers(server, 4)) - before
        assert len(after) == 2
        assert int(get(server.port, "/pid")) in after
        server.signal(signal.SIGTERM)
        assert server.wait() == 0
    assert "Traceback" not in server.log()


# -- workers ------------------------------------------------------------------------------------


@pytest.fixture
def workers():  # type: ignore[no-untyped-def]
    with serve("tests.apps.life_app:app", "--workers", "2") as server:
        wait_for_workers(server, 2)
        yield server


def test_workers_serve_from_two_processes_and_stop_on_sigterm(workers: Running) -> None:
    started = set(wait_for_workers(workers, 2))
    assert workers.process.pid not in started
    assert distinct_pids(workers.port, 2) == started
    assert workers.lines.count("APP: startup") == 2  # each worker runs the lifespan
    workers.signal(signal.SIGTERM)
    assert workers.wait() == 0
    assert [pid for pid in started if alive(pid)] == []
    assert workers.lines.count("APP: shutdown") == 2
    assert workers.lines[-1] == f"INFO      Stopping supervisor process [{workers.process.pid}]"


def test_workers_ctrl_c_is_graceful(workers: Running) -> None:
    """Ctrl+C signals the whole process group: the workers must not take the
    supervisor's relayed SIGTERM as a second, forcing signal."""
    with RawConnection(workers.port) as busy:
        busy.send(b"GET /sleep?1.5 HTTP/1.1\r\nHost: t\r\n\r\n")
        workers.wait_for_log("^APP: sleeping 1.5$")
        os.killpg(workers.process.pid, signal.SIGINT)
        response = busy.read_response()
        assert (response.status, response.body) == (200, b"slept 1.5")
        assert response.header("connection") == "close"
    assert workers.wait() == 0
    assert "WARNING   Forcing the exit." not in workers.lines
    assert workers.lines.count("APP: shutdown") == 2


def test_workers_second_signal_forces(workers: Running) -> None:
    with RawConnection(workers.port) as busy:
        busy.send(b"GET /sleep?30 HTTP/1.1\r\nHost: t\r\n\r\n")
        workers.wait_for_log("^APP: sleeping 30$")
        workers.signal(signal.SIGTERM)
        workers.wait_for_log(r"Waiting for 1 connection\(s\)")
        forced = time.monotonic()
        workers.signal(signal.SIGTERM)
        assert workers.wait() == 0
        assert time.monotonic() - forced < 5
        assert busy.read_to_close() == b""
    assert "APP: sleep cancelled" in workers.lines


def test_dead_worker_is_replaced(workers: Running) -> None:
    first, second = wait_for_workers(workers, 2)[:2]
    os.kill(first, signal.SIGKILL)
    workers.wait_for_log(
        rf"^WARNING   Worker \[{first}\] died \(exit code -9\); starting a new one\.$"
    )
    replacement = wait_for_workers(workers, 3)[2]
    assert distinct_pids(workers.port, 2) == {second, replacement}


def test_sighup_restarts_the_workers(workers: Running) -> None:
    before = set(wait_for_workers(workers, 2))
    workers.signal(signal.SIGHUP)
    workers.wait_for_log(r"^INFO      Received SIGHUP, restarting the workers one at a time\.$")
    for pid in before:
        workers.wait_for_log(rf"^INFO      Worker \[{pid}\] stopped \(exit code 0\)\.$", 30)
    after = set(wait_for_workers(workers, 4)) - before
    assert len(after) == 2
    assert distinct_pids(workers.port, 2) == after
    assert [pid for pid in before if alive(pid)] == []
    # The old workers shut down gracefully, running their lifespan shutdown.
    assert workers.lines.count("APP: shutdown") == 2


def test_workers_whose_startup_fails_stop_the_supervisor_with_3() -> None:
    with serve("tests.apps.life_lifespan:failing", "--workers", "2", wait=False) as server:
        assert server.wait() == 3
    lines = server.lines
    assert "ERROR     database unreachable" in lines
    assert [line for line in lines if "failed to start (exit code 3); stopping." in line]
    assert "starting a new one" not in server.log()
    assert lines[-1] == f"INFO      Stopping supervisor process [{server.process.pid}]"
