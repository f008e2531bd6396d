"""Which app to serve: ``fastapi dev``/``fastapi run``'s discovery, and uvicorn's import strings.

``aster run main:app`` names the app as uvicorn does.  Everything else follows the
``fastapi`` command (fastapi-cli):

* a path to a file or a package directory (``aster run app/main.py``, ``aster dev app``)
  is turned into a module name by walking up the directories that have an
  ``__init__.py``: ``app/main.py`` in a package ``app`` is ``app.main``, imported with
  the directory above the package first on ``sys.path``;
* no path at all tries ``main.py``, ``app.py``, ``api.py``, ``app/main.py``,
  ``app/app.py``, ``app/api.py``, unless ``pyproject.toml`` names an entrypoint
  (``[tool.fastapi] entrypoint = "pkg.main:app"``) or ``--entrypoint`` does;
* in the module, ``--app NAME`` picks the app; otherwise an app named ``app``, then
  ``api``, then the first one found in alphabetical order.

"An app" is first a FastAPI application, then a Starlette one (fastapi-cli accepts
only FastAPI's), recognised by the class names in its MRO.  Names, not imports: the
server imports nothing of a framework, aster's own included, and it recognises the
real ``fastapi.FastAPI`` just as well.  As a last resort, any callable named ``app``
or ``api`` is taken (a bare ASGI function, an app wrapped in middleware): aster
serves any ASGI app.
"""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from .config import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

DEFAULT_PATHS = ("main.py", "app.py", "api.py", "app/main.py", "app/app.py", "app/api.py")
PREFERRED_NAMES = ("app", "api")
#: Application classes by ``module.qualname``, the most wanted kind first.
APP_CLASSES = (
    ("FastAPI", frozenset({"fastapi.applications.FastAPI", "aster.applications.FastAPI"})),
    (
        "Starlette",
        frozenset({"starlette.applications.Starlette", "aster._starlette_applications.Starlette"}),
    ),
)


@dataclass
class Target:
    """The app to serve, as an import string, and where its import starts."""

    import_string: str
    #: Put first on ``sys.path`` before importing (None: leave ``sys.path`` alone).
    app_dir: str | None
    #: How the module was chosen: "import string", "path argument", "auto-discovery",
    #: "--entrypoint" or "pyproject.toml".
    module_source: str
    #: How the attribute was chosen: the same, or "--app".
    name_source: str
    #: The file or package directories walked to build the module name.
    module_paths: list[Path] = field(default_factory=list)

    @property
    def discovered(self) -> bool:
        """No path, option or pyproject.toml named the module: worth pinning (fastapi-cli)."""
        return self.module_source == "auto-discovery"

    def describe(self, *, verbose: bool) -> list[str]:
        """The log lines that say what is served, and (verbose) how it was found."""
        lines = []
        if verbose:
            if self.module_paths:
                shown = " -> ".join(path.name for path in self.module_paths)
                lines.append(f"Module found from its package structure: {shown}")
            if self.app_dir is not None:
                lines.append(f"Importing from {self.app_dir}")
            if self.module_source == self.name_source:
                lines.append(f"Import string from: {self.module_source}")
            else:
                lines.append(
                    f"Module from: {self.module_source}; app name from: {self.name_source}"
                )
        note = " (auto-discovered)" if self.discovered and not verbose else ""
        lines.append(f"Using import string {self.import_string}{note}")
        if self.discovered:
            lines.append(
                "To pin it, add to pyproject.toml: [tool.fastapi] "
                f'entrypoint = "{self.import_string}"'
            )
        return lines


def is_import_string(target: str | None) -> bool:
    """``module:attribute`` rather than a path (a path that exists is always a path)."""
    return target is not None and ":" in target and not os.path.exists(target)


def resolve(
    target: str | None,
    *,
    app_name: str | None = None,
    entrypoint: str | None = None,
    app_dir: str | None = ".",
    cwd: Path | None = None,
) -> Target:
    """Turn the command line's app arguments into a :class:`Target`; ConfigError if none.

    A path, ``--app`` or no argument imports the module now, to look for the app in it
    (as fastapi-cli does), so an error in the module surfaces here with its traceback.
    """
    here = Path.cwd() if cwd is None else cwd
    if entrypoint is not None and (target is not None or app_name is not None):
        raise ConfigError("--entrypoint cannot be used together with a path or --app")
    if target is not None and not os.path.exists(target):
        if ":" not in target and (target.endswith(".py") or os.sep in target):
            raise ConfigError(f'the path "{target}" does not exist')
        if ":" not in target:
            raise ConfigError(
                f'"{target}" is not a file or directory, and as an import string it '
                'must be in the format "<module>:<attribute>"'
            )
        if app_name is not None:
            raise ConfigError(
                f'--app cannot be used with the import string "{target}", which names the app'
            )
        return Target(target, app_dir, "import string", "import string")
    if target is None and app_name is None:
        source = "--entrypoint"
        if entrypoint is None:
            entrypoint, source = _pyproject_entrypoint(here), "pyproject.toml"
        if entrypoint is not None:
            module, sep, attribute = entrypoint.partition(":")
            if not sep or not module or not attribute:
                raise ConfigError(
                    f'the entrypoint "{entrypoint}" from {source} must be in the format '
                    '"<module>:<attribute>"'
                )
            # Imported from the current directory, as fastapi-cli does (or from --app-dir).
            root = here if app_dir is None else here / app_dir
            return Target(entrypoint, str(root.resolve()), source, source)
    if target is None:
        path, module_source = _default_path(here), "auto-discovery"
    else:
        path, module_source = Path(target), "path argument"
    module_name, sys_path, module_paths = module_name_for(path)
    module = _import(module_name, sys_path)
    name = find_app_name(module, module_name, app_name)
    return Target(
        f"{module_name}:{name}",
        str(sys_path),
        module_source,
        "--app" if app_name is not None else "auto-discovery",
        module_paths,
    )


