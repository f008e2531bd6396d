"""Every option of ``aster run``, checked once, plus loading the app it names.

Option names follow uvicorn's so that existing command lines and ``run()``
calls keep working.  Validation happens here, up front, so a bad value is a
one-line message at start-up instead of a traceback under load.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import ipaddress
import json
import logging
import logging.config
import os
import socket
import ssl
import stat
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field, fields
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

TRACE = 5
logging.addLevelName(TRACE, "TRACE")
LOG_LEVELS = {
    "critical": logging.CRITICAL,
    "error": logging.ERROR,
    "warning": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
    "trace": TRACE,
}
LIFESPAN_MODES = ("auto", "on", "off")
LOOP_KINDS = ("auto", "uvloop", "asyncio")
#: ``--loop trio``: why not, and what to use instead.
TRIO_REFUSAL = (
    "--loop trio: aster is asyncio native and does not run on trio; use --loop auto "
    "(uvloop when installed), uvloop or asyncio, or serve a trio app with hypercorn "
    "(hypercorn --worker-class trio)"
)
INTERFACES = ("auto", "asgi3", "asgi2")
#: ``--ws`` values: "websockets-sansio" is uvicorn's name for our ``websockets`` implementation.
WS_KINDS = ("auto", "none", "websockets", "websockets-sansio", "wsproto")
#: The module that frames WebSocket connections for each implementation.
#: ``--http`` values: which HTTP versions a connection may speak.
HTTP_KINDS = ("auto", "h11", "h2")
WS_MODULES = {
    "websockets": "aster.server.protocols.websocket",
    "wsproto": "aster.server.protocols.ws_wsproto",
}

LOGGING_CONFIG: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "default": {"format": "%(levelname)-9s %(message)s"},
        "access": {"format": "%(message)s"},
    },
    "handlers": {
        "default": {
            "class": "logging.StreamHandler",
            "formatter": "default",
            "stream": "ext://sys.stderr",
        },
        "access": {
            "class": "logging.StreamHandler",
            "formatter": "access",
            "stream": "ext://sys.stdout",
        },
    },
    "loggers": {
        "aster": {"handlers": ["default"], "level": "INFO", "propagate": False},
        "aster.error": {"level": "INFO"},
        "aster.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
    },
}

logger = logging.getLogger("aster.error")


class ConfigError(Exception):
    """A bad option or app reference.  The CLI prints the message alone and exits 1."""


@dataclass
class Config:
    """Server options.  ``Config(app, **options)`` accepts exactly what ``aster run`` does."""

    app: ASGIApp | Callable[..., Any] | str
    host: str = "127.0.0.1"
    port: int = 8000
    uds: str | None = None
    fd: int | None = None
    loop: str = "auto"
    lifespan: str = "auto"
    interface: str = "auto"
    factory: bool = False
    app_dir: str | None = "."
    # Development.
    reload: bool = False
    reload_dirs: list[str] | str | None = None
    reload_includes: list[str] | str | None = None
    reload_excludes: list[str] | str | None = None
    reload_delay: float = 0.25
    workers: int | None = None
    # Operations.
    #: Seconds a worker's event loop may go without a heartbeat before it is replaced
    #: (with --workers; None or 0: never). Not checked under --reload (breakpoints).
    timeout_worker_healthcheck: float | None = 5.0
    #: A path the server answers itself: 200 when ready, 503 while starting or stopping.
    health_path: str | None = None
    # Deployment behind proxies.
    root_path: str = ""
    proxy_headers: bool = True
    forwarded_allow_ips: list[str] | str | None = None
    server_header: bool = True
    date_header: bool = True
    headers: list[tuple[str, str]] | list[str] = field(default_factory=list)
    # Timeouts, in seconds.
    timeout_keep_alive: float = 5.0
    timeout_request_head: float = 20.0
    timeout_request_body: float = 60.0
    timeout_graceful_shutdown: float | None = 30.0
    # Limits.
    limit_concurrency: int | None = None
    limit_max_requests: int | None = None
    limit_max_requests_jitter: int = 0
    backlog: int = 2048
    limit_request_line: int = 8190
    limit_request_fields: int = 100
    limit_request_header_size: int = 65536
    limit_request_body: int | None = None
    h11_max_incomplete_event_size: int | None = None
    # Logging.
    log_level: str | int | None = None
    access_log: bool = True
    log_config: dict[str, Any] | str | None = field(default_factory=lambda: LOGGING_CONFIG)
    # TLS.
    ssl_keyfile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile_password: str | None = None
    ssl_ca_certs: str | None = None
    ssl_cert_reqs: int = int(ssl.CERT_NONE)
    ssl_ciphers: str = "TLSv1"
    # WebSockets.
    ws: str = "auto"
    ws_max_size: int = 16 * 1024 * 1024
    ws_max_queue: int = 32
    ws_ping_interval: float | None = 20.0
    ws_ping_timeout: float | None = 20.0
    ws_per_message_deflate: bool = True
    # HTTP/2.
    http: str = "auto"
    h2c: bool = True
    http2_max_concurrent_streams: int = 100
    http2_initial_window_size: int = 1 << 20
    http2_connection_window_size: int = 1 << 24
    http2_max_frame_size: int = 1 << 14
    http2_timeout_window: float = 30.0
    #: The HTTP/2 engine (see protocols/h2_engine.py): "lean" (default) or "h2".
    http2_engine: str = "lean"

    # Filled in by load().
    loaded_app: ASGIApp | None = field(default=None, init=False, repr=False)
    ssl_context: ssl.SSLContext | None = field(default=None, init=False, repr=False)
    trusted_proxies: TrustedProxies | None = field(default=None, init=False, repr=False)
    default_headers: list[tuple[bytes, bytes]] = field(default_factory=list, init=False)
    #: The WebSocket implementation ``--ws`` resolved to, or None: upgrades are served as HTTP.
    ws_impl: str | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self._validate()

    @classmethod
    def option_names(cls) -> set[str]:
        return {f.name for f in fields(cls) if f.init}

    # -- validation ---------------------------------------------------------

    def _validate(self) -> None:
        def choice(name: str, allowed: tuple[str, ...]) -> None:
            value = getattr(self, name)
            if value not in allowed:
                raise ConfigError(
                    f"--{name.replace('_', '-')} must be one of {', '.join(allowed)}; got {value!r}"
                )

        if self.loop == "trio":
            raise ConfigError(TRIO_REFUSAL)
        choice("loop", LOOP_KINDS)
        choice("lifespan", LIFESPAN_MODES)
        choice("interface", INTERFACES)
        choice("ws", WS_KINDS)
        choice("http", HTTP_KINDS)
        self._validate_http2()
        self.ws_impl = self._resolve_ws()
        for name in ("ws_max_size", "ws_max_queue"):
            value = getattr(self, name)
            if type(value) is not int or value < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be at least 1")
        for name in ("ws_ping_interval", "ws_ping_timeout"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ConfigError(f"--{name.replace('_', '-')} must not be negative")
        if not isinstance(self.port, int) or not 0 <= self.port <= 65535:
            raise ConfigError(f"--port must be an integer from 0 to 65535; got {self.port!r}")
        for name in ("timeout_keep_alive", "timeout_request_head", "timeout_request_body"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"--{name.replace('_', '-')} must be positive")
        if self.timeout_graceful_shutdown is not None and self.timeout_graceful_shutdown < 0:
            raise ConfigError("--timeout-graceful-shutdown must not be negative")
        if self.h11_max_incomplete_event_size is not None:
            self.limit_request_header_size = self.h11_max_incomplete_event_size
        for name in ("limit_request_line", "limit_request_fields", "limit_request_header_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be at least 1")
        for name in ("limit_concurrency", "limit_max_requests", "limit_request_body", "workers"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be at least 1")
        self._validate_operations()
        if isinstance(self.log_level, str) and self.log_level.lower() not in LOG_LEVELS:
            raise ConfigError(f"--log-level must be one of {', '.join(LOG_LEVELS)}")
        if (self.reload or (self.workers or 1) > 1) and not isinstance(self.app, str):
            raise ConfigError(
                "pass the application as an import string (module:attribute) "
                "to use reload or workers"
            )
        if self.uds is not None and self.fd is not None:
            raise ConfigError("--uds and --fd are mutually exclusive")
        if bool(self.ssl_keyfile) != bool(self.ssl_certfile):
            raise ConfigError("--ssl-keyfile and --ssl-certfile must be given together")
        if isinstance(self.reload_dirs, str):
            self.reload_dirs = [self.reload_dirs]
        if isinstance(self.reload_includes, str):
            self.reload_includes = [self.reload_includes]
        if isinstance(self.reload_excludes, str):
            self.reload_excludes = [self.reload_excludes]
        if self.reload:
            for directory in self.reload_dirs or []:
                if not os.path.isdir(directory):
                    raise ConfigError(f"--reload-dir {directory!r} is not a directory")
        self.default_headers = [_parse_header(h) for h in self.headers]
        if self.forwarded_allow_ips is None:
            self.forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
        self.trusted_proxies = TrustedProxies(self.forwarded_allow_ips)

    def _validate_operations(self) -> None:
        timeout = self.timeout_worker_healthcheck
        if timeout is not None and not (isinstance(timeout, (int, float)) and timeout >= 0):
            raise ConfigError("--timeout-worker-healthcheck must not be negative")
        if not timeout:
            self.timeout_worker_healthcheck = None
        jitter = self.limit_max_requests_jitter
        if type(jitter) is not int or jitter < 0:
            raise ConfigError("--limit-max-requests-jitter must be an integer, 0 or more")
        path = self.health_path
        if path is not None and (
            not isinstance(path, str)
            or not path.startswith("/")
            or any(c in path for c in "?# \t\r\n")
        ):
            raise ConfigError(
                f"--health-path must be a path starting with '/' (no query); got {path!r}"
            )

    def _validate_http2(self) -> None:
        """RFC 9113 section 6.5.2 bounds the window and frame sizes a server may advertise."""
        if (
            type(self.http2_max_concurrent_streams) is not int
            or self.http2_max_concurrent_streams < 1
        ):
            raise ConfigError("--http2-max-concurrent-streams must be at least 1")
        for name in ("http2_initial_window_size", "http2_connection_window_size"):
            value = getattr(self, name)
            if type(value) is not int or not 65535 <= value <= 2**31 - 1:
                raise ConfigError(
                    f"--{name.replace('_', '-')} must be from 65535 to 2147483647; got {value!r}"
                )
        size = self.http2_max_frame_size
        if type(size) is not int or not 16384 <= size <= 2**24 - 1:
            raise ConfigError(
                f"--http2-max-frame-size must be from 16384 to 16777215; got {size!r}"
            )
        if self.http2_timeout_window <= 0:
            raise ConfigError("--http2-timeout-window must be positive")
        if self.http == "h2" and not self.h2c and not self.is_ssl:
            raise ConfigError("--http h2 with --no-h2c needs TLS (--ssl-keyfile/--ssl-certfile)")

    @property
    def http2_cleartext(self) -> bool:
        """May a plain-TCP connection speak HTTP/2 (prior knowledge or Upgrade: h2c)?"""
        return self.http != "h11" and self.h2c and not self.is_ssl

    @property
    def alpn_protocols(self) -> list[str]:
        """What TLS offers in ALPN, most preferred first."""
        if self.http == "h11":
            return ["http/1.1"]
        if self.http == "h2":
            return ["h2"]
        return ["h2", "http/1.1"]

    def _resolve_ws(self) -> str | None:
        """``auto`` means ``websockets`` if installed; naming one explicitly requires it."""
        if self.ws == "none":
            return None
        if self.ws == "wsproto":
            if importlib.util.find_spec("wsproto") is None:
                raise ConfigError("--ws wsproto was asked for, but wsproto is not installed")
            return "wsproto"
        if importlib.util.find_spec("websockets") is None:
            if self.ws == "auto":
                return None
            raise ConfigError(f"--ws {self.ws} was asked for, but websockets is not installed")
        return "websockets"

    # -- derived settings -----------------------------------------------------

    @property
    def is_ssl(self) -> bool:
        return bool(self.ssl_keyfile or self.ssl_certfile)

    @property
    def use_subprocess(self) -> bool:
        return bool(self.reload or (self.workers or 1) > 1)

    @property
    def log_level_number(self) -> int | None:
        if self.log_level is None:
            return None
        if isinstance(self.log_level, int):
            return self.log_level
        return LOG_LEVELS[self.log_level.lower()]

    def configure_logging(self) -> None:
        """Apply ``log_config`` (a dictConfig dict, or a .json/.ini file), then the level flags."""
        if self.log_config is not None:
            try:
                if isinstance(self.log_config, dict):
                    logging.config.dictConfig(self.log_config)
                elif self.log_config.endswith(".json"):
                    with open(self.log_config) as fh:
                        logging.config.dictConfig(json.load(fh))
                else:
                    logging.config.fileConfig(self.log_config, disable_existing_loggers=False)
            except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
                raise ConfigError(
                    f"could not apply --log-config {self.log_config}: {exc}"
                ) from None
        level = self.log_level_number
        if level is not None:
            logging.getLogger("aster").setLevel(level)
            logging.getLogger("aster.error").setLevel(level)
            logging.getLogger("aster.access").setLevel(level)
        if not self.access_log:
            logging.getLogger("aster.access").handlers = []
            logging.getLogger("aster.access").propagate = False

    def load(self) -> None:
        """Import the app and build the TLS context.  Raises ConfigError with a clean message."""
        if self.is_ssl:
            self.ssl_context = self._make_ssl_context()
        if self.ws_impl is not None:
            # Imported now rather than in the middle of the first handshake.
            importlib.import_module(WS_MODULES[self.ws_impl])
        if self.http != "h11":
            from .protocols.http2 import ENGINES

            if self.http2_engine not in ENGINES:
                raise ConfigError(f"unknown HTTP/2 engine {self.http2_engine!r}")
            importlib.import_module("aster.server.protocols.h2_negotiation")
        app = load_app(self.app, factory=self.factory, app_dir=self.app_dir)
        self.loaded_app = adapt_interface(app, self.interface)

    def _make_ssl_context(self) -> ssl.SSLContext:
        """The server TLS context; any unreadable file or bad setting is one ConfigError."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        step = "the TLS certificate or key"
        try:
            ctx.load_cert_chain(self.ssl_certfile, self.ssl_keyfile, self.ssl_keyfile_password)
            ctx.verify_mode = ssl.VerifyMode(self.ssl_cert_reqs)
            if self.ssl_ca_certs:
                step = f"the CA certificates {self.ssl_ca_certs}"
                ctx.load_verify_locations(self.ssl_ca_certs)
            if self.ssl_ciphers:
                step = f"the ciphers {self.ssl_ciphers!r}"
                ctx.set_ciphers(self.ssl_ciphers)
            step = "ALPN"
            ctx.set_alpn_protocols(self.alpn_protocols)
        except (OSError, ssl.SSLError, ValueError, NotImplementedError) as exc:
            raise ConfigError(f"could not load {step}: {exc}") from None
        return ctx

    def bind_socket(self) -> socket.socket:
        """Bind the listening socket in this process (used by the supervisor before forking)."""
        if self.uds:
            return _bind_unix(self.uds, self.backlog)
        if self.fd is not None:
            try:
                sock = socket.socket(fileno=self.fd)
            except OSError as exc:
                raise ConfigError(
                    f"could not use file descriptor {self.fd}: {_reason(exc)}"
                ) from None
            sock.set_inheritable(True)
            return sock
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            raise ConfigError(
                f"could not bind on {self.host}:{self.port}: {_reason(exc)}"
            ) from None
        sock.listen(self.backlog)
        sock.set_inheritable(True)
        return sock


