"""`haven directory import FILE [--dry-run]` and `haven directory export`, as an administrator
types them: a report line per record, nothing created twice, refusals by pointer without
values, and an export that is an HSDS document without a confidential location's address.
All organisations and services are synthetic."""

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

ORG = "org-directory-cli"
CANARY = "41 Canary Lane"


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


def directory(tmp_path: Path, **extra: object) -> Path:
    service = {
        "id": "svc-1",
        "organization_id": "org-legal",
        "name": "Immigration legal help",
        "service_areas": [{"extent": "US-IL"}],
        "attributes": [
            {"taxonomy_term": {"code": "legal_immigration", "taxonomy": "haven-service-category"}}
        ],
        "service_at_locations": [{"location": {"name": "Example office", "confidential": True}}],
        **extra,
    }
    document = {
        "organizations": [{"id": "org-legal", "name": "Example Legal Aid of Springfield"}],
        "services": [service],
    }
    path = tmp_path / "directory.json"
    path.write_text(json.dumps(document))
    return path


def test_import_twice_then_export(
    environment: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = directory(tmp_path)
    load = ["directory", "import", str(path), "--org", ORG, "--by", "admin-1"]
    assert main([*load, "--dry-run"]) == 0
    assert "1 created" in capsys.readouterr().out
    assert main(load) == 0
    assert "/services/0 created" in capsys.readouterr().out
    assert main(load) == 0
    assert "0 created, 0 updated, 1 unchanged" in capsys.readouterr().out
    assert main(["projections", "rebuild", "directory"]) == 0
    capsys.readouterr()
    out = tmp_path / "export.json"
    assert main(["directory", "export", "--org", ORG, "--out", str(out)]) == 0
    exported = json.loads(out.read_text())
    assert [s["name"] for s in exported["services"]] == ["Immigration legal help"]
    assert exported["organizations"][0]["id"] == "org-legal"


def test_refusals_are_printed_by_pointer_without_values(
    environment: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    location = {
        "name": "Example shelter",
        "confidential": True,
        "addresses": [
            {"address_1": CANARY, "city": "Springfield", "state_province": "IL",
             "postal_code": "62701"}
        ],
    }  # fmt: skip
    path = directory(tmp_path, email="SECRET", service_at_locations=[{"location": location}])
    assert main(["directory", "import", str(path), "--org", ORG, "--by", "admin-1"]) == 1
    printed = capsys.readouterr()
    assert "/services/0 refused" in printed.out
    assert "/services/0/email" in printed.out
    assert "/services/0/service_at_locations/0/location/addresses" in printed.out
    assert "SECRET" not in printed.out + printed.err and CANARY not in printed.out + printed.err
    (tmp_path / "broken.json").write_text("not json")
    broken = ["directory", "import", str(tmp_path / "broken.json"), "--org", ORG, "--by", "a"]
    assert main(broken) == 2
