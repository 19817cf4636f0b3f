"""domain/ and services/commands/ pass `mypy --strict` (pyproject.toml's [tool.mypy]).

The pure model is where a wrong type costs most and is cheapest to prove absent; the use
cases are checked against the `CaseStore` protocol the event store must satisfy. The control
runs the same mypy, with the same configuration, on a temporary file with a deliberate
strict-mode fault, so that a mypy that checks nothing (or a configuration that lost `strict`)
cannot pass unnoticed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
CONFIGURATION = REPOSITORY / "pyproject.toml"


def mypy(*arguments: str | Path, cache: Path) -> subprocess.CompletedProcess[str]:
    """`python -m mypy` with the repository's configuration, its cache in `cache`."""
    command = [sys.executable, "-m", "mypy", "--config-file", CONFIGURATION, "--cache-dir", cache]
    return subprocess.run(
        [*map(str, command), *map(str, arguments)],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=300,
    )


def output(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n{result.stdout}{result.stderr}"


def test_the_domain_passes_mypy_strict(tmp_path: Path) -> None:
    result = mypy(cache=tmp_path / "cache")  # the configuration's `files`
    assert result.returncode == 0, output(result)
    modules = sum(
        len(list((REPOSITORY / package).rglob("*.py")))
        for package in ("domain", "services/commands")
    )
    assert f" in {modules} source files" in result.stdout, output(result)


def test_control_a_function_without_annotations_is_reported(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("def double(x):\n    return 2 * x\n", encoding="utf-8")
    result = mypy(sample, cache=tmp_path / "cache")
    assert result.returncode == 1 and "[no-untyped-def]" in result.stdout, output(result)
