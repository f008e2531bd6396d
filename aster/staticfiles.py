"""``StaticFiles``: serve a directory (or packages' ``statics`` folders) below a mount.

Same constructor and overridable methods as Starlette 1.10's, so subclasses written for
Starlette keep working.  The bytes, ``Range`` requests and validators are
:class:`~aster.responses.FileResponse`'s job; this module only turns a URL path into a
file on disk and refuses any that would land outside the served directories.

Every filesystem call (``stat``, ``realpath``) runs in the thread pool: a slow or
network-mounted disk must not stall the event loop.
"""

from __future__ import annotations

import errno
import importlib.util
import os
import stat
from collections.abc import Sequence
from email.utils import parsedate
from typing import Union

from ._fileresponse import FileResponse, etag_matches
from ._response import RedirectResponse, Response
from ._routing_base import get_route_path
from ._starlette_exceptions import StarletteHTTPException as HTTPException
from .concurrency import run_in_threadpool
from .datastructures import URL, Headers
from .types import Receive, Scope, Send
from .websockets import WebSocketClose

__all__ = ["NotModifiedResponse", "PathLike", "StaticFiles"]

PathLike = Union[str, "os.PathLike[str]"]

#: Allowed methods, sent as ``Allow`` with a 405.
_ALLOW = {"Allow": "GET, HEAD"}


class NotModifiedResponse(Response):
    """A 304 carrying only the headers RFC 9110 (15.4.5) lets it repeat from the 200."""

    NOT_MODIFIED_HEADERS = ("cache-control", "content-location", "date", "etag", "expires", "vary")

    def __init__(self, headers: Headers) -> None:
        kept = {name: headers[name] for name in self.NOT_MODIFIED_HEADERS if name in headers}
        super().__init__(status_code=304, headers=kept)


