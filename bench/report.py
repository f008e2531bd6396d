"""Turning runs into the results: medians, the Markdown table, the JSON and the chart.

Throughput is the median over rounds (robust to one noisy round); p99 is likewise the
median of the rounds' p99s.  Runs that failed or were invalid (non-2xx answers) are left
out of the medians and listed under the table instead.  Cells a contender cannot express
(``unsupported``: contender -> scenario -> reason) read "n/a" with a numbered note.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .runner import Run


@dataclass(frozen=True)
class Column:
    """A further column per contender, from an attribute of each run's result (the
    ``channels`` suite's lost messages and CPU figures)."""

    title: str
    attribute: str
    total: bool = False
    """The sum over every run that has a result, invalid ones included: a count that must
    stay zero, such as lost messages, shows in the table whatever the medians leave out.
    Otherwise the median over the valid runs."""
    digits: int = 0
    unit: str = ""

    def format(self, value: float | None) -> str:
        if value is None:
            return "–"
        if self.total:
            return f"**{value:,.0f}**" if value else "0"
        return f"{value:,.{self.digits}f}{self.unit}"


@dataclass
class Cell:
    """One contender on one scenario, over all rounds."""

    rps: list[float] = field(default_factory=list)
    p99_ms: list[float] = field(default_factory=list)
    extras: dict[str, list[float]] = field(default_factory=dict)
    """:class:`Column` title -> its values over the rounds (every run's, for a total)."""

    def extra(self, column: Column) -> float | None:
        values = self.extras.get(column.title)
        if not values:
            return None
        return sum(values) if column.total else statistics.median(values)

    @property
    def rps_median(self) -> float | None:
        return statistics.median(self.rps) if self.rps else None

    @property
    def p99_median(self) -> float | None:
        return statistics.median(self.p99_ms) if self.p99_ms else None


@dataclass(frozen=True)
class Target:
    """A bar the baseline must clear: ``baseline / peer >= at_least`` on each scenario."""

    peer: str
    at_least: float
    scenarios: tuple[str, ...]


Summary = dict[str, dict[str, Cell]]
"""scenario -> contender -> cell."""

Unsupported = Mapping[str, Mapping[str, str]]
"""contender -> scenario -> why that contender has no cell for it."""


def _notes(
    summary: Summary, contenders: list[str], unsupported: Unsupported | None
) -> dict[tuple[str, str], int]:
    """(contender, scenario) -> the number of its "n/a" note; equal reasons share one."""
    numbers: dict[str, int] = {}
    cells: dict[tuple[str, str], int] = {}
    for scenario in summary:
        for c in contenders:
            reason = (unsupported or {}).get(c, {}).get(scenario)
            if reason is not None:
                cells[c, scenario] = numbers.setdefault(reason, len(numbers) + 1)
    return cells


def _who(notes: dict[tuple[str, str], int], number: int, scenarios: list[str]) -> str:
    """The cells a note is about: "contender/scenario, ...", or "contender (every
    scenario)" when the note covers the whole column."""
    cells = [k for k, n in notes.items() if n == number]
    parts: list[str] = []
    for contender in dict.fromkeys(c for c, _ in cells):
        mine = [s for c, s in cells if c == contender]
        if len(mine) == len(scenarios) > 1:
            parts.append(f"{contender} (every scenario)")
        else:
            parts += [f"{contender}/{s}" for s in mine]
    return ", ".join(parts)


def summarize(
    runs: list[Run],
    contenders: list[str],
    scenarios: list[str],
    columns: tuple[Column, ...] = (),
) -> Summary:
    summary: Summary = {s: {c: Cell() for c in contenders} for s in scenarios}
    for run in runs:
        if run.result is None:
            continue
        cell = summary[run.scenario][run.contender]
        for column in columns:
            value = getattr(run.result, column.attribute, None)
            if value is not None and (run.ok or column.total):
                cell.extras.setdefault(column.title, []).append(float(value))
        if run.ok:
            cell.rps.append(run.result.requests_per_sec)
            if run.result.p99_ms is not None:
                cell.p99_ms.append(run.result.p99_ms)
    return summary


def ratio(summary: Summary, scenario: str, baseline: str, peer: str) -> float | None:
    a = summary[scenario][baseline].rps_median
    b = summary[scenario][peer].rps_median
    return a / b if a and b else None


def check_targets(
    summary: Summary, baseline: str | None, targets: tuple[Target, ...]
) -> list[dict[str, Any]]:
    """Each target on each of its scenarios in this run: the ratio, and whether it is met
    (``None``: not checked, a number is missing)."""
    checks: list[dict[str, Any]] = []
    if baseline is None:
        return checks
    for t in targets:
        for scenario in t.scenarios:
            if scenario not in summary or t.peer not in summary[scenario]:
                continue
            r = ratio(summary, scenario, baseline, t.peer)
            checks.append(
                {
                    "scenario": scenario,
                    "peer": t.peer,
                    "at_least": t.at_least,
                    "ratio": r,
                    "met": None if r is None else r >= t.at_least,
                }
            )
    return checks


