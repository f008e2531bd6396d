"""The benchmark harness runs end to end, reads wrk's report correctly, and refuses wrong
answers; the framework apps are what they claim to be."""

from __future__ import annotations

import ast
import http.server
import importlib.util
import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from bench.scenarios import FRAMEWORK_SCENARIOS, VerificationError, json_equals, verify
from bench.wrk import parse

ROOT = Path(__file__).resolve().parent.parent

WRK_OUTPUT = """\
Running 5s test @ http://127.0.0.1:8000/
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   890.12us  147.90us   1.02s    92.43%
    Req/Sec    70.69k     2.77k   78.01k    85.00%
  Latency Distribution
     50%  890.00us
     75%    0.93ms
     90%    1.50s
     99%    2.00m
  351490 requests in 5.00s, 17.43MB read
  Socket errors: connect 0, read 3, write 0, timeout 1
  Non-2xx or 3xx responses: 7
Requests/sec:  70259.10
Transfer/sec:      8.71MB
"""


def test_parse_wrk_units_and_errors() -> None:
    result = parse(WRK_OUTPUT)
    assert result.requests_per_sec == 70259.10
    assert result.requests == 351490
    assert result.duration_ms == 5000.0
    assert result.latency_ms == {"50": 0.89, "75": 0.93, "90": 1500.0, "99": 120000.0}
    assert result.p99_ms == 120000.0
    assert result.socket_errors == {"connect": 0, "read": 3, "write": 0, "timeout": 1}
    assert result.non_2xx == 7
    assert result.problem == "7 non-2xx/3xx responses"


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
@pytest.mark.timeout(90)
def test_quick_bench_writes_table_chart_and_json(tmp_path: Path) -> None:
    servers = ["aster"]
    if importlib.util.find_spec("uvicorn") is not None:
        servers.append("uvicorn")
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--servers", ",".join(servers)]
        + ["--scenarios", "plaintext,echo10k", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=80,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr

    table = (tmp_path / "latest.md").read_text()
    assert "| aster req/s |" in table
    assert (tmp_path / "latest.png").stat().st_size > 1000
    data = json.loads((tmp_path / "latest.json").read_text())
    for scenario in ("plaintext", "echo10k"):
        assert data["summary"][scenario]["aster"]["rps_median"] > 0
        row = next(line for line in table.splitlines() if line.startswith(f"| {scenario} |"))
        aster_rps = float(row.split("|")[2].strip().replace(",", ""))
        assert aster_rps > 0
    if "uvicorn" in servers:
        assert "aster/uvicorn" in table
        assert data["summary"]["plaintext"]["uvicorn"]["rps_median"] > 0


def test_json_checks_compare_values_with_their_types() -> None:
    check = json_equals({"item_id": 42, "q": "hello", "tags": ["a"], "ok": True})
    assert check(200, b"", b'{"ok":true,"tags":["a"],"q":"hello","item_id":42}') is None
    assert "expected" in (check(200, b"", b'{"item_id":"42","q":"hello","tags":["a"],"ok":true}'))
    assert check(200, b"", b'{"item_id":42.0,"q":"hello","tags":["a"],"ok":true}') is not None
    assert check(200, b"", b'{"item_id":42,"q":"hello","tags":["a"],"ok":1}') is not None
    assert check(200, b"", b'{"item_id":42,"q":"hello","tags":["a"]}') is not None
    assert "status 422" in (check(422, b"", b"{}") or "")
    assert "not JSON" in (check(200, b"", b"Hello") or "")


class _Fake(http.server.BaseHTTPRequestHandler):
    """Answers what the test put in ``ANSWERS[path]``: (status, content type, body, headers)."""

    ANSWERS: dict[str, tuple[int, str, bytes, dict[str, str]]] = {}

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        status, ctype, body, headers = self.ANSWERS[self.path]
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


def test_verify_catches_wrong_type_header_and_missing_validation() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Fake)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    answers = _Fake.ANSWERS
    good = (200, "application/json", b'{"item_id":42,"q":"hello","limit":5}', {})
    path_query = FRAMEWORK_SCENARIOS["path_query"]
    try:
        answers[path_query.path] = good
        answers["/items/42?q=hello&limit=many"] = (422, "application/json", b"{}", {})
        verify(path_query, "127.0.0.1", port)

        answers["/items/42?q=hello&limit=many"] = good  # no validation: must be caught
        with pytest.raises(VerificationError, match="expected a 4xx"):
            verify(path_query, "127.0.0.1", port)

        answers[path_query.path] = (200, "text/plain", good[2], {})
        with pytest.raises(VerificationError, match="content-type 'text/plain'"):
            verify(path_query, "127.0.0.1", port)

        middleware3 = FRAMEWORK_SCENARIOS["middleware3"]
        hello = (200, "application/json", b'{"message": "Hello, World!"}')
        answers["/json"] = (*hello, {"x-mw-1": "1", "x-mw-3": "1"})
        with pytest.raises(VerificationError, match="x-mw-2 missing"):
            verify(middleware3, "127.0.0.1", port)
        answers["/json"] = (*hello, {"x-mw-1": "1", "x-mw-2": "1", "x-mw-3": "1"})
        verify(middleware3, "127.0.0.1", port)
    finally:
        server.shutdown()
        server.server_close()


