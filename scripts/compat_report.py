"""One suite's outcomes per test module: passed/total, the failing ids, totals, in Markdown.

The rate of a suite is passed / (passed + failed), over the test ids that ran or were
estimated (see compat_results); skipped tests are listed but left out. Test ids deselected
because they run on an anyio backend other than asyncio, and the paths a suite declares out of
scope (not run at all; their tests are estimated statically so the report says how many), are
reported apart and never enter the rate.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from compat_results import Outcomes, estimate_for, estimate_module, status_of


def module_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def rate(passed: int, total: int) -> float | None:
    return round(passed / total, 4) if total else None


def one_line(message: str, limit: int = 160) -> str:
    text = " ".join(message.replace("`", "'").replace("|", "/").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def build_suite_report(
    suite: str,
    version: str,
    sdist: Path,
    outcomes: Outcomes,
    out_of_scope: dict[str, str],
) -> dict[str, Any]:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    failing: dict[str, list[dict[str, str]]] = defaultdict(list)
    for nodeid in outcomes["items"]:
        module = module_of(nodeid)
        phases = outcomes["phases"].get(nodeid, {})
        status = status_of(phases)
        if status == "skipped":
            counts[module]["skipped"] += 1
            continue
        counts[module]["total"] += 1
        if status in ("passed", "xfailed"):
            counts[module]["passed"] += 1
        else:
            messages = [p["message"] for p in phases.values() if p.get("message")]
            failing[module].append(
                {"nodeid": nodeid, "status": status, "message": " | ".join(messages)}
            )

    import_errors: dict[str, str] = {}
    for nodeid, record in outcomes["collect"].items():
        if record["outcome"] != "failed":
            continue
        for module, _, count in estimate_for(sdist, nodeid):
            counts[module]["total"] += count
            counts[module]["estimated"] += count
            import_errors[module] = record["message"]

    modules = []
    for module in sorted(counts):
        c = counts[module]
        modules.append(
            {
                "module": module,
                "passed": c["passed"],
                "total": c["total"],
                "rate": rate(c["passed"], c["total"]),
                "skipped": c["skipped"],
                "estimated": c["estimated"],
                "import_error": import_errors.get(module),
                "failures": sorted(failing[module], key=lambda f: f["nodeid"]),
            }
        )
    passed = sum(m["passed"] for m in modules)
    total = sum(m["total"] for m in modules)
    deselected = Counter(outcomes.get("deselected", {}).values())
    return {
        "suite": suite,
        "version": version,
        "modules": modules,
        "totals": {
            "passed": passed,
            "total": total,
            "failed": total - passed,
            "rate": rate(passed, total),
            "skipped": sum(m["skipped"] for m in modules),
            "estimated": sum(m["estimated"] for m in modules),
        },
        "deselected": dict(deselected),
        "out_of_scope": [
            {"path": path, "reason": reason, "tests": _estimate_path(sdist / path)}
            for path, reason in out_of_scope.items()
        ],
        "violations": outcomes.get("violations", []),
    }


def _estimate_path(path: Path) -> int:
    if "::" in path.name:  # a node id: one test function
        return 1
    files = [path] if path.is_file() else sorted(path.rglob("test_*.py"))
    root = next((p for p in path.parents if p.name == "tests"), path)
    return sum(count for file in files for _, count in estimate_module(file, root))


# --- Markdown ----------------------------------------------------------------------------


def _cell(passed: int, total: int) -> str:
    return f"{passed}/{total} ({passed / total:.1%})" if total else "–"


def render_suite(report: dict[str, Any], *, all_modules: bool, target: float) -> str:
    """The suite's section; ``all_modules`` lists passing modules too (else only the rest)."""
    t = report["totals"]
    lines = [f"## {report['suite']} {report['version']}: {_cell(t['passed'], t['total'])}", ""]
    lines.append(_distance(t, target))
    notes = []
    if t["skipped"]:
        notes.append(f"{t['skipped']} skipped by the suite itself (not counted)")
    if t["estimated"]:
        notes.append(f"{t['estimated']} estimated in modules that failed to import (counted)")
    for backend, count in sorted(report["deselected"].items()):
        notes.append(f"{count} test ids on the {backend} backend not run (trio is out of scope)")
    for item in report["out_of_scope"]:
        notes.append(f"`{item['path']}` not run, ~{item['tests']} tests: {item['reason']}")
    lines += ["", *[f"- {note}" for note in notes]] if notes else []
    for message in report["violations"]:
        lines += ["", f"**GUARD: {message}**"]
    shown = [m for m in report["modules"] if all_modules or m["passed"] < m["total"]]
    passing = sum(1 for m in report["modules"] if m["total"] and m["passed"] == m["total"])
    lines += [
        "",
        f"{len(report['modules'])} modules, {passing} passing in full"
        + ("." if all_modules else "; the others:"),
        "",
        "| module | passed/total | skipped | notes |",
        "|---|---:|---:|---|",
    ]
    for m in shown:
        note = f"import failed ({m['estimated']} est.): `{one_line(m['import_error'] or '', 100)}`"
        note = note if m["import_error"] else ""
        lines.append(
            f"| {m['module']} | {_cell(m['passed'], m['total'])} | {m['skipped']} | {note} |"
        )
    failures = [f for m in report["modules"] for f in m["failures"]]
    if failures:
        lines += ["", f"Failing test ids ({len(failures)}):", ""]
        lines += [f"- `{f['nodeid']}` ({f['status']}): {one_line(f['message'])}" for f in failures]
    return "\n".join(lines) + "\n"


def _distance(totals: dict[str, Any], target: float) -> str:
    if not totals["total"]:
        return "No tests ran."
    needed = max(0, _needed(totals["passed"], totals["total"], target))
    if not needed:
        return f"At or above the {target:.0%} target."
    return (
        f"**{needed} more passing tests needed for the {target:.0%} target** "
        f"({totals['rate']:.1%} now)."
    )


def _needed(passed: int, total: int, target: float) -> int:
    """How many of the failing tests must pass to reach ``target``."""
    required = -(-round(target * total * 10_000) // 10_000)  # ceil without float noise
    return int(required) - passed
