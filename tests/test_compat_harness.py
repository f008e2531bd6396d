"""scripts/compat_plugin.py and compat_report.py, the machinery of ``make compat``, on a tiny suite.

The suite is real pytest under pytest-xdist with pytest-timeout, as ``make compat`` runs
FastAPI's and Starlette's suites: what passes, fails, is skipped, deselected (a non-asyncio
anyio backend), fails to import, or hangs must land in the right column of the report, and a
hang must never stop the run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"
sys.path.insert(0, str(SCRIPTS))

from compat_report import build_suite_report, render_suite  # noqa: E402
from compat_results import load_results, status_of  # noqa: E402
from compat_run import pytest_passes, uses_xdist_groups  # noqa: E402

SUITE = {
    "tests/test_a.py": """
        import threading
        import time

        import pytest


        def test_pass():
            pass


        def test_fail():
            assert 1 == 2


        @pytest.mark.skip(reason="not here")
        def test_skipped():
            pass


        @pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
        def test_backends(anyio_backend):
            assert anyio_backend == "asyncio"  # the trio id is deselected, never run


        @pytest.mark.xdist_group("cwd")
        def test_grouped_one():
            pass


        @pytest.mark.xdist_group("cwd")
        def test_grouped_two():
            pass


        def test_swallows_the_timeout():
            event = threading.Event()
            try:
                event.wait()  # pytest-timeout interrupts this wait...
            finally:
                event.wait()  # ...and this one only the hang watchdog ends
    """,
    "tests/test_b.py": """
        import time


        def test_unkillable():
            while True:  # swallows every interruption: its worker must be ended
                try:
                    time.sleep(0.05)
                except BaseException:
                    pass


        def test_after_the_crash():
            pass
    """,
    "tests/test_broken.py": """
        import pytest
        import no_such_module_for_the_harness


        def test_never():
            pass


        @pytest.mark.parametrize("x", [1, 2, 3])
        def test_never_parametrised(x):
            pass
    """,
    "tests/test_out_of_scope.py": """
        def test_one():
            pass


        def test_two():
            pass
    """,
}


def _write_suite(root: Path) -> None:
    for name, source in SUITE.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    (root / "pytest.ini").write_text("[pytest]\n")


def _run(root: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    environment.update(PYTHONPATH=str(SCRIPTS), COMPAT_RESULTS=str(root / "out" / "results.jsonl"))
    environment["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # only the plugins named below: faster
    environment.update(env)
    (root / "out").mkdir(exist_ok=True)
    command = [sys.executable, "-m", "pytest", "-p", "compat_plugin", "-p", "no:cacheprovider"]
    command += ["-p", "xdist.plugin", "-p", "pytest_timeout"]
    return subprocess.run(
        [*command, *args],
        cwd=root,
        env=environment,
        capture_output=True,
        text=True,
        timeout=180,
    )


def _failures(report: dict[str, Any]) -> dict[str, str]:
    return {f["nodeid"]: f["message"] for m in report["modules"] for f in m["failures"]}


def test_outcomes_deselection_hangs_and_import_errors_are_counted(tmp_path: Path) -> None:
    _write_suite(tmp_path)
    assert uses_xdist_groups(tmp_path, ["tests"])
    passes = pytest_passes(2, grouped=True)
    assert [p[p.index("-m") + 1] for p in passes] == ["not xdist_group", "xdist_group"]
    codes = []
    for extra in passes:  # as compat_run does: the grouped tests alone, on one worker
        result = _run(
            tmp_path,
            "tests",
            *extra,
            "--timeout=1",
            "--continue-on-collection-errors",
            "--ignore=tests/test_out_of_scope.py",
            COMPAT_HANG_SECONDS="2",
            COMPAT_HANG_GRACE="2",
        )
        codes.append(result.returncode)
    assert codes == [1, 1], result.stdout + result.stderr  # failures (and the import error)

    outcomes = load_results(tmp_path / "out")
    assert outcomes["deselected"] == {"tests/test_a.py::test_backends[trio]": "trio"}
    report = build_suite_report(
        "toy", "1.0", tmp_path, outcomes, {"tests/test_out_of_scope.py": "not ours"}
    )
    modules = {m["module"]: m for m in report["modules"]}
    a, b = modules["tests/test_a.py"], modules["tests/test_b.py"]
    broken = modules["tests/test_broken.py"]
    assert (a["passed"], a["total"], a["skipped"]) == (4, 6, 1)
    grouped = {n: status_of(p) for n, p in outcomes["phases"].items() if "grouped" in n}
    assert grouped == {
        "tests/test_a.py::test_grouped_one": "passed",
        "tests/test_a.py::test_grouped_two": "passed",
    }
    assert (b["passed"], b["total"]) == (1, 2)
    assert (broken["passed"], broken["total"], broken["estimated"]) == (0, 4, 4)
    assert "no_such_module_for_the_harness" in broken["import_error"]
    assert report["totals"] == {
        "passed": 5,
        "total": 12,
        "failed": 7,
        "rate": 0.4167,
        "skipped": 1,
        "estimated": 4,
    }
    assert report["deselected"] == {"trio": 1}
    assert report["out_of_scope"] == [
        {"path": "tests/test_out_of_scope.py", "reason": "not ours", "tests": 2}
    ]

    failures = _failures(report)
    assert set(failures) == {
        "tests/test_a.py::test_fail",
        "tests/test_a.py::test_swallows_the_timeout",
        "tests/test_b.py::test_unkillable",
    }
    assert "assert 1 == 2" in failures["tests/test_a.py::test_fail"]
    assert (
        "hung: still running past the timeout"
        in failures["tests/test_a.py::test_swallows_the_timeout"]
    )
    assert "crashed" in failures["tests/test_b.py::test_unkillable"]

    markdown = render_suite(report, all_modules=False, target=0.98)
    assert "## toy 1.0: 5/12 (41.7%)" in markdown
    assert "**7 more passing tests needed for the 98% target** (41.7% now)." in markdown
    assert "1 test ids on the trio backend not run (trio is out of scope)" in markdown
    assert "| tests/test_broken.py | 0/4 (0.0%) | 0 | import failed (4 est.)" in markdown
    assert "`tests/test_out_of_scope.py` not run, ~2 tests: not ours" in markdown


@pytest.mark.parametrize("early", [False, True])
def test_guard_aborts_when_a_real_package_is_imported(tmp_path: Path, early: bool) -> None:
    real = tmp_path / "starlette"
    real.mkdir()
    (real / "__init__.py").write_text("")
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_real.py").write_text("import starlette\n\n\ndef test_x():\n    pass\n")
    # early: the aliases are installed after the real package was imported, which sets it aside
    plugin = ["-p", "compat_plugin_early"] if early else []
    (tmp_path / "compat_plugin_early.py").write_text(
        "import starlette\nfrom aster import compat\n\ncompat.install()\n"
    )
    guard = str(ROOT / "aster")
    result = _run(tmp_path, *plugin, "test_real.py", COMPAT_GUARD=guard)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "the real package was imported" in result.stdout + result.stderr
    outcomes = load_results(tmp_path / "out")
    assert outcomes["violations"]
    if early:
        assert "imported before aster.compat was installed" in outcomes["violations"][0]
    else:
        assert f"starlette was loaded from {real / '__init__.py'}" in outcomes["violations"][0]


def test_guard_passes_aster_modules_under_the_aliases(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_alias.py").write_text(
        "import starlette.responses\n\n\ndef test_x():\n    assert starlette.responses\n"
    )
    result = _run(
        tmp_path,
        "-p",
        "aster._pytest_compat",
        "test_alias.py",
        COMPAT_GUARD=str(ROOT / "aster"),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert load_results(tmp_path / "out")["violations"] == []
