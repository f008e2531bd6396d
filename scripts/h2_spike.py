"""The HTTP/2 engine comparison: ``lean`` (the default), ``h2`` and ``zttp`` behind one interface.

    python scripts/h2_spike.py compare        # conformance + h2load on every engine, a table
    python scripts/h2_spike.py speed          # the h2load part only
    python scripts/h2_spike.py serve ENGINE APP [aster run options]   # aster on that engine

``compare`` runs the HTTP/2 protocol tests (tests/test_http2_*.py, against
``aster run``) once per engine (``ASTER_H2_ENGINE``) and the same h2load runs
on each (h2c, ``-c16 -m16`` and ``-c64 -m1``, raw ASGI plaintext), and prints
one table.  ``zttp`` (``pip install zttp``, Python >= 3.11) is not an aster
dependency: the engine below exists for this measurement (README, "The HTTP/2
engine").

What the zttp engine cannot do, because zttp 0.0.35 has no API for it, is
where its conformance failures come from: its SETTINGS are fixed (128
streams, a 65535-byte initial window, 16384-byte frames), it credits the
receive window itself as it parses (so a slow app's body is not bounded by
the window), and it has no view of a half-received header block.
"""

from __future__ import annotations

import importlib.util
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aster.server.protocols.h2_engine import (  # noqa: E402
    EMPTY_DATA,
    PING,
    PROTOCOL_ERROR,
    SETTINGS,
    WINDOW_UPDATE,
    ConnectionError_,
    EngineSettings,
    EngineSink,
)


class ZttpEngine:
    """The engine interface on ``zttp.Connection(SERVER, HTTP2)``."""

    def __init__(self, settings: EngineSettings, sink: EngineSink) -> None:
        import zttp

        self._zttp = zttp
        self._conn = zttp.Connection(zttp.SERVER, zttp.HTTP2)
        self._sink = sink
        self._skip_request_1 = False
        self._types: dict[type, Any] = {
            zttp.Request: self._request,
            zttp.Data: self._data,
            zttp.EndOfMessage: self._end,
            zttp.RstStream: lambda e: sink.on_reset(e.stream_id, e.error_code),
            zttp.WindowUpdate: self._window,
            zttp.Settings: self._settings,
            zttp.Ping: lambda e: None if e.ack else sink.on_control(PING),
            zttp.GoAway: lambda e: sink.on_goaway(e.error_code),
        }

    def start(self, upgrade_settings: bytes | None) -> None:
        if upgrade_settings is None:
            self._conn.initiate_connection()
        else:
            try:
                self._conn.initiate_upgrade_connection(b"GET", b"/", [], upgrade_settings)
            except self._zttp.ProtocolError as exc:
                raise ConnectionError_(PROTOCOL_ERROR, str(exc)) from None
            self._skip_request_1 = True  # the connection has stream 1 already

    def receive(self, data: bytes) -> None:
        conn = self._conn
        need_data = self._zttp.NEED_DATA
        closed = self._zttp.CONNECTION_CLOSED
        types = self._types
        try:
            conn.receive_data(data)
            while True:
                event = conn.next_event()
                if event is need_data or event is closed:
                    return
                handler = types.get(type(event))
                if handler is not None:
                    handler(event)
        except self._zttp.RemoteProtocolError as exc:
            message = str(exc)
            code = 0xB if "calm" in message else PROTOCOL_ERROR
            raise ConnectionError_(code, message) from None

    def _request(self, event: Any) -> None:
        if self._skip_request_1 and event.stream_id == 1:
            self._skip_request_1 = False
            return
        fields = [(b":method", event.method), (b":scheme", b"http"), (b":path", event.target)]
        if event.protocol is not None:
            fields.append((b":protocol", event.protocol))
        headers = event.headers
        headers = headers if type(headers) is list else headers.to_list()
        # zttp turns :authority into a host field; give it back its HTTP/2 name and place.
        regular = []
        for name, value in headers:
            if name == b"host":
                fields.append((b":authority", value))
            else:
                regular.append((name, value))
        fields += regular
        self._sink.on_request(event.stream_id, fields, event.end_stream)

    def _data(self, event: Any) -> None:
        if not event.data:
            self._sink.on_control(EMPTY_DATA)
        self._sink.on_data(event.stream_id, event.data, 0, False)

    def _end(self, event: Any) -> None:
        if event.trailers:
            self._sink.on_trailers(event.stream_id, event.trailers)
        else:
            self._sink.on_data(event.stream_id, b"", 0, True)

    def _window(self, event: Any) -> None:
        self._sink.on_control(WINDOW_UPDATE)
        self._sink.on_window()

    def _settings(self, event: Any) -> None:
        self._sink.on_control(SETTINGS)
        self._sink.on_window()

    def send_headers(self, stream_id: int, headers: list[tuple[bytes, bytes]], end: bool) -> None:
        stream = self._conn.stream(stream_id)
        name, value = headers[0]
        if name != b":status":
            stream.end_message(headers)  # trailers
        elif value[:1] == b"1":
            stream.send_informational(int(value), headers[1:])
        else:
            stream.send_response(int(value), headers[1:], end)

    def send_data(self, stream_id: int, data: bytes, end: bool) -> None:
        stream = self._conn.stream(stream_id)
        if data:
            stream.send_data(data)
        if end:
            stream.end_message()

    def window(self, stream_id: int) -> int:
        try:
            stream_window = self._conn.stream(stream_id).send_window
        except self._zttp.ProtocolError:
            return 0
        if stream_window is None:
            return 0
        return max(0, min(stream_window, self._conn.send_window))

    def consumed(self, stream_id: int, length: int) -> None:
        """zttp credits the window itself, as it parses."""

    def reset(self, stream_id: int, code: int) -> None:
        try:
            self._conn.stream(stream_id).reset(code)
        except self._zttp.ProtocolError:
            pass

    def goaway(self, code: int, last_stream_id: int | None) -> None:
        try:
            if last_stream_id is None:
                self._conn.close(code)
            else:
                self._conn.close(code, last_stream_id)
        except self._zttp.ProtocolError:
            pass

    def awaiting_continuation(self) -> bool:
        return False  # zttp does not say

    def output(self) -> bytes:
        return self._conn.data_to_send()


