"""Production operations with supervised workers, under real load (issue 14).

Each test runs ``aster run --workers 2`` (and 1 where a single process matters)
with clients from :mod:`bench.ops_load` in the background: a worker whose event
loop is blocked is replaced within ``--timeout-worker-healthcheck`` while its
sibling serves; SIGTERM loses no request and refuses newcomers at once; SIGHUP
replaces every worker without a failed request; ``--limit-max-requests-jitter``
spreads the restarts; SIGTTIN/SIGTTOU change the count.  Timeouts are short
(flags) and every wait is bounded.
"""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path

import pytest

from bench.ops_load import Load, Result
from tests.h2_support import RawH2
from tests.support import RawConnection, serve
from tests.workers_support import alive, distinct_pids, wait_for_workers

APP = "bench.apps.ops_app:app"


def failures(results: list[Result]) -> list[str]:
    return [f"{r.path} {r.error} (reused={r.reused})" for r in results if r.outcome == "failed"]


def pids_answering(results: list[Result], after: float) -> set[int]:
    return {int(r.body) for r in results if r.outcome == "ok" and r.started > after}


# -- a blocked event loop ---------------------------------------------------------------


@pytest.mark.parametrize("kind", ["block", "hold-gil", "spin"])
def test_a_blocked_worker_is_replaced_within_the_timeout_while_the_other_serves(
    kind: str,
) -> None:
    """``time.sleep`` (the GIL is free: other threads run), a C call that holds the GIL,
    and a busy loop: the heartbeat comes from inside the loop, so all three stop it."""
    with serve(
        APP, "--workers", "2", "--timeout-worker-healthcheck", "1", "--no-access-log"
    ) as srv:
        workers = set(wait_for_workers(srv, 2))
        load = Load(srv.port, clients=4, paths=("/pid",), keep_alive=False, pause=0.01).start()
        load.wait_for(20)
        blocker = RawConnection(srv.port, timeout=30)
        blocker.send(f"GET /{kind}?30 HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        blocked_at = srv.log_time(r"^APP: blocking 30$")
        pattern = r"^ERROR     Worker \[(\d+)\] missed its heartbeat for [\d.]+ s \(its event loop"
        detected_at = srv.log_time(pattern)
        match = re.match(pattern, srv.wait_for_log(pattern))
        assert match is not None
        stalled = int(match.group(1))
        (other,) = workers - {stalled}
        # Detected at the timeout (the last beat came up to a beat interval, 0.25 s,
        # before the block), give or take a loaded machine.
        assert 0.6 < detected_at - blocked_at < 3.0, detected_at - blocked_at
        # A blocked loop cannot run its SIGTERM handler: SIGKILL follows.
        srv.wait_for_log(rf"^WARNING   Worker \[{stalled}\] did not stop on SIGTERM; killing it")
        srv.wait_for_log(rf"^INFO      Worker \[{stalled}\] stopped \(exit code -9\)\.$")
        with pytest.raises((ConnectionError, OSError)):
            if blocker.read_to_close() == b"":
                raise ConnectionResetError("closed without an answer")
        blocker.close()
        replacement = wait_for_workers(srv, 3)[2]
        assert distinct_pids(srv.port, 2) == {other, replacement}
        results = load.stop()
    assert not alive(stalled)
    # Meanwhile the other worker took every new connection.
    during = [r for r in results if blocked_at < r.started and r.ended < detected_at]
    assert len([r for r in during if r.outcome == "ok"]) >= 5
    assert {int(r.body) for r in during if r.outcome == "ok"} == {other}
    # Lost: at most the connections the stalled worker had accepted in the turns just
    # before its loop stopped (the kill resets them).  Each of the 4 clients has one
    # connection in flight at a time, so at most one per client, and none after.
    lost = [r for r in results if r.outcome == "failed"]
    assert len(lost) <= 4, failures(results)
    assert all(r.started < detected_at for r in lost), failures(results)


# -- SIGTERM ----------------------------------------------------------------------------


@pytest.mark.parametrize("workers", [2, 1])
def test_sigterm_under_50_clients_completes_everything_and_refuses_newcomers(
    workers: int,
) -> None:
    args = ["--timeout-graceful-shutdown", "5", "--no-access-log"]
    if workers > 1:
        args += ["--workers", str(workers)]
    with serve(APP, *args) as srv:
        if workers > 1:
            wait_for_workers(srv, workers)
        # 40 clients back to back on keep-alive connections, 10 with a slow request.
        paths = ("/pid", "/pid", "/pid", "/pid", "/sleep?0.5")
        load = Load(srv.port, clients=50, paths=paths).start()
        load.wait_for(300)
        signalled = time.monotonic()
        srv.signal(signal.SIGTERM)
        assert srv.wait(20) == 0
        exited = time.monotonic()
        deadline = time.monotonic() + 10
        while load.clients_running and time.monotonic() < deadline:
            time.sleep(0.05)
        results = load.stop()
    in_flight = load.in_flight_at(signalled)
    assert len([r for r in in_flight if r.path.startswith("/sleep")]) >= 5
    assert all(r.outcome == "ok" and r.status == 200 for r in in_flight), in_flight[:3]
    # Nothing that reached the server was lost, keep-alive connections included.
    assert failures(results) == []
    # Every client ended on a refused connection, and a refusal is immediate.
    refused = [r for r in results if r.outcome == "refused"]
    assert len(refused) == 50
    assert max(r.ended - r.started for r in refused) < 1.0
    first_refusal = min(r.ended for r in refused) - signalled
    assert first_refusal < 2.0, first_refusal
    # Requests answered after the signal said the connection would close.
    assert any(r.closed for r in results if r.outcome == "ok" and r.ended > signalled)
    assert exited - signalled < 5.0
    assert len([line for line in srv.lines if line.startswith("APP: shutdown ")]) == workers
    assert "Traceback" not in srv.log()


def test_sigterm_hands_the_backlog_of_blocked_workers_to_them() -> None:
    """Connections waiting in the shared backlog when the pool stops are accepted by the
    supervisor before it shuts the listener down, and answered by the workers."""
    with serve(APP, "--workers", "2", "--timeout-keep-alive", "30", "--no-access-log") as srv:
        wait_for_workers(srv, 2)
        blockers = []
        for index in range(2):  # one per worker: a blocked worker accepts nothing more
            blocker = RawConnection(srv.port)
            blocker.send(b"GET /block?1.5 HTTP/1.1\r\nHost: t\r\n\r\n")
            deadline = time.monotonic() + 10
            while srv.lines.count("APP: blocking 1.5") <= index:
                assert time.monotonic() < deadline, srv.log()
                time.sleep(0.01)
            blockers.append(blocker)
        queued = [RawConnection(srv.port) for _ in range(20)]
        for conn in queued:
            conn.send(b"GET /pid HTTP/1.1\r\nHost: t\r\n\r\n")
        srv.signal(signal.SIGTERM)
        answered = []
        for conn in queued:
            response = conn.read_response()
            assert (response.status, response.header("connection")) == (200, "close")
            answered.append(int(response.body))
            assert conn.read_to_close() == b""
            conn.close()
        for blocker in blockers:
            assert blocker.read_response().status == 200
            blocker.close()
        assert srv.wait(15) == 0
    assert "Traceback" not in srv.log()
    assert "had no worker left" not in srv.log()


# -- SIGHUP -----------------------------------------------------------------------------


def test_sighup_under_load_replaces_every_worker_without_a_failed_request() -> None:
    with serve(APP, "--workers", "2", "--no-access-log") as srv:
        before = set(wait_for_workers(srv, 2))
        kept = Load(srv.port, clients=10, paths=("/pid",)).start()
        fresh = Load(srv.port, clients=5, paths=("/pid",), keep_alive=False).start()
        kept.wait_for(100)
        fresh.wait_for(50)
        srv.signal(signal.SIGHUP)
        for pid in before:
            srv.wait_for_log(rf"^INFO      Worker \[{pid}\] stopped \(exit code 0\)\.$", 40)
        restarted = time.monotonic()
        kept.wait_for(len(kept.results) + 100)
        fresh.wait_for(len(fresh.results) + 50)
        results = kept.stop() + fresh.stop()
    assert failures(results) == []
    after = pids_answering(results, restarted)
    assert len(after) == 2
    assert not after & before
    # One at a time: each new worker was ready before an old one was told to drain.
    replaced = [line for line in srv.lines if "is ready; stopping worker" in line]
    assert len(replaced) == 2
    assert srv.lines.index(replaced[0]) < srv.lines.index(replaced[1])


def test_sighup_keeps_the_old_workers_when_a_new_one_fails_to_start(tmp_path: Path) -> None:
    marker = tmp_path / "fail"
    env = {"OPS_FAIL_IF_EXISTS": str(marker)}
    with serve(APP, "--workers", "2", "--no-access-log", env=env) as srv:
        before = set(wait_for_workers(srv, 2))
        marker.write_text("")
        srv.signal(signal.SIGHUP)
        srv.wait_for_log(
            r"^ERROR     Worker \[\d+\] failed to start \(exit code 3\); the old workers keep "
            r"serving and the restart is abandoned\.$"
        )
        assert distinct_pids(srv.port, 2) == before
        assert srv.process.poll() is None
        # Once the cause is gone, the next SIGHUP goes through.
        marker.unlink()
        srv.signal(signal.SIGHUP)
        for pid in before:
            srv.wait_for_log(rf"^INFO      Worker \[{pid}\] stopped \(exit code 0\)\.$", 40)
        assert not distinct_pids(srv.port, 2) & before


# -- max requests, scaling ----------------------------------------------------------------


def test_max_requests_with_jitter_spreads_the_restarts() -> None:
    args = ("--workers", "2", "--limit-max-requests", "2", "--limit-max-requests-jitter", "30")
    with serve(APP, *args, "--no-access-log") as srv:
        wait_for_workers(srv, 2)
        load = Load(srv.port, clients=2, paths=("/pid",), keep_alive=False).start()
        pattern = re.compile(r"^WARNING   Maximum request limit of (\d+) reached\.")
        deadline = time.monotonic() + 60
        while len([line for line in srv.lines if pattern.match(line)]) < 6:
            assert time.monotonic() < deadline, srv.log()
            time.sleep(0.05)
        results = load.stop()
    limits = [int(m.group(1)) for m in map(pattern.match, srv.lines) if m]
    assert all(2 <= limit <= 32 for limit in limits), limits
    assert len(set(limits)) > 1, limits
    # Each leaving worker was replaced at once, and its siblings served meanwhile.
    assert len([line for line in srv.lines if "is stopping; starting a new one" in line]) >= 6
    assert failures(results) == []


def test_sigttin_and_sigttou_change_the_number_of_workers() -> None:
    with serve(APP, "--workers", "2", "--no-access-log") as srv:
        first, second = wait_for_workers(srv, 2)[:2]
        srv.signal(signal.SIGTTIN)
        srv.wait_for_log(r"^INFO      Received SIGTTIN, increasing the workers to 3\.$")
        third = wait_for_workers(srv, 3)[2]
        assert distinct_pids(srv.port, 3) == {first, second, third}
        srv.signal(signal.SIGTTOU)
        srv.wait_for_log(r"^INFO      Received SIGTTOU, decreasing the workers to 2\.$")
        # The oldest two go first; which of them started logging first is up to the scheduler.
        stopped = r"^INFO      Worker \[(\d+)\] stopped \(exit code 0\)\.$"
        line = srv.wait_for_log(stopped)
        gone = int(re.search(stopped, line).group(1))
        assert gone in (first, second)
        srv.signal(signal.SIGTTOU)
        other = second if gone == first else first
        srv.wait_for_log(rf"^INFO      Worker \[{other}\] stopped \(exit code 0\)\.$")
        assert distinct_pids(srv.port, 2, timeout=3) == {third}
        srv.signal(signal.SIGTTOU)
        srv.wait_for_log(r"^INFO      Received SIGTTOU, but one worker is the fewest\.$")
        assert alive(third)
        srv.signal(signal.SIGTERM)
        assert srv.wait() == 0
    assert "starting a new one" not in srv.log()


def test_http2_connections_at_sigterm_get_goaway_their_streams_finish_then_a_clean_close() -> None:
    """(A raw client: the ``h2`` library refuses frames that follow a GOAWAY.)"""
    with serve(APP, "--workers", "2", "--no-access-log") as srv:
        wait_for_workers(srv, 2)
        idle = RawH2(srv.port)
        assert idle.request("/pid").status == 200
        busy = RawH2(srv.port)
        fields = [(b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"t")]
        busy.raw_headers(1, [*fields, (b":path", b"/sleep?1")])
        srv.wait_for_log("^APP: sleeping 1$")
        srv.signal(signal.SIGTERM)
        # The idle connection: GOAWAY(NO_ERROR), then EOF.
        assert idle.wait_goaway() == 0
        assert idle.closed
        # The busy one: GOAWAY first, then its stream's answer, then EOF (not a reset).
        reply = busy.wait(1)
        assert (reply.status, reply.ended) == (200, True)
        assert (busy.goaway, busy.goaway_last) == (0, 1)
        busy.sock.settimeout(5)
        assert busy.sock.recv(65536) == b""
        idle.sock.close()
        busy.sock.close()
        assert srv.wait(15) == 0
