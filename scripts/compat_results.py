"""Read the JSON lines written by compat_plugin: outcomes, statuses, and static estimates.

Passed and expected failures (xfail) count as passed; failures, errors and strict xpasses as
failed; skipped tests are reported but left out of the totals. Modules that failed to import
have no test ids, so their tests are estimated statically (see :func:`estimate_module`) and
counted as failed: an import error must lower the pass rate, not vanish from it.
"""

from __future__ import annotations

import ast
import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

Outcomes = dict[str, Any]


def load_results(directory: Path) -> Outcomes:
    """Merge the result files (one per pytest process), de-duplicating by node id.

    ``items``: node id -> test function name; ``phases``: node id -> setup/call/teardown
    records; ``collect``: failed or skipped collectors; ``deselected``: node id -> reason (the
    anyio backend left out); ``violations``: messages of the real-package guard.
    """
    items: dict[str, str] = {}
    phases: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    collect: dict[str, dict[str, Any]] = {}
    deselected: dict[str, str] = {}
    violations: list[str] = []
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
            elif record["kind"] == "deselected":
                deselected[nodeid] = record["reason"]
            elif record["kind"] == "violation":
                violations.append(record["message"])
    return {
        "items": items,
        "phases": dict(phases),
        "collect": collect,
        "deselected": deselected,
        "violations": sorted(set(violations)),
    }


def status_of(phases: dict[str, dict[str, Any]]) -> str:
    """passed, failed, error (setup/teardown), xfailed, xpassed, skipped or not run."""
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


def estimate_for(sdist: Path, nodeid: str) -> list[tuple[str, str, int]]:
    """(module nodeid, function, count) for everything under a failed collector."""
    target = sdist / nodeid.split("::", 1)[0]
    modules = [target] if target.is_file() else sorted(target.rglob("test_*.py"))
    estimated = []
    for module in modules:
        module_id = module.relative_to(sdist).as_posix()
        for function, count in estimate_module(module, sdist / "tests"):
            estimated.append((module_id, function, count))
    return estimated
