"""The shape of aster's import graph: no circles, the server apart, layers importing downward.

The graph is read from the source (``ast``), not from ``sys.modules``: every ``import`` and
``from … import`` anywhere in a module counts, at module level *and* inside functions, since
a local import that closes a circle is still a circle, only a hidden one.  Imports under
``if TYPE_CHECKING:`` do not count (they never run).  A literal
``importlib.import_module("aster.…")`` counts as an import too, and the few places that
import aster modules by computed names or answer attributes through a module-level
``__getattr__`` are listed in :data:`DYNAMIC_IMPORTS`, each with its reason.

The layers, bottom up (a module may import its own layer and the ones below):

* ``starlette``: what Starlette has (requests, responses, routes, mounts, the router,
  websockets, datastructures, middleware, background, static files, templates, the test
  client, the ``Starlette`` app) and the small shared pieces below them (ASGI types, URL,
  multidicts, the thread pool, status codes).
* ``fastapi``: what FastAPI adds (params, fields, the dependency plan, API routes, the
  handler, ``APIRouter``, the ``FastAPI`` app, OpenAPI, security, SSE).
* ``face``: public module paths that only re-export (``aster.routing`` is
  ``fastapi.routing``, ``aster._starlette_routing`` is ``starlette.routing``...).  No aster
  module imports a face, except another face: code inside aster imports from where a name
  is defined.

The server (``aster.server``) is apart: it runs any ASGI app, so it imports nothing from the
framework.  The only thing it takes from outside is ``aster.__version__`` from the package
root (whose ``__init__`` imports nothing eagerly).
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PACKAGE = "aster"
PACKAGE_DIR = Path(__file__).resolve().parent.parent / PACKAGE


# --- the layers -------------------------------------------------------------------------------

STARLETTE_LAYER = frozenset(
    {
        # shared pieces at the bottom
        "aster.types",
        "aster._multidict",
        "aster._url",
        "aster.convertors",
        "aster.status",
        "aster.concurrency",
        "aster._portal",
        "aster._asyncio_only",
        "aster._starlette_exceptions",
        "aster._disconnect",
        # publish/subscribe fan-out (imports nothing else of aster)
        "aster.channels",
        "aster.channels.subscription",
        "aster.channels.backend",
        "aster.channels.channels",
        "aster.channels.redis_backends",
        # HTTP and WebSocket connections, bodies, forms
        "aster.datastructures",
        "aster.formparsers",
        "aster.requests",
        "aster.websockets",
        "aster.background",
        # where the router, error middleware, handlers and background tasks meet telemetry
        "aster._telemetry_hooks",
        # responses
        "aster._response",
        "aster._streaming_response",
        "aster._fileresponse",
        # routing
        "aster._routing_base",
        "aster._routes",
        "aster.route_index",
        "aster._router",
        # middleware
        "aster.middleware",
        "aster.middleware.base",
        "aster.middleware._app_driver",
        "aster.middleware.body_limit",
        "aster.middleware.cors",
        "aster.middleware.errors",
        "aster.middleware.exceptions",
        "aster.middleware.gzip",
        "aster.middleware.httpsredirect",
        "aster.middleware.trustedhost",
        "aster.middleware.authentication",
        "aster.middleware.sessions",
        "aster.middleware.wsgi",
        "aster.middleware.opentelemetry",
        # class-based endpoints, authentication, settings, docstring schemas
        "aster.endpoints",
        "aster.authentication",
        "aster.config",
        "aster.schemas",
        # Starlette's internals that libraries import
        "aster._utils",
        "aster._exception_handler",
        # the application, files, templates, the test client
        "aster._starlette_applications",
        "aster.staticfiles",
        "aster.templating",
        "aster.testclient",
        "aster._testclient_ws",
    }
)

FASTAPI_LAYER = frozenset(
    {
        "aster.exceptions",
        "aster.params",
        "aster.param_functions",
        "aster.fields",
        "aster.encoders",
        "aster._form_limits",
        "aster._body_limit",
        "aster.logger",
        "aster.middleware.asyncexitstack",
        "aster._json_libraries",
        "aster.sse",
        "aster.utils",
        "aster.dependencies.models",
        "aster.dependencies.shapes",
        "aster.dependencies.analysis",
        "aster.dependencies.body_field",
        "aster.dependencies.param_values",
        "aster.dependencies.param_models",
        "aster.dependencies.body",
        "aster.dependencies.exits",
        "aster.dependencies.lifespan",
        "aster.dependencies.plan",
        "aster.dependencies.solving",
        "aster.security",
        "aster.security.base",
        "aster.security.utils",
        "aster.security.api_key",
        "aster.security.http",
        "aster.security.oauth2",
        "aster.security.open_id_connect_url",
        "aster._endpoint_streams",
        "aster.handlers",
        "aster.api_routing",
        "aster._frontend",
        "aster._low_priority",
        "aster.api_router",
        "aster._route_contexts",
        "aster.exception_handlers",
        "aster.openapi",
        "aster.openapi.constants",
        "aster.openapi.models",
        "aster.openapi._schema",
        "aster.openapi._operation_params",
        "aster.openapi.utils",
        "aster.openapi.docs",
        "aster.openapi._assets",
        "aster.openapi.setup",
        "aster.telemetry",
        "aster.telemetry._config",
        "aster.telemetry._api",
        "aster.telemetry._asgi",
        "aster.telemetry._runtime",
        "aster.telemetry._gate",
        "aster.applications",
    }
)

#: Public module paths that only re-export, with the real module each one stands for.
FACES = {
    "aster.routing": "fastapi.routing",
    "aster.dependencies.utils": "fastapi.dependencies.utils",
    "aster._compat": "fastapi._compat",
    "aster.responses": "fastapi.responses",
    "aster._starlette_routing": "starlette.routing",
    "aster._starlette_responses": "starlette.responses",
}

#: Outside the framework's layers: the package root (lazy names only, see its docstring),
#: ``python -m aster``, and the import aliases with their pytest plugin.
TOOLING = frozenset({"aster", "aster.__main__", "aster.compat", "aster._pytest_compat"})

#: What each layer may import, besides itself.
ALLOWED_BELOW = {
    "starlette": frozenset(),
    "fastapi": frozenset({"starlette"}),
    "face": frozenset({"starlette", "fastapi"}),
    "server": frozenset(),
}

#: Modules that import aster modules by computed names, or define a module ``__getattr__``.
DYNAMIC_IMPORTS = {
    "aster": "lazy public names: `aster run` must not load the framework before the app",
    "aster.compat": "the alias finder loads aster's module for each fastapi/starlette name",
    "aster.status": "__getattr__ warns on Starlette's deprecated status-code names",
    "aster._json_libraries": "imports ujson or orjson, optional libraries, on first use",
    "aster.server.config": "loads the user's app, and checks the --ws implementation exists",
    "aster.server.discover": "imports the user's module a path names, to find the app in it",
}


def layer_of(module: str) -> str:
    if module == "aster.server" or module.startswith("aster.server."):
        return "server"
    if module in STARLETTE_LAYER:
        return "starlette"
    if module in FASTAPI_LAYER:
        return "fastapi"
    if module in FACES:
        return "face"
    if module in TOOLING:
        return "tooling"
    return "unassigned"


# --- reading the graph ------------------------------------------------------------------------


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    line: int
    names: tuple[str, ...] = ()

    def where(self, files: Mapping[str, str]) -> str:
        return f"{files.get(self.source, self.source)}:{self.line}"


@dataclass
class Graph:
    modules: dict[str, str] = field(default_factory=dict)  # module -> file (relative)
    edges: list[Edge] = field(default_factory=list)
    dynamic: dict[str, list[int]] = field(default_factory=dict)  # module -> lines

    def targets(self, module: str) -> set[str]:
        return {edge.target for edge in self.edges if edge.source == module}


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _literal_import_call(node: ast.Call) -> str | None:
    """``importlib.import_module("x")`` / ``import_module("x")`` / ``__import__("x")``: "x"."""
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if name not in ("import_module", "__import__") or not node.args:
        return None
    first = node.args[0]
    if isinstance(first, ast.Constant) and isinstance(first.value, str):
        return first.value
    return ""  # a computed name


class _ImportCollector(ast.NodeVisitor):
    def __init__(self, module: str, is_package: bool) -> None:
        self.module = module
        self.package = module if is_package else module.rpartition(".")[0]
        self.found: list[tuple[str, int, tuple[str, ...]]] = []  # (dotted name, line, names)
        self.dynamic: list[int] = []

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            for statement in node.orelse:
                self.visit(statement)
            return
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.found.append((alias.name, node.lineno, ()))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base = self.package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            source = f"{base}.{node.module}" if node.module else base
        else:
            source = node.module or ""
        names = tuple(alias.name for alias in node.names)
        # ``from package import submodule`` imports the submodule.
        for name in names:
            self.found.append((f"{source}.{name}", node.lineno, (name,)))

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        if node.name == "__getattr__" and node in self.top_level:
            self.dynamic.append(node.lineno)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        target = _literal_import_call(node)
        if target == "":
            self.dynamic.append(node.lineno)
        elif target is not None:
            self.found.append((target, node.lineno, ()))
        self.generic_visit(node)

    def collect(self, tree: ast.Module) -> None:
        self.top_level = set(tree.body)
        self.visit(tree)


def _resolve(name: str, modules: Iterable[str]) -> str | None:
    """The aster module ``name`` refers to: itself, or the nearest enclosing module."""
    known = set(modules)
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def module_name(path: Path, root: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts.pop()
    return ".".join(parts), is_package


def build_graph(root: Path) -> Graph:
    """The import graph of the package in ``root`` (a directory with an ``__init__.py``)."""
    graph = Graph()
    sources: dict[str, tuple[ast.Module, bool]] = {}
    for path in sorted(root.rglob("*.py")):
        name, is_package = module_name(path, root)
        graph.modules[name] = str(path.relative_to(root.parent))
        sources[name] = (ast.parse(path.read_text(encoding="utf-8"), str(path)), is_package)
    top = root.name
    seen: set[Edge] = set()
    for name, (tree, is_package) in sources.items():
        collector = _ImportCollector(name, is_package)
        collector.collect(tree)
        if collector.dynamic:
            graph.dynamic[name] = collector.dynamic
        for dotted, line, names in collector.found:
            if dotted != top and not dotted.startswith(top + "."):
                continue
            target = _resolve(dotted, graph.modules)
            if target is None or target == name:
                continue
            edge = Edge(name, target, line, names if target != dotted else ())
            if edge not in seen:
                seen.add(edge)
                graph.edges.append(edge)
    return graph


def find_cycles(graph: Graph) -> list[tuple[list[str], list[str]]]:
    """Per group of modules that import each other in a circle (a strongly connected
    component, found with Tarjan's algorithm): its members, and one shortest cycle."""
    successors = {module: sorted(graph.targets(module)) for module in graph.modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def connect(node: str) -> None:
        # Iterative Tarjan: (node, iterator over its successors).
        work = [(node, iter(successors[node]))]
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        while work:
            current, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(successors[child])))
                elif child in on_stack:
                    low[current] = min(low[current], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[current])
            if low[current] == index[current]:
                group = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == current:
                        break
                if len(group) > 1:
                    groups.append(group)

    for module in sorted(successors):
        if module not in index:
            connect(module)
    cycles = []
    for group in groups:
        start = min(group)
        # Shortest way back to ``start`` inside the group.
        previous: dict[str, str] = {}
        queue = deque([start])
        while queue:
            current = queue.popleft()
            if start in successors[current]:
                path = [start]
                while current != start:
                    path.append(current)
                    current = previous[current]
                cycles.append((sorted(group), [start, *reversed(path[1:]), start]))
                break
            for child in successors[current]:
                if child in group and child not in previous and child != start:
                    previous[child] = current
                    queue.append(child)
    return sorted(cycles)


