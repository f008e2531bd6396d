"""``aster run``, ``aster dev`` and ``aster openapi``: uvicorn's flag names, parsed with argparse.

``aster run module:app`` takes the app as uvicorn does; ``aster run main.py`` (a file or
package path, or nothing) finds it as ``fastapi run`` does, and ``aster dev`` is
``fastapi dev``: the same, with reload on and 127.0.0.1 (see :mod:`.discover`).

A bad flag or value ends with argparse's one-line usage error (exit 2); a bad
app reference or an address in use ends with one ``ERROR`` line (exit 1).
Neither prints a traceback.
"""

from __future__ import annotations

import argparse
import ssl
from typing import Any

from .. import __version__
from .config import HTTP_KINDS, LOOP_KINDS, WS_KINDS
from .discover import DEFAULT_PATHS


def _number(text: str, kind: type[int] | type[float]) -> Any:
    """Convert, with argparse's message style: ``argument --port: not an integer: 'abc'``."""
    try:
        return kind(text)
    except ValueError:
        noun = "an integer" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"not {noun}: {text!r}") from None


def _positive_float(text: str) -> float:
    value = _number(text, float)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
    return value


def _non_negative_float(text: str) -> float:
    value = _number(text, float)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {text!r}")
    return value


def _positive_int(text: str) -> int:
    value = _number(text, int)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


def _non_negative_int(text: str) -> int:
    value = _number(text, int)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {text!r}")
    return value


def _port(text: str) -> int:
    value = _number(text, int)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be from 0 to 65535: {text!r}")
    return value


def _fd(text: str) -> int:
    value = _number(text, int)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {text!r}")
    return value


def _boolean(text: str) -> bool:
    """``true``/``false`` (and yes/no, 1/0), as click's bool options that uvicorn uses accept."""
    lowered = text.lower()
    if lowered in ("1", "true", "t", "yes", "y", "on"):
        return True
    if lowered in ("0", "false", "f", "no", "n", "off"):
        return False
    raise argparse.ArgumentTypeError(f"not a boolean: {text!r}")


def _optional_seconds(text: str) -> float | None:
    """A non-negative number of seconds; 0 (or ``none``) disables."""
    if text.lower() == "none":
        return None
    value = _non_negative_float(text)
    return value or None


APP_HELP = (
    "the app: a Python file or package directory (found as `fastapi run` finds it), or "
    "module:attribute (as uvicorn takes it); without it, [tool.fastapi] entrypoint in "
    "pyproject.toml, else the first of " + ", ".join(DEFAULT_PATHS)
)


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows defaults, except ``None`` ("not set"): the help text says what that means."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None:
            return action.help
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aster", description="The aster ASGI server.")
    parser.add_argument("--version", action="version", version=f"aster {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser(
        "run",
        help="serve an ASGI app",
        description="Serve an ASGI app.  With a path (or none), as `fastapi run`: on "
        "0.0.0.0 and $PORT (else 8000); with module:attribute, as uvicorn: on 127.0.0.1:8000.",
        formatter_class=_HelpFormatter,
    )
    _add_serve_options(run, reload_default=False)
    dev = commands.add_parser(
        "dev",
        help="serve an app for development: reload on, 127.0.0.1",
        description="Serve an app for development, as `fastapi dev`: reload on, on "
        "127.0.0.1 and $PORT (else 8000), with FASTAPI_ENV=development unless it is set.",
        formatter_class=_HelpFormatter,
    )
    _add_serve_options(dev, reload_default=True)

    openapi = commands.add_parser(
        "openapi",
        help="print an app's OpenAPI schema",
        description="Print the OpenAPI schema of a FastAPI-style app, as JSON, to stdout.",
        formatter_class=_HelpFormatter,
    )
    openapi.add_argument("target", nargs="?", metavar="APP", help=APP_HELP)
    openapi.set_defaults(subparser=openapi)
    _add_app_options(openapi)
    return parser


