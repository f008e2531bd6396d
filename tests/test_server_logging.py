"""Logging (access log, levels, --log-config), --limit-max-requests, --header and --root-path."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aster.server.logs import escape
from tests.support import ROOT, RawConnection, Running, request, serve

APP = "tests.apps.life_app:app"
MONTHS = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
STAMP = rf"\[\d{{2}}/(?:{MONTHS})/\d{{4}}:\d{{2}}:\d{{2}}:\d{{2}} [+-]\d{{4}}\]"


def access_lines(server: Running) -> list[str]:
    return [line for line in server.lines if re.match(r"^(?:\d|-|CUSTOM\|aster\.access)", line)]


@pytest.fixture(scope="module")
def logged():  # type: ignore[no-untyped-def]
    with serve(APP) as server:
        yield server


def test_access_log_common_log_format(logged: Running) -> None:
    with RawConnection(logged.port) as conn:
        conn.send(b"GET /path/x?q=1&r HTTP/1.1\r\nHost: t\r\n\r\n")
        assert conn.read_response().body == b"ok"
        conn.send(b"HEAD /head HTTP/1.1\r\nHost: t\r\n\r\n")
        assert conn.read_response("HEAD").status == 200
        conn.send(b"GET /pid HTTP/1.0\r\n\r\n")
        pid = conn.read_response().body
    expected = [
        rf'^127\.0\.0\.1 - - {STAMP} "GET /path/x\?q=1&r HTTP/1\.1" 200 2$',
        rf'^127\.0\.0\.1 - - {STAMP} "HEAD /head HTTP/1\.1" 200 0$',
        rf'^127\.0\.0\.1 - - {STAMP} "GET /pid HTTP/1\.0" 200 {len(pid)}$',
    ]
    for pattern in expected:
        logged.wait_for_log(pattern)
    # Access lines go through the "aster.access" logger to stdout, in request order.
    tail = access_lines(logged)[-3:]
    assert [bool(re.match(p, line)) for p, line in zip(expected, tail, strict=True)] == [True] * 3


def test_access_log_escapes_the_target(logged: Running) -> None:
    response = request(logged.port, b"GET /a%22b%0A?x=%1b HTTP/1.1\r\nHost: t\r\n\r\n")
    assert response.status == 200
    # Percent-encoding is logged as sent; nothing is decoded into the log line.
    logged.wait_for_log(rf'^127\.0\.0\.1 - - {STAMP} "GET /a%22b%0A\?x=%1b HTTP/1\.1" 200 2$')


def test_escape_unit() -> None:
    assert escape(b"/plain?a=b") == "/plain?a=b"
    assert escape(b'/a"b\\c') == "/a\\x22b\\x5cc"
    assert escape(b"/\x1b[31m\r\n\x00\x7f\xff") == "/\\x1b[31m\\x0d\\x0a\\x00\\x7f\\xff"


def test_no_access_log() -> None:
    with serve(APP, "--no-access-log") as server:
        assert request(server.port, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").body == b"ok"
        assert request(server.port, b"GET /missing HTTP/1.1\r\nHost: t\r\n\r\n").status == 200
        server.signal(signal.SIGTERM)
        assert server.wait() == 0
    assert access_lines(server) == []
    assert "INFO      Application shutdown complete." in server.lines


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_serving(port: int, server: Running) -> None:
    deadline = time.monotonic() + 15
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert server.process.poll() is None, server.log()
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.05)


def test_log_level_warning_and_limit_max_requests() -> None:
    """Only WARNING and above are printed, and the server stops after the 3rd request."""
    port = _free_port()
    args = ("--port", str(port), "--log-level", "warning", "--limit-max-requests", "3")
    with serve(APP, *args, wait=False) as server:
        _wait_until_serving(port, server)  # nothing is logged at start-up to wait for
        with RawConnection(port) as conn:
            for _ in range(2):
                conn.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
                response = conn.read_response()
                assert (response.status, response.header("connection")) == (200, None)
            conn.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            third = conn.read_response()
            assert third.status == 200
            assert third.header("connection") == "close"
            assert conn.is_closed(timeout=2)
        assert server.wait() == 0
    # The app prints its lifespan markers itself; the server printed one warning and nothing else.
    assert server.lines == [
        "APP: startup",
        "WARNING   Maximum request limit of 3 reached. Terminating process.",
        "APP: shutdown",
    ]


def test_limit_max_requests_counts_across_connections() -> None:
    with serve(APP, "--limit-max-requests", "3") as server:
        for _ in range(3):
            assert request(server.port, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").status == 200
        assert server.wait() == 0
    assert len(access_lines(server)) == 3
    # The limit is noticed as the 3rd request starts; it completes during the shutdown.
    # (Whether it is still running when the shutdown starts is a race: ignore that line.)
    lines = [
        line
        for line in server.lines
        if line not in access_lines(server) and "connection(s)" not in line
    ]
    warning = lines.index("WARNING   Maximum request limit of 3 reached. Terminating process.")
    assert lines[warning + 1 :] == [
        "INFO      Shutting down",
        "INFO      Waiting for application shutdown.",
        "APP: shutdown",
        "INFO      Application shutdown complete.",
        f"INFO      Finished server process [{server.process.pid}]",
    ]


def test_log_level_debug_shows_debug_lines() -> None:
    with serve(APP, "--log-level", "debug") as server:
        response = request(server.port, b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
        assert response.status == 400
        server.wait_for_log(r"^DEBUG     ")
        assert request(server.port, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").body == b"ok"


LOG_CONFIG = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"custom": {"format": "CUSTOM|%(name)s|%(levelname)s|%(message)s"}},
    "handlers": {
        "out": {
            "class": "logging.StreamHandler",
            "formatter": "custom",
            "stream": "ext://sys.stdout",
        }
    },
    "loggers": {
        "aster": {"handlers": ["out"], "level": "INFO", "propagate": False},
        "aster.access": {"handlers": ["out"], "level": "INFO", "propagate": False},
    },
}


def test_log_config_json(tmp_path: Path) -> None:
    path = tmp_path / "logging.json"
    path.write_text(json.dumps(LOG_CONFIG))
    with serve(APP, "--log-config", str(path), wait=False) as server:
        line = server.wait_for_log(r"^CUSTOM\|aster\.error\|INFO\|aster running on http://")
        port = int(line.rsplit(":", 1)[1].split()[0])
        assert request(port, b"GET /cfg HTTP/1.1\r\nHost: t\r\n\r\n").body == b"ok"
        server.wait_for_log(
            rf'^CUSTOM\|aster\.access\|INFO\|127\.0\.0\.1 - - {STAMP} "GET /cfg HTTP/1\.1" 200 2$'
        )
        server.signal(signal.SIGTERM)
        assert server.wait() == 0
    pid = server.process.pid
    assert server.lines[0] == f"CUSTOM|aster.error|INFO|Started server process [{pid}]"
    assert server.lines[-1] == f"CUSTOM|aster.error|INFO|Finished server process [{pid}]"
    # Every server line went through the configured formatter.
    assert [line for line in server.lines if not line.startswith(("CUSTOM|", "APP: "))] == []


def test_log_config_ini(tmp_path: Path) -> None:
    path = tmp_path / "logging.ini"
    path.write_text(
        "[loggers]\nkeys=root,aster\n\n"
        "[handlers]\nkeys=out\n\n"
        "[formatters]\nkeys=ini\n\n"
        "[logger_root]\nlevel=WARNING\nhandlers=out\n\n"
        "[logger_aster]\nlevel=INFO\nhandlers=out\nqualname=aster\npropagate=0\n\n"
        "[handler_out]\nclass=StreamHandler\nformatter=ini\nargs=(sys.stdout,)\n\n"
        "[formatter_ini]\nformat=INI %(name)s %(message)s\n"
    )
    with serve(APP, "--log-config", str(path), wait=False) as server:
        server.wait_for_log(r"^INI aster\.error aster running on http://")
        server.signal(signal.SIGTERM)
        assert server.wait() == 0


def test_bad_log_config_is_a_clean_error(tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    broken = tmp_path / "broken.json"
    broken.write_text('{"version": 1, "handlers": {"h": {"class": "no.such.Handler"}}}')
    for path in (missing, broken):
        result = subprocess.run(
            [sys.executable, "-m", "aster", "run", APP, "--log-config", str(path)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 1
        lines = result.stderr.splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith(f"ERROR     could not apply --log-config {path}: ")
        assert result.stdout == ""


# -- default headers and root_path -----------------------------------------------------------


def test_header_and_root_path() -> None:
    args = ("--header", "x-custom:1", "--header", "X-Frame-Options: DENY", "--root-path", "/api")
    with serve(APP, *args) as server:
        response = request(server.port, b"GET /scope HTTP/1.1\r\nHost: t\r\n\r\n")
        assert response.status == 200
        assert response.header("x-custom") == "1"
        assert response.header("x-frame-options") == "DENY"
        assert response.header_names()[:4] == ["date", "server", "x-custom", "x-frame-options"]
        seen = json.loads(response.body)
        assert seen["root_path"] == "/api"
        assert seen["path"] == "/api/scope"
        assert seen["raw_path"] == "/api/scope"
        # Error responses carry the default headers too.
        bad = request(server.port, b"GET / HTTP/1.1\r\n\r\n")
        assert bad.status == 400
        assert bad.header("x-custom") == "1"


def test_no_server_and_no_date_header() -> None:
    with serve(APP, "--no-server-header", "--no-date-header") as server:
        response = request(server.port, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        assert response.header_names() == ["content-type", "content-length"]


def test_h11_max_incomplete_event_size_is_the_header_limit() -> None:
    with serve(APP, "--h11-max-incomplete-event-size", "1024") as server:
        big = b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 2000 + b"\r\n\r\n"
        response = request(server.port, big)
        assert response.status == 431
        assert response.header("connection") == "close"
        fits = b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 900 + b"\r\n\r\n"
        assert request(server.port, fits).status == 200
