"""Which file changes trigger a reload: ``*.py`` by default, plus --reload-include globs."""

from __future__ import annotations

import fnmatch
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from watchfiles import DefaultFilter, watch

logger = logging.getLogger("aster.error")


class ReloadFilter(DefaultFilter):
    """Watch Python files and the included globs; skip the excluded ones and VCS/venv noise."""

    def __init__(self, includes: list[str] | None, excludes: list[str] | None) -> None:
        super().__init__()
        self.includes = ["*.py", *(includes or [])]
        # Hidden files, bytecode, and editor swap/backup files.
        self.excludes = [".*", "*.py[cod]", "*.sw?", "*~", *(excludes or [])]

    def __call__(self, change: object, path: str) -> bool:
        if not super().__call__(change, path):  # type: ignore[arg-type]
            return False
        name = os.path.basename(path)
        if any(
            fnmatch.fnmatch(name, pattern) or fnmatch.fnmatch(path, pattern)
            for pattern in self.excludes
        ):
            return False
        return any(
            fnmatch.fnmatch(name, pattern) or fnmatch.fnmatch(path, pattern)
            for pattern in self.includes
        )


def watch_changes(
    dirs: list[str] | None,
    includes: list[str] | None,
    excludes: list[str] | None,
    stop: threading.Event,
) -> Iterator[list[Path]]:
    """Yield the changed paths each time something relevant changes, until ``stop`` is set."""
    roots = [os.path.abspath(d) for d in (dirs or [os.getcwd()])]
    for root in roots:
        logger.info("Will watch for changes in %s", root)
    watch_filter = ReloadFilter(includes, excludes)
    for changes in watch(*roots, watch_filter=watch_filter, stop_event=stop, yield_on_timeout=True):
        if changes:
            yield sorted({Path(path) for _, path in changes})
