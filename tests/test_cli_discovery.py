"""``aster run path`` and ``aster dev``: the ``fastapi`` command's app discovery, for real.

Every test writes a small project to a temporary directory and runs the real command in
a subprocess, then talks to the server it started over a socket (or checks the one
``ERROR`` line it ended with).  What fastapi-cli does is the reference: a path becomes a
module by walking up the directories with an ``__init__.py``; the app is ``--app``, else
``app``, else ``api``, else the first FastAPI app; ``[tool.fastapi] entrypoint`` in
pyproject.toml or ``--entrypoint`` name it outright; ``fastapi run`` binds 0.0.0.0 and
``fastapi dev`` 127.0.0.1 with reload on and ``FASTAPI_ENV=development``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from aster.server.discover import resolve
from tests.support import ROOT, Running, request, serve

ENV = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
ENV.pop("PORT", None)
ENV.pop("FASTAPI_ENV", None)

FASTAPI_APP = """
import os
from aster import FastAPI

{name} = FastAPI()


@{name}.get("/")
def where():
    return {{"module": __name__, "app": "{name}", "env": os.environ.get("FASTAPI_ENV")}}
"""


def project(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def fastapi_app(name: str = "app") -> str:
    return FASTAPI_APP.format(name=name)


def get_json(server: Running, path: str = "/") -> object:
    response = request(server.port, f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
    assert response.status == 200, response
    return json.loads(response.body)


def cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aster", *args],
        cwd=cwd,
        env={**ENV, **(env or {})},
        capture_output=True,
        text=True,
        timeout=30,
    )


def assert_one_error(result: subprocess.CompletedProcess[str], message: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert output.splitlines() == [f"ERROR     {message}"], output


def served(server: Running) -> str:
    """The ``Using import string`` line's import string."""
    line = server.wait_for_log(r"Using import string ")
    return line.split("Using import string ", 1)[1].split()[0]


# -- paths -----------------------------------------------------------------------------------------


def test_a_file_path_is_run_on_all_interfaces(tmp_path: Path) -> None:
    project(tmp_path, {"main.py": fastapi_app()})
    with serve("main.py", cwd=tmp_path, env=ENV) as server:
        assert server.host == "0.0.0.0"
        assert served(server) == "main:app"
        assert get_json(server) == {"module": "main", "app": "app", "env": None}
        assert "Using import string main:app" in server.log()
        assert 'To pin it, add to pyproject.toml: [tool.fastapi] entrypoint = "main:app"' not in (
            server.log()
        )


def test_a_file_inside_packages_is_imported_from_above_them(tmp_path: Path) -> None:
    project(
        tmp_path,
        {
            "proj/backend/__init__.py": "",
            "proj/backend/api/__init__.py": "",
            "proj/backend/api/main.py": fastapi_app(),
            "proj/backend/api/helpers.py": "VALUE = 1\n",
        },
    )
    # Run from elsewhere: the import root is proj/, found from the package structure.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    path = str(tmp_path / "proj" / "backend" / "api" / "main.py")
    with serve(path, "--verbose", cwd=elsewhere, env=ENV) as server:
        assert served(server) == "backend.api.main:app"
        assert get_json(server)["module"] == "backend.api.main"  # type: ignore[index]
        log = server.log()
        assert "Module found from its package structure: backend -> api -> main.py" in log
        assert f"Importing from {(tmp_path / 'proj').resolve()}" in log
        assert "Module from: path argument; app name from: auto-discovery" in log


def test_a_package_directory_is_its_init(tmp_path: Path) -> None:
    project(tmp_path, {"service/__init__.py": fastapi_app("api")})
    with serve("service", cwd=tmp_path, env=ENV) as server:
        assert served(server) == "service:api"
        assert get_json(server)["app"] == "api"  # type: ignore[index]


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"main.py": fastapi_app(), "app.py": fastapi_app()}, "main:app"),
        ({"api.py": fastapi_app()}, "api:app"),
        ({"app/__init__.py": "", "app/main.py": fastapi_app()}, "app.main:app"),
        ({"app/__init__.py": "", "app/api.py": fastapi_app("api")}, "app.api:api"),
    ],
)
def test_no_path_tries_the_usual_files(
    tmp_path: Path, files: dict[str, str], expected: str
) -> None:
    project(tmp_path, files)
    with serve(None, cwd=tmp_path, env=ENV) as server:
        assert served(server) == expected
        log = server.log()
        assert f"Using import string {expected} (auto-discovered)" in log
        assert f'[tool.fastapi] entrypoint = "{expected}"' in log