def _reason(exc: OSError) -> str:
    """``[Errno 98] Address already in use`` -> ``address already in use``."""
    return (exc.strerror or str(exc)).lower()


def _bind_unix(path: str, backlog: int) -> socket.socket:
    """Bind a unix socket, replacing a stale socket file but never any other kind of file."""
    try:
        if stat.S_ISSOCK(os.stat(path).st_mode):
            os.unlink(path)
    except FileNotFoundError:
        pass
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"could not bind on unix socket {path}: {_reason(exc)}") from None
    os.chmod(path, 0o666)
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


def _parse_header(header: tuple[str, str] | str) -> tuple[bytes, bytes]:
    if isinstance(header, str):
        name, sep, value = header.partition(":")
        if not sep:
            raise ConfigError(f"--header must look like 'name:value'; got {header!r}")
    else:
        name, value = header
    name, value = name.strip(), value.strip()
    if not name or any(c in name for c in " \t\r\n:") or any(c in value for c in "\r\n\0"):
        raise ConfigError(f"invalid --header {name!r}")
    return name.lower().encode("latin-1"), value.encode("latin-1")


class TrustedProxies:
    """The addresses whose X-Forwarded-*/Forwarded headers we believe.

    Accepts single IPs, CIDR networks, ``unix:`` for unix-socket peers, and ``*``.
    """

    def __init__(self, spec: list[str] | str) -> None:
        items = spec.split(",") if isinstance(spec, str) else list(spec)
        items = [item.strip() for item in items if item.strip()]
        self.always = "*" in items
        self.unix = "unix:" in items
        self.hosts: set[str] = set()
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for item in items:
            if item in ("*", "unix:"):
                continue
            try:
                if "/" in item:
                    self.networks.append(ipaddress.ip_network(item, strict=False))
                else:
                    address = ipaddress.ip_address(item)
                    self.hosts.add(str(getattr(address, "ipv4_mapped", None) or address))
            except ValueError:
                raise ConfigError(
                    f"--forwarded-allow-ips: {item!r} is not an IP address or network"
                ) from None

    def __contains__(self, host: str | None) -> bool:
        """Is this peer trusted?  ``None`` is a unix-socket peer (it has no address)."""
        if self.always:
            return True
        if host is None:
            return self.unix
        if host in self.hosts:
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        # Compare canonical forms: "::FFFF:10.0.0.1" is 10.0.0.1 on a dual-stack socket.
        mapped = getattr(address, "ipv4_mapped", None)
        if mapped is not None:
            address = mapped
        if str(address) in self.hosts:
            return True
        return any(address in network for network in self.networks)


