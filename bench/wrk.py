"""Running wrk and reading its report.

wrk prints human units ("890.12us", "1.20ms", "17.43MB"), so parsing normalises latencies
to milliseconds.  Anything that would make a number meaningless (non-2xx answers, zero
requests) is kept on the result for the caller to judge; socket errors are kept too.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import process

_TIME_UNITS_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}

_RE_PERCENTILE = re.compile(r"^\s*(\d+(?:\.\d+)?)%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.M)
_RE_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)", re.M)
_RE_TOTAL = re.compile(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h)", re.M)
_RE_SOCKET = re.compile(
    r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", re.M
)
_RE_NON2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)", re.M)


class WrkError(Exception):
    """wrk failed to run, or printed something that is not a report."""


@dataclass
class WrkResult:
    requests_per_sec: float
    requests: int
    duration_ms: float
    latency_ms: dict[str, float]
    socket_errors: dict[str, int] = field(default_factory=dict)
    non_2xx: int = 0
    output: str = ""

    @property
    def p99_ms(self) -> float | None:
        return self.latency_ms.get("99")

    @property
    def problem(self) -> str | None:
        """Why this run's throughput cannot be trusted, if it cannot."""
        if self.requests == 0:
            return "no request completed"
        if self.non_2xx:
            return f"{self.non_2xx} non-2xx/3xx responses"
        return None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["p99_ms"] = self.p99_ms
        return data


def _to_ms(value: str, unit: str) -> float:
    return float(value) * _TIME_UNITS_MS[unit]


def parse(output: str) -> WrkResult:
    """Parse the output of ``wrk --latency``."""
    rps = _RE_RPS.search(output)
    total = _RE_TOTAL.search(output)
    if not rps or not total:
        raise WrkError(f"unrecognised wrk output:\n{output.strip()[-500:]}")
    latency = {m[1]: _to_ms(m[2], m[3]) for m in _RE_PERCENTILE.finditer(output)}
    socket = _RE_SOCKET.search(output)
    non_2xx = _RE_NON2XX.search(output)
    return WrkResult(
        requests_per_sec=float(rps[1]),
        requests=int(total[1]),
        duration_ms=_to_ms(total[2], total[3]),
        latency_ms=latency,
        socket_errors=(
            dict(
                zip(("connect", "read", "write", "timeout"), map(int, socket.groups()), strict=True)
            )
            if socket
            else {}
        ),
        non_2xx=int(non_2xx[1]) if non_2xx else 0,
        output=output,
    )


def available() -> bool:
    return shutil.which("wrk") is not None


def command(
    url: str, *, duration: int, connections: int, threads: int, script: Path | None
) -> list[str]:
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency"]
    if script is not None:
        argv += ["-s", str(script)]
    return [*argv, url]


def run(
    url: str,
    *,
    duration: int,
    connections: int,
    threads: int,
    script: Path | None = None,
    env: Mapping[str, str] | None = None,
    cpus: Iterable[int] | None = None,
) -> WrkResult:
    """Run wrk once against ``url`` and return its parsed report."""
    argv = command(url, duration=duration, connections=connections, threads=threads, script=script)
    proc = process.spawn(argv, cpus=cpus, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(timeout=duration + 30)
    except subprocess.TimeoutExpired as exc:
        raise WrkError(f"wrk did not finish within {duration + 30}s") from exc
    finally:
        process.stop(proc, timeout=2.0)
    text = out.decode(errors="replace")
    if proc.returncode != 0:
        raise WrkError(f"wrk exited with {proc.returncode}: {err.decode(errors='replace')[-500:]}")
    return parse(text)
