import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# Pydantic loads the plugins of whatever is installed (logfire's, which the compat extra
# brings, imports OpenTelemetry): aster's own tests, and the processes they start, load none.
os.environ["PYDANTIC_DISABLE_PLUGINS"] = "__all__"

import pytest

from tests.h2_support import ENGINE, H2_ENGINES, EngineUnderTest
from tests.ws_support import WS_IMPLS, Impl


@pytest.fixture(scope="module", params=WS_IMPLS)
def ws_impl(request: pytest.FixtureRequest) -> str:
    """The ``--ws`` implementation under test; a module that uses it (``pytestmark``) runs
    every test against each one."""
    Impl.name = request.param
    return str(request.param)


@pytest.fixture(scope="module", params=(ENGINE,) if ENGINE else H2_ENGINES)
def h2_engine(request: pytest.FixtureRequest) -> str:
    """The ``--http2-engine`` under test (both engines aster ships, or the spike's
    ``ASTER_H2_ENGINE``); a module that uses it runs every test against each one."""
    EngineUnderTest.name = request.param
    return str(request.param)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """``async def`` tests run in a fresh asyncio event loop (no plugin needed)."""
    import asyncio
    import inspect

    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    asyncio.run(pyfuncitem.obj(**{name: pyfuncitem.funcargs[name] for name in names}))
    return True


@pytest.fixture(scope="session")
def postgres():  # type: ignore[no-untyped-def]
    """A throwaway PostgreSQL cluster (Debian's package, run as ``postgres`` under root),
    with the seeds' ``user``/``password``/``mydb`` and ``mytable``; deleted afterwards."""
    from bench.postgres import Cluster

    with Cluster() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def redis_server():  # type: ignore[no-untyped-def]
    """A throwaway ``redis-server`` (Debian's package) on a free port, no persistence."""
    from bench.redis_server import RedisServer

    with RedisServer() as server:
        yield server
