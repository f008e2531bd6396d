"""``fastapi.middleware.asyncexitstack``: an ``AsyncExitStack`` in the scope for the request.

FastAPI no longer installs it (dependencies have their own stacks), but it is public, and
apps and extensions still add it: whatever code pushes on ``scope[context_name]`` is
closed when the request is done.
"""

from __future__ import annotations

from contextlib import AsyncExitStack

from ..types import ASGIApp, Receive, Scope, Send

__all__ = ["AsyncExitStackMiddleware"]


class AsyncExitStackMiddleware:
    def __init__(self, app: ASGIApp, context_name: str = "fastapi_middleware_astack") -> None:
        self.app = app
        self.context_name = context_name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async with AsyncExitStack() as stack:
            scope[self.context_name] = stack
            await self.app(scope, receive, send)
