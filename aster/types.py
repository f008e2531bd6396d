"""ASGI type aliases, as ``starlette.types`` has them, and ``fastapi.types``' few.

One module for both names: they hold type aliases only.  ``ModelNameMap`` maps pydantic
models (and enums) to schema names; it is spelled without pydantic so that a Starlette
app imports nothing of it.
"""

from __future__ import annotations

import types
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from contextlib import AbstractAsyncContextManager
from enum import Enum
from typing import Any, TypeVar

AppType = TypeVar("AppType")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]

Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

StatelessLifespan = Callable[[AppType], AbstractAsyncContextManager[None]]
StatefulLifespan = Callable[[AppType], AbstractAsyncContextManager[Mapping[str, Any]]]
Lifespan = StatelessLifespan[AppType] | StatefulLifespan[AppType]

HTTPExceptionHandler = Callable[[Any, Exception], Any]
WebSocketExceptionHandler = Callable[[Any, Exception], Awaitable[None]]
ExceptionHandler = HTTPExceptionHandler | WebSocketExceptionHandler

DecoratedCallable = TypeVar("DecoratedCallable", bound=Callable[..., Any])
IncEx = set[int] | set[str] | Mapping[int, Any] | Mapping[str, Any]

UnionType = types.UnionType
ModelNameMap = dict[type[Any] | type[Enum], str]
#: A dependency's per-request cache key: ``(callable, OAuth2 scopes, scope)``.
DependencyCacheKey = tuple[Callable[..., Any] | None, tuple[str, ...], str]
