"""`haven organisation ...` as an administrator types it: the profile, a team, a worker and a
partner recorded, a worker deactivated, refusals by pointer without the value, all through
the same use cases as the API. Every organisation and person is synthetic."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from crypto.keyring import Keyring
from services.cli import main
from tests.cli_support import command_environment
from tests.conftest import empty_log_and_read_models

ORG = "org-organisation-cli"
WHO = ["--org", ORG, "--by", "admin-1"]


@pytest.fixture
async def environment(
    pool: asyncpg.Pool,
    keyring: Keyring,
    database_url: str,
    tmp_path: Path,
    key_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[None]:
    await empty_log_and_read_models(pool)
    with command_environment(monkeypatch, database_url, tmp_path, key_file):
        yield


def test_an_administrator_keeps_the_organisation_from_the_command_line(
    environment: None, capsys: pytest.CaptureFixture[str]
) -> None:
    haven = "organisation"
    assert main([haven, "set-profile", "--name", "Example Harbor", "--state", "IL", *WHO]) == 0
    assert main([haven, "teams", "add", "team-1", "--name", "Intake", *WHO]) == 0
    assert main([haven, "workers", "add", "w-ana", "--name", "Ana", "--team", "team-1", *WHO]) == 0
    partner = ["partners", "add", "org-lantern", "--name", "Lantern", "--direction", "both"]
    assert main([haven, *partner, *WHO]) == 0
    assert main([haven, "workers", "deactivate", "w-ana", *WHO]) == 0
    assert "recorded (version 5)" in capsys.readouterr().out
    assert main([haven, "show", "--org", ORG]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["version"] == 5 and shown["profile"]["state"] == "IL"
    assert shown["workers"] == [
        {"worker_id": "w-ana", "display_name": "Ana", "team_id": "team-1", "active": False}
    ]
    assert shown["partners"][0]["direction"] == "both"
    # refusals: a worker on a team the organisation does not have, contact details, no entry
    assert main([haven, "workers", "add", "w-bo", "--name", "Bo", "--team", "t-9", *WHO]) == 2
    canary = "Call 555 0100 1234"
    assert main([haven, "set-profile", "--name", "H", "--description", canary, *WHO]) == 2
    assert main([haven, "teams", "deactivate", "team-nobody", *WHO]) == 2
    errors = capsys.readouterr().err
    assert "/team_id must be an active team" in errors and "/description" in errors
    assert "555" not in errors and "no such entry among the teams" in errors
    assert main([haven, "show", "--org", ORG]) == 0
    assert json.loads(capsys.readouterr().out)["version"] == 5  # nothing recorded
