"""What a test of a `haven` command sets up around it: the environment the command reads its
database, data folder and key from, and the test's logging left as the command found it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.logging_support import preserved_logging


@contextlib.contextmanager
def command_environment(
    monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path, key_file: Path
) -> Iterator[None]:
    monkeypatch.setenv("HAVEN_DATABASE_URL", database_url)
    monkeypatch.setenv("HAVEN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HAVEN_KEK", f"file:{key_file}")
    with preserved_logging():  # the command configures logging (to standard error)
        yield
