"""The application: ``FastAPI`` (alias ``App``), a ``Starlette`` app with an ``APIRouter``.

The middleware stack is Starlette's (:mod:`aster._starlette_applications`); FastAPI adds
the handlers for validation errors, the OpenAPI document and the docs pages.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any, Literal

from . import params
from ._body_limit import AppBodyLimitMiddleware, validate_max_body_size
from ._frontend import FrontendFallback
from ._response import JSONResponse, Response
from ._routing_base import BaseRoute
from ._starlette_applications import Starlette
from ._starlette_exceptions import StarletteHTTPException as HTTPException
from .api_router import APIRouter
from .api_routing import APIRoute
from .datastructures import Default, DefaultPlaceholder, State
from .dependencies.models import CHANGES, OverridesDict
from .exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
    websocket_request_validation_exception_handler,
)
from .exceptions import (
    FastAPIDeprecationWarning,
    RequestValidationError,
    WebSocketRequestValidationError,
)
from .middleware import Middleware
from .staticfiles import PathLike
from .telemetry._config import TelemetryConfig, resolve_config
from .telemetry._gate import telemetry_gate
from .types import ASGIApp, DecoratedCallable, Lifespan
from .utils import generate_unique_id


class FastAPI(Starlette):
    """The application class of FastAPI's API (``aster.App`` is the same class)."""

    def __init__(
        self,
        *,
        debug: bool = False,
        routes: list[BaseRoute] | None = None,
        title: str = "FastAPI",
        summary: str | None = None,
        description: str = "",
        version: str = "0.1.0",
        openapi_url: str | None = "/openapi.json",
        openapi_tags: list[dict[str, Any]] | None = None,
        servers: list[dict[str, str | Any]] | None = None,
        dependencies: Sequence[params.Depends] | None = None,
        default_response_class: type[Response] = Default(JSONResponse),
        redirect_slashes: bool = True,
        docs_url: str | None = "/docs",
        redoc_url: str | None = "/redoc",
        swagger_ui_oauth2_redirect_url: str | None = "/docs/oauth2-redirect",
        swagger_ui_init_oauth: dict[str, Any] | None = None,
        middleware: Sequence[Middleware] | None = None,
        exception_handlers: dict[int | type[Exception], Callable[..., Any]] | None = None,
        on_startup: Sequence[Callable[[], Any]] | None = None,
        on_shutdown: Sequence[Callable[[], Any]] | None = None,
        lifespan: Lifespan[Any] | None = None,
        terms_of_service: str | None = None,
        contact: dict[str, str | Any] | None = None,
        license_info: dict[str, str | Any] | None = None,
        root_path: str = "",
        root_path_in_servers: bool = True,
        responses: dict[int | str, dict[str, Any]] | None = None,
        callbacks: list[BaseRoute] | None = None,
        webhooks: APIRouter | None = None,
        deprecated: bool | None = None,
        include_in_schema: bool = True,
        swagger_ui_parameters: dict[str, Any] | None = None,
        generate_unique_id_function: Callable[[APIRoute], str] = Default(generate_unique_id),
        separate_input_output_schemas: bool = True,
        openapi_external_docs: dict[str, Any] | None = None,
        strict_content_type: bool = True,
        max_body_size: int | None = None,
        form_limits: dict[str, Any] | None = None,
        telemetry: TelemetryConfig | None = None,
        docs_cdn: bool = False,
        **extra: Any,
    ) -> None:
        self.debug = debug
        self.title = title
        self.summary = summary
        self.description = description
        self.version = version
        self.terms_of_service = terms_of_service
        self.contact = contact
        self.license_info = license_info
        self.openapi_url = openapi_url
        self.openapi_tags = openapi_tags
        self.root_path_in_servers = root_path_in_servers
        self.docs_url = docs_url
        self.redoc_url = redoc_url
        self.swagger_ui_oauth2_redirect_url = swagger_ui_oauth2_redirect_url
        self.swagger_ui_init_oauth = swagger_ui_init_oauth
        self.swagger_ui_parameters = swagger_ui_parameters
        #: aster only: load Swagger UI and ReDoc from FastAPI's CDN, not the app's own copies.
        self.docs_cdn = docs_cdn
        self.servers = servers or []
        self.separate_input_output_schemas = separate_input_output_schemas
        self.openapi_external_docs = openapi_external_docs
        self.extra = extra
        self.openapi_version = "3.1.0"
        self.openapi_schema: dict[str, Any] | None = None
        if self.openapi_url:
            assert self.title, "A title must be provided for OpenAPI, e.g.: 'My API'"
            assert self.version, "A version must be provided for OpenAPI, e.g.: '2.1.0'"
        self.webhooks = webhooks or APIRouter()
        if root_path:
            warnings.warn(
                "The `root_path` parameter is deprecated. Configure the server's root path "
                "instead, for example with `aster run --root-path /api/v1` (the same flag "
                "as `fastapi run --root-path` and `uvicorn --root-path`).",
                category=FastAPIDeprecationWarning,
                stacklevel=2,
            )
        self.root_path = root_path
        self.state = State()
        self.dependency_overrides: dict[Callable[..., Any], Callable[..., Any]] = {}
        validate_max_body_size(max_body_size)
        self.max_body_size = max_body_size
        self.router: APIRouter = APIRouter(
            routes=routes,
            redirect_slashes=redirect_slashes,
            dependency_overrides_provider=self,
            on_startup=on_startup,
            on_shutdown=on_shutdown,
            lifespan=lifespan,
            default_response_class=default_response_class,
            dependencies=dependencies,
            callbacks=callbacks,
            deprecated=deprecated,
            include_in_schema=include_in_schema,
            responses=responses,
            generate_unique_id_function=generate_unique_id_function,
            strict_content_type=strict_content_type,
            form_limits=form_limits,
        )
        self.exception_handlers: dict[Any, Callable[..., Any]] = (
            {} if exception_handlers is None else dict(exception_handlers)
        )
        self.exception_handlers.setdefault(HTTPException, http_exception_handler)
        self.exception_handlers.setdefault(
            RequestValidationError, request_validation_exception_handler
        )
        self.exception_handlers.setdefault(
            WebSocketRequestValidationError, websocket_request_validation_exception_handler
        )
        self.user_middleware: list[Middleware] = [] if middleware is None else list(middleware)
        self.middleware_stack: ASGIApp | None = None
        #: Native OpenTelemetry settings (:mod:`aster.telemetry`), the app's own copy.
        self._telemetry: TelemetryConfig = resolve_config(telemetry)
        self.setup()

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "dependency_overrides":
            # A dict that records its changes, so that routes need not read it per request;
            # replacing it is a change too.
            if type(value) is dict:
                value = OverridesDict(value)
            CHANGES[0] += 1
        super().__setattr__(name, value)

    def build_middleware_stack(self) -> ASGIApp:
        # Startup is when the app learns whether it can record telemetry at all.
        self._telemetry_gate = telemetry_gate(self._telemetry)
        return super().build_middleware_stack()

    def _body_limit_middleware(self) -> list[Middleware]:
        """FastAPI's: mounted under an app that counts the body, a body-limit error raised
        in this app's own middleware is answered here (413), not by its server-error
        handler (500).  Without a limit or middleware of its own nothing can raise one
        outside the exception handlers, so the stack stays as lean as Starlette's."""
        if self.max_body_size is None and not self.user_middleware:
            return []
        return [Middleware(AppBodyLimitMiddleware, max_body_size=self.max_body_size)]

    def setup(self) -> None:
        """Add the OpenAPI schema and docs routes (when the OpenAPI support is installed)."""
        try:
            from .openapi.setup import add_openapi_routes
        except ImportError:
            return
        add_openapi_routes(self)

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            from .openapi.utils import get_openapi

            self.openapi_schema = get_openapi(
                title=self.title,
                version=self.version,
                openapi_version=self.openapi_version,
                summary=self.summary,
                description=self.description,
                terms_of_service=self.terms_of_service,
                contact=self.contact,
                license_info=self.license_info,
                routes=self.routes,
                webhooks=self.webhooks.routes,
                tags=self.openapi_tags,
                servers=self.servers,
                separate_input_output_schemas=self.separate_input_output_schemas,
                external_docs=self.openapi_external_docs,
            )
        return self.openapi_schema

    @property
    def root_path(self) -> str:
        return self._root_path

    @root_path.setter
    def root_path(self, value: str) -> None:
        self._root_path = value

    # -- path operations (delegated to the router) -----------------------------------------

    def add_api_route(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        self.router.add_api_route(path, endpoint, **kwargs)

    def api_route(
        self, path: str, **kwargs: Any
    ) -> Callable[[DecoratedCallable], DecoratedCallable]:
        return self.router.api_route(path, **kwargs)

    def add_api_websocket_route(
        self,
        path: str,
        endpoint: Callable[..., Any],
        name: str | None = None,
        *,
        dependencies: Sequence[params.Depends] | None = None,
    ) -> None:
        self.router.add_api_websocket_route(path, endpoint, name=name, dependencies=dependencies)

    def websocket(
        self,
        path: str,
        name: str | None = None,
        *,
        dependencies: Sequence[params.Depends] | None = None,
    ) -> Callable[[DecoratedCallable], DecoratedCallable]:
        return self.router.websocket(path, name=name, dependencies=dependencies)

    def include_router(self, router: APIRouter, **kwargs: Any) -> None:
        self.router.include_router(router, **kwargs)

    def frontend(
        self,
        path: str,
        *,
        directory: PathLike,
        fallback: FrontendFallback = "auto",
        check_dir: bool | Literal["auto"] = "auto",
    ) -> None:
        """Serve a built frontend below ``path``; see :meth:`APIRouter.frontend`."""
        self.router._add_frontend(path, directory, fallback, check_dir, stacklevel=2)

    def get(self, path: str, **kwargs: Any) -> Callable[[DecoratedCallable], DecoratedCallable]:
        return self.router.get(path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Callable[[DecoratedCallable], DecoratedCallable]:
        return self.router.put(path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Callable[[DecoratedCallable], DecoratedCallable]:
        return self.router.post(path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Callable[[DecoratedCallable], DecoratedCallable]:
        return self.router.delete(path, **kwargs)

    def options(self, path: str, **kwargs: Any) -> Callable[[DecoratedCallable], DecoratedCallable]:
        return self.router.options(path, **kwargs)

    def head(self, path: str, **kwargs: Any) -> Callable[[DecoratedCallable], DecoratedCallable]:
        return self.router.head(path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Callable[[DecoratedCallable], DecoratedCallable]:
        return self.router.patch(path, **kwargs)

    def trace(self, path: str, **kwargs: Any) -> Callable[[DecoratedCallable], DecoratedCallable]:
        return self.router.trace(path, **kwargs)

    def websocket_route(
        self, path: str, name: str | None = None
    ) -> Callable[[DecoratedCallable], DecoratedCallable]:
        return self.router.websocket_route(path, name=name)

    def route(
        self,
        path: str,
        methods: list[str] | None = None,
        name: str | None = None,
        include_in_schema: bool = True,
    ) -> Callable[[DecoratedCallable], DecoratedCallable]:
        return self.router.route(
            path, methods=methods, name=name, include_in_schema=include_in_schema
        )

    def on_event(self, event_type: str) -> Callable[[DecoratedCallable], DecoratedCallable]:
        warnings.warn(
            "on_event is deprecated, use lifespan event handlers instead.\n\n"
            "Read more about it in the [FastAPI docs for Lifespan Events]"
            "(https://fastapi.tiangolo.com/advanced/events/).",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.router.on_event(event_type)


App = FastAPI

__all__ = ["App", "DefaultPlaceholder", "FastAPI", "Starlette"]
