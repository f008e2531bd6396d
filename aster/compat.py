"""Make ``import fastapi…`` and ``import starlette…`` resolve to aster's own modules.

``install()`` puts a finder first on ``sys.meta_path``. From then on:

* ``fastapi.X.Y`` and ``starlette.X.Y`` are *the same module objects* as ``aster.X.Y`` (so
  ``fastapi.testclient is aster.testclient is starlette.testclient``), except for the
  paths listed in :data:`EXPLICIT`: where Starlette's module differs from FastAPI's
  (``starlette.routing``, ``starlette.responses``...), it has its own aster module.
* ``fastapi`` and ``starlette`` themselves are small alias modules, not ``aster``: every
  attribute is looked up on ``aster`` (``fastapi.FastAPI is aster.FastAPI``), but
  ``__version__`` is the version of the *API aster speaks* (``fastapi.__version__ ==
  "0.165.0"``, ``starlette.__version__ == "1.10.0"``), because third-party code gates features
  on those numbers. ``aster.__version__`` is untouched; the alias modules also carry it as
  ``__aster_version__``. Attributes *set* on an alias module stay on the alias.
* ``importlib.metadata`` finds a ``fastapi`` and a ``starlette`` distribution of those
  versions (instrumentations such as opentelemetry-instrumentation-fastapi check it before
  they patch anything).
* If aster has no module for a name, the import fails with ``ModuleNotFoundError``: a real
  FastAPI or Starlette that happens to be installed is never mixed in. Modules of a real
  FastAPI/Starlette that were already imported are set aside by ``install()`` and put back by
  ``uninstall()``.

The finder is first on ``sys.meta_path`` so that it wins over an installed fastapi/starlette and
over a ``fastapi/`` directory on ``sys.path`` (FastAPI's sdist has one at its root, where its
test suite runs). ``install()`` is idempotent.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.metadata
import importlib.util
import pathlib
import sys
import types
from collections.abc import Sequence
from typing import Any

__all__ = [
    "ALIASES",
    "EXPLICIT",
    "SHARED",
    "install",
    "installed",
    "set_aside",
    "target_for",
    "uninstall",
]

#: The top-level packages that are aliased, with the version of their API aster provides.
ALIASES: dict[str, str] = {"fastapi": "0.165.0", "starlette": "1.10.0"}

#: Module paths whose aster counterpart is not simply ``aster.<rest of the path>``.
#:
#: ``aster.<path>`` mirrors ``fastapi.<path>``.  Where Starlette's module of the same path
#: differs from FastAPI's (other behaviour under a shared name, or FastAPI's additions),
#: ``starlette.<path>`` has its own aster module, ``aster._starlette_<path>``, which has
#: Starlette's names and loads nothing of FastAPI's layer.  The other modules both
#: packages have hold the same objects in both (FastAPI re-exports Starlette's), so both
#: names share one aster module; see :data:`SHARED`.
EXPLICIT: dict[str, str] = {
    # FastAPI's pydantic-compatibility layer; the tests import version constants from it.
    "fastapi._compat": "aster._compat",
    "fastapi._compat.shared": "aster._compat",
    "fastapi._compat.v2": "aster._compat",
    # Starlette's HTTPException and WebSocketException are the base classes of FastAPI's.
    "starlette.exceptions": "aster._starlette_exceptions",
    # Starlette's request_response/websocket_session open no dependency exit stacks, and
    # there is no APIRoute/APIRouter in starlette.routing.
    "starlette.routing": "aster._starlette_routing",
    # No EventSourceResponse, ORJSONResponse or UJSONResponse in starlette.responses.
    "starlette.responses": "aster._starlette_responses",
    # The Starlette application, without FastAPI.
    "starlette.applications": "aster._starlette_applications",
}

#: Modules both packages have that resolve to one aster module, and why that is right.
SHARED: dict[str, str] = {
    "background": "FastAPI's BackgroundTasks only adds documentation to Starlette's",
    "concurrency": "FastAPI re-exports Starlette's helpers, plus contextmanager_in_threadpool",
    "datastructures": "FastAPI re-exports Starlette's; aster's UploadFile has FastAPI's schema",
    "middleware": "FastAPI re-exports Starlette's Middleware",
    "middleware.cors": "FastAPI re-exports Starlette's CORSMiddleware",
    "middleware.gzip": "FastAPI re-exports Starlette's GZipMiddleware",
    "middleware.httpsredirect": "FastAPI re-exports Starlette's HTTPSRedirectMiddleware",
    "middleware.trustedhost": "FastAPI re-exports Starlette's TrustedHostMiddleware",
    "requests": "FastAPI re-exports Starlette's Request and HTTPConnection",
    "staticfiles": "FastAPI re-exports Starlette's StaticFiles",
    "templating": "FastAPI re-exports Starlette's Jinja2Templates",
    "testclient": "FastAPI re-exports Starlette's TestClient",
    "types": "type aliases only: Starlette's ASGI types and FastAPI's few, in one module",
    "websockets": "FastAPI re-exports Starlette's WebSocket, WebSocketDisconnect, WebSocketState",
}

_ASTER = "aster"


def target_for(fullname: str) -> str | None:
    """The aster module that ``fullname`` (``fastapi.…``/``starlette.…``) resolves to."""
    if fullname in EXPLICIT:
        return EXPLICIT[fullname]
    top, _, rest = fullname.partition(".")
    if top not in ALIASES:
        return None
    return f"{_ASTER}.{rest}" if rest else _ASTER


class _AliasPackage(types.ModuleType):
    """``fastapi``/``starlette``: a package whose attributes come from ``aster``."""

    def __getattr__(self, name: str) -> Any:
        missing = f"module {self.__name__!r} has no attribute {name!r}"
        if name.startswith("__") and name.endswith("__") and name != "__all__":
            raise AttributeError(missing)  # keep dunders (__spec__ …) honest; __all__ feeds `*`
        try:
            return getattr(importlib.import_module(_ASTER), name)
        except AttributeError:
            # ``import fastapi`` loads its submodules, so ``fastapi.routing`` works without
            # ``import fastapi.routing`` (sentry-sdk relies on it): load the alias.
            if name.startswith("_") or target_for(f"{self.__name__}.{name}") is None:
                raise AttributeError(missing, name=name, obj=self) from None
            try:
                return importlib.import_module(f"{self.__name__}.{name}")
            except ModuleNotFoundError:
                raise AttributeError(missing, name=name, obj=self) from None

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(dir(importlib.import_module(_ASTER))))


class _AliasDistribution(importlib.metadata.Distribution):
    """Installed-package metadata for an alias: its name and the API version aster speaks.

    Instrumentations check ``importlib.metadata.version("fastapi")`` before patching.
    """

    def __init__(self, name: str) -> None:
        self._alias = name

    def read_text(self, filename: str) -> str | None:
        if filename == "METADATA":
            return f"Metadata-Version: 2.1\nName: {self._alias}\nVersion: {ALIASES[self._alias]}\n"
        return None

    def locate_file(self, path: Any) -> Any:
        return pathlib.Path(__file__).parent / str(path)


class AsterAliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds ``fastapi…``/``starlette…`` modules and loads them as aster's module objects."""

    def find_distributions(
        self, context: importlib.metadata.DistributionFinder.Context | None = None
    ) -> list[importlib.metadata.Distribution]:
        """``fastapi``/``starlette`` distributions (what ``importlib.metadata`` finds)."""
        name = getattr(context, "name", None)
        if name is None:
            return [_AliasDistribution(alias) for alias in ALIASES]
        normalized = name.lower().replace("-", "_").replace(".", "_")
        return [_AliasDistribution(normalized)] if normalized in ALIASES else []

    def __init__(self) -> None:
        self.aliased: set[str] = set()

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        aster_name = target_for(fullname)
        if aster_name is None:
            return None
        if fullname in ALIASES:
            aster_module = importlib.import_module(_ASTER)
            spec = importlib.machinery.ModuleSpec(
                fullname, self, origin=aster_module.__file__, is_package=True
            )
            spec.has_location = True  # __file__ is aster's __init__.py
            spec.submodule_search_locations = list(aster_module.__path__)
            return spec
        try:
            module = importlib.import_module(aster_name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and aster_name.startswith(exc.name):
                return None  # aster has no such module: let the import fail
            raise  # the aster module exists but one of *its* imports is missing
        spec = importlib.machinery.ModuleSpec(
            fullname, self, is_package=hasattr(module, "__path__")
        )
        spec.loader_state = module
        return spec

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        if spec.name in ALIASES:
            module: types.ModuleType = _AliasPackage(spec.name)
            # aster's own directory: tools that read it (blockbuster, pkgutil) see aster's
            # files. The finder above, first on sys.meta_path, answers for every name under
            # the alias; the path finder only ever looks here for a name aster lacks, and
            # finds nothing, so no real package is ever found on disk.
            module.__path__ = list(spec.submodule_search_locations or [])
            module.__version__ = ALIASES[spec.name]  # type: ignore[attr-defined]
            module.__aster_version__ = importlib.import_module(_ASTER).__version__  # type: ignore[attr-defined]
            module.__doc__ = f"Alias of aster's modules under the {spec.name!r} name."
            return module
        target: types.ModuleType = spec.loader_state
        # The import system is about to overwrite __spec__ with the alias spec; keep the real one.
        spec.loader_state = (target, target.__spec__)
        return target

    def exec_module(self, module: types.ModuleType) -> None:
        spec = module.__spec__
        assert spec is not None
        self.aliased.add(spec.name)
        if isinstance(spec.loader_state, tuple):
            target, original_spec = spec.loader_state
            target.__spec__ = original_spec


_finder: AsterAliasFinder | None = None
_set_aside: dict[str, types.ModuleType] = {}


def _is_aliased_name(name: str) -> bool:
    return name.partition(".")[0] in ALIASES


def installed() -> bool:
    """Whether the aliases are active."""
    return _finder is not None and _finder in sys.meta_path


def set_aside() -> list[str]:
    """The real fastapi/starlette modules that were imported before :func:`install` (and put
    aside by it): empty unless something imported the real package before the aliases."""
    return sorted(_set_aside)


def install() -> None:
    """Activate the aliases (idempotent); the finder is moved to the front if already there."""
    global _finder
    if _finder is None:
        _finder = AsterAliasFinder()
    if _finder in sys.meta_path:
        sys.meta_path.remove(_finder)
    sys.meta_path.insert(0, _finder)
    # A real fastapi/starlette imported earlier would shadow the aliases: set it aside.
    for name in [n for n in sys.modules if _is_aliased_name(n)]:
        if name not in _finder.aliased:
            _set_aside[name] = sys.modules.pop(name)


def uninstall() -> None:
    """Remove the finder and the alias entries from ``sys.modules``; restore what was set aside.

    aster's own modules stay imported. Code that already did ``import fastapi`` keeps its
    reference, so this is for tests of the compat layer rather than for production use.
    """
    global _finder
    if _finder is not None:
        if _finder in sys.meta_path:
            sys.meta_path.remove(_finder)
        for name in _finder.aliased:
            sys.modules.pop(name, None)
        _finder = None
    sys.modules.update(_set_aside)
    _set_aside.clear()
