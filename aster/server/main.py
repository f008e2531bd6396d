"""``aster run``, ``aster openapi`` and ``aster.run()``: one server process, or a supervisor
of worker processes (``--workers``, ``--reload``) that each run one.
"""

from __future__ import annotations

import logging
import logging.config
import sys
from typing import Any

from .config import LOGGING_CONFIG, Config, ConfigError
from .server import Server
from .supervisor import Supervisor

logger = logging.getLogger("aster.error")


def run(app: Any, **options: Any) -> None:
    """Serve ``app`` (an ASGI app or a "module:attribute" string) with ``aster run``'s options.

    Returns once the server has shut down cleanly; exits the process with 1 after
    a bad option, a bad app reference or an address in use (one message, no
    traceback), and with 3 when the app's lifespan startup fails.
    """
    unknown = set(options) - Config.option_names()
    if unknown:
        raise TypeError(f"run() got unexpected option(s): {', '.join(sorted(unknown))}")
    try:
        config = Config(app, **options)
        config.configure_logging()
        if config.use_subprocess:
            code = Supervisor(config, [config.bind_socket()]).run()
        else:
            code = Server(config).run()
    except ConfigError as exc:
        if not logging.getLogger("aster").handlers:
            # The options were rejected before logging was set up: use the default look.
            logging.config.dictConfig(LOGGING_CONFIG)
        logger.error("%s", exc)
        sys.exit(1)
    if code:
        sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """The ``aster`` command."""
    from .cli import parse_args

    command, options = parse_args(sys.argv[1:] if argv is None else argv)
    if command == "run":
        app = options.pop("app")
        run(app, **options)
    elif command == "openapi":
        sys.exit(
            print_openapi(options["app"], factory=options["factory"], app_dir=options["app_dir"])
        )


def print_openapi(target: str, *, factory: bool = False, app_dir: str | None = ".") -> int:
    """``aster openapi``: the app's schema as JSON on stdout; 1 and one ``ERROR`` line if not.

    For checking a schema into version control or feeding client generators without
    starting a server.  The app is imported exactly as ``aster run`` imports it.
    """
    import json

    from .config import load_app

    def fail(message: str) -> int:
        print(f"ERROR     {message}", file=sys.stderr)
        return 1

    try:
        app = load_app(target, factory=factory, app_dir=app_dir)
    except ConfigError as exc:
        return fail(str(exc))
    schema_of = getattr(app, "openapi", None)
    if not callable(schema_of):
        return fail(f'the app "{target}" has no OpenAPI schema (it has no openapi() method)')
    try:
        schema = schema_of()
    except Exception as exc:
        return fail(f"could not generate the OpenAPI schema: {type(exc).__name__}: {exc}")
    sys.stdout.write(json.dumps(schema, indent=2, ensure_ascii=False) + "\n")
    return 0
