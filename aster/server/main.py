"""``aster run``, ``aster dev``, ``aster openapi`` and ``aster.run()``: one server process,
or a supervisor of worker processes (``--workers``, ``--reload``) that each run one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import logging.config
import os
import sys
from collections.abc import Iterator
from typing import Any

from .config import LOGGING_CONFIG, Config, ConfigError, load_app
from .discover import is_import_string, resolve
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
    with _clean_exit():
        config = Config(app, **options)
        config.configure_logging()
        _serve(config)


def _serve(config: Config) -> None:
    if config.use_subprocess:
        code = Supervisor(config, [config.bind_socket()]).run()
    else:
        code = Server(config).run()
    if code:
        sys.exit(code)


@contextlib.contextmanager
def _clean_exit() -> Iterator[None]:
    """A ConfigError ends the process with its message as one ERROR line, and exit code 1."""
    try:
        yield
    except ConfigError as exc:
        if not logging.getLogger("aster").handlers:
            # The options were rejected before logging was set up: use the default look.
            logging.config.dictConfig(LOGGING_CONFIG)
        logger.error("%s", exc)
        sys.exit(1)


def main(argv: list[str] | None = None) -> None:
    """The ``aster`` command."""
    from .cli import parse_args

    command, options = parse_args(sys.argv[1:] if argv is None else argv)
    if command in ("run", "dev"):
        serve_command(command, options)
    elif command == "openapi":
        sys.exit(
            print_openapi(
                options["target"],
                factory=options["factory"],
                app_dir=options["app_dir"],
                app_name=options["app_name"],
                entrypoint=options["entrypoint"],
            )
        )


def serve_command(command: str, options: dict[str, Any]) -> None:
    """``aster run`` / ``aster dev``: find the app (:mod:`.discover`), then serve it.

    ``aster run module:attribute`` keeps uvicorn's defaults (127.0.0.1:8000); the
    ``fastapi`` command's forms keep its own: ``aster run`` with a path or none binds
    0.0.0.0 and ``aster dev`` 127.0.0.1, both on ``$PORT`` when set, and ``aster dev``
    sets ``FASTAPI_ENV=development`` (unless set) before the app is imported.
    """
    target = options.pop("target")
    app_name = options.pop("app_name")
    entrypoint = options.pop("entrypoint")
    verbose = options.pop("verbose")
    like_fastapi = command == "dev" or not is_import_string(target)
    with _clean_exit():
        if options["host"] is None:
            options["host"] = "0.0.0.0" if command == "run" and like_fastapi else "127.0.0.1"
        if options["port"] is None:
            options["port"] = _port_from_environment() if like_fastapi else 8000
        if command == "dev":
            os.environ.setdefault("FASTAPI_ENV", "development")
        # The options are checked before the app's module is imported; the app comes after.
        config = Config(target or "", **options)
        config.configure_logging()
        if config.reload:
            # As in the reloaded children: no .pyc from this import that an edit within
            # the same second could leave looking current.
            sys.dont_write_bytecode = True
        found = resolve(
            target, app_name=app_name, entrypoint=entrypoint, app_dir=options["app_dir"]
        )
        if verbose or found.module_source != "import string":
            for line in found.describe(verbose=verbose):
                logger.info("%s", line)
        config.app, config.app_dir = found.import_string, found.app_dir
        _serve(config)


def _port_from_environment() -> int:
    """``$PORT``, as the ``fastapi`` command reads it (platforms set it), else 8000."""
    text = os.environ.get("PORT")
    if not text:
        return 8000
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise ConfigError(f"the PORT environment variable must be a port number; got {text!r}")
    return port


def print_openapi(
    target: str | None,
    *,
    factory: bool = False,
    app_dir: str | None = ".",
    app_name: str | None = None,
    entrypoint: str | None = None,
) -> int:
    """``aster openapi``: the app's schema as JSON on stdout; 1 and one ``ERROR`` line if not.

    For checking a schema into version control or feeding client generators without
    starting a server.  The app is found and imported exactly as ``aster run`` does.
    """

    def fail(message: str) -> int:
        print(f"ERROR     {message}", file=sys.stderr)
        return 1

    try:
        found = resolve(target, app_name=app_name, entrypoint=entrypoint, app_dir=app_dir)
        app = load_app(found.import_string, factory=factory, app_dir=found.app_dir)
    except ConfigError as exc:
        return fail(str(exc))
    target = found.import_string
    schema_of = getattr(app, "openapi", None)
    if not callable(schema_of):
        return fail(f'the app "{target}" has no OpenAPI schema (it has no openapi() method)')
    try:
        schema = schema_of()
    except Exception as exc:
        return fail(f"could not generate the OpenAPI schema: {type(exc).__name__}: {exc}")
    sys.stdout.write(json.dumps(schema, indent=2, ensure_ascii=False) + "\n")
    return 0