# -- which object ---------------------------------------------------------------------------------


@pytest.fixture
def isolated_imports() -> Iterator[None]:
    """In-process discovery imports the projects' modules: forget them afterwards."""
    modules, path = set(sys.modules), list(sys.path)
    yield
    for name in set(sys.modules) - modules:
        del sys.modules[name]
    sys.path[:] = path


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (fastapi_app("api") + fastapi_app("app"), "app"),
        (fastapi_app("zeta") + fastapi_app("beta") + "router = None\n", "beta"),
        # A FastAPI app before a Starlette one, as fastapi-cli (which takes only FastAPI's).
        (
            "from aster.applications import Starlette\napp = Starlette()\n" + fastapi_app("web"),
            "web",
        ),
        ("from aster.applications import Starlette\nsite = Starlette()\n", "site"),
        # Classes and routers are not apps; a callable named app or api is the last resort.
        ("from aster import APIRouter, FastAPI\nKind = FastAPI\napi = APIRouter()\n", "api"),
    ],
)
def test_which_object_is_the_app(
    tmp_path: Path, isolated_imports: None, source: str, expected: str
) -> None:
    module = f"project_{abs(hash(source))}"
    project(tmp_path, {f"{module}.py": source})
    found = resolve(f"{tmp_path}/{module}.py")
    assert (found.import_string, found.app_dir) == (f"{module}:{expected}", str(tmp_path))
    assert (found.module_source, found.name_source) == ("path argument", "auto-discovery")


def test_entrypoints_import_from_the_current_directory_or_app_dir(tmp_path: Path) -> None:
    # Nothing is imported for an entrypoint: the server's load_app does it, from there.
    found = resolve(None, entrypoint="pkg.web:site", cwd=tmp_path)
    assert (found.import_string, found.app_dir) == ("pkg.web:site", str(tmp_path))
    found = resolve(None, entrypoint="pkg.web:site", app_dir="src", cwd=tmp_path)
    assert found.app_dir == str(tmp_path / "src")
    assert (found.module_source, found.name_source) == ("--entrypoint", "--entrypoint")
    assert not found.discovered


def test_the_first_fastapi_app_in_a_real_run(tmp_path: Path) -> None:
    project(tmp_path, {"named.py": fastapi_app("zeta") + fastapi_app("beta")})
    with serve("named.py", cwd=tmp_path, env=ENV) as server:
        assert served(server) == "named:beta"
        assert get_json(server)["app"] == "beta"  # type: ignore[index]


RAW_APP = """
class {cls}:
    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return
        await send({{"type": "http.response.start", "status": 200, "headers": []}})
        await send({{"type": "http.response.body", "body": b'"{body}"'}})
"""

FRONTEND_APP = """
from aster import FastAPI

app = FastAPI()
app.frontend("/", directory="dist")
"""

RAW_FUNCTION = """
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"[1]"})
"""


def test_the_real_fastapi_class_is_recognised_by_name(tmp_path: Path) -> None:
    # A class whose module and name are fastapi.applications.FastAPI, as an app built on
    # the real FastAPI has: recognised without the server importing anything.
    project(
        tmp_path,
        {
            "fastapi/__init__.py": "",
            "fastapi/applications.py": RAW_APP.format(cls="FastAPI", body="real"),
            "server.py": (
                "from fastapi.applications import FastAPI\n"
                "def app(environ):\n    pass\n"  # not an app object: a plain function
                "website = FastAPI()\n"
            ),
        },
    )
    with serve("server.py", "--lifespan", "off", cwd=tmp_path, env=ENV) as server:
        assert served(server) == "server:website"
        assert get_json(server) == "real"


def test_a_bare_asgi_function_named_app(tmp_path: Path) -> None:
    project(tmp_path, {"raw.py": RAW_FUNCTION})
    with serve("raw.py", "--lifespan", "off", cwd=tmp_path, env=ENV) as server:
        assert served(server) == "raw:app"
        assert get_json(server) == [1]


