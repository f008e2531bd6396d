"""Work to run after the response has been sent: ``BackgroundTask(s)``.

Both are awaitable callables (``await task()``), which is all a response needs
to run them.  Sync functions go to the threadpool so they cannot stall the loop.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ParamSpec

from aster import _telemetry_hooks
from aster.concurrency import is_async_callable, run_in_threadpool

__all__ = ["BackgroundTask", "BackgroundTasks", "StarletteBackgroundTasks"]

P = ParamSpec("P")


class BackgroundTask:
    """One call, ``func(*args, **kwargs)``, made when the task is awaited."""

    def __init__(self, func: Callable[P, Any], *args: P.args, **kwargs: P.kwargs) -> None:
        self.func = func
        self.args = args
        self.kwargs = kwargs
        self.is_async = is_async_callable(func)

    async def __call__(self) -> None:
        if self.is_async:
            await self.func(*self.args, **self.kwargs)
        else:
            await run_in_threadpool(self.func, *self.args, **self.kwargs)


class BackgroundTasks(BackgroundTask):
    """Tasks run one after another, in the order they were added.

    If one raises, the ones after it do not run and the error propagates.
    """

    def __init__(self, tasks: Sequence[BackgroundTask] | None = None) -> None:
        self.tasks = list(tasks) if tasks else []

    def add_task(self, func: Callable[P, Any], *args: P.args, **kwargs: P.kwargs) -> None:
        """Add ``func(*args, **kwargs)`` to run after the response is sent."""
        self.tasks.append(BackgroundTask(func, *args, **kwargs))

    async def __call__(self) -> None:
        if _telemetry_hooks.active:  # each task in a ``fastapi.background_task`` span
            for task in self.tasks:
                with _telemetry_hooks.operation(
                    name="background_task", function=getattr(task, "func", task)
                ):
                    await task()
            return
        for task in self.tasks:
            await task()


#: ``fastapi.background.StarletteBackgroundTasks``: FastAPI's class adds only documentation
#: to Starlette's, so both names are this one class.
StarletteBackgroundTasks = BackgroundTasks
