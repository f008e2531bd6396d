"""Turn the JSON lines written by fastapi_compat_results into per-topic counts and Markdown.

A test is *openapi* if its function name contains "openapi", else *behaviour*. Passed and
expected failures (xfail) count as passed; failures, errors and strict xpasses as failed;
skipped tests are reported but left out of the totals. Modules that failed to import have no
test ids, so their tests are estimated statically (see :func:`estimate_module`) and counted as
failed: an import error must lower the pass rate, not vanish from it.
"""

from __future__ import annotations

import ast
import json
import math
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

Outcomes = dict[str, Any]

_TUTORIAL = "tests/test_tutorial/"


def load_results(directory: Path) -> Outcomes:
    """Merge the result files (one per pytest process) into items, phases and collect errors."""
    items: dict[str, str] = {}
    phases: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    collect: dict[str, dict[str, Any]] = {}
    for path in sorted(directory.glob("results.jsonl*")):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            nodeid = record["nodeid"]
            if record["kind"] == "item":
                items[nodeid] = record["function"]
            elif record["kind"] == "phase":
                phases[nodeid][record["when"]] = record
            elif record["kind"] == "collect":
                collect[nodeid] = record
    return {"items": items, "phases": dict(phases), "collect": collect}


def status_of(phases: dict[str, dict[str, Any]]) -> str:
    for when in ("setup", "call", "teardown"):
        phase = phases.get(when)
        if phase and phase["outcome"] == "failed":
            return "failed" if when == "call" else "error"
    call = phases.get("call")
    if call is not None:
        if call["outcome"] == "passed":
            return "xpassed" if call["xfail"] else "passed"
        return "xfailed" if call["xfail"] else "skipped"
    setup = phases.get("setup")
    if setup is not None and setup["outcome"] == "skipped":
        return "skipped"
    return "not run"


def topic_of(nodeid: str) -> str | None:
    if not nodeid.startswith(_TUTORIAL):
        return None
    first = nodeid[len(_TUTORIAL) :].split("/", 1)[0].split("::", 1)[0]
    return first.removeprefix("test_") if first.startswith("test_") else None


def kind_of(function: str) -> str:
    return "openapi" if "openapi" in function else "behaviour"


# --- static estimate for modules that could not be imported ------------------------------


def _literal_len(node: ast.expr) -> int:
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return len(node.elts)
    return 1  # not a literal: assume a single case rather than guess


def _decorator_call(decorator: ast.expr, suffix: str) -> ast.Call | None:
    if isinstance(decorator, ast.Call) and ast.unparse(decorator.func).endswith(suffix):
        return decorator
    return None


def _fixtures(tree: ast.Module) -> dict[str, tuple[int, list[str], bool]]:
    """name -> (number of params, the fixtures it requests, autouse)."""
    found: dict[str, tuple[int, list[str], bool]] = {}
    for node in tree.body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for decorator in node.decorator_list:
            call = _decorator_call(decorator, "fixture")
            plain = ast.unparse(decorator).endswith("fixture")
            if call is None and not plain:
                continue
            keywords = {k.arg: k.value for k in call.keywords} if call else {}
            name = (
                keywords["name"].value if isinstance(keywords.get("name"), ast.Constant) else None
            )
            params = _literal_len(keywords["params"]) if "params" in keywords else 1
            autouse = isinstance(keywords.get("autouse"), ast.Constant) and bool(
                keywords["autouse"].value  # type: ignore[attr-defined]
            )
            args = [a.arg for a in node.args.args]
            found[str(name or node.name)] = (params, args, autouse)
    return found


def estimate_module(path: Path, root: Path) -> list[tuple[str, int]]:
    """(test function, number of test ids) for a test module, without importing it."""
    fixtures: dict[str, tuple[int, list[str], bool]] = {}
    conftests = [p / "conftest.py" for p in reversed(path.parents) if root in (p, *p.parents)]
    for source in [*conftests, path]:
        if source.is_file():
            fixtures.update(_fixtures(ast.parse(source.read_text(encoding="utf-8"))))

    def multiplier(names: list[str], seen: set[str]) -> int:
        total = 1
        for name in names:
            if name in fixtures and name not in seen:
                seen.add(name)
                params, requested, _ = fixtures[name]
                total *= params * multiplier(requested, seen)
        return total

    autouse = [name for name, (_, _, auto) in fixtures.items() if auto]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    tests: list[tuple[str, int]] = []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):  # `from docs_src.x.test_main import test_read`
            names = [alias.asname or alias.name for alias in node.names]
            tests += [(name, 1) for name in names if name.startswith("test")]
            continue
        functions = [node] if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else []
        if isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            functions = [
                n for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
            ]
        for function in functions:
            if not function.name.startswith("test"):
                continue
            count = math.prod(
                _literal_len(call.args[1])
                for decorator in function.decorator_list
                if (call := _decorator_call(decorator, "parametrize")) and len(call.args) > 1
            )
            args = [a.arg for a in function.args.args if a.arg != "self"]
            count *= multiplier([*autouse, *args], set())
            tests.append((function.name, count))
    return tests


def _estimate(sdist: Path, nodeid: str) -> list[tuple[str, str, int]]:
    """(module nodeid, function, count) for everything under a failed collector."""
    target = sdist / nodeid.split("::", 1)[0]
    modules = [target] if target.is_file() else sorted(target.rglob("test_*.py"))
    estimated = []
    for module in modules:
        module_id = module.relative_to(sdist).as_posix()
        for function, count in estimate_module(module, sdist / "tests"):
            estimated.append((module_id, function, count))
    return estimated


# --- the report --------------------------------------------------------------------------


def _rate(passed: int, total: int) -> float | None:
    return round(passed / total, 4) if total else None


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
        estimated = _estimate(sdist, nodeid)
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
            "rate": _rate(c["behaviour_passed"], c["behaviour_total"]),
        },
        "openapi": {
            "passed": c["openapi_passed"],
            "total": c["openapi_total"],
            "rate": _rate(c["openapi_passed"], c["openapi_total"]),
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
        grouped = Counter(_one_line(e["message"]) for e in report["collect_errors"])
        lines += ["", "Import/collection errors (modules × message):", ""]
        lines += [f"- {n} × `{message}`" for message, n in grouped.most_common(15)]
    if report["failures"]:
        grouped = Counter(_one_line(f["message"].split(" | ")[0]) for f in report["failures"])
        lines += ["", f"Failures: {len(report['failures'])} (most common first):", ""]
        lines += [f"- {n} × `{message}`" for message, n in grouped.most_common(15)]
    return "\n".join(lines) + "\n"


def _one_line(message: str, limit: int = 140) -> str:
    text = " ".join(message.replace("`", "'").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _overall(totals: dict[str, Any]) -> str:
    parts = []
    for kind in ("behaviour", "openapi"):
        counts = totals[kind]
        rate = "n/a" if counts["rate"] is None else f"{counts['rate']:.1%}"
        parts.append(f"{kind} {rate} ({counts['passed']}/{counts['total']})")
    return "Overall: " + ", ".join(parts) + f"; {totals['skipped']} skipped."
