"""`haven demo --bulk` writes the same demo cases as `haven demo`, through the bulk path (the
sizing figures in docs/scaling.md are seeded with it): the same number of cases, of events,
and of each event type, for the same seed — the screenings, the determinations naming them and
the activities and the partner's referral written through the use cases after either path's
cases included."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import asyncpg

from services.bench.scratch import scratch_database
from tests.projections.fault_support import REPOSITORY, worker_environment

COUNTS = "SELECT event_type, count(*) FROM haven.events GROUP BY event_type ORDER BY 1"


async def seeded(url: str, tmp_path: Path, key_file: Path, *extra: str) -> list[tuple]:
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "demo", "--cases", "15", *extra],
        cwd=REPOSITORY,
        env=worker_environment(url, key_file, tmp_path),
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    connection = await asyncpg.connect(url)
    try:
        return [tuple(row) for row in await connection.fetch(COUNTS)]
    finally:
        await connection.close()


async def test_the_bulk_path_writes_the_same_cases(
    database_url: str, key_file: Path, tmp_path: Path
) -> None:
    async with scratch_database(database_url) as one, scratch_database(database_url) as two:
        plain = await seeded(one, tmp_path / "plain", key_file)
        bulk = await seeded(two, tmp_path / "bulk", key_file, "--bulk")
    assert bulk == plain
    counts = dict(plain)
    assert counts["case.opened"] >= 15
    assert counts["screening.recorded"] > 0 and counts["outreach.activity_recorded"] > 0
    assert counts["case.victim_status_determined"] > 0
    assert counts["inbox.referral_received"] == 1  # the partner's referral, on either path
