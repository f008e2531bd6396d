"""The request-side data structures: URLs, headers, multi-dicts, uploads.

The API and behaviour are Starlette's (plus FastAPI's ``UploadFile`` and
``Default`` helpers).  The implementation is tuned for the hot path: a request
usually touches its headers and query string once or twice, so ``Headers``
wraps the ASGI header list as it is (no copy), lookups scan it with a cached
lowered key, and query strings only go through ``unquote`` when they contain
``%`` or ``+``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from shlex import shlex
from typing import Any, BinaryIO, NamedTuple, TypeVar, cast

from aster._multidict import ImmutableMultiDict, MultiDict, QueryParams
from aster._url import URL, URLPath
from aster.concurrency import run_cleanup_in_threadpool, run_in_threadpool

__all__ = [
    "URL",
    "Address",
    "CommaSeparatedStrings",
    "Default",
    "DefaultPlaceholder",
    "DefaultType",
    "FormData",
    "Headers",
    "ImmutableMultiDict",
    "MultiDict",
    "MutableHeaders",
    "QueryParams",
    "Secret",
    "State",
    "URLPath",
    "UploadFile",
]


class Address(NamedTuple):
    host: str
    port: int


# Implemented next door to keep modules small; they belong to this module's API.
for _cls in (URL, URLPath, ImmutableMultiDict, MultiDict, QueryParams):
    _cls.__module__ = __name__


class Secret:
    """A string kept out of reprs and tracebacks; ``str()`` it where the value is needed."""

    def __init__(self, value: str) -> None:
        self._value = value

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}('**********')"

    def __str__(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)


class CommaSeparatedStrings(Sequence[str]):
    """``"a, 'b,c'"`` -> ``["a", "b,c"]``: comma-separated, shell-style quoting."""

    def __init__(self, value: str | Sequence[str]) -> None:
        if isinstance(value, str):
            splitter = shlex(value, posix=True)
            splitter.whitespace = ","
            splitter.whitespace_split = True
            self._items = [item.strip() for item in splitter]
        else:
            self._items = list(value)

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: int | slice) -> Any:
        return self._items[index]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self._items!r})"

    def __str__(self) -> str:
        return ", ".join(repr(item) for item in self._items)


# Lowered, encoded header names by the str a caller used: most lookups use a
# handful of literal names, so this turns ``key.lower().encode()`` into one dict hit.
_header_keys: dict[str, bytes] = {}


def _header_key(key: str) -> bytes:
    encoded = _header_keys.get(key)
    if encoded is None:
        encoded = key.lower().encode("latin-1")
        if len(_header_keys) < 1024:
            _header_keys[key] = encoded
    return encoded


class Headers(Mapping[str, str]):
    """Immutable, case-insensitive headers that keep repeated names.

    ``Headers(scope=scope)`` wraps ``scope["headers"]`` itself (converted to a
    list in place if needed), so a ``MutableHeaders`` built that way edits the
    request's headers.
    """

    __slots__ = ("_list",)

    def __init__(
        self,
        headers: Mapping[str, str] | None = None,
        raw: list[tuple[bytes, bytes]] | None = None,
        scope: MutableMapping[str, Any] | None = None,
    ) -> None:
        if headers is not None:
            assert raw is None, 'Cannot set both "headers" and "raw".'
            assert scope is None, 'Cannot set both "headers" and "scope".'
            self._list = [
                (key.lower().encode("latin-1"), value.encode("latin-1"))
                for key, value in headers.items()
            ]
        elif raw is not None:
            assert scope is None, 'Cannot set both "raw" and "scope".'
            self._list = raw
        elif scope is not None:
            raw_headers = scope["headers"]
            if type(raw_headers) is not list:
                raw_headers = scope["headers"] = list(raw_headers)
            self._list = raw_headers
        else:
            self._list = []

    @property
    def raw(self) -> list[tuple[bytes, bytes]]:
        return list(self._list)

    def keys(self) -> list[str]:  # type: ignore[override]
        return [key.decode("latin-1") for key, _ in self._list]

    def values(self) -> list[str]:  # type: ignore[override]
        return [value.decode("latin-1") for _, value in self._list]

    def items(self) -> list[tuple[str, str]]:  # type: ignore[override]
        return [(key.decode("latin-1"), value.decode("latin-1")) for key, value in self._list]

    def get(self, key: str, default: Any = None) -> Any:
        wanted = _header_keys.get(key) or _header_key(key)
        for name, value in self._list:
            if name == wanted:
                return value.decode("latin-1")
        return default

    def getlist(self, key: str) -> list[str]:
        wanted = _header_keys.get(key) or _header_key(key)
        return [value.decode("latin-1") for name, value in self._list if name == wanted]

    def mutablecopy(self) -> MutableHeaders:
        return MutableHeaders(raw=self._list[:])

    def __getitem__(self, key: str) -> str:
        wanted = _header_keys.get(key) or _header_key(key)
        for name, value in self._list:
            if name == wanted:
                return value.decode("latin-1")
        raise KeyError(key)

    def __contains__(self, key: Any) -> bool:
        wanted = _header_keys.get(key) or _header_key(key)
        return any(name == wanted for name, _ in self._list)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self._list)

    def __eq__(self, other: Any) -> bool:
        if not isinstance(other, Headers):
            return False
        return sorted(self._list) == sorted(other._list)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        as_dict = dict(self.items())
        if len(as_dict) == len(self):
            return f"{self.__class__.__name__}({as_dict!r})"
        return f"{self.__class__.__name__}(raw={self.raw!r})"


def headers_from_scope(scope: MutableMapping[str, Any]) -> Headers:
    """``Headers(scope=scope)`` without the argument dispatch: the per-request path."""
    raw = scope["headers"]
    if type(raw) is not list:
        raw = scope["headers"] = list(raw)
    headers = object.__new__(Headers)
    headers._list = raw
    return headers


def set_raw_header(raw: list[tuple[bytes, bytes]], name: bytes, value: bytes | None) -> None:
    """Give ``name`` (lowercase) exactly one ``value``, in the first occurrence's place (others
    are dropped), or remove it altogether for ``None``: the edit middlewares make to a
    response's raw headers."""
    found = -1
    for index in range(len(raw) - 1, -1, -1):
        if raw[index][0] == name:
            if found != -1:
                del raw[found]
            found = index
    if value is None:
        if found != -1:
            del raw[found]
    elif found == -1:
        raw.append((name, value))
    else:
        raw[found] = (name, value)


