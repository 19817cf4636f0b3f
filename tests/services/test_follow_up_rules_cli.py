"""`haven follow-up-rules show|set`, as an administrator types them: the defaults until set,
a change of only what is named recorded with who made it, and days out of bounds refused in
one line with nothing changed."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.cli import main
from tests.cli_support import command_environment


@pytest.fixture
def environment(
    database_url: str, tmp_path: Path, key_file: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    with command_environment(monkeypatch, database_url, tmp_path, key_file):
        yield f"org-follow-up-cli-{uuid.uuid4().hex[:8]}"


def test_the_rules_are_shown_and_set_with_who_set_them(
    environment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    org = environment
    assert main(["follow-up-rules", "show", "--org", org]) == 0
    shown = capsys.readouterr().out
    assert re.search(r"referral_overdue\s+on  14 days\n", shown)
    assert re.search(r"no_contact\s+on  30 days\n", shown)
    assert "nobody (the defaults)" in shown

    change = ["follow-up-rules", "set", "--org", org, "--by", "admin-1"]
    assert main([*change, "--no-contact-days", "45", "--disable", "immigration-deadline"]) == 0
    shown = capsys.readouterr().out
    assert re.search(r"no_contact\s+on  45 days\n", shown)
    assert re.search(r"immigration_deadline\s+off 30 days\n", shown)
    assert re.search(r"referral_overdue\s+on  14 days\n", shown)  # not named: unchanged
    assert re.search(r"set_by\s+admin-1 at \d{4}-", shown)

    assert main([*change, "--referral-overdue-days", "0"]) == 2
    refusal = capsys.readouterr().err.strip().splitlines()
    assert refusal[-1].startswith("haven follow-up-rules: days must be a whole number")
    assert main(["follow-up-rules", "show", "--org", org]) == 0
    shown = capsys.readouterr().out
    assert re.search(r"referral_overdue\s+on  14 days\n", shown)  # unchanged
    assert re.search(r"no_contact\s+on  45 days\n", shown)
