"""``starlette._exception_handler``: answering an exception with the handler registered for it.

Routes, ``ExceptionMiddleware`` and extensions that wrap endpoints (``wrap_app_handling_exceptions``
is what FastAPI's and Starlette's ``request_response`` call) share one implementation, in
:mod:`aster.middleware.exceptions`; this module is the face under Starlette's private path, with
Starlette's argument order for the lookup helper and the names Starlette's module imports
(``run_in_threadpool``, which tests patch here).
"""

from __future__ import annotations

from .concurrency import run_in_threadpool
from .middleware.exceptions import (
    ExceptionHandlers,
    StatusHandlers,
    lookup_exception_handler,
    wrap_app_handling_exceptions,
)
from .types import ExceptionHandler

__all__ = [
    "ExceptionHandlers",
    "StatusHandlers",
    "_lookup_exception_handler",
    "run_in_threadpool",
    "wrap_app_handling_exceptions",
]


def _lookup_exception_handler(
    exc_handlers: ExceptionHandlers, exc: Exception
) -> ExceptionHandler | None:
    """The handler for ``exc``'s class or its nearest base class in ``exc_handlers``."""
    return lookup_exception_handler(exc, exc_handlers, {})
