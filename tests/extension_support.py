"""Third-party FastAPI/Starlette extensions for the tests, installed next to the repository.

``tests/extensions/requirements.txt`` pins them (and their own requirements, fastapi and
starlette excepted: those are aster, through ``aster.compat``).  They go to
``.extensions/`` with ``pip install --no-deps --target``, so the test venv stays free of
them and of a real FastAPI.  ``make test`` installs them (``python -m
tests.extension_support``); a test that needs them calls :func:`ensure_extensions`,
which installs them if ``make`` did not.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "tests" / "extensions" / "requirements.txt"
TARGET = ROOT / ".extensions"


def _stamp() -> Path:
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:16]
    return TARGET / f".installed-{digest}"


def ensure_extensions() -> Path:
    """The directory holding the pinned extensions (installed on first use)."""
    stamp = _stamp()
    if stamp.exists():
        return TARGET
    lock_path = ROOT / ".extensions.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # pytest-xdist workers may ask at once
        if not stamp.exists():
            shutil.rmtree(TARGET, ignore_errors=True)
            command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps"]
            command += ["--target", str(TARGET), "-r", str(REQUIREMENTS)]
            subprocess.run(command, check=True, timeout=600)
            stamp.touch()
    return TARGET


if __name__ == "__main__":
    print(ensure_extensions())
