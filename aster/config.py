"""Settings from the environment and a ``.env`` file: ``Config``, ``Environ``, ``environ``.

``config = Config(".env")`` then ``DEBUG = config("DEBUG", cast=bool, default=False)``. A key
is looked up in the environment first, then in the file, then falls back to ``default``; with
none of them it is a ``KeyError``. ``cast`` converts the string (``bool`` understands
``true/false/1/0`` in any case); a value that does not convert is a ``ValueError`` naming the key.

``environ`` wraps ``os.environ`` and refuses to change a key once it has been read, so a test
that sets ``environ["DATABASE_URL"]`` after the settings module already read it fails loudly
instead of silently testing against the wrong database.

(This is the framework's settings helper; the server's options are in ``aster.server.config``.)
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from pathlib import Path
from typing import Any, TypeVar, overload

from .datastructures import CommaSeparatedStrings, Secret

__all__ = [
    "CommaSeparatedStrings",
    "Config",
    "Environ",
    "EnvironError",
    "Secret",
    "environ",
    "undefined",
]

T = TypeVar("T")

_BOOLS = {"true": True, "1": True, "false": False, "0": False}


class undefined:
    """The "no default given" marker (a class, so it can never be a real value)."""


class EnvironError(Exception):
    """A key of ``environ`` was changed after it had been read."""


class Environ(MutableMapping[str, str]):
    """A view of ``os.environ`` (or another mapping) whose keys freeze once read."""

    def __init__(self, environ: MutableMapping[str, str] = os.environ) -> None:
        self._environ = environ
        self._has_been_read: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self._has_been_read.add(key)
        return self._environ[key]

    def _check_unread(self, key: str, action: str) -> None:
        if key in self._has_been_read:
            raise EnvironError(
                f"Attempting to {action} environ['{key}'], but the value has already been read."
            )

    def __setitem__(self, key: str, value: str) -> None:
        self._check_unread(key, "set")
        self._environ[key] = value

    def __delitem__(self, key: str) -> None:
        self._check_unread(key, "delete")
        del self._environ[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._environ)

    def __len__(self) -> int:
        return len(self._environ)


environ = Environ()


def _read_env_file(path: str | Path, encoding: str) -> dict[str, str]:
    """``KEY=value`` lines; ``#`` comments and lines without ``=`` are skipped.

    Surrounding whitespace is stripped, and one pair of matching quotes around the value.
    """
    values: dict[str, str] = {}
    with open(path, encoding=encoding) as file:
        for raw_line in file:
            line = raw_line.strip()
            if "=" not in line or line.startswith("#"):
                continue
            key, value = (part.strip() for part in line.split("=", 1))
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            values[key] = value
    return values


class Config:
    """Typed settings from ``environ`` (first) and ``env_file``, keys prefixed by ``env_prefix``."""

    def __init__(
        self,
        env_file: str | Path | None = None,
        environ: Mapping[str, str] = environ,
        env_prefix: str = "",
        encoding: str = "utf-8",
    ) -> None:
        self.environ = environ
        self.env_prefix = env_prefix
        self.file_values: dict[str, str] = {}
        if env_file is not None:
            if os.path.isfile(env_file):
                self.file_values = self._read_file(env_file, encoding)
            else:
                warnings.warn(f"Config file '{env_file}' not found.", stacklevel=2)

    @overload
    def __call__(self, key: str, *, default: None) -> str | None: ...

    @overload
    def __call__(self, key: str, cast: type[T], default: T = ...) -> T: ...

    @overload
    def __call__(self, key: str, cast: type[str] = ..., default: str = ...) -> str: ...

    @overload
    def __call__(self, key: str, cast: Callable[[Any], T] = ..., default: Any = ...) -> T: ...

    @overload
    def __call__(self, key: str, cast: type[str] = ..., default: T = ...) -> T | str: ...

    def __call__(
        self, key: str, cast: Callable[[Any], Any] | None = None, default: Any = undefined
    ) -> Any:
        return self.get(key, cast, default)

    def get(
        self, key: str, cast: Callable[[Any], Any] | None = None, default: Any = undefined
    ) -> Any:
        key = self.env_prefix + key
        if key in self.environ:
            return self._perform_cast(key, self.environ[key], cast)
        if key in self.file_values:
            return self._perform_cast(key, self.file_values[key], cast)
        if default is not undefined:
            return self._perform_cast(key, default, cast)
        raise KeyError(f"Config '{key}' is missing, and has no default.")

    def _read_file(self, file_name: str | Path, encoding: str) -> dict[str, str]:
        """The file's values (a hook: subclasses may read other formats)."""
        return _read_env_file(file_name, encoding)

    def _perform_cast(self, key: str, value: Any, cast: Callable[[Any], Any] | None = None) -> Any:
        if cast is None or value is None:
            return value
        if cast is bool and isinstance(value, str):
            lowered = value.lower()
            if lowered not in _BOOLS:
                raise ValueError(f"Config '{key}' has value '{lowered}'. Not a valid bool.")
            return _BOOLS[lowered]
        try:
            return cast(value)
        except (TypeError, ValueError) as exc:
            name = getattr(cast, "__name__", repr(cast))
            raise ValueError(f"Config '{key}' has value '{value}'. Not a valid {name}.") from exc