def load_app(target: Any, *, factory: bool = False, app_dir: str | None = None) -> Any:
    if not isinstance(target, str):
        app = target
    else:
        if app_dir is not None:
            sys.path.insert(0, os.path.abspath(app_dir))
        module_name, sep, attr_path = target.partition(":")
        if not sep or not module_name or not attr_path:
            raise ConfigError(
                f'import string "{target}" must be in the format "<module>:<attribute>"'
            )
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name is None or not (
                module_name == exc.name or module_name.startswith(exc.name + ".")
            ):
                raise
            raise ConfigError(f'could not import module "{module_name}"') from None
        app = module
        try:
            for attr in attr_path.split("."):
                app = getattr(app, attr)
        except AttributeError:
            raise ConfigError(
                f'attribute "{attr_path}" not found in module "{module_name}"'
            ) from None
    if factory:
        if not callable(app):
            raise ConfigError("--factory was given, but the app is not callable")
        try:
            app = app()
        except TypeError as exc:
            raise ConfigError(f"error calling the app factory: {exc}") from None
    if not callable(app):
        shown = target if isinstance(target, str) else type(target).__name__
        raise ConfigError(f'the app "{shown}" is not callable (got {type(app).__name__})')
    return app


def adapt_interface(app: Any, interface: str) -> ASGIApp:
    """Wrap ASGI2 (double-callable) apps so the rest of the server only sees ASGI3."""
    if interface == "auto":
        interface = "asgi3" if _looks_like_asgi3(app) else "asgi2"
    if interface == "asgi2":
        return ASGI2Adapter(app)
    return app


def _looks_like_asgi3(app: Any) -> bool:
    """ASGI3 is ``app(scope, receive, send)``; ASGI2 is ``app(scope)(receive, send)``.

    A coroutine function is ASGI3.  Otherwise the call signature decides, so a
    plain function or ``__call__`` that returns a coroutine (a decorator's
    wrapper, say) is not mistaken for ASGI2 just because it is not ``async def``.
    """
    if inspect.isclass(app):
        return hasattr(app, "__await__")
    call = app if inspect.isroutine(app) else type(app).__call__
    if inspect.iscoroutinefunction(call):
        return True
    try:
        parameters = inspect.signature(app).parameters.values()  # bound: no ``self``
    except (TypeError, ValueError):
        return True  # unknown: assume the current interface
    positional = 0
    for parameter in parameters:
        if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            return True
        if parameter.kind in (
            inspect.Parameter.POSITIONAL_ONLY,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
        ):
            positional += 1
    return positional >= 3


class ASGI2Adapter:
    """Presents an ASGI2 app as ASGI3: ``app(scope)`` makes the instance that is awaited."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        instance = self.app(scope)
        await instance(receive, send)
