"""FastAPI's tutorial tests per topic (``tests/test_tutorial/test_<topic>``), in Markdown.

A test is *openapi* if its function name contains "openapi", else *behaviour*; the two are
counted apart because the tests comparing ``/openapi.json`` fail for other reasons than the
ones exercising requests. The outcomes are those of one run (see compat_results), whether it
ran only these topics or FastAPI's whole suite.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from compat_report import one_line, rate
from compat_results import Outcomes, estimate_for, status_of

_TUTORIAL = "tests/test_tutorial/"


def topic_of(nodeid: str) -> str | None:
    if not nodeid.startswith(_TUTORIAL):
        return None
    first = nodeid[len(_TUTORIAL) :].split("/", 1)[0].split("::", 1)[0]
    return first.removeprefix("test_") if first.startswith("test_") else None


def kind_of(function: str) -> str:
    return "openapi" if "openapi" in function else "behaviour"


def build_report(
    sdist: Path, topics: list[str], outcomes: Outcomes, *, collect_only: bool = False
) -> dict[str, Any]:
    counts: dict[str, Counter[str]] = {topic: Counter() for topic in topics}
    failures: list[dict[str, str]] = []
    for nodeid, function in outcomes["items"].items():
        topic = topic_of(nodeid)
        if topic not in counts:
            continue
        kind = kind_of(function)
        counts[topic][f"{kind}_total"] += 1
        if collect_only:
            continue
        phases = outcomes["phases"].get(nodeid, {})
        status = status_of(phases)
        if status == "skipped":
            counts[topic][f"{kind}_total"] -= 1
            counts[topic]["skipped"] += 1
        elif status in ("passed", "xfailed"):
            counts[topic][f"{kind}_passed"] += 1
        else:
            messages = [p.get("message", "") for p in phases.values() if p.get("message")]
            failures.append({"nodeid": nodeid, "status": status, "message": " | ".join(messages)})

    collect_errors: list[dict[str, Any]] = []
    for nodeid, record in outcomes["collect"].items():
        topic = topic_of(nodeid)
        if topic not in counts or record["outcome"] != "failed":
            continue
        estimated = estimate_for(sdist, nodeid)
        for _, function, count in estimated:
            counts[topic][f"{kind_of(function)}_total"] += count
            counts[topic]["estimated"] += count
        total = sum(count for *_, count in estimated)
        collect_errors.append({"nodeid": nodeid, "message": record["message"], "tests": total})

    rows = []
    totals: Counter[str] = Counter()
    for topic in topics:
        c = counts[topic]
        totals.update(c)
        rows.append(_row(topic, c))
    return {
        "fastapi_version": "0.165.0",
        "collect_only": collect_only,
        "topics": rows,
        "totals": _row("total", totals),
        "failures": sorted(failures, key=lambda f: f["nodeid"]),
        "collect_errors": sorted(collect_errors, key=lambda e: e["nodeid"]),
    }


def _row(topic: str, c: Counter[str]) -> dict[str, Any]:
    return {
        "topic": topic,
        "behaviour": {
            "passed": c["behaviour_passed"],
            "total": c["behaviour_total"],
            "rate": rate(c["behaviour_passed"], c["behaviour_total"]),
        },
        "openapi": {
            "passed": c["openapi_passed"],
            "total": c["openapi_total"],
            "rate": rate(c["openapi_passed"], c["openapi_total"]),
        },
        "skipped": c["skipped"],
        "estimated": c["estimated"],
    }


def _cell(counts: dict[str, Any], collect_only: bool) -> str:
    if collect_only:
        return str(counts["total"])
    if not counts["total"]:
        return "–"
    return f"{counts['passed']}/{counts['total']} ({counts['rate']:.0%})"


def render_markdown(report: dict[str, Any]) -> str:
    collect_only = report["collect_only"]
    title = "collected" if collect_only else "passed/total"
    lines = [
        f"### FastAPI {report['fastapi_version']} tutorial tests on {report.get('engine', '?')}",
        "",
        f"| topic | behaviour ({title}) | openapi ({title}) | skipped | notes |",
        "|---|---:|---:|---:|---|",
    ]
    for row in [*report["topics"], report["totals"]]:
        name = f"**{row['topic']}**" if row["topic"] == "total" else row["topic"]
        note = f"{row['estimated']} est. (import failed)" if row["estimated"] else ""
        behaviour = _cell(row["behaviour"], collect_only)
        openapi = _cell(row["openapi"], collect_only)
        lines.append(f"| {name} | {behaviour} | {openapi} | {row['skipped']} | {note} |")
    totals = report["totals"]
    if not collect_only:
        lines += ["", _overall(totals)]
    if report["collect_errors"]:
        grouped = Counter(one_line(e["message"]) for e in report["collect_errors"])
        lines += ["", "Import/collection errors (modules × message):", ""]
        lines += [f"- {n} × `{message}`" for message, n in grouped.most_common(15)]
    if report["failures"]:
        grouped = Counter(one_line(f["message"].split(" | ")[0]) for f in report["failures"])
        lines += ["", f"Failures: {len(report['failures'])} (most common first):", ""]
        lines += [f"- {n} × `{message}`" for message, n in grouped.most_common(15)]
    return "\n".join(lines) + "\n"


def _overall(totals: dict[str, Any]) -> str:
    parts = []
    for kind in ("behaviour", "openapi"):
        counts = totals[kind]
        shown = "n/a" if counts["rate"] is None else f"{counts['rate']:.1%}"
        parts.append(f"{kind} {shown} ({counts['passed']}/{counts['total']})")
    return "Overall: " + ", ".join(parts) + f"; {totals['skipped']} skipped."
