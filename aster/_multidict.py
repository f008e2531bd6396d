"""Multi-dicts and query strings: the implementation behind ``aster.datastructures``.

Query strings are parsed once per request, so :func:`parse_query_string` is a
lean equivalent of ``parse_qsl(..., keep_blank_values=True)`` that only unquotes
the parts that need it.
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterable, Iterator, KeysView, Mapping, ValuesView
from operator import itemgetter
from typing import Any, TypeVar
from urllib.parse import unquote, urlencode

__all__ = [
    "ImmutableMultiDict",
    "MultiDict",
    "QueryParams",
    "parse_query_string",
    "query_params_from_bytes",
]

_KeyType = TypeVar("_KeyType")
_CovariantValueType = TypeVar("_CovariantValueType", covariant=True)


class ImmutableMultiDict(Mapping[_KeyType, _CovariantValueType]):
    """A mapping that keeps every value of a repeated key; ``d[k]`` is the last one.

    ``_list`` holds all pairs in order and ``_dict`` the last value per key.
    """

    _dict: dict[_KeyType, _CovariantValueType]
    _list: list[tuple[_KeyType, _CovariantValueType]]

    def __init__(
        self,
        *args: ImmutableMultiDict[_KeyType, _CovariantValueType]
        | Mapping[_KeyType, _CovariantValueType]
        | Iterable[tuple[_KeyType, _CovariantValueType]],
        **kwargs: Any,
    ) -> None:
        assert len(args) < 2, "Too many arguments."
        value: Any = args[0] if args else []
        if kwargs:
            value = ImmutableMultiDict(value).multi_items() + list(kwargs.items())
        items: list[tuple[Any, Any]]
        if not value:
            items = []
        elif hasattr(value, "multi_items"):
            items = list(value.multi_items())
        elif hasattr(value, "items"):
            items = list(value.items())
        else:
            items = list(value)
        self._list = items
        self._dict = dict(items)

    def getlist(self, key: Any) -> list[_CovariantValueType]:
        return [v for k, v in self._list if k == key]

    def keys(self) -> KeysView[_KeyType]:
        return self._dict.keys()

    def values(self) -> ValuesView[_CovariantValueType]:
        return self._dict.values()

    def items(self) -> ItemsView[_KeyType, _CovariantValueType]:
        return self._dict.items()

    def multi_items(self) -> list[tuple[_KeyType, _CovariantValueType]]:
        return list(self._list)

    def get(self, key: Any, default: Any = None) -> Any:
        return self._dict.get(key, default)

    def __getitem__(self, key: _KeyType) -> _CovariantValueType:
        return self._dict[key]

    def __contains__(self, key: Any) -> bool:
        return key in self._dict

    def __iter__(self) -> Iterator[_KeyType]:
        return iter(self._dict)

    def __len__(self) -> int:
        return len(self._dict)

    def __eq__(self, other: Any) -> bool:
        if not isinstance(other, self.__class__):
            return False
        key = itemgetter(0)
        return sorted(self._list, key=key) == sorted(other._list, key=key)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.multi_items()!r})"


class MultiDict(ImmutableMultiDict[Any, Any]):
    """The mutable variant; ``d[k] = v`` replaces every value of ``k``."""

    def __setitem__(self, key: Any, value: Any) -> None:
        self.setlist(key, [value])

    def __delitem__(self, key: Any) -> None:
        self._list = [(k, v) for k, v in self._list if k != key]
        del self._dict[key]

    def pop(self, key: Any, default: Any = None) -> Any:
        self._list = [(k, v) for k, v in self._list if k != key]
        return self._dict.pop(key, default)

    def popitem(self) -> tuple[Any, Any]:
        key, value = self._dict.popitem()
        self._list = [(k, v) for k, v in self._list if k != key]
        return key, value

    def poplist(self, key: Any) -> list[Any]:
        values = [v for k, v in self._list if k == key]
        self.pop(key)
        return values

    def clear(self) -> None:
        self._dict.clear()
        self._list.clear()

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if key not in self._dict:
            self._dict[key] = default
            self._list.append((key, default))
        return self._dict[key]

    def setlist(self, key: Any, values: list[Any]) -> None:
        if not values:
            self.pop(key, None)
            return
        self._list = [(k, v) for k, v in self._list if k != key]
        self._list.extend((key, value) for value in values)
        self._dict[key] = values[-1]

    def append(self, key: Any, value: Any) -> None:
        self._list.append((key, value))
        self._dict[key] = value

    def update(
        self, *args: MultiDict | Mapping[Any, Any] | list[tuple[Any, Any]], **kwargs: Any
    ) -> None:
        """Replace the values of every key present in the argument(s)."""
        other = MultiDict(*args, **kwargs)
        replaced = other._dict.keys()
        self._list = [(k, v) for k, v in self._list if k not in replaced]
        self._list.extend(other._list)
        self._dict.update(other._dict)


def parse_query_string(query: str) -> list[tuple[str, str]]:
    """What ``parse_qsl(query, keep_blank_values=True)`` returns, at a fraction of the cost.

    Pairs are split on ``&`` and the first ``=``; empty pairs are skipped, a
    missing ``=`` gives an empty value; ``+`` is a space and %-escapes decode as
    UTF-8 (invalid sequences become U+FFFD).  Only parts containing ``%`` or
    ``+`` pay for that.
    """
    if not query:
        return []
    items = []
    if "%" not in query and "+" not in query:
        for pair in query.split("&"):
            if pair:
                key, _, value = pair.partition("=")
                items.append((key, value))
        return items
    for pair in query.split("&"):
        if pair:
            key, _, value = pair.partition("=")
            if "+" in key:
                key = key.replace("+", " ")
            if "%" in key:
                key = unquote(key)
            if "+" in value:
                value = value.replace("+", " ")
            if "%" in value:
                value = unquote(value)
            items.append((key, value))
    return items


class QueryParams(ImmutableMultiDict[str, str]):
    """Parsed query parameters: from a query string (str or bytes), pairs, or a mapping."""

    def __init__(
        self,
        *args: ImmutableMultiDict[Any, Any]
        | Mapping[Any, Any]
        | list[tuple[Any, Any]]
        | str
        | bytes,
        **kwargs: Any,
    ) -> None:
        assert len(args) < 2, "Too many arguments."
        value = args[0] if args else None
        if isinstance(value, bytes):
            # Latin-1 keeps every byte; %-escapes decode as UTF-8, as in Starlette.
            value = value.decode("latin-1")
        if isinstance(value, str):
            items = parse_query_string(value)
            if kwargs:
                items.extend((str(k), str(v)) for k, v in kwargs.items())
            self._list = items
            self._dict = dict(items)
            return
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._list = [(str(k), str(v)) for k, v in self._list]
        self._dict = dict(self._list)

    def __str__(self) -> str:
        return urlencode(self._list)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({str(self)!r})"


def query_params_from_bytes(query_string: bytes | str) -> QueryParams:
    """``QueryParams(query_string)`` without the argument dispatch: the per-request path.

    A scope built by hand may carry the query string as ``str``, which Starlette accepts.
    """
    params = object.__new__(QueryParams)
    if not query_string:
        items = []
    else:
        try:
            items = parse_query_string(query_string.decode("latin-1"))  # type: ignore[union-attr]
        except AttributeError:  # a str (try costs nothing on the bytes path)
            items = parse_query_string(query_string)  # type: ignore[arg-type]
    params._list = items
    params._dict = dict(items)
    return params
