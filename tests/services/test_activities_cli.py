"""`haven activities summary`, as a supervisor's office types it: counts by month, kind and
sector from the read model, as a table or JSON; bad arguments refused in one line. All data
is synthetic."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from crypto.keyring import Keyring
from domain.event import EventMetadata
from domain.outreach.activity import Activity, AreaServed, AudienceGroup
from domain.outreach.state import record
from events.catalog import haven_registry
from events.store import PostgresEventStore
from projections.activities import ActivitiesProjection
from projections.rebuild import rebuild
from services.cli import main
from tests.cli_support import command_environment
from tests.conftest import empty_log_and_read_models

ORG = "org-activities-cli"
TRAINING = Activity(
    held_on=dt.date(2026, 2, 3),
    kind="training",
    audience=(
        AudienceGroup(sector="education", participants=30),
        AudienceGroup(sector="child_welfare", participants=12),
    ),
    hours=2.5,
    languages=("en",),
    delivery="remote",
    area=AreaServed(state="OR", counties=("41051",)),
    topic="Synthetic topic for school staff",
)


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
    for activity in (TRAINING, TRAINING):
        stream = uuid.uuid4()
        events = record(str(stream), ORG, activity, dt.date(2026, 6, 30))
        await store.append(ORG, stream, 0, events, EventMetadata(actor_id="outreach-1"))
    await rebuild(store, pool, ActivitiesProjection)
    await store.close()
    with command_environment(monkeypatch, database_url, tmp_path, key_file):
        yield


def test_the_summary_prints_counts_by_month_kind_and_sector(
    environment: None, capsys: pytest.CaptureFixture[str]
) -> None:
    period = ["--from", "2026-01-01", "--to", "2026-03-31"]
    assert main(["activities", "summary", "--org", ORG, *period]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == ["month", "kind", "sector", "activities", "participants", "hours"]
    assert lines[1].split() == ["2026-02", "training", "all", "sectors", "2", "84", "5.00"]
    assert lines[2].split() == ["2026-02", "training", "child_welfare", "2", "24", "5.00"]
    assert lines[3].split() == ["2026-02", "training", "education", "2", "60", "5.00"]
    assert "2 activities, 84 participants, 5 hours" in lines[-1]
    assert "Synthetic topic" not in out  # counts only, never a topic

    assert main(["activities", "summary", "--org", ORG, *period, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["activities"], summary["participants"], summary["hours"]) == (2, 84, 5.0)
    # control: another organisation, or another period, has nothing
    assert main(["activities", "summary", "--org", "org-other", *period, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["activities"] == 0


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        (["--org", ORG, "--from", "2026-03-01", "--to", "2026-01-01"], "--to must not be before"),
        (["--org", "org\x00x", "--from", "2026-01-01", "--to", "2026-03-01"], "--org must be"),
        (["--org", ORG, "--from", "2000-01-01", "--to", "2026-03-01"], "at most 3660 days"),
    ],
)
def test_bad_arguments_are_refused_in_one_line(
    environment: None, capsys: pytest.CaptureFixture[str], arguments: list[str], said: str
) -> None:
    assert main(["activities", "summary", *arguments]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and said in err[0]


def test_a_malformed_day_is_an_argument_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["activities", "summary", "--org", ORG, "--from", "March", "--to", "2026-03-01"])
    assert exit_.value.code == 2
    assert "YYYY-MM-DD" in capsys.readouterr().err
