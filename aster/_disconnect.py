"""How a response learns that its client has gone, per the server's ASGI spec version.

ASGI gives two signals.  ``receive()`` returns ``http.disconnect``, which every server
does; and since spec 2.4 a server's ``send()`` raises an ``OSError`` once the client is
gone (aster's server says 2.5; a scope without an ``asgi`` key means 2.0).  Starlette
1.10 picks its strategy from the scope: below 2.4 a streaming or file response listens
for ``http.disconnect`` while it sends and stops when it arrives; from 2.4 on it relies
on ``send()`` raising.  The responses and ``BaseHTTPMiddleware`` make the same choice
with these helpers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from .concurrency import _anyio_shield
from .types import Receive, Scope

__all__ = ["run_until_disconnect", "send_raises_on_disconnect", "wait_for_disconnect"]

_SPEC_2_4: dict[str, bool] = {}


def send_raises_on_disconnect(scope: Scope) -> bool:
    """Whether the server's ``send()`` raises ``OSError`` once the client is gone (ASGI >= 2.4)."""
    asgi = scope.get("asgi")
    version = "2.0" if asgi is None else asgi.get("spec_version", "2.0")
    answer = _SPEC_2_4.get(version)
    if answer is None:
        try:
            answer = tuple(int(part) for part in version.split(".")) >= (2, 4)
        except (AttributeError, ValueError):
            answer = False
        if len(_SPEC_2_4) < 64:
            _SPEC_2_4[version] = answer
    return answer


async def wait_for_disconnect(receive: Receive) -> None:
    """Return once ``receive()`` reports ``http.disconnect`` (other messages are dropped)."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def run_until_disconnect(work: Coroutine[Any, Any, None], receive: Receive) -> bool:
    """Run ``work`` while listening for ``http.disconnect``; stop it if that comes first.

    Returns True if ``work`` finished, False if the client left and ``work`` was
    cancelled.  An error from ``work`` is raised as it is.  A ``receive`` that fails
    only ends the listening: it says nothing about the client (a body limit refusing
    the unread request body, say), and whoever wraps ``receive`` answers for it when
    the work sends.  If the caller is cancelled, both are cancelled and waited for, so
    ``work``'s cleanup (closing a file) has run.
    """
    loop = asyncio.get_running_loop()
    worker = loop.create_task(work)
    listener = loop.create_task(_heard_disconnect(receive))
    try:
        await asyncio.wait((worker, listener), return_when=asyncio.FIRST_COMPLETED)
        if not worker.done() and not listener.result():
            await asyncio.wait((worker,))  # nothing more to listen to: just the work
    finally:
        for task in (worker, listener):
            task.cancel()
        await _settle(worker, listener)
    if not worker.cancelled():
        worker.result()  # raises its error
        return True
    return False


async def _heard_disconnect(receive: Receive) -> bool:
    try:
        await wait_for_disconnect(receive)
    except Exception:
        return False
    return True


async def _settle(*tasks: asyncio.Task[Any]) -> None:
    """Wait until ``tasks`` are done, holding cancellation off: their cleanup must finish.

    A cancellation caught meanwhile is raised afterwards (the very exception, which is how
    cancel scopes recognise their own); an anyio cancel scope, which delivers it again on
    every turn of the loop, is shielded against too.
    """
    cancelled: asyncio.CancelledError | None = None
    with _anyio_shield():
        while not all(task.done() for task in tasks):
            try:
                await asyncio.wait(tasks)
            except asyncio.CancelledError as exc:
                cancelled = cancelled or exc
    if cancelled is not None:
        raise cancelled
