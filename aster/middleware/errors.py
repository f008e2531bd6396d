"""``ServerErrorMiddleware``: the outermost layer, turning unhandled exceptions into 500s.

After answering it re-raises the exception, as Starlette does, so the server
logs it and the test client can raise it in the test.

Being outermost, its 500 would skip what user middleware adds to responses;
the CORS headers matter most (without them a browser reports a CORS failure
instead of the 500).  So a middleware the exception passed through may leave a
hook in ``scope[ERROR_RESPONSE_HOOKS_KEY]``, and the 500's start message is
passed through those hooks, innermost first, as the response would have been.
"""

from __future__ import annotations

import html
import inspect
import traceback
from collections.abc import Callable

from .. import _telemetry_hooks
from .._response import HTMLResponse, PlainTextResponse, Response
from ..concurrency import is_async_callable, run_in_threadpool
from ..requests import Request
from ..types import ASGIApp, ExceptionHandler, Message, Receive, Scope, Send
from .exceptions import SendTracker

__all__ = ["ERROR_RESPONSE_HOOKS_KEY", "ServerErrorMiddleware"]

#: A list of ``hook(start_message) -> start_message`` applied to the 500's headers.
ERROR_RESPONSE_HOOKS_KEY = "aster.error_response_hooks"

_PAGE = """<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>500 Server Error</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
h1 {{ color: #b00020; margin-bottom: 0.2em; }}
.error {{ font-family: monospace; font-size: 1.1em; background: #fdecee; padding: 0.6em; }}
.frame {{ border: 1px solid #ccd; margin: 0.8em 0; }}
.frame-head {{ background: #eef; padding: 0.4em 0.6em; cursor: pointer; }}
.frame-file {{ font-family: monospace; }}
.code {{ font-family: monospace; white-space: pre; margin: 0; padding: 0.4em 0; }}
.line {{ padding: 0 0.6em; }}
.line.current {{ background: #ffe9a8; }}
.lineno {{ color: #889; display: inline-block; min-width: 3.5em; }}
.folded .code {{ display: none; }}
</style>
</head>
<body>
<h1>500 Server Error</h1>
<p class="error">{error}</p>
<h2>Traceback (innermost call first)</h2>
{frames}
<script>
for (const head of document.querySelectorAll(".frame-head")) {{
  head.addEventListener("click", () => head.parentElement.classList.toggle("folded"));
}}
</script>
</body>
</html>
"""

_FRAME = """<div class="frame{folded}">
<div class="frame-head">File <span class="frame-file">{filename}</span>, line <b>{lineno}</b>,
in <b>{function}</b></div>
<div class="code">{lines}</div>
</div>
"""


def _hooked_send(send: Send, hooks: list[Callable[[Message], Message]]) -> Send:
    """``send`` with the start message passed through ``hooks`` first."""

    async def hooked(message: Message) -> None:
        if message["type"] == "http.response.start":
            for hook in hooks:
                message = hook(message)
        await send(message)

    return hooked


class ServerErrorMiddleware:
    """Answer 500 for exceptions nothing else handled, then re-raise them.

    ``debug`` shows the traceback (HTML if the client accepts it, else plain
    text); otherwise ``handler(request, exc)`` builds the response, or a plain
    "Internal Server Error" is sent.  Nothing is sent if the response started.
    """

    def __init__(
        self, app: ASGIApp, handler: ExceptionHandler | None = None, debug: bool = False
    ) -> None:
        self.app = app
        self.handler = handler
        self.debug = debug

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tracker = SendTracker(send)  # the outermost layer: shared by those below it
        try:
            await self.app(scope, receive, tracker)
        except Exception as exc:
            if _telemetry_hooks.active:  # logged before an error handler answers it
                _telemetry_hooks.exception(scope=scope, exc=exc)
            await self.answer(exc, scope, receive, send, tracker)
            raise exc

    async def answer(
        self, exc: Exception, scope: Scope, receive: Receive, send: Send, tracker: SendTracker
    ) -> None:
        """Send the 500 (or the debug page) unless a response already started.

        The caller re-raises ``exc`` afterwards, so the server logs it.
        """
        request = Request(scope)
        response: Response
        if self.debug:
            response = await run_in_threadpool(self.debug_response, request, exc)
        elif self.handler is None:
            response = self.error_response(request, exc)
        elif is_async_callable(self.handler):
            response = await self.handler(request, exc)
        else:
            response = await run_in_threadpool(self.handler, request, exc)
        if not tracker.started:
            hooks = scope.get(ERROR_RESPONSE_HOOKS_KEY)
            if hooks:
                send = _hooked_send(send, hooks)
            await response(scope, receive, send)

    def generate_frame_html(self, frame: inspect.FrameInfo, is_collapsed: bool) -> str:
        first = frame.lineno - (frame.index or 0)
        lines = "".join(
            '<div class="line{current}"><span class="lineno">{number}</span>{text}</div>'.format(
                current=" current" if index == frame.index else "",
                number=first + index,
                text=html.escape(line.rstrip("\n")),
            )
            for index, line in enumerate(frame.code_context or [])
        )
        return _FRAME.format(
            folded=" folded" if is_collapsed else "",
            filename=html.escape(frame.filename),
            lineno=frame.lineno,
            function=html.escape(frame.function),
            lines=lines,
        )

    def generate_html(self, exc: Exception, limit: int = 7) -> str:
        """A page with the error and the innermost frames; all but the first are folded."""
        frames = []
        if exc.__traceback__ is not None:
            inner = inspect.getinnerframes(exc.__traceback__, limit)
            frames = [self.generate_frame_html(f, i > 0) for i, f in enumerate(reversed(inner))]
        summary = traceback.TracebackException.from_exception(exc)
        error = f"{type(exc).__name__}: {summary}"
        return _PAGE.format(error=html.escape(error), frames="".join(frames))

    def generate_plain_text(self, exc: Exception) -> str:
        return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))

    def debug_response(self, request: Request, exc: Exception) -> Response:
        if "text/html" in request.headers.get("accept", ""):
            return HTMLResponse(self.generate_html(exc), status_code=500)
        return PlainTextResponse(self.generate_plain_text(exc), status_code=500)

    def error_response(self, request: Request, exc: Exception) -> Response:
        return PlainTextResponse("Internal Server Error", status_code=500)
