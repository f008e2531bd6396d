#!/usr/bin/env python3
"""Record, from the real FastAPI, the expected answers of aster's request tables.

    /path/to/venv-with-fastapi/bin/python scripts/record_fastapi_expectations.py \
        tests/framework/test_app_params.py [more test modules...]

Run it with an interpreter that has fastapi 0.165.0 and starlette 1.10.0 (not
aster's venv).  Each module is imported with ``aster`` and ``aster.X`` resolving to
``fastapi.X`` (or ``starlette.X`` when fastapi has no such module), so the app it
defines is built by FastAPI itself.  Every request of its ``REQUESTS`` table goes
through FastAPI's TestClient, and the block between ``# BEGIN RECORDED`` and
``# END RECORDED`` is rewritten with ``EXPECTED = {id: (status, content-type, body)}``.

As a pytest plugin it runs aster's own tests on the real FastAPI, which shows which
tests state FastAPI's behaviour (they pass there; ``xfail`` bug tests XPASS there)::

    PYTHONPATH=scripts /path/to/venv-with-fastapi/bin/python -m pytest \
        -p record_fastapi_expectations -p no:cacheprovider tests/framework/test_app_params.py
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import re
import sys
import types
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return importlib.import_module(self.target)

    def exec_module(self, module: types.ModuleType) -> None:
        pass


class _AsterIsFastAPI(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != "aster" and not fullname.startswith("aster."):
            return None
        rest = fullname[len("aster") :]
        for top in ("fastapi", "starlette"):
            try:
                found = importlib.util.find_spec(top + rest)
            except ModuleNotFoundError:
                found = None
            if found is not None:
                return importlib.util.spec_from_loader(fullname, _AliasLoader(top + rest))
        return None


def _bytes(data: bytes, width: int = 64) -> str:
    """``data`` as a literal; long ones as implicitly concatenated pieces (short lines)."""
    if len(data) <= width:
        return repr(data)
    pieces = [repr(data[i : i + width]) for i in range(0, len(data), width)]
    return "(\n        " + "\n        ".join(pieces) + "\n    )"


def record(path: Path) -> None:
    from fastapi.testclient import TestClient

    relative = path.resolve().relative_to(ROOT).with_suffix("")
    module = importlib.import_module(".".join(relative.parts))
    lines = ["EXPECTED: dict[str, Expected] = {"]
    with TestClient(module.app, raise_server_exceptions=False) as client:
        for name, method, url, kwargs in module.REQUESTS:
            response = client.request(method, url, **kwargs)
            status, content_type = response.status_code, response.headers.get("content-type")
            lines.append(
                f"    {name!r}: ({status!r}, {content_type!r}, {_bytes(response.content)}),"
            )
    lines.append("}")
    source = path.read_text()
    block = re.compile(r"(# BEGIN RECORDED[^\n]*\n)(?:.*?\n)?(# END RECORDED)", re.S)
    assert block.search(source), f"{path}: no '# BEGIN RECORDED' ... '# END RECORDED' block"
    path.write_text(block.sub(lambda m: m.group(1) + "\n".join(lines) + "\n" + m.group(2), source))
    print(f"{path}: {len(module.REQUESTS)} requests recorded")


def _install() -> None:
    sys.path.insert(0, str(ROOT))
    if not any(isinstance(finder, _AsterIsFastAPI) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AsterIsFastAPI())


def pytest_configure(config: Any) -> None:
    """``-p record_fastapi_expectations``: ``aster`` imports resolve to fastapi/starlette."""
    _install()


def main() -> None:
    import fastapi

    assert fastapi.__version__ == "0.165.0", fastapi.__version__
    assert not hasattr(fastapi, "__aster_version__"), "run this with the real fastapi"
    _install()
    for name in sys.argv[1:]:
        record(Path(name))


if __name__ == "__main__":
    main()
