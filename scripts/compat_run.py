#!/usr/bin/env python3
"""Run FastAPI 0.165's and Starlette 1.10's own test suites against aster (``make compat``).

    python scripts/compat_run.py                        # both whole suites, per-module report
    python scripts/compat_run.py --suite starlette -k routing
    python scripts/compat_run.py --enforce --min-fastapi 0.98 --min-starlette 0.98
    python scripts/compat_run.py --topics body,cors     # only these FastAPI tutorial topics
    python scripts/compat_run.py --issue 3 --enforce    # the tutorial topics of issue 3
    python scripts/compat_run.py --suite all --no-aster # the same suites on the real packages

Each suite's sdist is fetched into ``.fastapi-sdist/`` (``pip download``, sha256 pinned in
compat_sdist) unless it is there; the ``[compat]`` extra's requirements the interpreter lacks
are installed; then pytest runs from inside the extracted sdist (so its own configuration,
conftest files, ``tests`` and ``docs_src`` apply) with ``-p aster._pytest_compat``, which
points ``fastapi``/``starlette`` at aster before collection, and ``-p compat_plugin``, which
records outcomes, runs only the asyncio backend, ends hung tests and asserts that no module of
a real FastAPI/Starlette is ever loaded. Tests run under pytest-xdist (``--workers``, 2 by
default) with pytest-timeout. ``report.md`` and ``report.json`` go next to the sdists: per
suite, passed/total per test module with the failing ids; for FastAPI also the tutorial
topics (behaviour and ``/openapi.json`` tests apart) from the same run, counted once.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compat_report import build_suite_report, render_suite
from compat_results import load_results
from compat_sdist import FASTAPI, STARLETTE, Sdist, ensure_sdist, log
from compat_tutorial_report import build_report, render_markdown

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".fastapi-sdist"
TARGET = 0.98  # the pass rate issue 10 asks of each suite


@dataclass(frozen=True)
class Suite:
    sdist: Sdist
    paths: tuple[str, ...]
    #: paths (or node ids) under the sdist that are not run, with why; their tests are
    #: estimated.
    out_of_scope: dict[str, str] = field(default_factory=dict)
    #: node ids that cannot pass when the suite runs as root (as CI does), with why.
    not_as_root: dict[str, str] = field(default_factory=dict)

    def left_out(self) -> dict[str, str]:
        as_root = hasattr(os, "geteuid") and os.geteuid() == 0
        return {**self.out_of_scope, **(self.not_as_root if as_root else {})}


SUITES: dict[str, Suite] = {
    "fastapi": Suite(
        FASTAPI,
        ("tests",),
        {
            "tests/test_tutorial/test_graphql": "needs strawberry-graphql",
            "tests/test_fastapi_cli.py": "runs `python -m fastapi` (fastapi-cli) in a "
            "subprocess, outside aster.compat",
            "tests/test_translate.py": "tests FastAPI's docs-translation script, not FastAPI",
            "tests/test_prepare_release.py": "tests FastAPI's release script, not FastAPI",
        },
    ),
    "starlette": Suite(
        STARLETTE,
        ("tests",),
        not_as_root={
            "tests/test_staticfiles.py::"
            "test_staticfiles_with_invalid_dir_permissions_returns_401": "chmod cannot hide a "
            "directory from root (it fails on the real Starlette as root too)",
        },
    ),
}

ISSUE_TOPICS: dict[str, list[str]] = {
    "3": [
        "first_steps", "path_params", "query_params", "query_params_str_validations",
        "path_params_numeric_validations",
        "body", "body_fields", "body_multiple_params", "body_nested_models", "body_updates",
        "header_param_models", "cookie_param_models", "query_param_models", "header_params",
        "cookie_params",
        "request_forms", "request_files", "request_form_models", "request_forms_and_files",
        "request_body_limits", "strict_content_type",
        "response_model", "extra_models", "response_status_code", "response_directly",
        "response_headers", "response_cookies", "response_change_status_code",
        "custom_response", "handling_errors", "encoder", "extra_data_types", "dataclasses",
        "python_types", "json_base64_bytes",
        "using_request_directly", "custom_request_and_route", "additional_status_codes",
        "testing",
    ],
    "4": [
        "dependencies", "security", "authentication_error_status_code",
        "middleware", "advanced_middleware", "cors",
        "background_tasks", "events", "bigger_applications", "sub_applications",
        "behind_a_proxy",
        "async_tests", "testing_dependencies", "settings", "sql_databases", "wsgi",
        "static_files", "templates", "stream_data", "stream_json_lines", "server_sent_events",
    ],
    "5": [
        "additional_responses", "conditional_openapi", "configure_swagger_ui",
        "custom_docs_ui", "extending_openapi",
        "generate_clients", "metadata", "openapi_callbacks", "openapi_webhooks",
        "path_operation_configurations", "path_operation_advanced_configurations",
        "schema_extra_example", "separate_openapi_schemas",
    ],
}  # fmt: skip

_TUTORIAL = "tests/test_tutorial"


# --- dependencies ------------------------------------------------------------------------


def compat_requirements() -> list[str]:
    with open(ROOT / "pyproject.toml", "rb") as file:
        project = tomllib.load(file)["project"]
    return list(project["optional-dependencies"]["compat"])


_CHECK = """
import json, sys
from importlib import metadata
try:
    from packaging.requirements import Requirement
