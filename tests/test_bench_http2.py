"""The ``http2`` bench suite runs end to end against real servers with real h2load, reads
h2load's report and per-request log correctly, and turns failed requests into errors,
not numbers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench import h2_client, h2load, report
from bench.h2_suite import H2_SCENARIOS, h2_contenders
from bench.runner import TOOLS, Run, Settings, serving
from bench.scenarios import VerificationError, verify
from tests.support import serve

ROOT = Path(__file__).resolve().parent.parent


def h2load_output(
    succeeded: int = 35164, failed: int = 0, errored: int = 0, timeout: int = 0,
    client_errors: int = 0, protocol: str = "h2c",
) -> str:  # fmt: skip
    """h2load's report of a 2 s run with 35164 requests done, in nghttp2 1.52's words."""
    return (
        "starting benchmark...\n"
        "spawning thread #0: 16 total client(s). Timing-based test with 0s of warm-up time "
        "and 2s of main duration for measurements.\n"
        f"Application protocol: {protocol}\n"
        "Main benchmark duration is over for thread #0. Stopping all clients.\n\n"
        "finished in 2.00s, 17582.00 req/s, 1.76MB/s\n"
        f"requests: 35164 total, 35420 started, 35164 done, {succeeded} succeeded, "
        f"{failed} failed, {errored} errored, {timeout} timeout\n"
        f"status codes: {35164 - client_errors} 2xx, 0 3xx, {client_errors} 4xx, 0 5xx\n"
        "traffic: 3.52MB (3692988) total, 2.18MB (2285660) headers (space savings 30.85%)\n"
        "                     min         max         mean         sd        +/- sd\n"
        "time for request:      466us     44.05ms     14.30ms      5.21ms    78.19%\n"
    )


def test_parse_h2load_counts_protocol_and_log_percentiles() -> None:
    log = "".join(f"1796236361530174\t200\t{us}\n" for us in range(1000, 101000, 1000))
    log += "1796236361530999\t-1\t-1\n"
    output = h2load_output(35150, failed=10, errored=3, timeout=1, client_errors=10)
    result = h2load.parse(output, log, expected_protocol="h2c")
    assert result.requests_per_sec == 17582.0
    assert result.requests == 35164
    assert result.duration_ms == 2000.0
    assert (result.succeeded, result.failed, result.errored, result.timeouts) == (35150, 10, 3, 1)
    assert result.status == {"2xx": 35154, "3xx": 0, "4xx": 10, "5xx": 0}
    assert result.protocol == "h2c"
    # 100 logged requests of 1..100 ms: nearest-rank percentiles are exact.
    assert result.latency_ms == {"50": 50.0, "75": 75.0, "90": 90.0, "99": 99.0}
    assert result.p99_ms == 99.0
    assert result.logged_failures == 1
    assert result.problem == "10 failed, 3 errored, 1 timeout, 10 4xx, 1 failed streams in the log"


def test_h2load_result_must_speak_the_protocol_asked_for() -> None:
    assert h2load.parse(h2load_output(), "", expected_protocol="h2c").problem is None
    fallback = h2load_output(protocol="http/1.1")
    assert h2load.parse(fallback, "", "h2").problem == "spoke 'http/1.1', not 'h2'"
    assert h2load.parse(h2load_output(0), "", "h2c").problem == "no request succeeded"
    with pytest.raises(h2load.H2loadError, match="unrecognised h2load output"):
        h2load.parse("connect to 127.0.0.1:1 failed\n")


def test_targets_are_checked_per_scenario_and_overall() -> None:
    summary: report.Summary = {
        s: {c: report.Cell() for c in ("aster", "granian", "uvicorn")} for s in ("a", "b")
    }
    for scenario, rps in {"a": (30.0, 20.0, 10.0), "b": (19.0, 20.0, 10.0)}.items():
        for contender, value in zip(("aster", "granian", "uvicorn"), rps, strict=True):
            summary[scenario][contender].rps.append(value)
    targets = (report.Target("granian", 1.0, ("a", "b")), report.Target("uvicorn", 1.5, ("a",)))
    checks = report.check_targets(summary, "aster", targets)
    assert [(c["scenario"], c["peer"], c["met"]) for c in checks] == [
        ("a", "granian", True),
        ("b", "granian", False),
        ("a", "uvicorn", True),
    ]
    lines = report.targets_markdown(checks, "aster")
    assert lines[1] == (
        "- a: aster/granian **1.50×** (≥ 1.00×: met), aster/uvicorn **3.00×** (≥ 1.50×: met)"
    )
    assert lines[2] == "- b: aster/granian **0.95×** (≥ 1.00×: MISSED)"
    assert lines[-1] == "Target overall: MISSED."
    summary["b"]["granian"].rps.clear()
    lines = report.targets_markdown(report.check_targets(summary, "aster", targets), "aster")
    assert lines[2] == "- b: aster/granian – (≥ 1.00×: not checked)"
    assert lines[-1].startswith("Target overall: NOT CHECKED")


def test_preface_probe_tells_http1_only_from_http2(tmp_path: Path) -> None:
    """The probe the suite uses to report a server as not speaking HTTP/2: against aster
    (HTTP/1.1 only until the h2 branch lands) and against hypercorn (HTTP/2)."""
    with serve("bench.apps.raw_asgi:app", "--no-access-log") as server:
        answer = h2_client.probe("127.0.0.1", server.port)
    assert answer == h2_client.ProbeAnswer(True, "answered the preface with SETTINGS")
    # A server that does not speak HTTP/2 is detected, with its answer: aster without h2c.
    with serve("bench.apps.raw_asgi:app", "--no-access-log", "--http", "h11") as server:
        answer = h2_client.probe("127.0.0.1", server.port)
    assert answer is not None and not answer.speaks_h2
    assert answer.detail.startswith("it answered the HTTP/2 preface with b'HTTP/1.1 "), answer
    (hypercorn,) = h2_contenders(["hypercorn"])
    ready = TOOLS["h2load"].ready(None)
    with serving(hypercorn, Settings(), tmp_path, ready=ready) as port:
        answer = h2_client.probe("127.0.0.1", port)
    assert answer == h2_client.ProbeAnswer(True, "answered the preface with SETTINGS")


@pytest.mark.timeout(90)
def test_failed_requests_make_an_error_not_a_number(tmp_path: Path) -> None:
    """A real h2load run that gets 404s is invalid, and the report leaves it out of the
    medians and lists it as a problem; the verification refuses the wrong answer first."""
    (hypercorn,) = h2_contenders(["hypercorn"])
    scenario = H2_SCENARIOS["plaintext_c16m16"]
    settings = Settings(duration=1, warmup=0, rounds=1)
    with serving(hypercorn, settings, tmp_path, ready=TOOLS["h2load"].ready(None)) as port:
        verify(scenario, "127.0.0.1", port, request=TOOLS["h2load"].request(None))
        result = h2load.run(f"http://127.0.0.1:{port}/missing", duration=1, clients=2, streams=2)
        wrong = H2_SCENARIOS["json_c64m1"]  # /json is a 404 on the raw app
        with pytest.raises(VerificationError, match="status 404, expected 200"):
            verify(wrong, "127.0.0.1", port, request=TOOLS["h2load"].request(None))
    assert result.protocol == "h2c"
    assert result.succeeded == 0 and result.failed > 0
    # Responses still in flight when the time is up count in the status codes only.
    assert result.status["4xx"] >= result.failed
    assert result.problem == f"{result.failed} failed, {result.status['4xx']} 4xx"

    run = Run(0, "hypercorn", scenario.name, result, result.problem)
    summary = report.summarize([run], ["hypercorn"], [scenario.name])
    assert summary[scenario.name]["hypercorn"].rps == []
    meta = {
        "settings": {"duration": 1, "warmup": 0, "rounds": 1, "pinned": False},
        "versions": {},
        "cpu": "test",
        "timestamp": "now",
        "load": "h2load -t1",
    }
    text = report.markdown(summary, ["hypercorn"], None, meta, [run])
    assert "| plaintext_c16m16 | error | – |" in text
    rps = f"{result.requests_per_sec:,.0f} req/s, not counted"
    assert f"- round 1, hypercorn, plaintext_c16m16 ({rps}): {result.failed} failed" in text


@pytest.mark.timeout(120)
def test_quick_http2_suite_writes_table_chart_and_json(tmp_path: Path) -> None:
    """The whole suite, h2c and TLS, aster against hypercorn (the peer the tests install)."""
    scenarios = ["plaintext_c16m16", "plaintext_tls"]
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--suite", "http2", "--quick", "--warmup", "0"]
        + ["--servers", "aster,hypercorn", "--scenarios", ",".join(scenarios)]
        + ["--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr

    table = (tmp_path / "http2.md").read_text()
    assert (
        "| aster req/s | hypercorn req/s | aster/hypercorn | aster p99 | hypercorn p99 |" in table
    )
    assert (tmp_path / "http2.png").stat().st_size > 1000
    data = json.loads((tmp_path / "http2.json").read_text())
    assert data["meta"]["suite"] == "http2"
    assert data["meta"]["versions"]["h2load"]
    runs = {(r["contender"], r["scenario"]): r for r in data["runs"]}
    for scenario, protocol in zip(scenarios, ("h2c", "h2"), strict=True):
        cell = data["summary"][scenario]["hypercorn"]
        assert cell["rps_median"] > 0 and cell["p99_ms_median"] > 0, scenario
        result = runs["hypercorn", scenario]["result"]
        assert runs["hypercorn", scenario]["ok"], runs["hypercorn", scenario]["error"]
        assert result["protocol"] == protocol
        assert result["failed"] == result["errored"] == result["timeouts"] == 0
    for scenario in scenarios:
        assert data["summary"][scenario]["aster"]["rps_median"] > 0, scenario
        assert data["summary"][scenario]["hypercorn"]["baseline_over_this"] > 0
    assert "aster" not in data["unsupported"]
