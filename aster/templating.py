"""``Jinja2Templates``: render Jinja2 templates into HTML responses.

Same API as Starlette 1.10's, plus the pre-1.0 call order
``TemplateResponse(name, {"request": request})``, still accepted with Starlette's old
``DeprecationWarning`` so that apps written for older FastAPI versions keep running.

Jinja2 is optional: only this module imports it, and importing it without Jinja2
installed raises ``ImportError`` saying what to install.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from os import PathLike
from typing import Any, overload

try:
    import jinja2
except ImportError as _missing:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "jinja2 must be installed to use Jinja2Templates: pip install 'aster[templates]'"
    ) from _missing

from ._response import HTMLResponse
from .background import BackgroundTask
from .datastructures import URL
from .requests import Request
from .types import Receive, Scope, Send

__all__ = ["Jinja2Templates"]

# Jinja2 3.0 renamed ``contextfunction`` to ``pass_context`` (3.1 removed the old name).
pass_context: Any = getattr(jinja2, "pass_context", None) or jinja2.contextfunction  # type: ignore[attr-defined]

ContextProcessor = Callable[[Request], dict[str, Any]]

_NAME_FIRST_WARNING = (
    "The `name` is not the first parameter anymore. "
    "The first parameter should be the `Request` instance.\n"
    'Replace `TemplateResponse(name, {"request": request})` by `TemplateResponse(request, name)`.'
)
_NO_REQUEST_WARNING = (
    "The `TemplateResponse` now requires the `request` argument.\n"
    'Replace `TemplateResponse(name, {"context": context})` by `TemplateResponse(request, name)`.'
)


class _TemplateResponse(HTMLResponse):
    """An ``HTMLResponse`` that remembers the template and context it was rendered from.

    Under a test client offering the ``http.response.debug`` extension it also sends
    them in a debug message, which is how ``response.template`` and
    ``response.context`` reach tests.
    """

    def __init__(
        self,
        template: Any,
        context: dict[str, Any],
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        self.template = template
        self.context = context
        super().__init__(template.render(context), status_code, headers, media_type, background)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if "http.response.debug" in (scope.get("extensions") or {}):
            info = {"template": self.template, "context": self.context}
            await send({"type": "http.response.debug", "info": info})
        await super().__call__(scope, receive, send)


def _current_order(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
    media_type: str | None = None,
    background: BackgroundTask | None = None,
) -> tuple[Any, ...]:
    """Binds ``TemplateResponse``'s arguments in today's order (Python checks them)."""
    return request, name, context, status_code, headers, media_type, background


def _name_first_order(
    name: str,
    context: dict[str, Any] | None = None,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
    media_type: str | None = None,
    background: BackgroundTask | None = None,
) -> tuple[Any, ...]:
    """Binds the pre-1.0 order, where the request came inside ``context``."""
    context = {} if context is None else context
    if "request" not in context:
        raise ValueError('context must include a "request" key')
    return context["request"], name, context, status_code, headers, media_type, background


class Jinja2Templates:
    """Templates from ``directory`` (one path or several), or from a ready ``env``.

    Templates get a ``url_for(name, **path_params)`` global that builds absolute URLs
    from the request in their context (mounts and ``root_path`` included), and each
    ``context_processors`` entry adds its dict to every context.
    """

    @overload
    def __init__(
        self,
        directory: str | PathLike[str] | Sequence[str | PathLike[str]],
        *,
        context_processors: list[ContextProcessor] | None = None,
    ) -> None: ...

    @overload
    def __init__(
        self,
        *,
        env: jinja2.Environment,
        context_processors: list[ContextProcessor] | None = None,
    ) -> None: ...

    def __init__(
        self,
        directory: str | PathLike[str] | Sequence[str | PathLike[str]] | None = None,
        *,
        context_processors: list[ContextProcessor] | None = None,
        env: jinja2.Environment | None = None,
    ) -> None:
        assert bool(directory) ^ bool(env), "either 'directory' or 'env' arguments must be passed"
        self.context_processors = context_processors or []
        if env is None:
            # HTML-ish template names get autoescaping: user data must not become markup.
            loader = jinja2.FileSystemLoader(directory)  # type: ignore[arg-type]
            env = jinja2.Environment(loader=loader, autoescape=jinja2.select_autoescape())
        self.env = env
        self._setup_env_defaults(self.env)

    def _setup_env_defaults(self, env: jinja2.Environment) -> None:
        """Add the ``url_for`` global, leaving one the user already set alone."""

        @pass_context
        def url_for(context: Mapping[str, Any], name: str, /, **path_params: Any) -> URL:
            request: Request = context["request"]
            return request.url_for(name, **path_params)

        env.globals.setdefault("url_for", url_for)

    def get_template(self, name: str) -> jinja2.Template:
        return self.env.get_template(name)

    @overload
    def TemplateResponse(
        self,
        request: Request,
        name: str,
        context: dict[str, Any] | None = None,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
    ) -> _TemplateResponse: ...

    @overload
    def TemplateResponse(
        self,
        name: str,
        context: dict[str, Any] | None = None,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
    ) -> _TemplateResponse: ...

    def TemplateResponse(self, *args: Any, **kwargs: Any) -> _TemplateResponse:
        """Render ``name`` with ``context`` (plus ``request`` and the processors' output).

        The context dict passed in is the one rendered (and exposed as
        ``response.context``): ``request`` and the processors' keys are added to it.
        """
        if args and isinstance(args[0], str):
            warnings.warn(_NAME_FIRST_WARNING, DeprecationWarning, stacklevel=2)
            bound = _name_first_order(*args, **kwargs)
        elif not args and "request" not in kwargs:
            warnings.warn(_NO_REQUEST_WARNING, DeprecationWarning, stacklevel=2)
            bound = _name_first_order(*args, **kwargs)
        else:
            bound = _current_order(*args, **kwargs)
        request, name, context, status_code, headers, media_type, background = bound
        context = context or {}
        context.setdefault("request", request)
        for processor in self.context_processors:
            context.update(processor(request))
        return _TemplateResponse(
            self.get_template(name),
            context,
            status_code=status_code,
            headers=headers,
            media_type=media_type,
            background=background,
        )
