"""Real servers and real clients for the tests.

``serve()`` starts ``python -m aster run`` in a subprocess on an ephemeral
loopback port and yields a :class:`Running` handle with the port and the
server's log lines.  ``RawConnection`` speaks HTTP/1.1 over a plain socket so
tests can send and check exact bytes.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_RUNNING = re.compile(r"running on (https?)://(\[[^\]]+\]|[^:]+):(\d+)")


@dataclass
class Running:
    process: subprocess.Popen[str]
    scheme: str = "http"
    host: str = "127.0.0.1"
    port: int = 0
    lines: list[str] = field(default_factory=list)
    #: When each line arrived (``time.monotonic()``), for tests that time the server.
    stamps: list[float] = field(default_factory=list)
    #: The thread reading the output; ``wait()`` joins it so no line is still in flight.
    pump: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def log(self) -> str:
        return "\n".join(self.lines)

    def wait_for_log(self, pattern: str, timeout: float = 10.0) -> str:
        """Wait until a log line matches ``pattern`` (a regex); return that line."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if regex.search(line):
                    return line
            time.sleep(0.02)
        raise AssertionError(f"no log line matched {pattern!r}; log was:\n{self.log()}")

    def log_time(self, pattern: str, timeout: float = 10.0) -> float:
        """When the first line matching ``pattern`` arrived (waiting for it if need be)."""
        line = self.wait_for_log(pattern, timeout)
        return self.stamps[self.lines.index(line)]

    def signal(self, sig: int = signal.SIGTERM) -> None:
        self.process.send_signal(sig)

    def wait(self, timeout: float = 15.0) -> int:
        """Wait for the exit, then for the output to be read to its end.

        The process's last lines (and its workers') may still sit in the pipe when it
        exits; a loaded machine reads them later, so tests that check them wait here.
        """
        deadline = time.monotonic() + timeout
        code = self.process.wait(timeout)
        if self.pump is not None:
            self.pump.join(max(0.0, deadline - time.monotonic()) + 5.0)
        return code


def _pump(stream, running: Running) -> None:  # type: ignore[no-untyped-def]
    for line in stream:
        running.stamps.append(time.monotonic())  # first: a line is never without its stamp
        running.lines.append(line.rstrip("\n"))


@contextlib.contextmanager
def serve(
    app: str | None,
    *args: str,
    cwd: str | Path | None = None,
    env: dict[str, str] | None = None,
    wait: bool = True,
    startup_timeout: float = 15.0,
    launcher: list[str] | None = None,
    command_name: str = "run",
) -> Iterator[Running]:
    """Run ``aster run <app> --port 0 <args>`` (``aster dev`` with ``command_name``; no app:
    discovery); stop it with SIGTERM afterwards.

    ``launcher`` replaces ``python -m aster run`` (the HTTP/2 engine spike uses it).
    """
    base = launcher or [sys.executable, "-m", "aster", command_name]
    command = [*base, *([app] if app else []), *args]
    if not any(a in args for a in ("--port", "--uds", "--fd")):
        command += ["--port", "0"]
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", **(env or {})}
    process = subprocess.Popen(
        command,
        cwd=str(cwd or ROOT),
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    running = Running(process)
    running.pump = threading.Thread(target=_pump, args=(process.stdout, running), daemon=True)
    running.pump.start()
    try:
        if wait:
            deadline = time.monotonic() + startup_timeout
            while True:
                match = next((m for m in map(_RUNNING.search, list(running.lines)) if m), None)
                if match:
                    running.scheme, running.host, running.port = (
                        match.group(1),
                        match.group(2).strip("[]"),
                        int(match.group(3)),
                    )
                    break
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"server did not start:\n{running.log()}")
                time.sleep(0.02)
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)


@dataclass
class Response:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    raw_head: bytes

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return values[0] if values else None

    def header_names(self) -> list[str]:
        return [k.lower() for k, _ in self.headers]


class RawConnection:
    """A blocking HTTP/1.1 client over a socket, for byte-exact tests."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 10.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buffer = b""

    def __enter__(self) -> RawConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> bool:
        chunk = self.sock.recv(65536)
        if not chunk:
            return False
        self.buffer += chunk
        return True

    def read_until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            if not self._fill():
                raise ConnectionError(f"closed before {marker!r}; got {self.buffer!r}")
        head, _, self.buffer = self.buffer.partition(marker)
        return head + marker

    def read_exact(self, size: int) -> bytes:
        while len(self.buffer) < size:
            if not self._fill():
                raise ConnectionError(f"closed after {len(self.buffer)} of {size} bytes")
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def read_to_close(self) -> bytes:
        while self._fill():
            pass
        data, self.buffer = self.buffer, b""
        return data

    def read_response(self, method: str = "GET") -> Response:
        """Read one response, framed by Content-Length, chunked encoding, or close."""
        head = self.read_until(b"\r\n\r\n")
        lines = head[:-4].decode("latin-1").split("\r\n")
        _, status, *reason = lines[0].split(" ", 2)
        headers = [tuple(part.strip() for part in line.split(":", 1)) for line in lines[1:]]
        response = Response(int(status), reason[0] if reason else "", headers, b"", head)  # type: ignore[arg-type]
        code = response.status
        if method == "HEAD" or code in (204, 304) or 100 <= code < 200:
            return response
        length = response.header("content-length")
        if (response.header("transfer-encoding") or "").lower() == "chunked":
            body = b""
            while True:
                size = int(self.read_until(b"\r\n")[:-2].split(b";")[0], 16)
                if size == 0:
                    self.read_until(b"\r\n")
                    break
                body += self.read_exact(size)
                assert self.read_exact(2) == b"\r\n"
            response.body = body
        elif length is not None:
            response.body = self.read_exact(int(length))
        else:
            response.body = self.read_to_close()
        return response

    def is_closed(self, timeout: float = 2.0) -> bool:
        """True if the server closed the connection (EOF or reset) within ``timeout``."""
        if self.buffer:
            return False
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(1)
        except TimeoutError:
            return False
        except ConnectionError:
            return True
        if data:
            self.buffer += data
            return False
        return True


def request(port: int, data: bytes, method: str = "GET") -> Response:
    with RawConnection(port) as conn:
        conn.send(data)
        return conn.read_response(method)


CURL = shutil.which("curl")
needs_curl = pytest.mark.skipif(CURL is None, reason="curl is not installed")


def curl(*args: str) -> tuple[int, dict[str, str], bytes]:
    """Run curl; return (status, headers of the last response, body)."""
    assert CURL is not None
    dump = [] if "-I" in args else ["-D", "-"]  # -I prints the headers itself
    done = subprocess.run(
        [CURL, "-sS", *dump, "--max-time", "10", *args],
        capture_output=True,
        check=True,
    )
    return parse_curl_head(done.stdout)


def parse_curl_head(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Split curl's ``-D`` output: (status, headers of the last response, what follows)."""
    rest = raw
    while True:  # skip interim responses, and redirects that -L followed
        head, _, rest = rest.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        if not lines[0].split()[1].startswith("1") and not rest.startswith(b"HTTP/"):
            break
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, rest


def app_headers(headers: dict[str, str]) -> dict[str, str]:
    """The headers the app made (not the server's date and name)."""
    assert headers.pop("server") == "aster"
    assert headers.pop("date").endswith(" GMT")
    return headers
