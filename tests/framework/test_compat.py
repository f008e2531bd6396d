"""aster.compat: ``fastapi``/``starlette`` imports resolve to aster's modules."""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

import aster
import aster._compat
import aster.testclient
import aster.types
from aster import compat


@pytest.fixture(autouse=True)
def clean_aliases() -> Iterator[None]:
    """Each test starts and ends without aliases, whatever it did."""
    compat.uninstall()
    saved_path = list(sys.path)
    yield
    compat.uninstall()
    sys.path[:] = saved_path


def test_submodules_are_the_same_objects() -> None:
    compat.install()
    import fastapi.testclient
    import fastapi.types
    import starlette.testclient
    import starlette.types

    assert fastapi.testclient is aster.testclient
    assert starlette.testclient is aster.testclient
    assert fastapi.types is aster.types is starlette.types
    assert sys.modules["fastapi.testclient"] is aster.testclient
    from fastapi.testclient import TestClient

    assert TestClient is aster.testclient.TestClient


def test_from_import_forms() -> None:
    compat.install()
    from starlette import testclient
    from starlette.types import ASGIApp

    assert testclient is aster.testclient
    assert ASGIApp is aster.types.ASGIApp
    module = importlib.import_module("fastapi.testclient")
    assert module is aster.testclient


def test_top_level_alias_forwards_to_aster_and_reports_the_api_version() -> None:
    compat.install()
    import fastapi
    import starlette

    assert fastapi.__version__ == "0.165.0"
    assert starlette.__version__ == "1.10.0"
    assert fastapi.__aster_version__ == aster.__version__  # type: ignore[attr-defined]
    assert aster.__version__ != "0.165.0"
    assert fastapi.run is aster.run
    assert "run" in dir(fastapi)
    assert fastapi.__all__ == aster.__all__
    with pytest.raises(AttributeError):
        fastapi.no_such_name  # noqa: B018


def test_explicit_table_for_fastapi_compat() -> None:
    compat.install()
    import fastapi._compat
    from fastapi._compat import PYDANTIC_V2, PYDANTIC_VERSION_MINOR_TUPLE, Undefined
    from fastapi._compat.shared import is_bytes_sequence_annotation

    assert fastapi._compat is aster._compat
    assert PYDANTIC_V2 is True
    assert PYDANTIC_VERSION_MINOR_TUPLE >= (2, 7)
    assert Undefined is aster._compat.Undefined
    assert is_bytes_sequence_annotation(list[str] | list[bytes])
    assert not is_bytes_sequence_annotation(list[str])
    assert compat.target_for("fastapi._compat") == "aster._compat"
    assert compat.target_for("starlette.responses") == "aster._starlette_responses"
    assert compat.target_for("fastapi.responses") == "aster.responses"
    assert compat.target_for("fastapi") == "aster"
    assert compat.target_for("pydantic") is None


def test_aster_module_spec_is_preserved() -> None:
    compat.install()
    import fastapi.testclient  # noqa: F401

    assert aster.testclient.__spec__ is not None
    assert aster.testclient.__spec__.name == "aster.testclient"
    assert aster.testclient.__name__ == "aster.testclient"


def test_missing_modules_fail_even_with_a_real_fastapi_on_the_path(tmp_path: Path) -> None:
    fake = tmp_path / "fastapi"
    fake.mkdir()
    (fake / "__init__.py").write_text("REAL = True\n")
    (fake / "only_in_real.py").write_text("X = 1\n")
    sys.path.insert(0, str(tmp_path))
    compat.install()
    import fastapi

    assert not hasattr(fastapi, "REAL")
    with pytest.raises(ModuleNotFoundError):
        import fastapi.only_in_real
    with pytest.raises(ModuleNotFoundError):
        import starlette.no_such_module  # noqa: F401


def test_install_is_idempotent_and_stays_first() -> None:
    compat.install()
    compat.install()
    finders = [f for f in sys.meta_path if isinstance(f, compat.AsterAliasFinder)]
    assert len(finders) == 1
    assert sys.meta_path[0] is finders[0]
    intruder = importlib.machinery.PathFinder
    sys.meta_path.insert(0, intruder)  # type: ignore[arg-type]
    try:
        compat.install()
        assert sys.meta_path[0] is finders[0]
    finally:
        sys.meta_path.remove(intruder)  # type: ignore[arg-type]
    assert compat.installed()


def test_previously_imported_real_modules_are_set_aside_and_restored() -> None:
    real = types.ModuleType("starlette")
    real_sub = types.ModuleType("starlette.responses")
    sys.modules["starlette"] = real
    sys.modules["starlette.responses"] = real_sub
    try:
        compat.install()
        import starlette

        assert starlette is not real
        assert starlette.__version__ == "1.10.0"
        compat.uninstall()
        assert sys.modules["starlette"] is real
        assert sys.modules["starlette.responses"] is real_sub
    finally:
        sys.modules.pop("starlette", None)
        sys.modules.pop("starlette.responses", None)


def test_uninstall_removes_the_aliases() -> None:
    compat.install()
    import fastapi.testclient  # noqa: F401

    compat.uninstall()
    assert not compat.installed()
    leftovers = [
        name
        for name, module in sys.modules.items()
        if name.split(".")[0] in ("fastapi", "starlette")
        and (isinstance(module, compat._AliasPackage) or module.__name__.startswith("aster"))
    ]
    assert leftovers == []
    assert not any(isinstance(f, compat.AsterAliasFinder) for f in sys.meta_path)
    assert sys.modules["aster.testclient"] is aster.testclient  # aster itself stays
    compat.uninstall()  # a second call is harmless
