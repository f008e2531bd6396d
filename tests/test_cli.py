"""The ``aster`` command line and its programmatic twin ``aster.run()``.

Every failure case runs the real command and checks the exit code and the
exact output: one message, no traceback.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import ROOT, Running, request, serve

ASTER = str(Path(sys.executable).parent / "aster")
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
GET = b"GET /%s HTTP/1.1\r\nHost: t\r\n\r\n"
RUNNING = re.compile(r"running on (https?)://(\[[^\]]+\]|[^:]+):(\d+)")


def cli(*args: str, cwd: Path = ROOT, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    """Run ``python -m aster <args>``, expecting it to end by itself."""
    return subprocess.run(
        [sys.executable, "-m", "aster", *args],
        cwd=cwd,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@contextlib.contextmanager
def launch(command: list[str], cwd: Path = ROOT) -> Iterator[Running]:
    """Start any command that ends up serving; parse the port from its log."""
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    running = Running(process)

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            running.lines.append(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    try:
        match = RUNNING.search(running.wait_for_log(RUNNING.pattern, timeout=15))
        assert match is not None
        running.port = int(match.group(3))
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)


def get(port: int, path: str = "") -> tuple[int, bytes]:
    response = request(port, GET % path.encode())
    return response.status, response.body


def assert_clean_error(result: subprocess.CompletedProcess[str], message: str) -> None:
    """Exit code 1, the exact ERROR line, and nothing that looks like a traceback."""
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert f"ERROR     {message}" in output.splitlines(), output
    assert "Traceback" not in output


# -- bad app references: exit 1 with one message ---------------------------------------


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (
            "tests.apps.life_app",
            '"tests.apps.life_app" is not a file or directory, and as an import string it '
            'must be in the format "<module>:<attribute>"',
        ),
        (
            "tests.apps.life_app:",
            'import string "tests.apps.life_app:" must be in the format "<module>:<attribute>"',
        ),
        ("tests.apps.nowhere:app", 'could not import module "tests.apps.nowhere"'),
        (
            "tests.apps.life_app:nowhere",
            'attribute "nowhere" not found in module "tests.apps.life_app"',
        ),
        (
            "tests.apps.life_app:NOT_CALLABLE",
            'the app "tests.apps.life_app:NOT_CALLABLE" is not callable (got int)',
        ),
    ],
)
def test_bad_app_reference_is_one_clean_error(target: str, message: str) -> None:
    result = cli("run", target, "--port", "0")
    assert_clean_error(result, message)
    # Nothing was started: the reference is checked before anything else runs.
    assert (result.stdout + result.stderr).splitlines() == [f"ERROR     {message}"]


def test_error_inside_the_app_module_keeps_its_traceback(tmp_path: Path) -> None:
    """Only a wrong reference is summarised; a broken module needs its traceback to be fixed."""
    (tmp_path / "broken.py").write_text("import no_such_dependency_xyz\n")
    result = cli("run", "broken:app", "--app-dir", str(tmp_path))
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    assert lines[-1] == "ModuleNotFoundError: No module named 'no_such_dependency_xyz'"


def test_console_script_reports_the_same_clean_error() -> None:
    result = subprocess.run(
        [ASTER, "run", "tests.apps.nowhere:app"],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert result.stderr == 'ERROR     could not import module "tests.apps.nowhere"\n'
    assert result.stdout == ""


def test_address_in_use_is_a_clean_error_before_startup_runs() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli("run", "tests.apps.life_app:app", "--port", str(port))
    assert_clean_error(result, f"could not bind on 127.0.0.1:{port}: address already in use")
    # The app's startup never ran: the port is claimed first.
    assert "APP: startup" not in result.stdout
    assert "Waiting for application startup." not in result.stderr


def test_address_in_use_with_workers_is_a_clean_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli("run", "tests.apps.life_app:app", "--port", str(port), "--workers", "2")
    assert_clean_error(result, f"could not bind on 127.0.0.1:{port}: address already in use")


def test_bad_app_reference_with_workers_stops_with_exit_1() -> None:
    """A worker that cannot load the app must not be restarted forever."""
    result = cli("run", "tests.apps.nowhere:app", "--port", "0", "--workers", "2")
    assert_clean_error(result, 'could not import module "tests.apps.nowhere"')


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--port", "abc"], "argument --port: not an integer: 'abc'"),
        (["--port", "70000"], "argument --port: must be from 0 to 65535: '70000'"),
        (
            ["--lifespan", "maybe"],
            "argument --lifespan: invalid choice: 'maybe' (choose from 'auto', 'on', 'off')",
        ),
        (["--timeout-keep-alive", "soon"], "argument --timeout-keep-alive: not a number: 'soon'"),
        (["--timeout-keep-alive", "0"], "argument --timeout-keep-alive: must be positive: '0'"),
        (["--workers", "0"], "argument --workers: must be at least 1: '0'"),
        (
            ["--limit-max-requests-jitter", "-1"],
            "argument --limit-max-requests-jitter: must not be negative: '-1'",
        ),
        (
            ["--limit-max-requests-jitter", "2.5"],
            "argument --limit-max-requests-jitter: not an integer: '2.5'",
        ),
        (
            ["--timeout-worker-healthcheck", "-1"],
            "argument --timeout-worker-healthcheck: must not be negative: '-1'",
        ),
        (["--no-such-flag"], "unrecognized arguments: --no-such-flag"),
    ],
)
def test_bad_flag_is_a_usage_error(args: list[str], error: str) -> None:
    result = cli("run", "tests.apps.life_app:app", *args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("usage: aster run ")
    assert result.stderr.splitlines()[-1] == f"aster run: error: {error}"
    assert "Traceback" not in result.stderr


def test_bad_option_value_caught_by_config_is_a_clean_error() -> None:
    result = cli("run", "tests.apps.life_app:app", "--health-path", "healthz")
    assert_clean_error(
        result, "--health-path must be a path starting with '/' (no query); got 'healthz'"
    )
    result = cli("run", "tests.apps.life_app:app", "--health-path", "/health?x=1")
    assert_clean_error(
        result, "--health-path must be a path starting with '/' (no query); got '/health?x=1'"
    )
    result = cli("run", "tests.apps.life_app:app", "--header", "no-colon-here")
    assert_clean_error(result, "--header must look like 'name:value'; got 'no-colon-here'")
    result = cli("run", "tests.apps.life_app:app", "--forwarded-allow-ips", "10.0.0.300")
    assert_clean_error(
        result, "--forwarded-allow-ips: '10.0.0.300' is not an IP address or network"
    )


def test_missing_command_and_version() -> None:
    result = cli()
    assert result.returncode == 2
    assert "the following arguments are required: COMMAND" in result.stderr
    result = cli("--version")
    assert result.returncode == 0
    assert result.stdout == "aster 0.1.0\n"


UVICORN_FLAGS = [
    "--host",
    "--port",
    "--uds",
    "--fd",
    "--reload",
    "--reload-dir",
    "--root-path",
    "--proxy-headers",
    "--no-proxy-headers",
    "--forwarded-allow-ips",
    "--timeout-keep-alive",
    "--timeout-graceful-shutdown",
    "--limit-concurrency",
    "--limit-max-requests",
    "--backlog",
    "--log-level",
    "--log-config",
    "--access-log",
    "--no-access-log",
    "--ssl-keyfile",
    "--ssl-certfile",
    "--lifespan",
    "--factory",
    "--app-dir",
    "--h11-max-incomplete-event-size",
    "--workers",
    "--interface",
    "--header",
    "--reload-include",
    "--reload-exclude",
    "--limit-max-requests-jitter",
    "--timeout-worker-healthcheck",
]


def test_help_lists_the_uvicorn_compatible_flags() -> None:
    result = cli("run", "--help")
    assert result.returncode == 0
    assert result.stderr == ""
    assert result.stdout.startswith("usage: aster run ")
    listed = set(re.findall(r"(?<![\w-])--[a-z0-9-]+", result.stdout))
    missing = [flag for flag in UVICORN_FLAGS if flag not in listed]
    assert missing == []


# -- serving through each entry point ---------------------------------------------------


def test_console_script_serves() -> None:
    with launch([ASTER, "run", "tests.apps.life_app:app", "--port", "0"]) as server:
        assert get(server.port) == (200, b"ok")
        server.signal(signal.SIGTERM)
        assert server.wait() == 0
    assert server.lines[0] == f"INFO      Started server process [{server.process.pid}]"
    assert server.lines[-1] == f"INFO      Finished server process [{server.process.pid}]"


def test_python_dash_m_serves_factory_and_scope_basics() -> None:
    with serve("tests.apps.life_app:create_app", "--factory") as server:
        assert get(server.port) == (200, b"ok")
        response = request(server.port, b"GET /scope HTTP/1.1\r\nHost: t\r\n\r\n")
        assert response.status == 200
        body = response.body.decode()
        assert f'"server": ["127.0.0.1", {server.port}]' in body
        assert '"spec_version": "2.5"' in body
        assert '"scheme": "http"' in body


def test_factory_flag_on_a_non_factory_is_an_error() -> None:
    # Without --factory the factory function is taken for an ASGI2 app and
    # fails per request; with --factory a plain ASGI app gets called with no
    # arguments and fails at start-up, cleanly.
    result = cli("run", "tests.apps.life_app:app", "--factory", "--port", "0")
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert (
        "ERROR     error calling the app factory: app() missing 3 required positional "
        "arguments: 'scope', 'receive', and 'send'"
    ) in output.splitlines()
    assert "Traceback" not in output


def test_app_dir(tmp_path: Path) -> None:
    (tmp_path / "elsewhere.py").write_text(
        "async def app(scope, receive, send):\n"
        "    if scope['type'] != 'http':\n"
        "        return\n"
        "    await send({'type': 'http.response.start', 'status': 200, 'headers': []})\n"
        "    await send({'type': 'http.response.body', 'body': b'from app-dir'})\n"
    )
    with serve("elsewhere:app", "--app-dir", str(tmp_path)) as server:
        assert get(server.port) == (200, b"from app-dir")
    # Without --app-dir the module is not found from the project root.
    assert_clean_error(cli("run", "elsewhere:app"), 'could not import module "elsewhere"')


@pytest.mark.parametrize(
    ("target", "args", "body"),
    [
        ("tests.apps.life_asgi2:ClassApp", [], b"asgi2 class"),
        ("tests.apps.life_asgi2:closure_app", [], b"asgi2 closure"),
        ("tests.apps.life_asgi2:closure_app", ["--interface", "asgi2"], b"asgi2 closure"),
        ("tests.apps.life_asgi2:instance_app", [], b"asgi2 closure"),
        ("tests.apps.life_asgi2:sync_wrapper", [], b"asgi3 via a sync wrapper"),
        ("tests.apps.life_asgi2:sync_call_app", [], b"asgi3 via a sync wrapper"),
    ],
)
def test_asgi2_and_asgi3_detection(target: str, args: list[str], body: bytes) -> None:
    with serve(target, *args) as server:
        assert get(server.port) == (200, body)
        assert get(server.port) == (200, body)


def test_forcing_asgi3_on_an_asgi2_app_fails_per_request_with_500() -> None:
    with serve("tests.apps.life_asgi2:closure_app", "--interface", "asgi3") as server:
        response = request(server.port, GET % b"")
        assert response.status == 500
        assert response.body == b"Internal Server Error"
        server.wait_for_log(r"^ERROR     Exception in ASGI application$")


# -- the programmatic twin: aster.run() ----------------------------------------------------


def run_snippet(code: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_run_serves_an_app_object_and_an_import_string() -> None:
    code = (
        "import aster\n"
        "from tests.apps.life_app import app\n"
        "aster.run(app, port=0, root_path='/mounted', headers=[('x-via', 'run')])\n"
    )
    with launch([sys.executable, "-c", code]) as server:
        response = request(server.port, b"GET /scope HTTP/1.1\r\nHost: t\r\n\r\n")
        assert response.status == 200
        assert response.header("x-via") == "run"
        assert '"root_path": "/mounted"' in response.body.decode()
        server.signal(signal.SIGINT)
        assert server.wait() == 0
    code = "import aster; aster.run('tests.apps.life_app:app', port=0, lifespan='off')"
    with launch([sys.executable, "-c", code]) as server:
        assert get(server.port, "lifespan") == (200, b"0")


def test_run_rejects_unknown_options_with_type_error() -> None:
    result = run_snippet("import aster; aster.run('tests.apps.life_app:app', prot=8000)")
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == "TypeError: run() got unexpected option(s): prot"
    assert result.stdout == ""


def test_run_with_bad_import_string_is_a_clean_error() -> None:
    result = run_snippet("import aster; aster.run('tests.apps.life_app:nowhere')")
    assert_clean_error(result, 'attribute "nowhere" not found in module "tests.apps.life_app"')
    result = run_snippet("import aster; aster.run('tests.apps.life_app:app', port=-1)")
    assert_clean_error(result, "--port must be an integer from 0 to 65535; got -1")
    result = run_snippet(
        "import aster; aster.run('tests.apps.life_app:app', limit_max_requests_jitter=-3)"
    )
    assert_clean_error(result, "--limit-max-requests-jitter must be an integer, 0 or more")
    result = run_snippet(
        "import aster; aster.run('tests.apps.life_app:app', timeout_worker_healthcheck=-1)"
    )
    assert_clean_error(result, "--timeout-worker-healthcheck must not be negative")
    result = run_snippet("import aster; aster.run('tests.apps.life_app:app', lifespan='maybe')")
    assert_clean_error(result, "--lifespan must be one of auto, on, off; got 'maybe'")


def test_run_with_an_app_object_refuses_reload() -> None:
    result = run_snippet(
        "import aster\nfrom tests.apps.life_app import app\naster.run(app, reload=True)"
    )
    assert_clean_error(
        result,
        "pass the application as an import string (module:attribute) to use reload or workers",
    )


def test_server_in_a_thread_stops_when_should_exit_is_set() -> None:
    """The uvicorn idiom for embedding: run Server in a thread, set should_exit to stop it."""
    code = """
import threading, time, urllib.request
import aster
from tests.apps.life_app import app

config = aster.Config(app, port=0, log_config=None)
server = aster.Server(config)
thread = threading.Thread(target=server.run)
thread.start()
while not server.bound_addresses:
    time.sleep(0.01)
port = server.bound_addresses[0][1]
print(urllib.request.urlopen(f"http://127.0.0.1:{port}/").read().decode())
started = time.monotonic()
server.should_exit = True
thread.join(10)
print(thread.is_alive(), time.monotonic() - started < 2)
"""
    result = run_snippet(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "APP: startup\nok\nAPP: shutdown\nFalse True\n"