class MutableHeaders(Headers):
    """Headers that edit the underlying raw list in place (e.g. a response's or a scope's)."""

    __slots__ = ()

    def __setitem__(self, key: str, value: str) -> None:
        """Set ``key`` to ``value``: the first occurrence is replaced, any others removed."""
        set_raw_header(self._list, key.lower().encode("latin-1"), value.encode("latin-1"))

    def __delitem__(self, key: str) -> None:
        name = key.lower().encode("latin-1")
        self._list[:] = [item for item in self._list if item[0] != name]

    def __ior__(self, other: Mapping[str, str]) -> MutableHeaders:
        if not isinstance(other, Mapping):
            raise TypeError(f"Expected a mapping but got {other.__class__.__name__}")
        self.update(other)
        return self

    def __or__(self, other: Mapping[str, str]) -> MutableHeaders:
        if not isinstance(other, Mapping):
            raise TypeError(f"Expected a mapping but got {other.__class__.__name__}")
        new = self.mutablecopy()
        new.update(other)
        return new

    @property
    def raw(self) -> list[tuple[bytes, bytes]]:
        return self._list

    def setdefault(self, key: str, value: str) -> str:
        """Return the value of ``key``, setting it to ``value`` first if it is missing."""
        name = key.lower().encode("latin-1")
        for item_name, item_value in self._list:
            if item_name == name:
                return item_value.decode("latin-1")
        self._list.append((name, value.encode("latin-1")))
        return value

    def update(self, other: Mapping[str, str]) -> None:  # type: ignore[override]
        for key, value in other.items():
            self[key] = value

    def append(self, key: str, value: str) -> None:
        """Add a header, keeping any existing ones of the same name."""
        self._list.append((key.lower().encode("latin-1"), value.encode("latin-1")))

    def add_vary_header(self, vary: str) -> None:
        self["vary"] = ", ".join([*self.getlist("vary"), vary])


