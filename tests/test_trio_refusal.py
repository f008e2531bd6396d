"""trio is out of scope: every place that could ask for it refuses with the same advice.

aster is asyncio native (uvloop by default).  The server's ``--loop trio`` and
``aster.run(loop="trio")``, the TestClient's ``backend="trio"`` (what Starlette-style test
suites pass from their ``anyio_backend`` parameter), and an app called from an event loop
that is not asyncio's each end with an error that names what to use instead: asyncio or
uvloop, or hypercorn's trio worker with a framework that supports trio.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from aster import FastAPI
from aster.applications import Starlette
from aster.server.config import Config, ConfigError
from aster.testclient import TestClient
from tests.support import ROOT

ADVICE = (
    "aster is asyncio native (uvloop by default) and does not run on trio: run the app "
    "on asyncio or uvloop (aster run, uvicorn, or hypercorn's asyncio/uvloop workers); "
    "for trio, use hypercorn --worker-class trio with a framework that supports it"
)
SERVER_REFUSAL = (
    "--loop trio: aster is asyncio native and does not run on trio; use --loop auto "
    "(uvloop when installed), uvloop or asyncio, or serve a trio app with hypercorn "
    "(hypercorn --worker-class trio)"
)


def python(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_loop_trio_on_the_command_line() -> None:
    result = python("-m", "aster", "run", "tests.apps.life_app:app", "--loop", "trio")
    assert result.returncode == 1
    assert (result.stdout + result.stderr).splitlines() == [f"ERROR     {SERVER_REFUSAL}"]


def test_loop_trio_in_aster_run() -> None:
    result = python("-c", "import aster; aster.run('tests.apps.life_app:app', loop='trio')")
    assert result.returncode == 1
    assert (result.stdout + result.stderr).splitlines() == [f"ERROR     {SERVER_REFUSAL}"]


def test_loop_trio_in_config() -> None:
    with pytest.raises(ConfigError) as raised:
        Config("tests.apps.life_app:app", loop="trio")
    assert str(raised.value) == SERVER_REFUSAL


def test_the_help_lists_only_the_loops_there_are() -> None:
    result = python("-m", "aster", "run", "--help")
    assert "--loop {auto,uvloop,asyncio}" in result.stdout
    assert "trio" not in result.stdout


def test_testclient_backend_trio() -> None:
    with pytest.raises(NotImplementedError) as raised:
        TestClient(FastAPI(), backend="trio")
    assert str(raised.value) == (
        "TestClient(backend='trio'): the TestClient runs the app on asyncio "
        "(backend='asyncio', with backend_options={'use_uvloop': True} for uvloop). " + ADVICE
    )


@pytest.mark.parametrize("app_class", [FastAPI, Starlette])
def test_an_app_called_outside_asyncio(app_class: Any) -> None:
    # Driving the coroutine by hand is what a non-asyncio event loop (trio's) does.
    app = app_class()

    async def receive() -> Any:
        raise AssertionError("not reached")  # pragma: no cover

    async def send(message: Any) -> None:
        raise AssertionError("not reached")  # pragma: no cover

    call = app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
    with pytest.raises(RuntimeError) as raised:
        call.send(None)
    assert str(raised.value) == (
        f"The {app_class.__name__} app was called without a running asyncio event loop "
        "(from trio?): " + ADVICE
    )
    # Under asyncio the same app starts normally.
    with TestClient(app) as client:
        assert client.get("/nothing").status_code == 404
