"""The routes ``FastAPI.setup()`` adds: the OpenAPI document and the interactive docs.

The same URLs, pages and ``root_path`` handling as FastAPI 0.165, with one difference:
by default ``/docs`` and ``/redoc`` load Swagger UI and ReDoc from copies the app
serves itself (:mod:`._assets`), so the docs work offline.  ``FastAPI(docs_cdn=True)``,
or a missing ``openapi-ui-bundles`` package, brings back FastAPI's CDN URLs.

The handlers read the app's settings (URLs, title, Swagger options) on each request,
as FastAPI's do, so changing them after the app is built still shows in the pages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._response import HTMLResponse, JSONResponse, Response
from ..requests import Request
from ._assets import ASSET_PREFIX, Bundle, local_bundle, serve_asset
from .docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html

if TYPE_CHECKING:
    from ..applications import FastAPI

__all__ = ["add_openapi_routes"]


def _root_path(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


def add_openapi_routes(app: FastAPI) -> None:
    """Add the ``openapi_url``, ``docs_url``, OAuth2 redirect and ``redoc_url`` routes.

    Nothing is added without an ``openapi_url``: the pages would have nothing to show.
    """
    if not app.openapi_url:
        return
    bundle: Bundle | None = None
    if (app.docs_url or app.redoc_url) and not getattr(app, "docs_cdn", False):
        bundle = local_bundle()

    def local(request: Request) -> Bundle | None:
        """The bundle, unless ``docs_cdn`` was switched on after the app was built."""
        return None if getattr(app, "docs_cdn", False) else bundle

    async def openapi(request: Request) -> JSONResponse:
        root_path = _root_path(request)
        schema: dict[str, Any] = app.openapi()
        if root_path and app.root_path_in_servers:
            server_urls = {server.get("url") for server in schema.get("servers", [])}
            if root_path not in server_urls:
                # A copy: the cached schema must not collect one entry per root path seen.
                schema = {**schema, "servers": [{"url": root_path}, *schema.get("servers", [])]}
        return JSONResponse(schema)

    app.add_route(app.openapi_url, openapi, include_in_schema=False)

    if app.docs_url:

        async def swagger_ui_html(request: Request) -> HTMLResponse:
            root_path = _root_path(request)
            redirect_url = app.swagger_ui_oauth2_redirect_url
            shipped = local(request)
            return get_swagger_ui_html(
                openapi_url=root_path + str(app.openapi_url),
                title=f"{app.title} - Swagger UI",
                oauth2_redirect_url=root_path + redirect_url if redirect_url else redirect_url,
                init_oauth=app.swagger_ui_init_oauth,
                swagger_ui_parameters=app.swagger_ui_parameters,
                **(shipped.swagger_urls(root_path) if shipped else {}),
            )

        app.add_route(app.docs_url, swagger_ui_html, include_in_schema=False)

        if app.swagger_ui_oauth2_redirect_url:

            async def swagger_ui_redirect(request: Request) -> HTMLResponse:
                return get_swagger_ui_oauth2_redirect_html()

            app.add_route(
                app.swagger_ui_oauth2_redirect_url, swagger_ui_redirect, include_in_schema=False
            )

    if app.redoc_url:

        async def redoc_html(request: Request) -> HTMLResponse:
            root_path = _root_path(request)
            shipped = local(request)
            extra: dict[str, Any] = {}
            if shipped:
                extra = {**shipped.redoc_urls(root_path), "with_google_fonts": False}
            return get_redoc_html(
                openapi_url=root_path + str(app.openapi_url), title=f"{app.title} - ReDoc", **extra
            )

        app.add_route(app.redoc_url, redoc_html, include_in_schema=False)

    if bundle is not None:
        shipped_bundle = bundle

        async def docs_assets(request: Request) -> Response:
            return await serve_asset(shipped_bundle, request)

        app.add_route(ASSET_PREFIX + "/{asset:path}", docs_assets, include_in_schema=False)