class UploadFile:
    """A file from a multipart form, backed by a ``SpooledTemporaryFile``.

    The async methods touch the file directly while it is still in memory and
    go through the threadpool once it has rolled over to disk.
    """

    file: BinaryIO
    filename: str | None
    size: int | None
    headers: Headers

    def __init__(
        self,
        file: BinaryIO,
        *,
        size: int | None = None,
        filename: str | None = None,
        headers: Headers | None = None,
    ) -> None:
        self.filename = filename
        self.file = file
        self.size = size
        self.headers = headers or Headers()
        # SpooledTemporaryFile's rollover threshold; 0 means it never rolls.
        self._max_mem_size = getattr(file, "_max_size", 0)

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type", None)

    @property
    def _in_memory(self) -> bool:
        # A plain file (no ``_rolled``) counts as on disk: its I/O may block.
        return not getattr(self.file, "_rolled", True)

    def _will_roll(self, size_to_add: int) -> bool:
        if not self._in_memory:
            return True
        if not self._max_mem_size:
            return False
        return self.file.tell() + size_to_add > self._max_mem_size

    async def write(self, data: bytes) -> None:
        if self.size is not None:
            self.size += len(data)
        if self._will_roll(len(data)):
            await run_in_threadpool(self.file.write, data)
        else:
            self.file.write(data)

    async def read(self, size: int = -1) -> bytes:
        if self._in_memory:
            return self.file.read(size)
        return await run_in_threadpool(self.file.read, size)

    async def seek(self, offset: int) -> None:
        if self._in_memory:
            self.file.seek(offset)
        else:
            await run_in_threadpool(self.file.seek, offset)

    async def close(self) -> None:
        # Closing is teardown: it uses the cleanup pool so busy workers cannot hold it up.
        if self._in_memory:
            self.file.close()
        else:
            await run_cleanup_in_threadpool(self.file.close)

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(filename={self.filename!r}, "
            f"size={self.size!r}, headers={self.headers!r})"
        )

    # As a pydantic type (FastAPI's ``UploadFile`` annotation).

    @classmethod
    def _validate(cls, value: Any, _info: Any) -> UploadFile:
        if not isinstance(value, UploadFile):
            raise ValueError(f"Expected UploadFile, received: {type(value)}")
        return value

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: Mapping[str, Any], handler: Any
    ) -> dict[str, Any]:
        return {"type": "string", "contentMediaType": "application/octet-stream"}

    @classmethod
    def __get_pydantic_core_schema__(cls, source: type[Any], handler: Any) -> Any:
        from pydantic_core import core_schema

        return core_schema.with_info_plain_validator_function(cls._validate)


class FormData(ImmutableMultiDict[str, UploadFile | str]):
    """Parsed form fields: strings, and ``UploadFile`` for file parts."""

    def __init__(
        self,
        *args: FormData | Mapping[str, str | UploadFile] | list[tuple[str, str | UploadFile]],
        **kwargs: str | UploadFile,
    ) -> None:
        super().__init__(*args, **kwargs)

    async def close(self) -> None:
        """Close every uploaded file."""
        for _, value in self._list:
            if isinstance(value, UploadFile):
                await value.close()


class State:
    """Attribute-style access to a dict: ``request.state``, ``app.state``."""

    _state: dict[str, Any]

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        super().__setattr__("_state", {} if state is None else state)

    def __setattr__(self, key: Any, value: Any) -> None:
        self._state[key] = value

    def __getattr__(self, key: Any) -> Any:
        # Read the dict through __dict__ so a half-built copy cannot recurse here.
        state = self.__dict__.get("_state")
        if state is not None:
            try:
                return state[key]
            except KeyError:
                pass
        raise AttributeError(f"'{self.__class__.__name__}' object has no attribute '{key}'")

    def __delattr__(self, key: Any) -> None:
        del self._state[key]

    def __getitem__(self, key: str) -> Any:
        return self._state[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._state[key] = value

    def __delitem__(self, key: str) -> None:
        del self._state[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._state)

    def __len__(self) -> int:
        return len(self._state)


class DefaultPlaceholder:
    """Marks a default value, so code can tell "left as default" from "set to the same value"."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __bool__(self) -> bool:
        return bool(self.value)

    def __eq__(self, o: object) -> bool:
        return isinstance(o, DefaultPlaceholder) and o.value == self.value

    __hash__ = None  # type: ignore[assignment]


DefaultType = TypeVar("DefaultType")


def Default(value: DefaultType) -> DefaultType:
    """Wrap a default in a ``DefaultPlaceholder`` (typed as the value, for signatures)."""
    return cast(DefaultType, DefaultPlaceholder(value))


# "Not passed" for Param/FieldInfo arguments, as in FastAPI.
_Unset: Any = Default(None)

#: ``fastapi.datastructures.StarletteUploadFile``: Starlette's ``UploadFile``; aster has one
#: class for both (with FastAPI's schema hooks), so both names are it.
StarletteUploadFile = UploadFile
