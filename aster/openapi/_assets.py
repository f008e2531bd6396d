"""The Swagger UI and ReDoc files an app serves itself, from the ``openapi-ui-bundles`` package.

Docs pages that load their scripts from a CDN break offline, behind strict firewalls
and under a ``Content-Security-Policy`` limited to the app's own origin.  So an app's
``/docs`` and ``/redoc`` load them from the app, below ``/_aster/docs/``, at URLs that
carry the bundled version (``swagger-ui-dist@5.17.14/swagger-ui-bundle.js``): a new
version means a new URL, so browsers may cache each file for a year without revalidating.

Only the files listed when the package is first looked at can be served; a request
path is a key into that table and never becomes a filesystem path, so ``..`` and
friends have nothing to traverse.

ReDoc's sidebar shows Redocly's logo from ``cdn.redoc.ly``: the one request the pages
would still make off-host.  The served ``redoc.standalone.js`` has that URL replaced
by a ``data:`` URL of the same logo (shipped with the bundle), so it is the one file
sent from memory rather than by ``FileResponse``.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
import warnings
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate
from pathlib import Path

from .._fileresponse import FileResponse
from .._response import Response
from ..concurrency import run_in_threadpool
from ..datastructures import Headers
from ..exceptions import HTTPException
from ..requests import Request
from ..staticfiles import NotModifiedResponse

__all__ = ["ASSET_PREFIX", "CACHE_CONTROL", "Bundle", "local_bundle", "serve_asset"]

#: Where the assets live, below the app's root path.
ASSET_PREFIX = "/_aster/docs"
#: Versioned URLs never change content, so caches may keep them without asking again.
CACHE_CONTROL = "public, max-age=31536000, immutable"

_MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}
_SWAGGER_VERSION = re.compile(rb'PACKAGE_VERSION:"([0-9A-Za-z.+-]+)"')
_REDOC_VERSION = re.compile(rb'ReDoc Version: ","([0-9A-Za-z.+-]+)"')
_REDOCLY_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"


@dataclass(frozen=True)
class Bundle:
    """The shipped assets: the two versioned folders and every file that may be served."""

    swagger_dir: str  # e.g. "swagger-ui-dist@5.17.14"
    redoc_dir: str  # e.g. "redoc@2.2.0"
    files: dict[str, tuple[Path, str]] = field(default_factory=dict)  # key -> (file, type)
    #: Files served with a byte string replaced: key -> (old, new).
    patches: dict[str, tuple[bytes, bytes]] = field(default_factory=dict)

    def url(self, root_path: str, key: str) -> str:
        return f"{root_path}{ASSET_PREFIX}/{key}"

    def swagger_urls(self, root_path: str) -> dict[str, str]:
        """Keyword arguments for ``get_swagger_ui_html``."""
        return {
            "swagger_js_url": self.url(root_path, f"{self.swagger_dir}/swagger-ui-bundle.js"),
            "swagger_css_url": self.url(root_path, f"{self.swagger_dir}/swagger-ui.css"),
            "swagger_favicon_url": self.favicon(root_path),
        }

    def redoc_urls(self, root_path: str) -> dict[str, str]:
        """Keyword arguments for ``get_redoc_html`` (no Google Fonts: nothing off-host)."""
        return {
            "redoc_js_url": self.url(root_path, f"{self.redoc_dir}/redoc.standalone.js"),
            "redoc_favicon_url": self.favicon(root_path),
        }

    def favicon(self, root_path: str) -> str:
        key = f"{self.swagger_dir}/favicon-32x32.png"
        # An empty data URL keeps the browser from asking the app for /favicon.ico.
        return self.url(root_path, key) if key in self.files else "data:,"


def _version(path: Path, pattern: re.Pattern[bytes], fallback: str) -> str:
    """The version the bundle states about itself; the package's when it cannot be read."""
    try:
        match = pattern.search(path.read_bytes())
    except OSError:
        match = None
    return match.group(1).decode("ascii") if match else fallback


def _listing(directory: Path, folder: str) -> dict[str, tuple[Path, str]]:
    files: dict[str, tuple[Path, str]] = {}
    for path in sorted(directory.iterdir()):
        media_type = _MEDIA_TYPES.get(path.suffix)
        if media_type is not None and path.is_file():
            files[f"{folder}/{path.name}"] = (path, media_type)
    return files


@functools.lru_cache(maxsize=1)
def local_bundle() -> Bundle | None:
    """The installed bundle, looked up once per process; ``None`` (and one warning) if absent."""
    try:
        import openapi_ui_bundles
        from openapi_ui_bundles import redoc, swagger_ui
    except ImportError:
        warnings.warn(
            "openapi-ui-bundles is not installed: /docs and /redoc load Swagger UI and "
            "ReDoc from cdn.jsdelivr.net instead (pip install openapi-ui-bundles)",
            RuntimeWarning,
            stacklevel=2,
        )
        return None
    package = f"bundles-{openapi_ui_bundles.__version__}"
    swagger_path, redoc_path = Path(swagger_ui.static_path), Path(redoc.static_path)
    swagger_version = _version(swagger_path / "swagger-ui-bundle.js", _SWAGGER_VERSION, package)
    redoc_version = _version(redoc_path / "redoc.standalone.js", _REDOC_VERSION, package)
    swagger_dir = f"swagger-ui-dist@{swagger_version}"
    redoc_dir = f"redoc@{redoc_version}"
    files = {**_listing(swagger_path, swagger_dir), **_listing(redoc_path, redoc_dir)}
    patches = {}
    logo = redoc_path / "logo-mini.svg"
    if logo.is_file():
        data_url = b"data:image/svg+xml;base64," + base64.b64encode(logo.read_bytes())
        patches[f"{redoc_dir}/redoc.standalone.js"] = (_REDOCLY_LOGO, data_url)
    return Bundle(swagger_dir=swagger_dir, redoc_dir=redoc_dir, files=files, patches=patches)


@functools.lru_cache(maxsize=8)
def _patched(path: Path, old: bytes, new: bytes) -> tuple[bytes, str, str]:
    """The patched bytes, their ETag and Last-Modified; read on first use, then kept."""
    content = path.read_bytes().replace(old, new)
    etag = f'"{hashlib.md5(content, usedforsecurity=False).hexdigest()}"'
    return content, etag, formatdate(path.stat().st_mtime, usegmt=True)


def _not_modified(request: Request, etag: str, last_modified: str) -> bool:
    """RFC 9110 13.2.2: ``If-None-Match`` when sent, else ``If-Modified-Since``."""
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or etag in tags
    since = request.headers.get("if-modified-since")
    since_date, modified_date = parsedate(since or ""), parsedate(last_modified)
    return since_date is not None and modified_date is not None and since_date >= modified_date


async def serve_asset(bundle: Bundle, request: Request) -> Response:
    """One file of ``bundle`` (ETag/Last-Modified, 304, ranges, HEAD by FileResponse), or 404."""
    key = request.path_params.get("asset", "")
    entry = bundle.files.get(key)
    if entry is None:
        raise HTTPException(status_code=404)
    path, media_type = entry
    patch = bundle.patches.get(key)
    if patch is None:
        return FileResponse(path, media_type=media_type, headers={"cache-control": CACHE_CONTROL})
    content, etag, last_modified = await run_in_threadpool(_patched, path, *patch)
    headers = {"cache-control": CACHE_CONTROL, "etag": etag, "last-modified": last_modified}
    if _not_modified(request, etag, last_modified):
        return NotModifiedResponse(Headers(headers))
    return Response(content, media_type=media_type, headers=headers)