def _default_path(here: Path) -> Path:
    for candidate in DEFAULT_PATHS:
        path = here / candidate
        if path.is_file():
            return path
    raise ConfigError(
        "no app given, and none of " + ", ".join(DEFAULT_PATHS) + " exists here; "
        "name a file or package (aster run path/to/main.py) or an import string (module:app)"
    )


def _pyproject_entrypoint(here: Path) -> str | None:
    """``[tool.fastapi] entrypoint`` from ./pyproject.toml, which fastapi-cli reads too."""
    pyproject = here / "pyproject.toml"
    if not pyproject.is_file():
        return None
    try:
        with pyproject.open("rb") as file:
            data = tomllib.load(file)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"could not read {pyproject}: {exc}") from None
    settings = data.get("tool", {}).get("fastapi", {})
    if not isinstance(settings, dict) or "entrypoint" not in settings:
        return None
    entrypoint = settings["entrypoint"]
    if not isinstance(entrypoint, str):
        raise ConfigError(
            f"invalid configuration in {pyproject}: tool.fastapi.entrypoint must be a string"
        )
    return entrypoint


def module_name_for(path: Path) -> tuple[str, Path, list[Path]]:
    """``(module name, directory for sys.path, the package dirs and file)`` for ``path``.

    ``pkg/sub/main.py`` with ``__init__.py`` in ``pkg`` and ``sub`` is ``pkg.sub.main``,
    imported from the directory that holds ``pkg``; a package's ``__init__.py`` stands
    for the package itself.
    """
    module_path = path.resolve()
    if module_path.is_file() and module_path.stem == "__init__":
        module_path = module_path.parent
    module_paths = [module_path]
    sys_path = module_path.parent
    for parent in module_path.parents:
        if not (parent / "__init__.py").is_file():
            break
        module_paths.insert(0, parent)
        sys_path = parent.parent
    name = ".".join(part.stem for part in module_paths)
    return name, sys_path.resolve(), module_paths


def _import(module_name: str, sys_path: Path) -> ModuleType:
    if str(sys_path) not in sys.path[:1]:
        sys.path.insert(0, str(sys_path))
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is None or not (
            module_name == exc.name or module_name.startswith(exc.name + ".")
        ):
            raise  # something the module imports is missing: keep the traceback
        raise ConfigError(
            f'could not import module "{module_name}" from {sys_path}; '
            "does every package directory on the way have an __init__.py?"
        ) from None


def find_app_name(module: ModuleType, module_name: str, app_name: str | None) -> str:
    """The attribute of ``module`` to serve: ``app_name``, or found as fastapi-cli finds it."""
    names = dir(module)
    if app_name is not None:
        if app_name not in names:
            raise ConfigError(f'could not find the app "{app_name}" in module "{module_name}"')
        app = getattr(module, app_name)
        if not callable(app):
            raise ConfigError(
                f'"{app_name}" in module "{module_name}" is not an ASGI app '
                f"(got {type(app).__name__})"
            )
        return app_name
    for _, classes in APP_CLASSES:
        for name in PREFERRED_NAMES:
            if name in names and _instance_of(getattr(module, name), classes):
                return name
        for name in names:
            if _instance_of(getattr(module, name), classes):
                return name
    for name in PREFERRED_NAMES:
        if name in names and callable(getattr(module, name)):
            return name
    kinds = " or ".join(kind for kind, _ in APP_CLASSES)
    raise ConfigError(
        f'could not find an app in module "{module_name}": no {kinds} instance, '
        "and nothing callable named app or api; name it with --app"
    )


def _instance_of(value: Any, classes: frozenset[str]) -> bool:
    if isinstance(value, type):
        return False
    return any(f"{cls.__module__}.{cls.__qualname__}" in classes for cls in type(value).__mro__)
