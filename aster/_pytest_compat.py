"""pytest plugin that activates :mod:`aster.compat` before any test module is imported.

Use it as ``pytest -p aster._pytest_compat``: plugins named with ``-p`` are imported while
pytest parses its arguments, before conftest files and test modules are collected, so every
``import fastapi…``/``import starlette…`` in the suite resolves to aster.
"""

from __future__ import annotations

from aster import compat

compat.install()