def describe_cycle(cycle: list[str], graph: Graph) -> str:
    steps = []
    for source, target in zip(cycle, cycle[1:], strict=False):
        edge = next(e for e in graph.edges if e.source == source and e.target == target)
        steps.append(f"{source} -> {target} ({edge.where(graph.modules)})")
    return "\n    ".join(steps)


@pytest.fixture(scope="module")
def graph() -> Graph:
    return build_graph(PACKAGE_DIR)


# --- the rules --------------------------------------------------------------------------------


def test_no_import_cycles(graph: Graph) -> None:
    cycles = find_cycles(graph)
    report = "\n".join(
        f"  {len(members)} modules in a circle: {', '.join(members)}\n"
        f"  for example:\n    {describe_cycle(cycle, graph)}"
        for members, cycle in cycles
    )
    assert not cycles, f"import cycles among aster's modules:\n{report}"


def test_the_server_imports_nothing_from_the_framework(graph: Graph) -> None:
    wrong = [
        f"{edge.where(graph.modules)}: {edge.source} imports {edge.target}"
        + (f" ({', '.join(edge.names)})" if edge.names else "")
        for edge in graph.edges
        if layer_of(edge.source) == "server"
        and layer_of(edge.target) != "server"
        and not (edge.target == PACKAGE and edge.names == ("__version__",))
    ]
    assert not wrong, "the server must run any ASGI app without the framework:\n" + "\n".join(wrong)