def targets_markdown(checks: list[dict[str, Any]], baseline: str | None) -> list[str]:
    """The target lines under the table, one per scenario, then the verdict: MET only if
    every check is met."""
    if not checks:
        return []
    bars = " and ".join(dict.fromkeys(f"≥ {c['at_least']:.2f}× {c['peer']}" for c in checks))
    lines = [f"Target, in this run: {baseline} {bars} on {', '.join(_scenarios_of(checks))}."]
    for scenario in _scenarios_of(checks):
        parts = []
        for c in checks:
            if c["scenario"] == scenario:
                verdict = {None: "not checked", True: "met", False: "MISSED"}[c["met"]]
                parts.append(
                    f"{baseline}/{c['peer']} {_fmt_ratio(c['ratio'])} "
                    f"(≥ {c['at_least']:.2f}×: {verdict})"
                )
        lines.append(f"- {scenario}: " + ", ".join(parts))
    outcomes = {c["met"] for c in checks}
    if False in outcomes:
        overall = "MISSED"
    elif None in outcomes:
        overall = f"NOT CHECKED (no number for {baseline} or a peer on some scenario)"
    else:
        overall = "MET"
    lines.append(f"Target overall: {overall}.")
    return lines


def _scenarios_of(checks: list[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(c["scenario"] for c in checks))


def _fmt_rps(value: float | None) -> str:
    return f"{value:,.0f}" if value is not None else "error"


def _fmt_ms(value: float | None) -> str:
    return f"{value:.2f} ms" if value is not None else "–"


def _fmt_ratio(value: float | None) -> str:
    return f"**{value:.2f}×**" if value is not None else "–"


def table(
    summary: Summary,
    contenders: list[str],
    baseline: str | None,
    unsupported: Unsupported | None = None,
    columns: tuple[Column, ...] = (),
) -> str:
    """The Markdown table: req/s per contender, baseline/peer ratios, p99s, then any
    further ``columns``, each for every contender."""
    peers = [c for c in contenders if c != baseline] if baseline else []
    notes = _notes(summary, contenders, unsupported)
    header = ["scenario"] + [f"{c} req/s" for c in contenders]
    header += [f"{baseline}/{p}" for p in peers] + [f"{c} p99" for c in contenders]
    header += [f"{c} {column.title}" for column in columns for c in contenders]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|",
    ]
    for scenario, cells in summary.items():
        row = [scenario] + [
            f"n/a [{notes[c, scenario]}]"
            if (c, scenario) in notes
            else _fmt_rps(cells[c].rps_median)
            for c in contenders
        ]
        row += [_fmt_ratio(ratio(summary, scenario, baseline, p)) for p in peers if baseline]
        row += [_fmt_ms(cells[c].p99_median) for c in contenders]
        row += [column.format(cells[c].extra(column)) for column in columns for c in contenders]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def markdown(
    summary: Summary,
    contenders: list[str],
    baseline: str | None,
    meta: dict[str, Any],
    runs: list[Run],
    unsupported: Unsupported | None = None,
    targets: tuple[Target, ...] = (),
    columns: tuple[Column, ...] = (),
) -> str:
    """The full report: how it was measured, the table, the targets, the notes, and what
    went wrong."""
    s = meta["settings"]
    versions = ", ".join(f"{k} {v}" for k, v in meta["versions"].items() if v)
    load = meta.get("load") or f"wrk -t{s['threads']} -c{s['connections']}"
    tool = load.split()[0]
    pin = (
        "server on CPU " + s["server_cpus"] + f", {tool} on CPU " + s["load_cpus"]
        if s["pinned"]
        else "unpinned"
    )
    processes = meta.get("server_processes", 1)
    each = "one server process" if processes == 1 else f"{processes} server processes each"
    lines = [
        f"{load}, {s['duration']}s runs after a {s['warmup']}s "
        f"warm-up, median of {s['rounds']} interleaved round(s); {each}, {pin}.",
        f"{versions}; {meta['cpu']}; {meta['timestamp']}.",
    ]
    if meta.get("contenders"):
        lines.append("Contenders: " + "; ".join(meta["contenders"].values()) + ".")
    lines += ["", table(summary, contenders, baseline, unsupported, columns)]
    target_lines = targets_markdown(check_targets(summary, baseline, targets), baseline)
    if target_lines:
        lines += ["", *target_lines]
    notes = _notes(summary, contenders, unsupported)
    if notes:
        lines += ["", "Not measured:"]
        seen: set[int] = set()
        for (c, scenario), number in notes.items():
            if number not in seen:
                seen.add(number)
                who = _who(notes, number, list(summary))
                lines.append(f"- [{number}] {who}: {(unsupported or {})[c][scenario]}")
    if meta.get("scenarios"):
        lines += ["", "Scenarios:"]
        lines += [f"- {name}: {text}" for name, text in meta["scenarios"].items()]
    problems = [
        f"- round {r.round + 1}, {r.contender}, {r.scenario}{_not_counted(r)}: "
        + " ".join(r.error.split())[:300]
        for r in runs
        if r.error
    ]
    for r in runs:
        errors = r.result.socket_errors if r.result else {}
        if r.result and any(errors.values()):
            problems.append(
                f"- round {r.round + 1}, {r.contender}, {r.scenario}: socket errors {errors}"
            )
    if problems:
        lines += ["", "Problems (left out of the medians when invalid):", *problems]
    return "\n".join(lines) + "\n"


