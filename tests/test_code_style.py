"""The repository passes `ruff check` and `ruff format --check` (pyproject.toml's [tool.ruff]).

The controls run the same ruff, with the repository's configuration, on a temporary file with
a deliberate fault, so that a ruff that checks nothing (or a configuration that lost its rules)
cannot pass unnoticed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
CONFIGURATION = REPOSITORY / "pyproject.toml"


def ruff(
    subcommand: str, *arguments: str | Path, cwd: Path = REPOSITORY
) -> subprocess.CompletedProcess[str]:
    """`python -m ruff <subcommand>` with the repository's configuration and no cache."""
    command = [sys.executable, "-m", "ruff", subcommand, "--no-cache", "--config", CONFIGURATION]
    return subprocess.run(
        [*map(str, command), *map(str, arguments)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def output(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n{result.stdout}{result.stderr}"


def write(directory: Path, text: str) -> Path:
    path = directory / "sample.py"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_repository_passes_ruff_check() -> None:
    result = ruff("check", "--output-format", "concise", ".")
    assert result.returncode == 0, output(result)


def test_the_repository_is_formatted() -> None:
    result = ruff("format", "--check", "--output-format", "concise", ".")
    assert result.returncode == 0, output(result)  # `ruff format --diff .` shows the changes


def test_control_a_clean_file_passes_both(tmp_path: Path) -> None:
    path = write(tmp_path, 'import json\n\nprint(json.dumps({"a": 1}))\n')
    check, form = ruff("check", path, cwd=tmp_path), ruff("format", "--check", path, cwd=tmp_path)
    assert (check.returncode, form.returncode) == (0, 0), output(check) + output(form)


def test_control_an_unused_import_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "import json\n")
    result = ruff("check", "--output-format", "concise", path, cwd=tmp_path)
    assert result.returncode == 1 and "F401" in result.stdout, output(result)


def test_control_a_line_of_120_characters_is_reported_and_one_of_100_is_not(
    tmp_path: Path,
) -> None:
    # The lines are strings, which the formatter cannot split: only the length rule sees them.
    long = f'TEXT = "{"x" * 111}"\n'
    fits = f'TEXT = "{"x" * 91}"\n'
    assert (len(long.rstrip("\n")), len(fits.rstrip("\n"))) == (120, 100)
    result = ruff("check", "--output-format", "concise", write(tmp_path, long), cwd=tmp_path)
    assert result.returncode == 1 and "E501" in result.stdout, output(result)
    result = ruff("check", "--output-format", "concise", write(tmp_path, fits), cwd=tmp_path)
    assert result.returncode == 0, output(result)  # the limit is 100, not ruff's default of 88


def test_control_an_unformatted_file_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "x = [1,2,3]\n")
    result = ruff("format", "--check", path, cwd=tmp_path)
    assert result.returncode == 1 and "sample.py" in result.stdout + result.stderr, output(result)
