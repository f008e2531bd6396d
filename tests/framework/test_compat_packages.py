"""aster.compat's alias packages look like the real ones: paths, names, messages, warnings."""

from __future__ import annotations

import importlib
import importlib.util
import os
import pkgutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import aster
import aster.exceptions
from aster import compat

ASTER_DIR = str(Path(aster.__file__).resolve().parent)


@pytest.fixture(autouse=True)
def clean_aliases() -> Iterator[None]:
    compat.uninstall()
    saved_path = list(sys.path)
    yield
    compat.uninstall()
    sys.path[:] = saved_path


@pytest.mark.parametrize("name", ["fastapi", "starlette"])
def test_alias_package_path_and_file_are_asters(name: str) -> None:
    compat.install()
    package = importlib.import_module(name)

    assert package.__path__ == [ASTER_DIR]
    assert package.__path__[0] == ASTER_DIR  # what blockbuster's BlockBuster(name) reads
    assert package.__file__ == aster.__file__
    spec = importlib.util.find_spec(name)
    assert spec is not None
    assert spec.submodule_search_locations == [ASTER_DIR]
    assert spec.origin == aster.__file__


def test_iter_modules_lists_asters_files_never_a_real_package(tmp_path: Path) -> None:
    real = tmp_path / "starlette"
    real.mkdir()
    (real / "__init__.py").write_text("REAL = True\n")
    (real / "only_in_real.py").write_text("X = 1\n")
    sys.path.insert(0, str(tmp_path))
    compat.install()
    import starlette

    names = {module.name for module in pkgutil.iter_modules(starlette.__path__)}
    assert names == {module.name for module in pkgutil.iter_modules(aster.__path__)}
    assert {"responses", "routing", "compat"} <= names
    assert "only_in_real" not in names
    walked = {m.name for m in pkgutil.walk_packages(starlette.__path__, "starlette.")}
    assert "starlette.middleware.cors" in walked
    assert "starlette.only_in_real" not in walked
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("starlette.only_in_real")
    assert not hasattr(starlette, "REAL")
    # a submodule found through the alias is aster's very module object
    assert importlib.import_module("starlette.middleware.cors").__file__.startswith(ASTER_DIR)


def test_http_and_websocket_exception_reprs_use_the_public_class_names() -> None:
    compat.install()
    import fastapi
    import starlette.exceptions

    assert repr(starlette.exceptions.HTTPException(404)) == (
        "HTTPException(status_code=404, detail='Not Found')"
    )
    assert repr(fastapi.HTTPException(status_code=418, detail="teapot")) == (
        "HTTPException(status_code=418, detail='teapot')"
    )
    assert repr(starlette.exceptions.WebSocketException(1008, reason="Policy Violation")) == (
        "WebSocketException(code=1008, reason='Policy Violation')"
    )
    assert repr(fastapi.WebSocketException(1013)) == "WebSocketException(code=1013, reason='')"

    class CustomHTTPException(starlette.exceptions.HTTPException):
        pass

    assert repr(CustomHTTPException(500, detail="x")) == (
        "CustomHTTPException(status_code=500, detail='x')"
    )
    # FastAPI's class is still a subclass of Starlette's, as in FastAPI
    assert issubclass(fastapi.HTTPException, starlette.exceptions.HTTPException)
    assert fastapi.HTTPException is not starlette.exceptions.HTTPException
    assert starlette.exceptions.HTTPException is aster.exceptions.StarletteHTTPException
    assert starlette.exceptions.HTTPException.__qualname__ == "HTTPException"
    # the class is reachable where its __module__ says it lives (pickle, tracebacks)
    cls = starlette.exceptions.HTTPException
    assert getattr(importlib.import_module(cls.__module__), cls.__qualname__) is cls


def test_missing_attribute_messages_name_the_public_module() -> None:
    compat.install()
    import fastapi
    import starlette
    import starlette.status

    with pytest.raises(
        AttributeError,
        match=r"^module 'starlette.status' has no attribute 'HTTP_999_UNKNOWN_STATUS_CODE'$",
    ):
        starlette.status.HTTP_999_UNKNOWN_STATUS_CODE  # noqa: B018
    with pytest.raises(AttributeError, match=r"^module 'fastapi' has no attribute 'nope'$"):
        fastapi.nope  # noqa: B018
    with pytest.raises(AttributeError, match=r"^module 'starlette' has no attribute 'nope'$"):
        starlette.nope  # noqa: B018
    with pytest.raises(AttributeError, match=r"^module 'starlette' has no attribute '__x__'$"):
        starlette.__x__  # noqa: B018


def test_starlette_deprecation_warning_is_a_visible_warning_class() -> None:
    compat.install()
    import starlette.exceptions
    import starlette.status

    category = starlette.exceptions.StarletteDeprecationWarning
    assert category is aster.exceptions.StarletteDeprecationWarning
    assert issubclass(category, UserWarning)  # shown by default, as Starlette's
    with pytest.warns(category, match="'HTTP_413_REQUEST_ENTITY_TOO_LARGE' is deprecated"):
        assert starlette.status.HTTP_413_REQUEST_ENTITY_TOO_LARGE == 413


def test_starlette_responses_has_the_json_module_code_patches() -> None:
    compat.install()
    import json

    import starlette.responses

    assert starlette.responses.json is json  # e.g. patch("starlette.responses.json.dumps")


def test_set_aside_reports_real_modules_imported_before_install() -> None:
    sys.modules["starlette"] = real = type(sys)("starlette")
    try:
        compat.install()
        assert compat.set_aside() == ["starlette"]
    finally:
        compat.uninstall()
        assert sys.modules.pop("starlette") is real
    compat.install()
    assert compat.set_aside() == []


_DEPRECATED = "'HTTP_413_REQUEST_ENTITY_TOO_LARGE' is deprecated"
_SUITE_CONFIG = f"""
[pytest]
filterwarnings =
    error
    ignore:{_DEPRECATED}:starlette.exceptions.StarletteDeprecationWarning
"""

_SUITE_TEST = """
import starlette.status


def test_deprecated_name_is_ignored_by_the_configured_filter():
    assert starlette.status.HTTP_413_REQUEST_ENTITY_TOO_LARGE == 413
"""


def test_pytest_plugin_makes_configured_warning_filters_name_asters_classes(
    tmp_path: Path,
) -> None:
    """pytest parses (and caches) filterwarnings before it imports ``-p`` plugins; with a real
    Starlette in the working directory the filter named the real class and the test failed."""
    real = tmp_path / "starlette"
    real.mkdir()
    (real / "__init__.py").write_text("")
    (real / "exceptions.py").write_text("class StarletteDeprecationWarning(UserWarning): ...\n")
    (tmp_path / "pytest.ini").write_text(textwrap.dedent(_SUITE_CONFIG))
    (tmp_path / "test_suite.py").write_text(textwrap.dedent(_SUITE_TEST))
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "aster._pytest_compat", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
