"""`haven retention policy show|set|withdraw` and `haven retention run`, as an administrator
types them: the policy recorded with who set it, values outside the bounds refused in one
line, and a run that prints ids and dates only."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from crypto.keyring import Keyring
from events.catalog import haven_registry
from events.store import PostgresEventStore
from projections.catalog import projection_factories
from projections.rebuild import rebuild
from services.cli import main
from services.settings import Settings, SettingsError
from tests.cli_support import command_environment
from tests.conftest import empty_log_and_read_models

ORG = "org-retention-cli"


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
    store = PostgresEventStore(pool, keyring, haven_registry())
    await rebuild(store, pool, projection_factories(keyring, store)["cases"])  # built, empty
    await store.close()
    with command_environment(monkeypatch, database_url, tmp_path, key_file):
        yield


def test_the_policy_is_set_shown_and_withdrawn_with_who_set_it(
    environment: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["retention", "policy", "show", "--org", ORG]) == 0
    assert "none (keep everything)" in capsys.readouterr().out
    policy = ["retention", "policy", "set", "--org", ORG, "--by", "admin-1"]
    assert main([*policy, "--erase-after-days", "400"]) == 0
    assert main(["retention", "policy", "show", "--org", ORG]) == 0
    shown = capsys.readouterr().out
    assert re.search(r"erase_after_days\s+400\n", shown)
    assert re.search(r"set_by\s+admin-1 at \d{4}-", shown)

    assert main([*policy, "--erase-after-days", "30"]) == 2
    refusal = capsys.readouterr().err.strip().splitlines()
    assert refusal[-1].startswith("haven retention: erase_after_days must be a whole number")
    assert main(["retention", "policy", "show", "--org", ORG]) == 0
    assert re.search(r"erase_after_days\s+400\n", capsys.readouterr().out)  # unchanged

    assert main(["retention", "policy", "withdraw", "--org", ORG, "--by", "admin-1"]) == 0
    assert "none (keep everything)" in capsys.readouterr().out


def test_a_run_prints_a_summary_and_a_dry_run_says_so(
    environment: None, capsys: pytest.CaptureFixture[str]
) -> None:
    set_policy = ["retention", "policy", "set", "--org", ORG, "--by", "admin-1"]
    assert main([*set_policy, "--erase-after-days", "400"]) == 0
    capsys.readouterr()
    assert main(["retention", "run", "--org", ORG, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"0 cases past their policy on \d{4}-\d\d-\d\d; dry run, nothing erased", out)
    assert main(["retention", "run"]) == 0
    assert "0 erased" in capsys.readouterr().out


def test_the_daily_run_is_a_switch_off_by_default() -> None:
    assert Settings.from_environ({}).retention_daily is False
    assert Settings.from_environ({"HAVEN_RETENTION_DAILY": "1"}).retention_daily is True
    assert Settings.from_environ({"HAVEN_RETENTION_DAILY": "0"}).retention_daily is False
    with pytest.raises(SettingsError, match="HAVEN_RETENTION_DAILY"):
        Settings.from_environ({"HAVEN_RETENTION_DAILY": "daily"})