def _zttp_engine(settings: EngineSettings, sink: EngineSink) -> ZttpEngine:
    return ZttpEngine(settings, sink)


def serve(engine: str, argv: list[str]) -> None:
    """``aster run`` with ``engine`` registered and chosen."""
    from aster.server.cli import parse_args
    from aster.server.main import serve_command
    from aster.server.protocols.http2 import ENGINES

    ENGINES["zttp"] = _zttp_engine
    command, options = parse_args(["run", *argv])
    options["http2_engine"] = engine
    serve_command(command, options)


# -- the comparison ------------------------------------------------------------------------

TESTS = [
    "tests/test_http2_negotiation.py",
    "tests/test_http2_streams.py",
    "tests/test_http2_attacks.py",
    "tests/test_http2_timeouts.py",
]


def conformance(engine: str) -> tuple[int, int, list[str]]:
    env = {**os.environ, "ASTER_H2_ENGINE": "" if engine == "lean" else engine}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-rf",
            "--timeout",
            "20",
            *TESTS,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    failed = re.findall(r"^FAILED (\S+)", done.stdout, re.M)
    passed = int((re.search(r"(\d+) passed", done.stdout) or [0, 0])[1])
    return passed, len(failed), failed


def h2load(server: str, connections: int, streams: int, requests: int) -> float:
    """req/s of one h2load run (h2c) against ``server``: aster on an engine, or granian."""
    if server == "granian":
        launcher = [sys.executable, "-m", "granian", "--interface", "asgi", "--http", "2"]
        launcher += ["--no-ws", "--log-level", "warning", "--port", "8790"]
        command = [*launcher, "bench.apps.raw_asgi:app"]
    else:
        launcher = [sys.executable, str(Path(__file__).resolve()), "serve", server]
        if server == "lean":
            launcher = [sys.executable, "-m", "aster", "run"]
        command = [*launcher, "bench.apps.raw_asgi:app", "--port", "8790", "--no-access-log"]
        command += ["--log-level", "warning"]
    process = subprocess.Popen(
        ["taskset", "-c", "0", *command], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    try:
        time.sleep(3)
        done = subprocess.run(
            ["taskset", "-c", "1", "h2load", "-n", str(requests), "-c", str(connections)]
            + ["-m", str(streams), "http://127.0.0.1:8790/"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        match = re.search(r"finished in [\d.]+m?s, ([\d.]+) req/s", done.stdout)
        ok = re.search(r"(\d+) succeeded, (\d+) failed", done.stdout)
        if not match or not ok or ok[2] != "0":
            print(f"  h2load on {server}: {done.stdout.strip().splitlines()[-8:]}")
        return float(match[1]) if match and ok and ok[2] == "0" else 0.0
    finally:
        process.terminate()
        process.wait(15)


def compare(rounds: int = 3, tests: bool = True) -> None:
    engines = ("lean", "h2", "zttp")
    conformance_rows = {e: conformance(e) for e in engines} if tests else {}
    servers = list(engines)
    if importlib.util.find_spec("granian") is not None:
        servers.append("granian")
    speeds: dict[tuple[str, str], list[float]] = {}
    for _ in range(rounds):  # interleaved, so machine noise hits every server alike
        for server in servers:
            speeds.setdefault((server, "m16"), []).append(h2load(server, 16, 16, 40_000))
            speeds.setdefault((server, "m1"), []).append(h2load(server, 64, 1, 20_000))
    print("| server | protocol tests passed | failed | h2c -c16 -m16 req/s | h2c -c64 -m1 req/s |")
    print("|---|---:|---:|---:|---:|")
    for server in servers:
        passed, failed, _ = conformance_rows.get(server, ("–", "–", []))
        name = f"aster, {server} engine" if server != "granian" else "granian 2 (reference)"
        multiplexed = statistics.median(speeds[(server, "m16")])
        single = statistics.median(speeds[(server, "m1")])
        print(f"| {name} | {passed} | {failed} | {multiplexed:,.0f} | {single:,.0f} |")
    print(f"\n(medians of {rounds} interleaved rounds)")
    for engine, (_, _, names) in conformance_rows.items():
        if names:
            print(f"\n{engine} fails:")
            for name in names:
                print(f"  {name}")


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "serve":
        serve(sys.argv[2], sys.argv[3:])
    elif sys.argv[1:] == ["compare"]:
        compare()
    elif sys.argv[1:] == ["speed"]:
        compare(tests=False)
    else:
        raise SystemExit(__doc__)
