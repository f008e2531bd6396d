"""``python -m bench``: aster against its peers on the same app, measured with wrk.

Prints a Markdown table (req/s, aster's ratio to each peer, p99) and writes
``latest.md``, ``latest.json`` (every run, raw) and ``latest.png`` to ``--out``.
Exits 1 if any run failed or was invalid; the results are still written.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

from . import process, report, wrk
from .runner import Settings, run_all
from .scenarios import SCENARIOS
from .servers import BASELINE, SERVERS, Contender, raw_contenders

DEFAULT_OUT = Path(__file__).parent / "results"


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark aster against uvicorn and granian on the same ASGI app with wrk.",
    )
    p.add_argument("--duration", type=int, default=5, help="seconds per measured run")
    p.add_argument("--warmup", type=int, default=1, help="seconds of warm-up before each run")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    p.add_argument("--connections", type=int, default=64, help="wrk keep-alive connections")
    p.add_argument("--threads", type=int, default=1, help="wrk threads")
    p.add_argument(
        "--servers", type=_csv, default=list(SERVERS), help="comma-separated (default: all)"
    )
    p.add_argument(
        "--scenarios", type=_csv, default=list(SCENARIOS), help="comma-separated (default: all)"
    )
    p.add_argument("--quick", action="store_true", help="smoke test: 1 round of 1 s runs")
    p.add_argument("--no-pin", dest="pin", action="store_false", help="don't pin CPUs")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results directory")
    args = p.parse_args(argv)
    if args.quick:
        args.duration, args.rounds = 1, 1
    for name in ("duration", "rounds", "connections", "threads"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be at least 1")
    if args.warmup < 0:
        p.error("--warmup must not be negative")
    if args.threads > args.connections:
        p.error("--threads must not exceed --connections")
    unknown = [s for s in args.scenarios if s not in SCENARIOS]
    if unknown:
        p.error(f"unknown scenario(s): {', '.join(unknown)} (known: {', '.join(SCENARIOS)})")
    try:
        args.contenders = raw_contenders(args.servers)
    except ValueError as exc:
        p.error(str(exc))
    return args


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _wrk_version() -> str:
    try:
        out = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=5)
        return (out.stdout or out.stderr).split("[")[0].strip()
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def _meta(args: argparse.Namespace, settings: Settings, contenders: list[Contender]) -> dict:
    def cpus(s: frozenset[int] | None) -> str:
        return ",".join(map(str, sorted(s))) if s else ""

    versions: dict[str, Any] = {"python": platform.python_version()}
    versions |= {c.server.name: c.server.version() for c in contenders}
    versions["wrk"] = _wrk_version().removeprefix("wrk ")
    return {
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu": f"{_cpu_model()} ({len(_allowed_cpus())} CPUs)",
        "platform": platform.platform(),
        "versions": versions,
        "settings": {
            "duration": settings.duration,
            "warmup": settings.warmup,
            "rounds": settings.rounds,
            "connections": settings.connections,
            "threads": settings.threads,
            "pinned": settings.cpus.pinned,
            "server_cpus": cpus(settings.cpus.server),
            "load_cpus": cpus(settings.cpus.load),
        },
        "apps": {c.name: c.app for c in contenders},
    }


def _allowed_cpus() -> set[int]:
    if hasattr(os, "sched_getaffinity"):
        return os.sched_getaffinity(0)
    return set(range(os.cpu_count() or 1))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not wrk.available():
        print("bench: wrk is not installed (try: make sysdeps)", file=sys.stderr)
        return 2
    process.install_cleanup()

    contenders: list[Contender] = []
    for c in args.contenders:
        if c.server.available():
            contenders.append(c)
        else:
            print(f"bench: {c.name} is not installed; skipping it", file=sys.stderr)
    if not contenders:
        print("bench: no server to run", file=sys.stderr)
        return 2
    # The baseline goes first, so its column leads and every ratio is baseline/peer.
    contenders.sort(key=lambda c: c.name != BASELINE)
    baseline = BASELINE if contenders[0].name == BASELINE and len(contenders) > 1 else None

    cpu_plan, warning = process.plan_cpus(args.pin)
    if warning:
        print(f"bench: {warning}", file=sys.stderr)
    settings = Settings(
        duration=args.duration,
        warmup=args.warmup,
        rounds=args.rounds,
        connections=args.connections,
        threads=args.threads,
        cpus=cpu_plan,
    )
    scenarios = [SCENARIOS[s] for s in args.scenarios]
    names = [c.name for c in contenders]
    meta = _meta(args, settings, contenders)

    try:
        runs = run_all(contenders, scenarios, settings)
    except KeyboardInterrupt:
        print("\nbench: interrupted; servers stopped", file=sys.stderr)
        return 130
    finally:
        process.stop_all()

    summary = report.summarize(runs, names, [s.name for s in scenarios])
    text = report.markdown(summary, names, baseline, meta, runs)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latest.md").write_text(text)
    (args.out / "latest.json").write_text(report.to_json(summary, names, baseline, meta, runs))
    report.chart(
        summary,
        names,
        baseline,
        args.out / "latest.png",
        title="Raw ASGI throughput",
        subtitle=f"{meta['cpu']}; wrk -c{args.connections}, {args.duration}s × {args.rounds}",
    )
    print()
    print(text, end="")
    print(f"\nwrote {args.out}/latest.{{md,json,png}}", file=sys.stderr)
    return 1 if any(r.error for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
