"""Running h2load (nghttp2's HTTP/2 load generator) and reading its report.

h2load prints only min/max/mean/sd of the request time, so every run also writes
``--log-file`` (one line per request: start time, status, microseconds to the end of the
response) and the percentiles are computed from it.  A run counts only if every request
succeeded: h2load's "failed", "errored" and "timeout" counts must be zero, every status
code 2xx, and the protocol the one asked for (``h2c`` or, over TLS, ALPN ``h2``: h2load
would otherwise fall back to HTTP/1.1 and measure that).
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from . import process
from .wrk import WrkError, WrkResult

_RE_FINISHED = re.compile(r"^finished in ([\d.]+)(us|ms|s), ([\d.]+) req/s", re.M)
_RE_REQUESTS = re.compile(
    r"^requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, "
    r"(\d+) errored, (\d+) timeout",
    re.M,
)
_RE_STATUS = re.compile(r"^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", re.M)
_RE_PROTOCOL = re.compile(r"^Application protocol: (\S+)", re.M)
_TIME_UNITS_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3}

PERCENTILES = ("50", "75", "90", "99")


class H2loadError(WrkError):
    """h2load failed to run, or printed something that is not a report."""


@dataclass
class H2loadResult(WrkResult):
    """An h2load report in wrk's shape, with h2load's own outcome counts."""

    succeeded: int = 0
    failed: int = 0
    errored: int = 0
    timeouts: int = 0
    status: dict[str, int] = field(default_factory=dict)
    """Responses per status class ("2xx" ... "5xx")."""
    protocol: str = ""
    expected_protocol: str = ""
    logged_failures: int = 0
    """Streams the per-request log marks as failed (status -1)."""

    @property
    def problem(self) -> str | None:
        if self.expected_protocol and self.protocol != self.expected_protocol:
            return f"spoke {self.protocol or 'no protocol'!r}, not {self.expected_protocol!r}"
        bad = {"failed": self.failed, "errored": self.errored, "timeout": self.timeouts}
        bad |= {k: v for k, v in self.status.items() if k != "2xx"}
        bad["failed streams in the log"] = self.logged_failures
        if any(bad.values()):
            return ", ".join(f"{n} {what}" for what, n in bad.items() if n)
        if self.succeeded == 0:
            return "no request succeeded"
        return None


def percentiles(durations_us: list[int]) -> dict[str, float]:
    """Nearest-rank percentiles of request durations, in milliseconds."""
    if not durations_us:
        return {}
    ordered = sorted(durations_us)
    ranks = {p: max(1, math.ceil(float(p) / 100 * len(ordered))) for p in PERCENTILES}
    return {p: ordered[rank - 1] / 1000 for p, rank in ranks.items()}


def read_log(text: str) -> tuple[list[int], int]:
    """Durations (µs) of the completed requests in an h2load ``--log-file``, and the
    number of failed streams (status -1)."""
    durations: list[int] = []
    failures = 0
    for line in text.splitlines():
        columns = line.split("\t")
        if len(columns) < 3:
            continue
        if columns[1] == "-1":
            failures += 1
        else:
            durations.append(int(columns[2]))
    return durations, failures


def parse(output: str, log: str = "", expected_protocol: str = "") -> H2loadResult:
    """Parse h2load's report (and its per-request log, for the percentiles)."""
    finished = _RE_FINISHED.search(output)
    requests = _RE_REQUESTS.search(output)
    status = _RE_STATUS.search(output)
    if not finished or not requests or not status:
        raise H2loadError(f"unrecognised h2load output:\n{output.strip()[-500:]}")
    protocol = _RE_PROTOCOL.search(output)
    durations, failures = read_log(log)
    total, _started, done, succeeded, failed, errored, timeouts = map(int, requests.groups())
    return H2loadResult(
        requests_per_sec=float(finished[3]),
        requests=done,
        duration_ms=float(finished[1]) * _TIME_UNITS_MS[finished[2]],
        latency_ms=percentiles(durations),
        output=output,
        succeeded=succeeded,
        failed=failed,
        errored=errored,
        timeouts=timeouts,
        status=dict(zip(("2xx", "3xx", "4xx", "5xx"), map(int, status.groups()), strict=True)),
        protocol=protocol[1] if protocol else "",
        expected_protocol=expected_protocol,
        logged_failures=failures,
    )


def available() -> bool:
    return shutil.which("h2load") is not None


def version() -> str:
    try:
        out = subprocess.run(["h2load", "--version"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip().removeprefix("h2load ").removeprefix("nghttp2/")


def command(
    url: str, *, duration: int, clients: int, streams: int, log_file: Path | None = None
) -> list[str]:
    """One thread, ``clients`` connections with ``streams`` concurrent streams each; over
    TLS only ALPN ``h2`` is offered."""
    argv = ["h2load", "-t1", f"-c{clients}", f"-m{streams}", f"-D{duration}"]
    if url.startswith("https:"):
        argv.append("--npn-list=h2")
    if log_file is not None:
        argv.append(f"--log-file={log_file}")
    return [*argv, url]


def run(
    url: str,
    *,
    duration: int,
    clients: int,
    streams: int,
    cpus: Iterable[int] | None = None,
) -> H2loadResult:
    """Run h2load once against ``url`` for ``duration`` seconds and return its report."""
    expected = "h2" if url.startswith("https:") else "h2c"
    with tempfile.TemporaryDirectory(prefix="aster-h2load-") as tmp:
        log_file = Path(tmp) / "requests.tsv"
        argv = command(url, duration=duration, clients=clients, streams=streams, log_file=log_file)
        proc = process.spawn(argv, cpus=cpus, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            out, err = proc.communicate(timeout=duration + 30)
        except subprocess.TimeoutExpired as exc:
            raise H2loadError(f"h2load did not finish within {duration + 30}s") from exc
        finally:
            process.stop(proc, timeout=2.0)
        text = out.decode(errors="replace")
        if proc.returncode != 0:
            raise H2loadError(
                f"h2load exited with {proc.returncode}: "
                f"{(err.decode(errors='replace') or text).strip()[-500:]}"
            )
        log = log_file.read_text() if log_file.exists() else ""
    return parse(text, log, expected)