def test_every_module_has_a_layer(graph: Graph) -> None:
    unassigned = sorted(m for m in graph.modules if layer_of(m) == "unassigned")
    assert not unassigned, f"put these modules in a layer in {Path(__file__).name}: {unassigned}"
    listed = STARLETTE_LAYER | FASTAPI_LAYER | set(FACES) | TOOLING
    stale = sorted(listed - set(graph.modules))
    assert not stale, f"listed in a layer but no such module: {stale}"


def test_layers_import_downward(graph: Graph) -> None:
    wrong = []
    for edge in graph.edges:
        source, target = layer_of(edge.source), layer_of(edge.target)
        if source not in ALLOWED_BELOW or target == source:
            continue
        if edge.target == PACKAGE and edge.names == ("__version__",):
            continue  # checked by the server test
        if target not in ALLOWED_BELOW[source]:
            wrong.append(
                f"{edge.where(graph.modules)}: {edge.source} ({source}) "
                f"imports {edge.target} ({target})"
            )
    assert not wrong, "imports against the layering:\n" + "\n".join(wrong)


def test_nothing_imports_a_face(graph: Graph) -> None:
    wrong = [
        f"{edge.where(graph.modules)}: {edge.source} imports the face {edge.target}"
        for edge in graph.edges
        if edge.target in FACES and edge.source not in FACES
    ]
    assert not wrong, "import names from where they are defined:\n" + "\n".join(wrong)