except ImportError:  # a fresh venv: names only
    Requirement = None
missing = []
for line in json.loads(sys.argv[1]):
    if Requirement is None:
        name, spec = line.split(";")[0].split("[")[0].split(">")[0].split("<")[0], None
        name = name.split("=")[0]
    else:
        req = Requirement(line)
        if req.marker is not None and not req.marker.evaluate():
            continue
        name, spec = req.name, req.specifier
    try:
        version = metadata.version(name.strip())
    except metadata.PackageNotFoundError:
        missing.append(line)
        continue
    if spec is not None and not spec.contains(version, prereleases=True):
        missing.append(line)
print(json.dumps(missing))
"""


def ensure_requirements(python: str, requirements: list[str]) -> None:
    check = subprocess.run(
        [python, "-c", _CHECK, json.dumps(requirements)],
        check=True,
        capture_output=True,
        text=True,
    )
    missing = json.loads(check.stdout)
    if missing:
        log(f"installing into {python}: {' '.join(missing)}")
        subprocess.run([python, "-m", "pip", "install", "-q", *missing], check=True)


def real_packages_python() -> str:
    """A private venv with the real fastapi/starlette, for ``--no-aster`` runs."""
    venv = WORK / "venv-fastapi"
    python = venv / "bin" / "python"
    if not python.exists():
        log(f"creating {venv} with the real fastapi/starlette")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    return str(python)


# --- what to run -------------------------------------------------------------------------


def available_topics(sdist: Path) -> list[str]:
    base = sdist / _TUTORIAL
    return sorted(p.name[5:] for p in base.iterdir() if p.is_dir() and p.name.startswith("test_"))


def in_scope_topics(sdist: Path) -> list[str]:
    left_out = {p.rsplit("/test_", 1)[1] for p in SUITES["fastapi"].out_of_scope if _TUTORIAL in p}
    return [t for t in available_topics(sdist) if t not in left_out]


def select_topics(args: argparse.Namespace, sdist: Path) -> list[str]:
    available = available_topics(sdist)
    chosen: list[str] = []
    for issue in filter(None, (args.issue or "").split(",")):
        if issue not in ISSUE_TOPICS:
            raise SystemExit(f"unknown issue {issue!r}; known: {', '.join(ISSUE_TOPICS)}")
        chosen += ISSUE_TOPICS[issue]
    for topic in filter(None, (args.topics or "").split(",")):
        if topic == "all":
            chosen += in_scope_topics(sdist)
        else:
            chosen.append(topic.strip().removeprefix("test_"))
    unknown = sorted(set(chosen) - set(available))
    if unknown:
        raise SystemExit(f"no such topics: {', '.join(unknown)}\navailable: {' '.join(available)}")
    return list(dict.fromkeys(chosen))


# --- running pytest ----------------------------------------------------------------------


def uses_xdist_groups(cwd: Path, paths: list[str]) -> bool:
    """Whether the suite marks tests with ``xdist_group`` (tests that share files in the cwd)."""
    files = (f for path in paths for f in (cwd / path).rglob("*.py"))
    return any("xdist_group" in f.read_text(encoding="utf-8", errors="replace") for f in files)


def pytest_passes(workers: int, grouped: bool) -> list[list[str]]:
    """The pytest-xdist arguments of each pass over the suite.

    Tests marked ``xdist_group`` share state in the working directory (files, module-scoped
    fixtures that create and remove them) and must not run concurrently. ``--dist loadgroup``
    would keep each group on one worker, but pytest-xdist's scope schedulers stall for good
    when a worker is replaced after a crash (our last resort against a hung test), and pytest
    9.2 stopped the grouping altogether. So: everything else with ``--dist load`` on
    ``workers`` workers, then the grouped tests on one worker (still under xdist, so that a
    crash is survivable).
    """
    common = ["--dist", "load", "--max-worker-restart", "10000"]
    if not grouped:
        return [["-n", str(workers), *common]]
    return [
        ["-n", str(workers), *common, "-m", "not xdist_group"],
        ["-n", "1", *common, "-m", "xdist_group"],
    ]


def run_pytest(
    args: argparse.Namespace, python: str, cwd: Path, paths: list[str], ignore: list[str], out: Path
) -> int:
    command = [python, "-m", "pytest", *paths, "-p", "compat_plugin"]
    command += ["-p", "no:cacheprovider", "-q", "--no-header", "-rN"]
    command.append("--continue-on-collection-errors")  # import errors count, not abort
    command += [f"--deselect={p}" if "::" in p else f"--ignore={p}" for p in ignore]
    command.append(f"--timeout={args.timeout}")
    env = dict(os.environ)
    if not args.no_aster:
        command += ["-p", "aster._pytest_compat"]
        env["COMPAT_GUARD"] = str(ROOT / "aster")
    if args.collect_only:
        command.append("--collect-only")
    if args.k:
        command += ["-k", args.k]
    site = [] if args.no_aster else [str(ROOT / "scripts" / "compat_site")]  # aliases first
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [*site, str(ROOT / "scripts"), env.get("PYTHONPATH")])
    )
    env["COMPAT_RESULTS"] = str(out / "results.jsonl")  # both passes append to the same files
    env["COMPAT_HANG_SECONDS"] = str(args.timeout + 30)
    env.pop("PYTEST_ADDOPTS", None)
    output = None if args.verbose else subprocess.DEVNULL
    codes = []
    deadline = time.monotonic() + args.suite_timeout
    for extra in pytest_passes(max(1, args.workers), uses_xdist_groups(cwd, paths)):
        full = [*command, *extra, *args.pytest_args]
        process = subprocess.Popen(full, cwd=cwd, env=env, stdout=output, start_new_session=True)
        try:
            codes.append(process.wait(timeout=max(1.0, deadline - time.monotonic())))
        except subprocess.TimeoutExpired:  # a stuck pytest-xdist must not hang CI
            log(f"pytest still running after {args.suite_timeout}s: ending it")
            return 2
        finally:  # also when this runner is interrupted: leave no pytest behind
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    ran = [code for code in codes if code != 5]  # 5: that pass selected no tests
    return max(ran) if ran else 5


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", default="all", help="fastapi, starlette or all (default)")
    parser.add_argument("--topics", help="only these FastAPI tutorial topics (or 'all')")
    parser.add_argument("--issue", help="only the tutorial topics of: " + ",".join(ISSUE_TOPICS))
    parser.add_argument("--collect-only", action="store_true", help="only collect and count")
    parser.add_argument("-k", help="pytest -k expression")
    parser.add_argument("--workers", type=int, default=2, help="pytest-xdist workers")
    parser.add_argument("--timeout", type=int, default=20, help="seconds per test")
    parser.add_argument(
        "--suite-timeout", type=int, default=1200, help="seconds for one suite's whole run"
    )
    parser.add_argument("--no-aster", action="store_true", help="run on the real packages")
    parser.add_argument("--python", help="interpreter to run pytest with (default: this one)")
    parser.add_argument("--sdist", type=Path, help="a local sdist (.tar.gz or dir); one suite")
    parser.add_argument("--no-install", action="store_true", help="do not pip install anything")
    parser.add_argument("--enforce", action="store_true", help="fail below the minimums")
    parser.add_argument("--min-fastapi", type=float, default=TARGET)
    parser.add_argument("--min-starlette", type=float, default=TARGET)
    parser.add_argument("--min-behaviour", type=float, default=0.95, help="tutorial topics")
    parser.add_argument("--min-openapi", type=float, default=0.95, help="tutorial topics")
    parser.add_argument("--target", type=float, default=TARGET, help="the rate to report on")
    parser.add_argument("--output", type=Path, default=WORK, help="where report.md/json go")
    parser.add_argument("-v", "--verbose", action="store_true", help="show pytest's output")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))  # run finally:s

    topics_only = bool(args.topics or args.issue)
    names = ["fastapi"] if topics_only else _suite_names(args.suite)
    if args.sdist is not None and len(names) != 1:
        raise SystemExit("--sdist needs a single --suite")
    python = args.python or (real_packages_python() if args.no_aster else sys.executable)
    if not args.no_install:
        requirements = compat_requirements()
        if args.no_aster:
            requirements += [f"fastapi=={FASTAPI.version}", f"starlette=={STARLETTE.version}"]
            requirements += ["httpx2"]  # starlette 1.10's TestClient prefers it
        ensure_requirements(python, requirements)

    engine = "real fastapi/starlette" if args.no_aster else "aster (aster.compat)"
    combined: dict[str, object] = {"engine": engine, "target": args.target, "suites": {}}
    sections, codes = [], {}
    for name in names:
        suite = SUITES[name]
        sdist = ensure_sdist(suite.sdist, WORK, args.sdist)
        out = args.output / name
        shutil.rmtree(out / "results", ignore_errors=True)
        (out / "results").mkdir(parents=True)
        if topics_only:
            topics = select_topics(args, sdist)
            paths, ignore, out_of_scope = [f"{_TUTORIAL}/test_{t}" for t in topics], [], {}
        else:
            topics = in_scope_topics(sdist) if name == "fastapi" else []
            out_of_scope = suite.left_out()
            paths, ignore = list(suite.paths), list(out_of_scope)
        log(f"{name} {suite.sdist.version}: running pytest on {' '.join(paths[:3])}… in {sdist}")
        started, cpu_before = time.monotonic(), _children_cpu()
        codes[name] = run_pytest(args, python, sdist, paths, ignore, out / "results")
        seconds = round(time.monotonic() - started, 1)
        cpu = round(_children_cpu() - cpu_before, 1)  # load-independent, unlike the wall time
        log(f"{name}: pytest exited {codes[name]} after {seconds}s ({cpu}s of CPU)")
        outcomes = load_results(out / "results")
        report = build_suite_report(
            name,
            suite.sdist.version,
            sdist,
            outcomes,
            out_of_scope,
        )
        report["seconds"] = seconds
        report["cpu_seconds"] = cpu
        report["workers"] = max(1, args.workers)
        if topics:
            tutorial = build_report(sdist, topics, outcomes, collect_only=args.collect_only)
            tutorial["engine"] = engine
            report["tutorial"] = tutorial
        combined["suites"][name] = report  # type: ignore[index]
        sections.append(report)

    args.output.mkdir(parents=True, exist_ok=True)
    full = _markdown(sections, engine, args.target, all_modules=True)
    (args.output / "report.md").write_text(full, encoding="utf-8")
    (args.output / "report.json").write_text(json.dumps(combined, indent=2), encoding="utf-8")
    print(_markdown(sections, engine, args.target, all_modules=False))
    log(f"wrote {args.output / 'report.md'} and report.json")
    return _verdict(args, sections, codes, topics_only)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _suite_names(value: str) -> list[str]:
    names = list(SUITES) if value == "all" else [v.strip() for v in value.split(",")]
    unknown = [n for n in names if n not in SUITES]
    if unknown:
        raise SystemExit(f"unknown suite {', '.join(unknown)}; known: {', '.join(SUITES)}, all")
    return names


def _markdown(sections: list[dict], engine: str, target: float, *, all_modules: bool) -> str:
    parts = [f"# FastAPI's and Starlette's own tests on {engine}", ""]
    for report in sections:
        t = report["totals"]
        parts.append(
            f"- **{report['suite']} {report['version']}**: {t['passed']}/{t['total']} "
            f"({(t['rate'] or 0):.1%}) in {report['seconds']}s with {report['workers']} workers "
            f"({report['cpu_seconds']}s of CPU)"
        )
    parts.append("")
    for report in sections:
        parts.append(render_suite(report, all_modules=all_modules, target=target))
        if "tutorial" in report:
            parts.append(render_markdown(report["tutorial"]))
    return "\n".join(parts)


def _verdict(
    args: argparse.Namespace, sections: list[dict], codes: dict[str, int], topics_only: bool
) -> int:
    failed = False
    for report in sections:
        name, totals = report["suite"], report["totals"]
        if report["violations"]:
            log(f"{name}: a real FastAPI/Starlette module was imported; the counts are void")
            failed = True
        if codes[name] not in (0, 1, 5):  # 2: interrupted, 3: internal error, 4: usage error
            log(f"{name}: pytest exited with status {codes[name]}; rerun with -v to see why")
            failed = True
        if totals["rate"] is not None and totals["rate"] < args.target:
            log(
                f"!!! {name}: {totals['rate']:.2%} passes, {args.target:.0%} is the target: "
                f"{report['totals']['failed']} failing of {totals['total']} !!!"
            )
    if not args.enforce or args.collect_only:
        return 1 if failed else 0
    for report in sections:
        name, rate = report["suite"], report["totals"]["rate"]
        minimum = args.min_fastapi if name == "fastapi" else args.min_starlette
        if not topics_only and (rate is None or rate < minimum):
            log(f"{name}: pass rate {rate} is below the minimum {minimum}")
            failed = True
        tutorial = report.get("tutorial")
        if tutorial is None:
            continue
        for kind, minimum in (("behaviour", args.min_behaviour), ("openapi", args.min_openapi)):
            rate = tutorial["totals"][kind]["rate"]
            if rate is not None and rate < minimum:
                log(f"tutorial {kind} pass rate {rate} is below {minimum}")
                failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
