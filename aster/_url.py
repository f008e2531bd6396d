"""URLs: the implementation behind ``aster.datastructures.URL`` and ``URLPath``.

``URL(scope=...)`` is built by string concatenation rather than through
``urlsplit``/``urlunsplit``; the parsed components are computed only if asked for.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit

from aster._multidict import MultiDict
from aster.types import Scope

__all__ = ["URL", "ParsedHost", "URLPath", "host_match", "parse_host_header"]

# A Host header is accepted only if it cannot change the URL's authority or path:
# a reg-name, an IPv6 literal (checked below) or an IPvFuture literal, then a port.
_HOST = re.compile(
    r"(?P<host>[a-z0-9._~%!$&'()*+,;=-]+"
    r"|\[(?:(?P<ipv6>[a-f0-9]*:[a-f0-9.:]+)|(?-i:v)[a-f0-9]+\.[a-z0-9._~!$&'()*+,;=:-]+)\])"
    r"(?::(?P<port>[0-9]+))?",
    re.IGNORECASE,
)
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def host_match(host_header: str) -> re.Match[str] | None:
    """A Host header split into ``host``, ``ipv6`` and ``port``, or None if it is malformed."""
    match = _HOST.fullmatch(host_header)
    if match is None:
        return None
    ipv6 = match["ipv6"]
    if ipv6 is not None:
        try:
            ipaddress.IPv6Address(ipv6)
        except ValueError:
            return None
    return match


@dataclass(frozen=True)
class ParsedHost:
    """A valid ``Host`` header split into its host (IP literals keep brackets) and port."""

    host: str
    port: str | None

    @property
    def authority(self) -> str:
        return self.host if self.port is None else f"{self.host}:{self.port}"

    @property
    def is_valid_port(self) -> bool:
        if self.port is None:
            return True
        digits = self.port.lstrip("0")
        return len(digits) <= 5 and int(digits or "0") <= 65535


def parse_host_header(host_header: str | None) -> ParsedHost | None:
    """The host and port of a ``Host`` header, or None if it is missing or malformed.

    Malformed means anything that could change the URL's authority or path when the header
    is pasted into a URL (``evil.com/x``, ``a@b``, a bad IPv6 literal, ``host:port:junk``).
    """
    if host_header is None:
        return None
    match = host_match(host_header)
    if match is None:
        return None
    return ParsedHost(match["host"], match["port"])


def _host_authority(host_header: str) -> str | None:
    """The ``host[:port]`` to trust from a Host header, or None if it is malformed."""
    parsed = parse_host_header(host_header)
    if parsed is None or not parsed.is_valid_port:
        return None
    return host_header


def _url_from_scope(scope: Scope) -> str:
    scheme = scope.get("scheme", "http")
    path = scope["path"]
    if "?" in path or "#" in path or "\\" in path:
        path = path.replace("?", "%3F").replace("#", "%23").replace("\\", "%5C")
    query = scope.get("query_string", b"")
    if type(query) is not str:  # a scope built by hand may hold a str, as Starlette accepts
        query = query.decode()
    netloc = None
    for key, value in scope["headers"]:
        if key == b"host":
            netloc = _host_authority(value.decode("latin-1"))
            break
    if netloc is None:
        server = scope.get("server")
        if server is not None:
            host, port = server
            if ":" in host and not host.startswith("["):
                host = f"[{host}]"
            netloc = host if port == _DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    if netloc:
        if path and path[0] != "/":
            path = "/" + path
        url = f"{scheme}://{netloc}{path}"
        return f"{url}?{query}" if query else url
    if netloc is not None:  # an empty authority: let urllib decide the exact spelling
        return SplitResult(scheme, netloc, path, query, "").geturl()
    if path.startswith("//"):  # with no authority, a leading // would read as one
        path = "/%2F" + path[2:]
    return f"{path}?{query}" if query else path


class URL:
    """A URL string with its parsed parts; built from a string, a scope, or components."""

    def __init__(self, url: str = "", scope: Scope | None = None, **components: Any) -> None:
        if scope is not None:
            assert not url, 'Cannot set both "url" and "scope".'
            assert not components, 'Cannot set both "scope" and "**components".'
            url = _url_from_scope(scope)
        elif components:
            assert not url, 'Cannot set both "url" and "**components".'
            url = URL("").replace(**components).components.geturl()
        self._url = url

    @property
    def components(self) -> SplitResult:
        try:
            return self._components
        except AttributeError:
            self._components: SplitResult = urlsplit(self._url)
            return self._components

    @property
    def scheme(self) -> str:
        return self.components.scheme

    @property
    def netloc(self) -> str:
        return self.components.netloc

    @property
    def path(self) -> str:
        return self.components.path

    @property
    def query(self) -> str:
        return self.components.query

    @property
    def fragment(self) -> str:
        return self.components.fragment

    @property
    def username(self) -> str | None:
        return self.components.username

    @property
    def password(self) -> str | None:
        return self.components.password

    @property
    def hostname(self) -> str | None:
        return self.components.hostname

    @property
    def port(self) -> int | None:
        return self.components.port

    @property
    def is_secure(self) -> bool:
        return self.scheme in ("https", "wss")

    def replace(self, **kwargs: Any) -> URL:
        """A copy with some components replaced (``scheme``, ``netloc``, ``path``, ``query``,
        ``fragment``, or the netloc parts ``username``, ``password``, ``hostname``, ``port``)."""
        if {"username", "password", "hostname", "port"} & kwargs.keys():
            hostname = kwargs.pop("hostname", None)
            port = kwargs.pop("port", self.port)
            username = kwargs.pop("username", self.username)
            password = kwargs.pop("password", self.password)
            if hostname is None:
                hostname = self.netloc.rpartition("@")[2]
                if hostname and hostname[-1] != "]":
                    hostname = hostname.rsplit(":", 1)[0]
            elif ":" in hostname and not hostname.startswith("["):
                try:
                    ipaddress.IPv6Address(hostname)
                except ValueError:
                    pass
                else:
                    hostname = f"[{hostname}]"
            netloc = hostname if port is None else f"{hostname}:{port}"
            if username is not None:
                userinfo = username if password is None else f"{username}:{password}"
                netloc = f"{userinfo}@{netloc}"
            kwargs["netloc"] = netloc
        return self.__class__(self.components._replace(**kwargs).geturl())

    def include_query_params(self, **kwargs: Any) -> URL:
        params = MultiDict(parse_qsl(self.query, keep_blank_values=True))
        params.update({str(key): str(value) for key, value in kwargs.items()})
        return self.replace(query=urlencode(params.multi_items()))

    def replace_query_params(self, **kwargs: Any) -> URL:
        return self.replace(query=urlencode([(str(k), str(v)) for k, v in kwargs.items()]))

    def remove_query_params(self, keys: str | Sequence[str]) -> URL:
        if isinstance(keys, str):
            keys = [keys]
        params = MultiDict(parse_qsl(self.query, keep_blank_values=True))
        for key in keys:
            params.pop(key, None)
        return self.replace(query=urlencode(params.multi_items()))

    def __eq__(self, other: Any) -> bool:
        return str(self) == str(other)

    def __str__(self) -> str:
        return self._url

    def __repr__(self) -> str:
        url = str(self.replace(password="********")) if self.password else self._url
        return f"{self.__class__.__name__}({url!r})"


class URLPath(str):
    """A path from ``url_path_for``, with the protocol and host a route may pin down."""

    protocol: str
    host: str

    def __new__(
        cls, path: str, protocol: Literal["http", "websocket", ""] = "", host: str = ""
    ) -> URLPath:
        assert protocol in ("http", "websocket", "")
        path = path.replace("\\", "%5C")
        if path.startswith("//"):
            path = "/%2F" + path[2:]
        return str.__new__(cls, path)

    def __init__(
        self, path: str, protocol: Literal["http", "websocket", ""] = "", host: str = ""
    ) -> None:
        self.protocol = protocol
        self.host = host

    def make_absolute_url(self, base_url: str | URL) -> URL:
        if isinstance(base_url, str):
            base_url = URL(base_url)
        if self.protocol:
            secure = base_url.is_secure
            if self.protocol == "http":
                scheme = "https" if secure else "http"
            else:
                scheme = "wss" if secure else "ws"
        else:
            scheme = base_url.scheme
        netloc = self.host or base_url.netloc
        path = base_url.path.rstrip("/") + str(self)
        return URL(scheme=scheme, netloc=netloc, path=path)