def test_app_option_picks_the_object(tmp_path: Path) -> None:
    project(tmp_path, {"main.py": fastapi_app("app") + fastapi_app("admin")})
    with serve("main.py", "--app", "admin", "--verbose", cwd=tmp_path, env=ENV) as server:
        assert served(server) == "main:admin"
        assert get_json(server)["app"] == "admin"  # type: ignore[index]
        assert "Module from: path argument; app name from: --app" in server.log()
    # --app alone: the usual files, then that name.
    with serve(None, "--app", "admin", cwd=tmp_path, env=ENV) as server:
        assert served(server) == "main:admin"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["main.py", "--app", "nope"], 'could not find the app "nope" in module "main"'),
        (
            ["main.py", "--app", "COUNT"],
            '"COUNT" in module "main" is not an ASGI app (got int)',
        ),
        (
            ["empty.py"],
            'could not find an app in module "empty": no FastAPI or Starlette instance, '
            "and nothing callable named app or api; name it with --app",
        ),
        (["missing.py"], 'the path "missing.py" does not exist'),
        (["src/app"], 'the path "src/app" does not exist'),
        (
            ["main"],
            '"main" is not a file or directory, and as an import string it must be '
            'in the format "<module>:<attribute>"',
        ),
        (
            ["main:app", "--app", "app"],
            '--app cannot be used with the import string "main:app", which names the app',
        ),
        (
            ["main.py", "-e", "main:app"],
            "--entrypoint cannot be used together with a path or --app",
        ),
        (
            ["-e", "main"],
            'the entrypoint "main" from --entrypoint must be in the format "<module>:<attribute>"',
        ),
    ],
)
def test_bad_references_are_one_clean_error(tmp_path: Path, args: list[str], message: str) -> None:
    project(tmp_path, {"main.py": fastapi_app() + "COUNT = 3\n", "empty.py": "VALUE = 1\n"})
    assert_one_error(cli("run", *args, "--port", "0", cwd=tmp_path), message)


def test_nothing_to_run_is_one_clean_error(tmp_path: Path) -> None:
    assert_one_error(
        cli("run", "--port", "0", cwd=tmp_path),
        "no app given, and none of main.py, app.py, api.py, app/main.py, app/app.py, "
        "app/api.py exists here; name a file or package (aster run path/to/main.py) or an "
        "import string (module:app)",
    )


