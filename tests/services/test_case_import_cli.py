"""`haven import cases FILE.csv [--dry-run]`, as an administrator types it: the example file
of docs/operations.md imported, nothing created twice, every refused row named by its number
and column and never by a value, a header the import cannot use refused before anything is
recorded. All clients are synthetic."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from crypto.keyring import Keyring
from crypto.providers import FileKeyProvider
from events.catalog import haven_registry
from events.store import PostgresEventStore
from services.case_import.columns import COLUMNS
from services.cli import main
from services.commands.case_reader import read_case
from tests.cli_support import command_environment
from tests.conftest import empty_log_and_read_models

ORG = "org-case-import"
EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "case-import.csv"
OPERATIONS = Path(__file__).parents[2] / "docs" / "operations.md"
CANARY = "Canary Q. Marigold-7731"
IMPORT = ["import", "cases", "--org", ORG, "--by", "worker-import-1", "--team", "team-import"]


@pytest.fixture
async def environment(
    pool: asyncpg.Pool,
    database_url: str,
    tmp_path: Path,
    key_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[None]:
    await empty_log_and_read_models(pool)
    with command_environment(monkeypatch, database_url, tmp_path, key_file):
        yield


def stored_names(database_url: str, key_file: Path) -> dict[str, str]:
    """The preferred name of every case of the organisation, by case id, read back from the
    log with the organisation's keys."""

    async def read() -> dict[str, str]:
        async with asyncpg.create_pool(database_url, min_size=1, max_size=2) as pool:
            store = PostgresEventStore(pool, Keyring(FileKeyProvider(key_file)), haven_registry())
            rows = await pool.fetch("SELECT stream_id FROM haven.streams WHERE tenant_id = $1", ORG)
            names = {}
            for row in rows:
                state = await read_case(store, ORG, row["stream_id"])
                assert state.identity is not None
                names[str(row["stream_id"])] = state.identity.preferred_name
            return names

    return asyncio.run(read())


def test_the_example_file_is_imported_once_however_often_it_is_run(
    environment: None, database_url: str, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*IMPORT, str(EXAMPLE), "--dry-run"]) == 0
    dry = capsys.readouterr().out
    assert "2 created, 0 imported before, 0 refused (dry run, nothing recorded)" in dry
    assert stored_names(database_url, key_file) == {}
    assert main([*IMPORT, str(EXAMPLE)]) == 0
    first = capsys.readouterr().out
    assert "2 created, 0 imported before, 0 refused (recorded)" in first
    names = stored_names(database_url, key_file)
    assert sorted(names.values()) == ["Client Example A", "Client Example B"]
    for case_id in names:  # the dry run named the cases the import opened
        assert f"created {case_id}" in dry and f"created {case_id}" in first
    assert main([*IMPORT, str(EXAMPLE)]) == 0
    again = capsys.readouterr().out
    assert "0 created, 2 imported before, 0 refused (recorded)" in again
    assert all(f"exists {case_id}" in again for case_id in names)
    assert stored_names(database_url, key_file) == names


def test_refused_rows_are_named_by_row_and_column_never_by_their_values(
    environment: None, tmp_path: Path, database_url: str, key_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    header, good, _ = EXAMPLE.read_text().split("\n", 2)
    cells = dict(zip(header.split(","), good.split(","), strict=True))

    def row(**changed: str) -> str:
        values = {**cells, **{name.replace("__", "."): v for name, v in changed.items()}}
        return ",".join(f'"{values[name]}"' for name in header.split(","))

    rows = [
        row(import_ref="r-2", identity__preferred_name=CANARY),  # the control: imported
        row(import_ref="r-3", identity__date_of_birth=CANARY),
        row(import_ref="r-4", trafficking__trafficking_type=CANARY),  # a domain rule's refusal
        row(import_ref="r-5", demographics__interpreter_needed=CANARY),
        row(import_ref="r-6", identity__preferred_name=CANARY + "\x07"),  # the text rule
        row(import_ref=CANARY + "\x00"),
        row(import_ref="r-2", identity__legal_name=CANARY),  # the reference of row 2 again
        row(import_ref="r-9", victim_status__status=""),
        f'"r-10","{CANARY}"',  # fewer cells than the header has columns
    ]
    path = tmp_path / "cases.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    assert main([*IMPORT, str(path)]) == 1
    printed = capsys.readouterr()
    assert CANARY not in printed.out + printed.err
    lines = printed.out.splitlines()
    assert lines[0].startswith("row 2 created ")
    for number, column in [
        (3, "identity.date_of_birth: is not a date"),
        (4, "row: invalid-code: a value is not a code of 'trafficking_type'"),
        (5, "demographics.interpreter_needed: is not yes or no"),
        (6, "identity.preferred_name: "),
        (7, "import_ref: is not an identifier"),
        (8, "import_ref: repeats the reference of row 2"),
        (9, "victim_status.status: is required"),
        (10, "row: does not have as many cells as the header has columns"),
    ]:
        at = lines.index(f"row {number} refused")
        assert lines[at + 1].strip().startswith(column), (number, lines[at + 1])
    assert "1 created, 0 imported before, 8 refused (recorded)" in printed.out
    assert list(stored_names(database_url, key_file).values()) == [CANARY]


def test_a_header_it_cannot_use_is_refused_by_position_before_anything_is_recorded(
    environment: None, tmp_path: Path, database_url: str, key_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    header, good, _ = EXAMPLE.read_text().split("\n", 2)
    path = tmp_path / "cases.csv"
    path.write_text(f"{header},{CANARY}\n{good},x\n")  # a data row pasted without its header
    assert main([*IMPORT, str(path)]) == 2
    printed = capsys.readouterr()
    assert CANARY not in printed.out + printed.err
    assert f"header column {len(header.split(',')) + 1} is not an import column" in printed.err
    path.write_text(header.replace("import_ref,", "") + "\n")
    assert main([*IMPORT, str(path)]) == 2
    assert "the header has no import_ref column" in capsys.readouterr().err
    path.write_bytes(b"import_ref\n\xff\xfe" + CANARY.encode())
    assert main([*IMPORT, str(path)]) == 2
    assert "not UTF-8" in capsys.readouterr().err
    assert stored_names(database_url, key_file) == {}


def test_every_column_is_documented() -> None:
    documented = OPERATIONS.read_text().split("## Bringing records in", 1)[1].split("\n## ", 1)[0]
    assert [c.name for c in COLUMNS if f"`{c.name}`" not in documented] == []