class StaticFiles:
    """An ASGI app answering GET/HEAD with files from ``directory`` and/or ``packages``.

    ``html=True`` serves ``index.html`` for directories (redirecting ``/dir`` to
    ``/dir/``) and ``404.html`` instead of a bare 404.  ``check_dir=False`` defers the
    "directory exists" check to the first request (for directories created later).
    Symlinks pointing outside the directory are refused unless ``follow_symlink``.
    """

    def __init__(
        self,
        *,
        directory: PathLike | None = None,
        packages: list[str | tuple[str, str]] | None = None,
        html: bool = False,
        check_dir: bool = True,
        follow_symlink: bool = False,
    ) -> None:
        self.directory = directory
        self.packages = packages
        self.all_directories = self.get_directories(directory, packages)
        self.html = html
        self.config_checked = False
        self.follow_symlink = follow_symlink
        if check_dir and directory is not None and not os.path.isdir(directory):
            raise RuntimeError(f"Directory '{directory}' does not exist")

    def get_directories(
        self,
        directory: PathLike | None = None,
        packages: Sequence[str | tuple[str, str]] | None = None,
    ) -> list[PathLike]:
        """``directory`` first, then each package's folder (``statics`` unless named)."""
        directories: list[PathLike] = [] if directory is None else [directory]
        for entry in packages or []:
            package, folder = entry if isinstance(entry, tuple) else (entry, "statics")
            spec = importlib.util.find_spec(package)
            assert spec is not None, f"Package {package!r} could not be found."
            assert spec.origin is not None, f"Package {package!r} could not be found."
            package_dir = os.path.normpath(os.path.join(spec.origin, "..", folder))
            assert os.path.isdir(package_dir), (
                f"Directory '{folder!r}' in package {package!r} could not be found."
            )
            directories.append(package_dir)
        return directories

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await WebSocketClose()(scope, receive, send)
            return
        assert scope["type"] == "http"
        if not self.config_checked:
            await self.check_config()
            self.config_checked = True
        response = await self.get_response(self.get_path(scope), scope)
        await response(scope, receive, send)

    def get_path(self, scope: Scope) -> str:
        """The request path below the mount as a relative OS path, ``.``/``..`` folded.

        Splitting on ``/`` and joining drops empty segments, so ``//etc/passwd``
        becomes ``etc/passwd``; a leading ``..`` survives and ``lookup_path`` refuses it.
        """
        segments = get_route_path(scope).split("/")
        return os.path.normpath(os.path.join(*segments))

    async def get_response(self, path: str, scope: Scope) -> Response:
        """The response for ``path``; raises ``HTTPException`` for 401/404/405."""
        if scope["method"] not in ("GET", "HEAD"):
            raise HTTPException(status_code=405, headers=_ALLOW)
        full_path, stat_result = await self._lookup(path)
        if stat_result is not None and stat.S_ISREG(stat_result.st_mode):
            return self.file_response(full_path, stat_result, scope)
        if self.html and stat_result is not None and stat.S_ISDIR(stat_result.st_mode):
            index_path, index_stat = await self._lookup(os.path.join(path, "index.html"))
            if index_stat is not None and stat.S_ISREG(index_stat.st_mode):
                if not scope["path"].endswith("/"):
                    # Relative links in the page resolve against the directory only with
                    # the trailing slash, so send the browser there first.
                    url = URL(scope=scope)
                    return RedirectResponse(url=url.replace(path=url.path + "/"))
                return self.file_response(index_path, index_stat, scope)
        if self.html:
            page_path, page_stat = await self._lookup("404.html")
            if page_stat is not None and stat.S_ISREG(page_stat.st_mode):
                return FileResponse(page_path, stat_result=page_stat, status_code=404)
        raise HTTPException(status_code=404)

    async def _lookup(self, path: str) -> tuple[str, os.stat_result | None]:
        """``lookup_path`` in a worker thread, with OS errors mapped to HTTP ones."""
        try:
            return await run_in_threadpool(self.lookup_path, path)
        except PermissionError:
            raise HTTPException(status_code=401) from None
        except ValueError:  # an embedded NUL byte, or a path the OS cannot represent
            raise HTTPException(status_code=404) from None
        except OSError as exc:
            if exc.errno == errno.ENAMETOOLONG:  # no file can have that name
                raise HTTPException(status_code=404) from None
            raise

    def lookup_path(self, path: str) -> tuple[str, os.stat_result | None]:
        """The first ``(full path, stat)`` found for ``path``, or ``("", None)``.

        Blocking (it stats files): call it in a thread.  A candidate is accepted only
        if it still lies inside its directory once resolved: ``realpath`` (symlinks
        resolved) normally, ``abspath`` (symlinks trusted) with ``follow_symlink``.
        """
        if path.startswith(("/", "\\")):
            return "", None
        resolve = os.path.abspath if self.follow_symlink else os.path.realpath
        for directory in self.all_directories:
            root = resolve(directory)
            full_path = resolve(os.path.join(directory, path))
            if os.path.commonpath([full_path, root]) != root:
                continue  # "..", or a symlink, leads out of this directory
            try:
                return full_path, os.stat(full_path)
            except (FileNotFoundError, NotADirectoryError):
                continue
        return "", None

    def file_response(
        self,
        full_path: PathLike,
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        """A ``FileResponse``, or a 304 when the client's cached copy is current."""
        response = FileResponse(full_path, status_code=status_code, stat_result=stat_result)
        if self.is_not_modified(response.headers, Headers(scope=scope)):
            return NotModifiedResponse(response.headers)
        return response

    async def check_config(self) -> None:
        """Fail loudly on the first request if ``directory`` is missing or a file.

        Without it a typo in ``directory`` would only ever show up as 404s.
        """
        if self.directory is None:
            return
        try:
            stat_result = await run_in_threadpool(os.stat, self.directory)
        except FileNotFoundError:
            raise RuntimeError(
                f"StaticFiles directory '{self.directory}' does not exist."
            ) from None
        if not (stat.S_ISDIR(stat_result.st_mode) or stat.S_ISLNK(stat_result.st_mode)):
            raise RuntimeError(f"StaticFiles path '{self.directory}' is not a directory.")

    def is_not_modified(self, response_headers: Headers, request_headers: Headers) -> bool:
        """Whether the request's validators match, so a 304 may replace the 200.

        ``If-None-Match`` wins when present (RFC 9110 13.2.2): a stale ETag means
        a full response even if ``If-Modified-Since`` would have matched.
        """
        if_none_match = request_headers.get("if-none-match")
        if if_none_match:
            return etag_matches(if_none_match, response_headers["etag"])
        since = request_headers.get("if-modified-since")
        last_modified = response_headers.get("last-modified")
        if since is None or last_modified is None:
            return False
        since_date, modified_date = parsedate(since), parsedate(last_modified)
        return since_date is not None and modified_date is not None and since_date >= modified_date
