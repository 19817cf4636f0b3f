"""`haven report federal`: JSON to a file, CSV to a directory, refusals as exit codes."""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from domain.reporting.federal_families import output_tables
from services.cli import main
from tests.logging_support import preserved_logging

pytestmark = pytest.mark.slow


@pytest.fixture
def environment(
    job, database_url: str, tmp_path: Path, key_file: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    monkeypatch.setenv("HAVEN_DATABASE_URL", database_url)
    monkeypatch.setenv("HAVEN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HAVEN_KEK", f"file:{key_file}")
    monkeypatch.delenv("HAVEN_REPORTING_DATABASE_URL", raising=False)
    with preserved_logging():  # the command configures logging (to standard error)
        yield tmp_path


def test_the_command_writes_json_then_the_same_release_as_csv(
    environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = environment / "2026Q3.json"
    assert main(["report", "federal", "--period", "2026Q3", "--out", str(out)]) == 0
    document = json.loads(out.read_text())
    assert [t["name"] for t in document["tables"]] == output_tables()
    folder = environment / "csv"
    assert (
        main(["report", "federal", "--period", "2026Q3", "--format", "csv", "--out", str(folder)])
        == 0
    )
    assert {p.name for p in folder.iterdir()} == {f"{n}.csv" for n in output_tables()} | {
        "certificate.json"
    }
    certificate = json.loads((folder / "certificate.json").read_text())["certificate"]
    assert certificate == document["certificate"]  # the re-run is the same release


def test_a_funder_field_is_answered_with_its_aggregate_on_standard_output(
    environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "federal", "--period", "2026Q3", "--field", "date_of_birth"]) == 0
    captured = capsys.readouterr()
    document = json.loads(captured.out)  # the report alone: the refusal is logged elsewhere
    assert [t["name"] for t in document["tables"]] == ["voca_new_by_age"]
    assert document["certificate"]["identifying_fields"] == {"date_of_birth": "voca_new_by_age"}
    refusal = json.loads(captured.err.splitlines()[-1])  # the redacted JSON log, on standard error
    assert (refusal["funder_field"], refusal["answered_with"]) == (
        "date_of_birth",
        "voca_new_by_age",
    )
    assert main(["report", "federal", "--period", "2026Q3", "--field", "Jane-Doe-1987"]) == 2
    assert "Jane-Doe-1987" not in capsys.readouterr().err


def test_the_command_refuses_bad_and_unavailable_periods(
    environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "federal", "--period", "2026-07"]) == 2
    assert main(["report", "federal", "--period", "2026Q4"]) == 3
    assert "still running" in capsys.readouterr().err


def test_the_dp_mode_writes_noisy_counts_and_a_rerun_repeats_them(environment: Path) -> None:
    first, second = environment / "dp-1.json", environment / "dp-2.json"
    for out in (first, second):
        assert (
            main(
                ["report", "federal", "--period", "2026Q3", "--dp-epsilon", "1", "--out", str(out)]
            )
            == 0
        )
    document = json.loads(first.read_text())
    assert document["certificate"]["mechanism"] and all(
        isinstance(c["count"], int) for t in document["tables"] for c in t["cells"]
    )
    assert second.read_text() == first.read_text()


def test_a_refusal_on_the_command_line_is_one_sentence_and_a_reference(
    environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The operator's refusal names neither the rule nor the client whose budget ran out (the
    reason is recorded for the privacy officer). Control: the record holds the reason."""
    asyncio.run(_sql("TRUNCATE dp.releases, dp.spends, dp.balances, dp.requester_spends"))
    asyncio.run(
        _sql(
            "UPDATE dp.policy SET lifetime_epsilon = 10, max_epsilon_per_release = 6, "
            "requester_budget = 100"
        )
    )
    try:
        for period in ("2026Q2", "2026Q3"):
            code = main(
                [
                    "report",
                    "federal",
                    "--period",
                    period,
                    "--dp-epsilon",
                    "6",
                    "--out",
                    str(environment / f"{period}.json"),
                ]
            )
    finally:
        asyncio.run(
            _sql(
                "UPDATE dp.policy SET lifetime_epsilon = 4, max_epsilon_per_release = 1, "
                "requester_budget = 4"
            )
        )
    assert code == 3
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert re.fullmatch(
        r"haven report: Refused by the disclosure policy\. Reference [0-9a-f-]{36}\.", last
    ), last
    reference = last.rsplit(" ", 1)[1].rstrip(".")
    reason = asyncio.run(
        _sql("SELECT reason FROM reporting_ledger.refusals WHERE reference = $1::uuid", reference)
    )
    assert reason.startswith("BudgetExhausted")


def test_attack_the_command_line_cannot_exceed_the_stored_policy(
    environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An operator with a shell asks for ε = 100,000 (noise scale ~0.0002: exact counts under a
    DP label) and brings their own budget: refused, nothing drawn, and `--dp-budget` is no
    option at all. Control: ε = 1, within the policy, is released."""
    asyncio.run(_sql("TRUNCATE dp.releases, dp.spends, dp.balances, dp.requester_spends"))
    assert main(["report", "federal", "--period", "2026Q3", "--dp-epsilon", "100000"]) == 3
    assert "Refused by the disclosure policy" in capsys.readouterr().err
    with pytest.raises(SystemExit) as unknown:
        main(
            [
                "report",
                "federal",
                "--period",
                "2026Q3",
                "--dp-epsilon",
                "1",
                "--dp-budget",
                "1000000",
            ]
        )
    assert unknown.value.code == 2
    assert asyncio.run(_sql("SELECT count(*) FROM dp.releases")) == 0
    assert (
        main(
            [
                "report",
                "federal",
                "--period",
                "2026Q3",
                "--dp-epsilon",
                "1",
                "--out",
                str(environment / "within.json"),
            ]
        )
        == 0
    )


async def _sql(query: str, *args: object) -> object:
    conn = await asyncpg.connect(os.environ["HAVEN_DATABASE_URL"])
    try:
        return await conn.fetchval(query, *args)
    finally:
        await conn.close()
