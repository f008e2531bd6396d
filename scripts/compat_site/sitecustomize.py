"""Activate :mod:`aster.compat` when a Python process of a ``make compat`` run starts.

scripts/compat_run.py puts this directory first on ``PYTHONPATH`` for the pytest processes it
starts (the controller and every pytest-xdist worker), so ``fastapi``/``starlette`` resolve to
aster before pytest itself runs. ``-p aster._pytest_compat`` alone would be too late here:
pytest parses the suites' ``filterwarnings`` settings, which name
``starlette.exceptions.StarletteDeprecationWarning``, before it imports any plugin, and the
sdist's own ``starlette/`` or ``fastapi/`` directory sits in the working directory.
"""

from aster import compat

compat.install()