def _add_app_options(command: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """Where the app comes from: shared by run, dev and openapi."""
    app = command.add_argument_group("application")
    app.add_argument(
        "--app",
        dest="app_name",
        metavar="NAME",
        help="the app's variable in the module a path names (default: app, api, "
        "or the first FastAPI/Starlette app found)",
    )
    app.add_argument(
        "--entrypoint",
        "-e",
        help="the app as module:attribute, imported from the current directory "
        "(as [tool.fastapi] entrypoint in pyproject.toml)",
    )
    app.add_argument(
        "--factory", action="store_true", help="call the app as a factory taking no arguments"
    )
    app.add_argument(
        "--app-dir",
        default=".",
        help="add this directory to sys.path first (for import strings and entrypoints)",
    )
    app.add_argument(
        "--verbose", "-v", action="store_true", help="log how the app was found and imported"
    )
    return app


def _add_serve_options(run: argparse.ArgumentParser, *, reload_default: bool) -> None:
    run.add_argument("target", nargs="?", metavar="APP", help=APP_HELP)
    run.set_defaults(subparser=run)  # so stray flags are reported with this command's usage

    bind = run.add_argument_group("binding")
    bind.add_argument(
        "--host",
        help="bind to this address (default: 127.0.0.1; 0.0.0.0 for `aster run` with a path)",
    )
    bind.add_argument(
        "--port",
        type=_port,
        help="bind to this port, 0 for any free one (default: 8000; $PORT if set, "
        "except for `aster run module:attribute`)",
    )
    bind.add_argument("--uds", help="bind to this unix domain socket")
    bind.add_argument("--fd", type=_fd, help="serve on this already-bound socket file descriptor")
    bind.add_argument("--backlog", type=_positive_int, default=2048, help="listen backlog")

    app = _add_app_options(run)
    app.add_argument(
        "--lifespan", choices=("auto", "on", "off"), default="auto", help="lifespan events"
    )
    app.add_argument("--interface", choices=("auto", "asgi3", "asgi2"), default="auto")
    app.add_argument(
        "--loop",
        # trio gets through to Config, which says why not and what to use instead.
        choices=(*LOOP_KINDS, "trio"),
        metavar="{" + ",".join(LOOP_KINDS) + "}",
        default="auto",
        help="event loop (aster is asyncio native; auto is uvloop when installed)",
    )
    app.add_argument(
        "--root-path", default="", help="the ASGI root_path, when mounted below a prefix"
    )

    dev = run.add_argument_group("development")
    dev.add_argument(
        "--reload",
        action=argparse.BooleanOptionalAction,
        default=reload_default,
        help="restart when files change",
    )
    dev.add_argument("--reload-dir", dest="reload_dirs", action="append", help="directory to watch")
    dev.add_argument(
        "--reload-include", dest="reload_includes", action="append", help="glob to watch"
    )
    dev.add_argument(
        "--reload-exclude", dest="reload_excludes", action="append", help="glob to ignore"
    )
    dev.add_argument("--reload-delay", type=_non_negative_float, default=0.25)
    dev.add_argument(
        "--workers", type=_positive_int, help="number of worker processes (with --reload too)"
    )

    ops = run.add_argument_group("operations")
    ops.add_argument(
        "--timeout-worker-healthcheck",
        type=_non_negative_float,
        default=5.0,
        help="seconds a worker's event loop may miss its heartbeat before the worker is "
        "killed and replaced (with --workers; 0: never)",
    )
    ops.add_argument(
        "--health-path",
        help="answer this path from the server itself: 200 when ready, 503 while starting "
        "or shutting down (off by default)",
    )

    proxy = run.add_argument_group("proxies and headers")
    proxy.add_argument(
        "--proxy-headers",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="trust X-Forwarded-*/Forwarded from --forwarded-allow-ips",
    )
    proxy.add_argument(
        "--forwarded-allow-ips",
        help="comma-separated IPs/networks to trust for proxy headers, or '*' "
        "(default: $FORWARDED_ALLOW_IPS or 127.0.0.1)",
    )
    proxy.add_argument("--server-header", action=argparse.BooleanOptionalAction, default=True)
    proxy.add_argument("--date-header", action=argparse.BooleanOptionalAction, default=True)
    proxy.add_argument(
        "--header", dest="headers", action="append", default=[], help="name:value to add"
    )

    limits = run.add_argument_group("timeouts and limits")
    limits.add_argument("--timeout-keep-alive", type=_positive_float, default=5.0)
    limits.add_argument(
        "--timeout-request-head",
        type=_positive_float,
        default=20.0,
        help="seconds to receive a request head (408 after)",
    )
    limits.add_argument(
        "--timeout-request-body",
        type=_positive_float,
        default=60.0,
        help="seconds between request body chunks (408 after)",
    )
    limits.add_argument("--timeout-graceful-shutdown", type=_non_negative_float, default=30.0)
    limits.add_argument(
        "--limit-concurrency", type=_positive_int, help="503 above this many requests"
    )
    limits.add_argument(
        "--limit-max-requests", type=_positive_int, help="exit after this many requests"
    )
    limits.add_argument(
        "--limit-max-requests-jitter",
        type=_non_negative_int,
        default=0,
        help="add a random 0 to this many requests to each process's --limit-max-requests, "
        "so workers do not all restart together",
    )
    limits.add_argument(
        "--limit-request-line",
        type=_positive_int,
        default=8190,
        help="longest request target, in bytes (414 above)",
    )
    limits.add_argument(
        "--limit-request-fields",
        type=_positive_int,
        default=100,
        help="most header fields (431 above)",
    )
    limits.add_argument(
        "--limit-request-header-size",
        type=_positive_int,
        default=65536,
        help="largest header block, in bytes (431 above)",
    )
    limits.add_argument(
        "--h11-max-incomplete-event-size",
        type=_positive_int,
        help="alias of --limit-request-header-size",
    )
    limits.add_argument(
        "--limit-request-body", type=_positive_int, help="largest request body (413 above)"
    )

    ws = run.add_argument_group("WebSockets")
    ws.add_argument(
        "--ws",
        choices=WS_KINDS,
        default="auto",
        help="WebSocket implementation (auto: websockets, the faster); "
        "none serves upgrade requests as plain HTTP",
    )
    ws.add_argument(
        "--ws-max-size",
        type=_positive_int,
        default=16777216,
        help="largest incoming message, in bytes (closed with 1009 above)",
    )
    ws.add_argument(
        "--ws-max-queue",
        type=_positive_int,
        default=32,
        help="received messages waiting for the app before reading stops",
    )
    ws.add_argument(
        "--ws-ping-interval",
        type=_optional_seconds,
        default=20.0,
        help="seconds between keepalive pings (0: none)",
    )
    ws.add_argument(
        "--ws-ping-timeout",
        type=_optional_seconds,
        default=20.0,
        help="seconds to wait for a pong before closing (0: wait forever)",
    )
    ws.add_argument(
        "--ws-per-message-deflate",
        type=_boolean,
        nargs="?",
        const=True,
        default=True,
        metavar="BOOL",
        help="offer permessage-deflate compression",
    )
    ws.add_argument(
        "--no-ws-per-message-deflate",
        dest="ws_per_message_deflate",
        action="store_false",
        help="do not offer permessage-deflate",
    )

    h2 = run.add_argument_group("HTTP/2")
    h2.add_argument(
        "--http",
        choices=HTTP_KINDS,
        default="auto",
        help="HTTP versions to speak: auto (HTTP/1.1 and HTTP/2), h11 or h2 (HTTP/1.1 refused)",
    )
    h2.add_argument(
        "--no-h2c",
        dest="h2c",
        action="store_false",
        help="no HTTP/2 over cleartext TCP (prior knowledge or Upgrade: h2c); TLS ALPN only",
    )
    h2.add_argument(
        "--http2-max-concurrent-streams",
        type=_positive_int,
        default=100,
        help="streams a client may have open at once (REFUSED_STREAM above)",
    )
    h2.add_argument(
        "--http2-initial-window-size",
        type=_positive_int,
        default=1 << 20,
        help="request body bytes a stream may send before the app reads them",
    )
    h2.add_argument(
        "--http2-connection-window-size",
        type=_positive_int,
        default=1 << 24,
        help="request body bytes all the streams of a connection may have unread",
    )
    h2.add_argument(
        "--http2-max-frame-size",
        type=_positive_int,
        default=1 << 14,
        help="largest frame payload a client may send (16384 to 16777215)",
    )
    h2.add_argument(
        "--http2-engine",
        choices=("lean", "h2"),
        default="lean",
        help="HTTP/2 protocol engine: lean (the faster) or h2 (python-hyper's H2Connection); "
        "both parse and write frames with hyperframe and hpack",
    )
    h2.add_argument(
        "--http2-timeout-window",
        type=_positive_float,
        default=30.0,
        help="seconds a response may wait for the client to open its flow-control window "
        "(the stream is reset after)",
    )

    logs = run.add_argument_group("logging")
    logs.add_argument(
        "--log-level", choices=("critical", "error", "warning", "info", "debug", "trace")
    )
    logs.add_argument("--log-config", help="logging configuration file (.json or .ini)")
    logs.add_argument("--access-log", action=argparse.BooleanOptionalAction, default=True)

    tls = run.add_argument_group("TLS")
    tls.add_argument("--ssl-keyfile")
    tls.add_argument("--ssl-certfile")
    tls.add_argument("--ssl-keyfile-password")
    tls.add_argument("--ssl-ca-certs")
    tls.add_argument("--ssl-cert-reqs", type=int, choices=(0, 1, 2), default=int(ssl.CERT_NONE))
    tls.add_argument("--ssl-ciphers", default="TLSv1")


def parse_args(argv: list[str]) -> tuple[str, dict[str, Any]]:
    namespace, extra = build_parser().parse_known_args(argv)
    options = vars(namespace)
    subparser = options.pop("subparser")
    if extra:
        subparser.error(f"unrecognized arguments: {' '.join(extra)}")
    command = options.pop("command")
    if options.get("log_config") is None:
        options.pop("log_config", None)
    return command, options