def test_the_framework_does_not_import_the_tooling(graph: Graph) -> None:
    wrong = [
        f"{edge.where(graph.modules)}: {edge.source} imports {edge.target}"
        for edge in graph.edges
        if layer_of(edge.source) in ("starlette", "fastapi", "face")
        and layer_of(edge.target) == "tooling"
        and not (edge.target == PACKAGE and edge.names == ("__version__",))
    ]
    assert not wrong, "\n".join(wrong)


def test_dynamic_imports_are_the_listed_ones(graph: Graph) -> None:
    found = graph.dynamic
    unlisted = {m: lines for m, lines in found.items() if m not in DYNAMIC_IMPORTS}
    assert not unlisted, (
        "computed imports or a module __getattr__ hide imports from this test; "
        f"import statically, or list the module with its reason: {unlisted}"
    )
    stale = sorted(set(DYNAMIC_IMPORTS) - set(found))
    assert not stale, f"no longer dynamic, drop from DYNAMIC_IMPORTS: {stale}"


# --- the reader itself ------------------------------------------------------------------------


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "pkg"
    for name, text in {"__init__.py": "", **files}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_a_cycle_through_a_function_level_import_is_found(tmp_path: Path) -> None:
    root = _package(
        tmp_path,
        {
            "a.py": "from . import b\n",
            "b.py": "def f():\n    from .c import g\n    return g\n",
            "c.py": "import pkg.a\n",
        },
    )
    graph = build_graph(root)
    members = ["pkg.a", "pkg.b", "pkg.c"]
    assert find_cycles(graph) == [(members, ["pkg.a", "pkg.b", "pkg.c", "pkg.a"])]
    assert describe_cycle(find_cycles(graph)[0][1], graph) == (
        "pkg.a -> pkg.b (pkg/a.py:1)\n"
        "    pkg.b -> pkg.c (pkg/b.py:2)\n"
        "    pkg.c -> pkg.a (pkg/c.py:1)"
    )


def test_type_checking_imports_do_not_count_but_literal_import_module_does(
    tmp_path: Path,
) -> None:
    root = _package(
        tmp_path,
        {
            "a.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from .b import B\n"
                "else:\n    from .sub import c\n"
            ),
            "b.py": "import importlib\nimportlib.import_module('pkg.a')\n",
            "sub/__init__.py": "",
            "sub/c.py": "from .. import b\n",
            "d.py": "import importlib\ndef __getattr__(name):\n"
            "    return importlib.import_module(f'pkg.{name}')\n",
        },
    )
    graph = build_graph(root)
    assert sorted((e.source, e.target) for e in graph.edges) == [
        ("pkg.a", "pkg.sub.c"),
        ("pkg.b", "pkg.a"),
        ("pkg.sub.c", "pkg.b"),
    ]
    members = ["pkg.a", "pkg.b", "pkg.sub.c"]
    assert find_cycles(graph) == [(members, ["pkg.a", "pkg.sub.c", "pkg.b", "pkg.a"])]
    assert graph.dynamic == {"pkg.d": [2, 3]}
