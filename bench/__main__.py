"""``python -m bench``: aster against its peers on the same app, measured with wrk.

Six suites (``bench/suites.py``): ``--suite servers`` (the default) compares the servers
on one raw ASGI app; ``--suite framework`` the same application written for each
framework, each on its natural server; ``--suite websocket`` aster and uvicorn on a
WebSocket echo app, loaded by ``bench.ws_load`` (wrk has no WebSocket); ``--suite http2``
the servers over HTTP/2, loaded by h2load; ``--suite tfb`` TechEmpower's test types
against a throwaway PostgreSQL; ``--suite channels`` fan-out through a throwaway Redis
to WebSocket subscribers on two processes, loaded by ``bench.channels_load``;
``--suite all`` runs all but ``tfb`` and ``channels``.  Each suite prints a Markdown
table (req/s, aster's ratio to each peer, p99) and writes ``<stem>.md``, ``<stem>.json``
(every run, raw) and ``<stem>.png`` to ``--out``: ``latest.*`` for the servers,
``framework.*`` for the frameworks, ``websocket.*`` for WebSocket, ``http2.*`` for
HTTP/2, ``tfb.*`` for the TechEmpower tests, ``channels.*`` for the fan-out.
Exits 1 if any run failed or was invalid; the results are still written.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

from . import channels_suite, h2load, process, report, wrk
from .frameworks import FRAMEWORKS, framework_contenders
from .h2_suite import H2_SERVERS, h2_contenders
from .runner import Run, Settings, run_all
from .servers import SERVERS, Contender, distribution_version, raw_contenders
from .suites import SUITES, Suite
from .tfb_suite import tfb_contenders
from .ws_suite import WS_SERVERS, describe_load, ws_contenders

DEFAULT_OUT = Path(__file__).parent / "results"


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark aster against its peers: servers on one raw ASGI app (--suite "
        "servers), the same app on each framework (framework), WebSocket echo (websocket), "
        "HTTP/2 with h2load (http2), TechEmpower's test types on PostgreSQL (tfb), fan-out "
        "through Redis to WebSocket subscribers (channels).",
    )
    p.add_argument(
        "--suite",
        choices=[*SUITES, "all"],
        default="servers",
        help="what to compare (default: servers; all: every suite but tfb and channels)",
    )
    p.add_argument("--duration", type=int, default=5, help="seconds per measured run")
    p.add_argument("--warmup", type=int, default=1, help="seconds of warm-up before each run")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    p.add_argument("--connections", type=int, default=64, help="wrk keep-alive connections")
    p.add_argument("--threads", type=int, default=1, help="wrk threads")
    p.add_argument(
        "--servers",
        type=_csv,
        default=None,
        help="servers, websocket and http2 suites: comma-separated; each suite takes those "
        f"it has (default: {','.join(SERVERS)}; http2: {','.join(H2_SERVERS)})",
    )
    p.add_argument(
        "--frameworks",
        type=_csv,
        default=list(FRAMEWORKS),
        help="framework and tfb suites: comma-separated (default: all)",
    )
    p.add_argument(
        "--scenarios",
        type=_csv,
        default=None,
        help="comma-separated, from any selected suite (default: all of each)",
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
    args.suites = (
        [s for s in SUITES.values() if s.in_all] if args.suite == "all" else [SUITES[args.suite]]
    )
    known = [name for suite in args.suites for name in suite.scenarios]
    unknown = [s for s in args.scenarios or () if s not in known]
    if unknown:
        p.error(
            f"unknown scenario(s): {', '.join(unknown)} (known: {', '.join(dict.fromkeys(known))})"
        )
    known_servers = {**SERVERS, **WS_SERVERS, **H2_SERVERS}
    unknown = [n for n in args.servers or () if n not in known_servers]
    if unknown:
        p.error(f"unknown server(s): {', '.join(unknown)} (known: {', '.join(known_servers)})")
    servers = args.servers or list(SERVERS)
    try:
        args.contenders = {
            "servers": raw_contenders([n for n in servers if n in SERVERS]),
            "framework": framework_contenders(args.frameworks),
            "websocket": ws_contenders(servers),
            "http2": h2_contenders(args.servers or list(H2_SERVERS)),
            "tfb": tfb_contenders(args.frameworks),
            "channels": channels_suite.channels_contenders(),
        }
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


def _meta(
    suite: Suite, settings: Settings, contenders: list[Contender], scenarios: list[str]
) -> dict:
    def cpus(s: frozenset[int] | None) -> str:
        return ",".join(map(str, sorted(s))) if s else ""

    versions: dict[str, Any] = {"python": platform.python_version()}
    for c in contenders:
        if c.framework:
            versions[c.framework] = c.framework_version()
    versions |= {c.server.distribution: c.server.version() for c in contenders}
    if any(c.framework for c in contenders):
        versions["pydantic"] = distribution_version("pydantic")
    if suite.tool == "ws":
        versions["websockets"] = distribution_version("websockets")
        load = describe_load(settings)
    elif suite.tool == "h2load":
        for dist in ("zttp", "fastapi", "pydantic"):
            versions[dist] = distribution_version(dist)
        versions["h2load"] = h2load.version()
        load = "h2load -t1 (-c/-m per scenario)"
    elif suite.tool == "channels":
        load = channels_suite.describe_load(settings)
    elif suite.tool == "tfb":
        versions["wrk"] = _wrk_version().removeprefix("wrk ")
        load = f"wrk -t{settings.threads} (-c per scenario)"
    else:
        versions["wrk"] = _wrk_version().removeprefix("wrk ")
        load = f"wrk -t{settings.threads} -c{settings.connections}"
    if suite.versions is not None:
        versions |= suite.versions()
    meta: dict[str, Any] = {
        "suite": suite.name,
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu": f"{_cpu_model()} ({len(_allowed_cpus())} CPUs)",
        "platform": platform.platform(),
        "load": load,
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
        "server_processes": max(c.processes for c in contenders),
        "scenarios": {name: suite.scenarios[name].description for name in scenarios},
    }
    if any(c.framework for c in contenders):
        meta["contenders"] = {c.name: c.describe() for c in contenders}
    return meta


def _short_load(suite: Suite, args: argparse.Namespace) -> str:
    if suite.tool == "h2load":
        return "h2load -t1"
    if suite.tool == "tfb":
        return "wrk -c64/-c256"
    if suite.tool == "channels":
        return f"bench.channels_load, {channels_suite.SUBSCRIBERS:,} subscribers"
    return f"{'bench.ws_load' if suite.tool == 'ws' else 'wrk'} -c{args.connections}"


def _allowed_cpus() -> set[int]:
    if hasattr(os, "sched_getaffinity"):
        return os.sched_getaffinity(0)
    return set(range(os.cpu_count() or 1))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if any(suite.tool in ("wrk", "tfb") for suite in args.suites) and not wrk.available():
        print("bench: wrk is not installed (try: make sysdeps)", file=sys.stderr)
        return 2
    if any(suite.tool == "h2load" for suite in args.suites) and not h2load.available():
        print("bench: h2load is not installed (try: make sysdeps)", file=sys.stderr)
        return 2
    process.install_cleanup()

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
    status: int | None = None
    for suite in args.suites:
        code = run_suite(suite, args, settings)
        if code == 130:
            return code
        status = code if status is None else max(status, code)
    return status or 0


def run_suite(suite: Suite, args: argparse.Namespace, settings: Settings) -> int:
    """Run one suite and write its results; 0 if all went well, 1 if a run failed, 2 if
    there was nothing to run."""
    names = [s for s in suite.scenarios if args.scenarios is None or s in args.scenarios]
    if not names:
        print(f"bench: no {suite.name} scenario selected; skipping that suite", file=sys.stderr)
        return 0
    contenders: list[Contender] = []
    for c in args.contenders[suite.name]:
        if c.available():
            contenders.append(c)
        else:
            print(f"bench: {c.name} is not installed; skipping it", file=sys.stderr)
    if not contenders:
        print(f"bench: nothing to run in the {suite.name} suite", file=sys.stderr)
        return 2
    # The baseline goes first, so its column leads and every ratio is baseline/peer.
    contenders.sort(key=lambda c: c.name != suite.baseline)
    baseline = (
        suite.baseline if contenders[0].name == suite.baseline and len(contenders) > 1 else None
    )
    scenarios = [suite.scenarios[s] for s in names]
    columns = [c.name for c in contenders]
    meta = _meta(suite, settings, contenders, names)
    print(f"bench: {suite.name} suite: {', '.join(columns)} on {', '.join(names)}", file=sys.stderr)

    runs: list[Run]
    try:
        with contextlib.ExitStack() as stack:
            if suite.setup is not None:
                try:
                    stack.enter_context(suite.setup(settings))
                except (OSError, RuntimeError, subprocess.CalledProcessError) as exc:
                    print(f"bench: the {suite.name} suite cannot start: {exc}", file=sys.stderr)
                    return 2
            if suite.preflight is not None:
                found = suite.preflight(contenders, scenarios, settings)
                for c, reasons in found.items():
                    for reason in dict.fromkeys(reasons.values()):
                        print(f"bench: {c}: not measured: {reason}", file=sys.stderr)
                contenders = [
                    dataclasses.replace(c, unsupported={**c.unsupported, **found.get(c.name, {})})
                    for c in contenders
                ]
            runs = run_all(contenders, scenarios, settings)
    except KeyboardInterrupt:
        print("\nbench: interrupted; servers stopped", file=sys.stderr)
        return 130
    finally:
        process.stop_all()

    unsupported = {c.name: c.unsupported for c in contenders if c.unsupported}
    summary = report.summarize(runs, columns, names, suite.columns)
    text = report.markdown(
        summary, columns, baseline, meta, runs, unsupported, suite.targets, suite.columns
    )
    if suite.epilogue is not None and (extra := suite.epilogue()):
        text += "\n" + "\n".join(extra) + "\n"
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    stem = out / suite.stem
    stem.with_suffix(".md").write_text(text)
    stem.with_suffix(".json").write_text(
        report.to_json(
            summary, columns, baseline, meta, runs, unsupported, suite.targets, suite.columns
        )
    )
    report.chart(
        summary,
        columns,
        baseline,
        stem.with_suffix(".png"),
        title=suite.title,
        subtitle=f"{meta['cpu']}; {_short_load(suite, args)}, {args.duration}s × {args.rounds}",
        unsupported=unsupported,
        per_row=suite.chart_per_row,
    )
    print()
    print(text, end="")
    print(f"\nwrote {stem}.{{md,json,png}}", file=sys.stderr)
    return 1 if any(r.error for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