def _code(path: Path) -> list[str]:
    """A module's code lines, without its docstring, imports and blank lines."""
    tree = ast.parse(path.read_text())
    skip: set[int] = set()
    for node in tree.body:
        is_doc = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        if is_doc or isinstance(node, ast.Import | ast.ImportFrom):
            skip.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    lines = path.read_text().splitlines()
    return [line for n, line in enumerate(lines, 1) if n not in skip and line.strip()]


def test_aster_app_is_the_fastapi_app_with_other_imports() -> None:
    apps = ROOT / "bench" / "apps"
    assert _code(apps / "fw_aster.py") == _code(apps / "fw_fastapi.py")
    assert "from fastapi import" in (apps / "fw_fastapi.py").read_text()


def test_fastapi_app_refuses_aster_compat_aliases() -> None:
    """The FastAPI contender must run the real FastAPI, whatever else is installed."""
    real = subprocess.run(
        [sys.executable, "-c", "import bench.apps.fw_fastapi, fastapi; print(fastapi.__file__)"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    if "No module named 'fastapi'" in real.stderr:
        pytest.skip("fastapi is not installed (pip install -e '.[bench]')")
    assert real.returncode == 0, real.stderr
    assert Path(real.stdout.strip()).parent.parent.name in ("site-packages", "dist-packages")
    aliased = subprocess.run(
        [
            sys.executable,
            "-c",
            "import aster.compat; aster.compat.install(); import bench.apps.fw_fastapi",
        ],  # fmt: skip
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert aliased.returncode != 0
    assert "must run the real FastAPI" in aliased.stderr


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
@pytest.mark.skipif(
    importlib.util.find_spec("fastapi") is None, reason="fastapi is not installed (.[bench])"
)
@pytest.mark.timeout(90)
def test_quick_framework_bench(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--suite", "framework", "--quick", "--warmup", "0"]
        + ["--frameworks", "aster,fastapi", "--scenarios", "post_model,middleware3"]
        + ["--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=80,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr

    table = (tmp_path / "framework.md").read_text()
    assert "| aster req/s | fastapi req/s | aster/fastapi |" in table
    assert (tmp_path / "framework.png").stat().st_size > 1000
    data = json.loads((tmp_path / "framework.json").read_text())
    assert data["meta"]["suite"] == "framework"
    assert data["meta"]["apps"]["fastapi"] == "bench.apps.fw_fastapi:app"
    for scenario in ("post_model", "middleware3"):
        for contender in ("aster", "fastapi"):
            assert data["summary"][scenario][contender]["rps_median"] > 0, (scenario, contender)
        assert data["summary"][scenario]["fastapi"]["baseline_over_this"] > 0
    runs = {(r["contender"], r["scenario"]) for r in data["runs"] if r["ok"]}
    assert len(runs) == 4


@pytest.mark.parametrize("mode", ["echo", "connect"])
def test_websocket_load_generator_checks_what_it_counts(mode: str) -> None:
    """bench.ws_load against a real aster: every echo verified, no errors, a plausible count."""
    from tests.support import serve

    with serve("bench.apps.ws_echo:app", "--no-access-log") as server:
        argv = [sys.executable, "-m", "bench.ws_load", f"ws://127.0.0.1:{server.port}/ws"]
        argv += ["--mode", mode, "--duration", "1", "--connections", "8", "--processes", "2"]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True)
        report = json.loads(out.stdout)
        assert report["errors"] == {}
        assert report["requests"] > 50
        assert report["latency_ms"]["50"] <= report["latency_ms"]["99"]

        # A path the app refuses: the handshake fails (403) and every connect is an error.
        argv[3] = f"ws://127.0.0.1:{server.port}/nope"
        out = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True)
        report = json.loads(out.stdout)
        assert report["requests"] == 0
        assert report["errors"]["connect"] >= 8
