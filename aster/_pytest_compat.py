"""pytest plugin that activates :mod:`aster.compat` before any test module is imported.

Use it as ``pytest -p aster._pytest_compat``: plugins named with ``-p`` are imported while
pytest parses its arguments, before conftest files and test modules are collected, so every
``import fastapi…``/``import starlette…`` in the suite resolves to aster.

pytest parses the ``filterwarnings`` settings (which may name a class such as
``starlette.exceptions.StarletteDeprecationWarning``) just before it imports a plugin, and
caches each parsed filter. A real Starlette importable at that moment was imported then (the
aliases set it aside), so the cache is cleared: from here on, filters resolve to aster's
classes. To keep the real package from being imported at all, activate the aliases before
pytest starts (``scripts/compat_site/sitecustomize.py`` does, for ``make compat``).
"""

from __future__ import annotations

from aster import compat

compat.install()

try:
    from _pytest.config import parse_warning_filter
except ImportError:  # pragma: no cover - a pytest without it parses filters elsewhere
    pass
else:
    cache_clear = getattr(parse_warning_filter, "cache_clear", None)
    if cache_clear is not None:
        cache_clear()
