"""Finding the routes that can match a path without testing every route.

Routing keeps Starlette's semantics: routes are tried in registration order
and the first full match wins, so ``/users/{id}`` registered before
``/users/me`` still takes ``/users/me``.  A trie alone would lose that order,
so the index only *narrows* the search:

* every route is filed under the static segments its path starts with
  (``/users/{id}/posts`` under ``users``; a mount ``/static`` under ``static``);
* fully static paths are also in a dict, for an exact lookup;
* routes of unknown kinds (custom ``matches``, ``Host``) are always tried.

A request walks the trie along its own segments, collects the routes filed on
the way, and tests just those, in registration order.  The cost grows with the
path's depth and with the routes sharing its prefix, not with the size of the
app.  Any change to the route list (append, insert, remove...) bumps a version
and the index is rebuilt on the next request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any


class RouteList(list):  # type: ignore[type-arg]
    """A list of routes that counts its modifications, so indexes know when to rebuild.

    It also tells its listeners about routes *added* to it, which is how a router
    included in another one keeps feeding it the routes registered after the
    ``include_router`` call (see ``api_router._LiveInclusion``).
    """

    version = 0
    listeners: tuple[Callable[[list[Any]], None], ...] = ()
    muted = False

    def _changed(self) -> None:
        self.version += 1

    def _added(self, items: list[Any]) -> None:
        self.version += 1
        if self.listeners and items and not self.muted:
            for listener in self.listeners:
                listener(items)

    def add_listener(self, listener: Callable[[list[Any]], None]) -> None:
        self.listeners = (*self.listeners, listener)

    def remove_listener(self, listener: Callable[[list[Any]], None]) -> None:
        self.listeners = tuple(item for item in self.listeners if item is not listener)

    def append(self, item: Any) -> None:
        super().append(item)
        self._added([item])

    def extend(self, items: Iterable[Any]) -> None:
        items = list(items)
        super().extend(items)
        self._added(items)

    def insert(self, index: Any, item: Any) -> None:
        super().insert(index, item)
        self._added([item])

    def remove(self, item: Any) -> None:
        super().remove(item)
        self._changed()

    def pop(self, index: Any = -1) -> Any:
        item = super().pop(index)
        self._changed()
        return item

    def clear(self) -> None:
        super().clear()
        self._changed()

    def sort(self, *args: Any, **kwargs: Any) -> None:
        super().sort(*args, **kwargs)
        self._changed()

    def reverse(self) -> None:
        super().reverse()
        self._changed()

    def __setitem__(self, index: Any, value: Any) -> None:
        super().__setitem__(index, value)
        self._changed()

    def __delitem__(self, index: Any) -> None:
        super().__delitem__(index)
        self._changed()

    def __iadd__(self, items: Iterable[Any]) -> RouteList:
        items = list(items)
        super().__iadd__(items)
        self._added(items)
        return self


class _Node:
    __slots__ = ("children", "routes")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.routes: list[int] = []


def _standard_matching(route: Any) -> bool:
    """The route matches by its path pattern like ours do (its class did not override ``matches``).

    Route classes say so themselves (``BaseRoute._path_matches``), so the index needs no
    knowledge of which classes exist, FastAPI's included.
    """
    cls = type(route)
    return cls.matches is getattr(cls, "_path_matches", None)


def _handles_by_app(route: Any) -> bool:
    cls = type(route)
    return _standard_matching(route) and cls.handle is getattr(cls, "_plain_handle", None)


def static_prefix(route: Any) -> tuple[list[str] | None, str | None]:
    """(leading static segments, or None if unknown; the whole path if it is fully static)."""
    if not _standard_matching(route):
        return None, None
    path = route.path
    brace = path.find("{")
    if route._path_is_prefix:
        if brace >= 0:
            path = path[:brace].rsplit("/", 1)[0]
        return _segments(path), None
    if brace < 0:
        return _segments(path.rsplit("/", 1)[0]), path
    return _segments(path[:brace].rsplit("/", 1)[0]), None


def _may_match(route: Any, path: str) -> bool:
    """Could ``route`` match a request for ``path``?  Only routes matching by their path
    pattern can be ruled out; the rest (``Host``, custom ``matches``) are kept."""
    if not _standard_matching(route):
        return True
    regex = getattr(route, "path_regex", None)
    return regex is None or regex.match(path) is not None


def _segments(path: str) -> list[str]:
    return path.split("/")[1:] if path else []


class RouteIndex:
    def __init__(self, routes: list[Any]) -> None:
        self.version = getattr(routes, "version", None)
        self.exact: dict[str, list[int]] = {}
        self.root = _Node()
        self.always: list[int] = []
        #: Per route: ``(scope, route_path) -> (Match, child_scope)``.
        self.matchers: list[Any] = [
            route._matches_path if _standard_matching(route) else _generic_matcher(route)
            for route in routes
        ]
        #: Per route: may a full match call ``route.app`` directly?  (``Route.handle`` only
        #: re-checks the method, which a full match already did.)
        self.direct: list[bool] = [_handles_by_app(route) for route in routes]
        for index, route in enumerate(routes):
            segments, exact = static_prefix(route)
            if segments is None:
                self.always.append(index)
                continue
            if exact is not None:
                self.exact.setdefault(exact, []).append(index)
                continue
            node = self.root
            for segment in segments:
                node = node.children.setdefault(segment, _Node())
            node.routes.append(index)
        # A static path's candidates never change: merge them now, not per request, and drop
        # the routes whose pattern cannot match it (``/items/{id}`` for ``/items``).
        self.exact = {
            path: [i for i in self._walk(path, exact) if _may_match(routes[i], path)]
            for path, exact in self.exact.items()
        }

    def candidates(self, path: str) -> list[int]:
        """Indices of the routes that may match ``path``, in registration order.

        The result may be one of the index's own lists: callers only iterate it.
        """
        exact = self.exact.get(path)
        if exact is not None:
            return exact
        return self._walk(path, None)

    def _walk(self, path: str, exact: list[int] | None) -> list[int]:
        parts: list[list[int]] = []
        if exact:
            parts.append(exact)
        node = self.root
        if node.routes:
            parts.append(node.routes)
        if node.children:
            for segment in path.split("/")[1:]:
                node = node.children.get(segment)  # type: ignore[assignment]
                if node is None:
                    break
                if node.routes:
                    parts.append(node.routes)
                if not node.children:
                    break
        if self.always:
            parts.append(self.always)
        if len(parts) == 1:
            return parts[0]
        if not parts:
            return parts  # type: ignore[return-value]
        return sorted(index for part in parts for index in part)


def _generic_matcher(route: Any) -> Any:
    """For routes with their own ``matches``: ignore the precomputed path."""

    def match(scope: Any, route_path: str) -> Any:
        return route.matches(scope)

    return match