def _not_counted(run: Run) -> str:
    """What an invalid run measured anyway, so the reader sees what was thrown away."""
    if run.result is None:
        return ""
    return f" ({run.result.requests_per_sec:,.0f} req/s, not counted)"


def to_json(
    summary: Summary,
    contenders: list[str],
    baseline: str | None,
    meta: dict[str, Any],
    runs: list[Run],
    unsupported: Unsupported | None = None,
    targets: tuple[Target, ...] = (),
    columns: tuple[Column, ...] = (),
) -> str:
    data = {
        "meta": meta,
        "baseline": baseline,
        "targets": check_targets(summary, baseline, targets),
        "contenders": contenders,
        "scenarios": list(summary),
        "unsupported": {
            c: {k: v for k, v in (unsupported or {}).get(c, {}).items() if k in summary}
            for c in contenders
            if any(k in summary for k in (unsupported or {}).get(c, {}))
        },
        "summary": {
            scenario: {
                c: {
                    "rps_median": cell.rps_median,
                    "p99_ms_median": cell.p99_median,
                    "rps": cell.rps,
                    "p99_ms": cell.p99_ms,
                    "baseline_over_this": ratio(summary, scenario, baseline, c)
                    if baseline
                    else None,
                    **{column.attribute: cell.extra(column) for column in columns},
                }
                for c, cell in cells.items()
            }
            for scenario, cells in summary.items()
        },
        "runs": [r.to_json() for r in runs],
    }
    return json.dumps(data, indent=2) + "\n"


def chart(
    summary: Summary,
    contenders: list[str],
    baseline: str | None,
    path: Path,
    title: str = "Throughput",
    subtitle: str = "",
    unsupported: Unsupported | None = None,
    per_row: int = 4,
) -> None:
    """Grouped bars: one group per scenario, one bar per contender, min–max whiskers over
    rounds; each peer bar is labelled with the baseline's req/s divided by the peer's.
    More than ``per_row`` scenarios wrap onto further rows, each with its own scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    scenarios = list(summary)
    rows = [scenarios[i : i + per_row] for i in range(0, len(scenarios), per_row)] or [[]]
    n = len(contenders)
    width = 0.8 / max(n, 1)
    columns = max(len(r) for r in rows)
    fig, axes = plt.subplots(
        len(rows),
        1,
        figsize=(max(6.0, (0.55 * n + 0.9) * columns + 1.5), 4.2 * len(rows) + 0.6),
        dpi=120,
        squeeze=False,
    )
    for row, ax in zip(rows, axes[:, 0], strict=True):
        _bars(ax, summary, row, contenders, baseline, unsupported, width)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v / 1000:.0f}k"))
        ax.set_ylabel("requests/s (median over rounds)")
        ax.grid(axis="y", alpha=0.3)
        ax.set_xlim(-0.5, columns - 0.5)
    axes[0, 0].legend(loc="upper right", fontsize=8)
    if baseline:
        title += f" — labels: {baseline} req/s ÷ that one's"
    axes[0, 0].set_title(title + (f"\n{subtitle}" if subtitle else ""), fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _bars(
    ax: Any,
    summary: Summary,
    scenarios: list[str],
    contenders: list[str],
    baseline: str | None,
    unsupported: Unsupported | None,
    width: float,
) -> None:
    n = len(contenders)
    top = 0.0
    for i, name in enumerate(contenders):
        xs, heights, lows, highs = [], [], [], []
        for j, scenario in enumerate(scenarios):
            cell = summary[scenario][name]
            median = cell.rps_median or 0.0
            xs.append(j + (i - (n - 1) / 2) * width)
            heights.append(median)
            lows.append(median - min(cell.rps) if cell.rps else 0.0)
            highs.append(max(cell.rps) - median if cell.rps else 0.0)
            top = max(top, max(cell.rps, default=0.0))
        bars = ax.bar(xs, heights, width, label=name, yerr=[lows, highs], capsize=3)
        for bar, scenario in zip(bars, scenarios, strict=True):
            if bar.get_height():
                label = f"{bar.get_height() / 1000:.1f}k"
            elif scenario in (unsupported or {}).get(name, {}):
                label = "n/a"
            else:
                label = "error"
            r = ratio(summary, scenario, baseline, name) if baseline and name != baseline else None
            if r is not None:
                label += f"\n{baseline} {r:.2f}×"
            whisker_top = max(summary[scenario][name].rps, default=0.0)
            ax.annotate(
                label,
                (bar.get_x() + bar.get_width() / 2, whisker_top),
                xytext=(0, 4),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=7,
            )
    ax.set_xticks(range(len(scenarios)), scenarios)
    ax.set_ylim(0, top * 1.25 or 1)
