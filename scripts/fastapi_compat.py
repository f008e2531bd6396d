#!/usr/bin/env python3
"""Run FastAPI's own tutorial tests (from the fastapi==0.165.0 sdist) against aster.

    python scripts/fastapi_compat.py --issue 3              # the topics of issue 3
    python scripts/fastapi_compat.py --topics body,cors -k openapi
    python scripts/fastapi_compat.py --issue 3 --enforce    # exit 1 below --min-behaviour
    python scripts/fastapi_compat.py --topics all --no-aster --python /tmp/v/bin/python

Steps: fetch the sdist into ``.fastapi-sdist/`` (``pip download``, sha256 checked against a
pinned digest) unless it is already there; install the ``[compat]`` extra's requirements that
the interpreter lacks; run pytest from inside the extracted sdist (so ``docs_src`` and ``tests``
import) with ``-p aster._pytest_compat``, which points ``fastapi``/``starlette`` at aster before
collection; then count, per topic, *behaviour* tests and *openapi* tests (those whose function
name contains "openapi") and write ``report.md`` and ``report.json`` next to the sdist.

A test module that cannot even be imported (expected while the framework is being written)
yields no test ids; its tests are then counted as failed from a static estimate (test functions
times the sizes of the literal ``params=``/``parametrize`` lists they use), marked "est.".

``--no-aster`` runs the same suite against the real fastapi/starlette, to prove the counting:
by default in a private venv (``.fastapi-sdist/venv-fastapi``) created on demand.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fastapi_compat_report import (
    Outcomes,
    build_report,
    load_results,
    render_markdown,
)

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".fastapi-sdist"
VERSION = "0.165.0"
SDIST_NAME = f"fastapi-{VERSION}"
# sha256 of fastapi-0.165.0.tar.gz as published on PyPI (release files are immutable).
SDIST_SHA256 = "dd94d4128319c1e1d50535ab023ab698f850a4d2822f0e181747b46f4ff3c0ab"

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


# Left out of ``--topics all`` (name them explicitly to run them): not in any issue's scope,
# and they need packages the [compat] extra does not install.
OUT_OF_SCOPE = {
    "graphql": "needs strawberry-graphql",
}


def log(message: str) -> None:
    print(f"[fastapi-compat] {message}", file=sys.stderr, flush=True)


# --- the sdist ---------------------------------------------------------------------------


def sdist_version(directory: Path) -> str | None:
    pkg_info = directory / "PKG-INFO"
    if not pkg_info.is_file():
        return None
    for line in pkg_info.read_text(encoding="utf-8").splitlines():
        if line.startswith("Version:"):
            return line.split(":", 1)[1].strip()
    return None


def extract(archive: Path, into: Path) -> Path:
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    if digest != SDIST_SHA256:
        raise SystemExit(f"{archive}: sha256 {digest} does not match the pinned {SDIST_SHA256}")
    with tarfile.open(archive) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(into, filter="data")
        else:  # pragma: no cover - Python without extraction filters
            tar.extractall(into)  # pinned, hash-checked archive
    return into / SDIST_NAME


def ensure_sdist(source: Path | None) -> Path:
    """The extracted sdist directory, fetching and unpacking it if needed."""
    target = WORK / SDIST_NAME
    if sdist_version(target) == VERSION:
        return target
    WORK.mkdir(exist_ok=True)
    if target.exists():
        shutil.rmtree(target)
    if source is not None and source.is_dir():
        if sdist_version(source) != VERSION:
            raise SystemExit(f"{source} is not the fastapi {VERSION} sdist")
        shutil.copytree(source, target)
        return target
    archive = source
    if archive is None:
        download = WORK / "download"
        archive = download / f"{SDIST_NAME}.tar.gz"
        if not archive.is_file():
            log(f"downloading the fastapi=={VERSION} sdist from PyPI")
            pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:"]
            subprocess.run([*pip, "-q", "-d", str(download), f"fastapi=={VERSION}"], check=True)
    extracted = extract(archive, WORK)
    if sdist_version(extracted) != VERSION:
        raise SystemExit(f"{extracted} does not contain fastapi {VERSION}")
    return extracted


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
except ImportError:
    Requirement = None
missing = []
for line in json.loads(sys.argv[1]):
    if Requirement is None:
        name, spec = line.split(";")[0].split("[")[0].split(">")[0].split("<")[0], None
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


def real_fastapi_python() -> str:
    """A private venv with the real fastapi/starlette, for ``--no-aster`` runs."""
    venv = WORK / "venv-fastapi"
    python = venv / "bin" / "python"
    if not python.exists():
        log(f"creating {venv} with the real fastapi=={VERSION}")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    return str(python)


# --- running pytest ----------------------------------------------------------------------


def available_topics(sdist: Path) -> list[str]:
    base = sdist / "tests" / "test_tutorial"
    return sorted(p.name[5:] for p in base.iterdir() if p.is_dir() and p.name.startswith("test_"))


def select_topics(args: argparse.Namespace, sdist: Path) -> list[str]:
    available = available_topics(sdist)
    chosen: list[str] = []
    for issue in filter(None, (args.issue or "").split(",")):
        if issue not in ISSUE_TOPICS:
            raise SystemExit(f"unknown issue {issue!r}; known: {', '.join(ISSUE_TOPICS)}")
        chosen += ISSUE_TOPICS[issue]
    for topic in filter(None, (args.topics or "").split(",")):
        if topic == "all":
            chosen += [t for t in available if t not in OUT_OF_SCOPE]
            log("'all' leaves out " + ", ".join(f"{k} ({v})" for k, v in OUT_OF_SCOPE.items()))
        else:
            chosen.append(topic.strip().removeprefix("test_"))
    if not chosen:
        chosen = ISSUE_TOPICS["3"]
    unknown = sorted(set(chosen) - set(available))
    if unknown:
        raise SystemExit(f"no such topics: {', '.join(unknown)}\navailable: {' '.join(available)}")
    return list(dict.fromkeys(chosen))


def has_xdist(python: str) -> bool:
    probe = subprocess.run([python, "-c", "import xdist"], capture_output=True)
    return probe.returncode == 0


def run_pytest(
    args: argparse.Namespace, python: str, sdist: Path, topics: list[str], results: Path
) -> int:
    paths = [f"tests/test_tutorial/test_{topic}" for topic in topics]
    command = [python, "-m", "pytest", *paths, "-p", "fastapi_compat_results"]
    command += ["-p", "no:cacheprovider", "-q", "--no-header", "-rN"]
    command.append("--continue-on-collection-errors")  # import errors count, not abort
    if not args.no_aster:
        command += ["-p", "aster._pytest_compat"]
    if args.collect_only:
        command.append("--collect-only")
    if args.k:
        command += ["-k", args.k]
    if args.junit:
        command.append(f"--junitxml={Path(args.junit).resolve()}")
    if args.workers and args.workers > 1:
        if has_xdist(python):
            command += ["-n", str(args.workers), "--dist", "loadgroup"]
        else:
            log("pytest-xdist is not installed; running in one process")
    command += args.pytest_args
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(ROOT / "scripts"), env.get("PYTHONPATH")])
    )
    env["FASTAPI_COMPAT_RESULTS"] = str(results)
    env.pop("PYTEST_ADDOPTS", None)
    log(f"running pytest on {len(topics)} topics in {sdist}")
    output = None if args.verbose else subprocess.DEVNULL
    completed = subprocess.run(command, cwd=sdist, env=env, stdout=output)
    return completed.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--topics", help="comma-separated topics (test_<topic> dirs), or 'all'")
    parser.add_argument("--issue", help="comma-separated issue numbers: " + ",".join(ISSUE_TOPICS))
    parser.add_argument("--collect-only", action="store_true", help="only collect and count")
    parser.add_argument("-k", help="pytest -k expression")
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="pytest-xdist workers (the few tests that share files in the cwd may then flake)",
    )
    parser.add_argument("--junit", help="also write a JUnit XML report here")
    parser.add_argument("--no-aster", action="store_true", help="run on the real fastapi")
    parser.add_argument("--python", help="interpreter to run pytest with (default: this one)")
    parser.add_argument("--sdist", type=Path, help="a local fastapi sdist (.tar.gz or dir)")
    parser.add_argument("--no-install", action="store_true", help="do not pip install anything")
    parser.add_argument(
        "--enforce", action="store_true", help="fail below --min-behaviour or --min-openapi"
    )
    parser.add_argument("--min-behaviour", type=float, default=0.95)
    parser.add_argument("--min-openapi", type=float, default=0.95)
    parser.add_argument("--output", type=Path, default=WORK, help="where report.md/json go")
    parser.add_argument("-v", "--verbose", action="store_true", help="show pytest's output")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args(argv)

    sdist = ensure_sdist(args.sdist)
    topics = select_topics(args, sdist)
    python = args.python or (real_fastapi_python() if args.no_aster else sys.executable)
    if not args.no_install:
        requirements = compat_requirements()
        if args.no_aster:
            requirements += [f"fastapi=={VERSION}", "httpx2"]  # starlette 1.10 wants httpx2
        ensure_requirements(python, requirements)

    results = args.output / "results"  # per output dir, so concurrent runs do not clash
    shutil.rmtree(results, ignore_errors=True)
    results.mkdir(parents=True)
    code = run_pytest(args, python, sdist, topics, results / "results.jsonl")
    if code not in (0, 1, 5):  # 2: interrupted, 3: internal error, 4: usage error
        log(f"pytest exited with status {code}; rerun with -v to see why")
        return code

    outcomes: Outcomes = load_results(results)
    report = build_report(sdist, topics, outcomes, collect_only=args.collect_only)
    report["engine"] = "real fastapi/starlette" if args.no_aster else "aster (aster.compat)"
    markdown = render_markdown(report)
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "report.md").write_text(markdown, encoding="utf-8")
    (args.output / "report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(markdown)
    log(f"wrote {args.output / 'report.md'} and report.json")

    if not args.enforce or args.collect_only:
        return 0
    rate = report["totals"]["behaviour"]["rate"]
    if rate is None or rate < args.min_behaviour:
        log(f"behaviour pass rate {rate} is below {args.min_behaviour}")
        return 1
    openapi_rate = report["totals"]["openapi"]["rate"]
    if openapi_rate is not None and openapi_rate < args.min_openapi:
        log(f"openapi pass rate {openapi_rate} is below {args.min_openapi}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