def test_a_missing_import_inside_the_module_keeps_its_traceback(tmp_path: Path) -> None:
    project(tmp_path, {"main.py": "import not_installed_anywhere\n"})
    result = cli("run", "main.py", "--port", "0", cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" in result.stderr
    assert "ModuleNotFoundError: No module named 'not_installed_anywhere'" in result.stderr


# -- entrypoints ----------------------------------------------------------------------------------


def test_pyproject_entrypoint_and_the_option_that_overrides_it(tmp_path: Path) -> None:
    project(
        tmp_path,
        {
            "pyproject.toml": (
                '[project]\nname = "x"\n\n[tool.fastapi]\nentrypoint = "pkg.web:site"\n'
            ),
            "pkg/__init__.py": "",
            "pkg/web.py": fastapi_app("site") + fastapi_app("other"),
            "main.py": fastapi_app(),
        },
    )
    with serve(None, "--verbose", cwd=tmp_path, env=ENV) as server:
        assert served(server) == "pkg.web:site"
        assert get_json(server)["app"] == "site"  # type: ignore[index]
        assert "Import string from: pyproject.toml" in server.log()
        assert "To pin it" not in server.log()
    with serve(None, "-e", "pkg.web:other", cwd=tmp_path, env=ENV) as server:
        assert get_json(server)["app"] == "other"  # type: ignore[index]
    # A path on the command line wins over pyproject.toml.
    with serve("main.py", cwd=tmp_path, env=ENV) as server:
        assert served(server) == "main:app"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[tool.fastapi]\nentrypoint = 3\n", "tool.fastapi.entrypoint must be a string"),
        ("[tool.fastapi\n", "could not read"),
    ],
)
def test_a_bad_pyproject_is_one_clean_error(tmp_path: Path, text: str, message: str) -> None:
    project(tmp_path, {"pyproject.toml": text, "main.py": fastapi_app()})
    result = cli("run", "--port", "0", cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    [line] = output.splitlines()
    assert line.startswith("ERROR     ") and message in line, line


# -- run and dev --------------------------------------------------------------------------------


def test_port_comes_from_the_environment(tmp_path: Path) -> None:
    project(tmp_path, {"main.py": fastapi_app()})
    with serve("main.py", cwd=tmp_path, env={**ENV, "PORT": "0"}) as server:
        assert server.port > 0
    result = cli("run", "main.py", cwd=tmp_path, env={"PORT": "http"})
    assert_one_error(result, "the PORT environment variable must be a port number; got 'http'")


def test_an_import_string_keeps_uvicorns_loopback_default(tmp_path: Path) -> None:
    project(tmp_path, {"main.py": fastapi_app()})
    with serve("main:app", cwd=tmp_path, env=ENV) as server:
        assert server.host == "127.0.0.1"
        assert "Using import string" not in server.log()
        assert get_json(server)["module"] == "main"  # type: ignore[index]


def test_dev_binds_loopback_sets_fastapi_env_and_reloads(tmp_path: Path) -> None:
    project(tmp_path, {"app/__init__.py": "", "app/main.py": fastapi_app()})
    with serve(None, cwd=tmp_path, env=ENV, command_name="dev") as server:
        assert server.host == "127.0.0.1"
        assert served(server) == "app.main:app"
        assert get_json(server) == {"module": "app.main", "app": "app", "env": "development"}
        # The supervisor watches before it starts the first server, so the edit is seen.
        assert server.lines.index(f"INFO      Will watch for changes in {tmp_path}") < (
            server.lines.index(server.wait_for_log(r"Started server process"))
        )
        (tmp_path / "app" / "main.py").write_text(
            fastapi_app() + '\n\n@app.get("/new")\ndef new():\n    return "reloaded"\n'
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                response = request(server.port, b"GET /new HTTP/1.1\r\nHost: t\r\n\r\n")
                if response.status == 200:
                    break
            except OSError:
                pass  # between the old server and the new one
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.1)
        assert json.loads(response.body) == "reloaded"
        assert f"WARNING   Detected changes in {tmp_path / 'app' / 'main.py'}. Reloading..." in (
            server.lines
        )


def test_dev_without_reload_and_an_explicit_environment(tmp_path: Path) -> None:
    project(tmp_path, {"main.py": fastapi_app()})
    env = {**ENV, "FASTAPI_ENV": "staging"}
    with serve("main.py", "--no-reload", cwd=tmp_path, env=env, command_name="dev") as server:
        assert get_json(server)["env"] == "staging"  # type: ignore[index]
        assert "Started supervisor process" not in server.log()


def test_dev_lets_a_frontend_be_built_later_run_refuses_it(tmp_path: Path) -> None:
    project(
        tmp_path,
        {"main.py": FRONTEND_APP},
    )
    result = cli("run", "main.py", "--port", "0", cwd=tmp_path)
    assert result.returncode == 1
    assert "RuntimeError: Frontend directory 'dist' does not exist" in result.stderr
    with serve("main.py", "--no-reload", cwd=tmp_path, env=ENV, command_name="dev") as server:
        assert "UserWarning: Frontend directory 'dist' does not exist yet" in server.log()
        missing = request(server.port, b"GET /index.html HTTP/1.1\r\nHost: t\r\n\r\n")
        assert missing.status == 500
        project(tmp_path, {"dist/index.html": "<p>built</p>"})
        built = request(server.port, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        assert (built.status, built.body) == (200, b"<p>built</p>")


def test_openapi_finds_the_app_the_same_way(tmp_path: Path) -> None:
    project(tmp_path, {"app/__init__.py": "", "app/main.py": fastapi_app()})
    result = cli("openapi", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    schema = json.loads(result.stdout)
    assert list(schema["paths"]) == ["/"]
    result = cli("openapi", "app/main.py", "--app", "nothing", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (
        1,
        'ERROR     could not find the app "nothing" in module "app.main"\n',
    )
