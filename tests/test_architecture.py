"""Import rules: the domain is pure, and dependencies point one way.

    domain  <-  crypto  <-  events  <-  projections  <-  services

`domain/` may use only the standard library, msgspec and itself. Lower layers never import
higher ones. The rules are checked statically (ast), so lazy imports inside functions count.
"""

from __future__ import annotations

import ast
import sys
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


@pytest.mark.parametrize("line", [
    "import litestar", "from structlog import get_logger", "import cryptography.hazmat",
    "from events.store import PostgresEventStore", "import crypto.aead", "from projections import x",
    "from services.settings import Settings",
    "def f():\n    import asyncpg\n",
    "try:\n    import structlog\nexcept ImportError:\n    pass\n",
])
def test_control_checker_flags_every_forbidden_domain_import(line: str) -> None:
    assert domain_violations(line)


def test_control_checker_accepts_stdlib_msgspec_and_domain() -> None:
    source = ("import datetime, uuid\nfrom collections.abc import Mapping\nimport msgspec\n"
              "from domain.event import DomainEvent\nfrom . import event\n")
    assert domain_violations(source) == set()


def test_control_checker_flags_an_upward_import() -> None:
    assert direction_violations("from services.settings import Settings\n", "crypto") == {"services"}
    assert direction_violations("def f():\n    import projections.cases\n", "events") == {"projections"}
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
