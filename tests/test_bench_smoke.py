"""The benchmark harness runs end to end and reads wrk's report correctly."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

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
