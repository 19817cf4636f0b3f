"""`haven projections rebuild|status|wait` as real processes, on the test database."""

from __future__ import annotations

import subprocess
import sys

from services.demo.seeding import demo_use_cases, seed_demo
from tests.services.test_database_paths import REPOSITORY, haven_env


def haven(database_url, key_file, tmp_path, *args: str) -> subprocess.CompletedProcess[str]:
    env = haven_env(
        HAVEN_DATABASE_URL=database_url, HAVEN_KEK=f"file:{key_file}", HAVEN_DATA_DIR=str(tmp_path)
    )
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        cwd=REPOSITORY,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


async def test_rebuild_shows_progress_then_status_shows_no_lag(
    case_store, database_url, key_file, tmp_path
) -> None:
    await seed_demo(demo_use_cases(case_store), cases=5, seed=4)
    events = await case_store.pool.fetchval("SELECT count(*) FROM haven.events")

    rebuilt = haven(database_url, key_file, tmp_path, "projections", "rebuild")  # all of them
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert (
        f"{events}/{events}" in rebuilt.stderr
    )  # the progress bar: events done / total, rate, time left
    assert "ev/s" in rebuilt.stderr
    assert "cases rebuilt as generation 1" in rebuilt.stdout

    status = haven(database_url, key_file, tmp_path, "projections", "status")
    assert status.returncode == 0, status.stderr
    assert "cases        generation 1  behind: 0 events" in status.stdout
    assert (
        haven(database_url, key_file, tmp_path, "projections", "wait", "--timeout", "5").returncode
        == 0
    )


async def test_waiting_fails_when_no_projector_runs(
    case_store, database_url, key_file, tmp_path
) -> None:
    """A write after the last rebuild, and no worker: `wait` gives up with exit 1.
    Control: after a rebuild it succeeds."""
    await seed_demo(demo_use_cases(case_store), cases=1, seed=4)
    assert haven(database_url, key_file, tmp_path, "projections", "rebuild").returncode == 0
    await seed_demo(demo_use_cases(case_store), cases=1, seed=5)
    waited = haven(database_url, key_file, tmp_path, "projections", "wait", "--timeout", "0.5")
    assert waited.returncode == 1
    assert "did not catch up" in waited.stderr
    assert haven(database_url, key_file, tmp_path, "projections", "rebuild").returncode == 0
    assert (
        haven(database_url, key_file, tmp_path, "projections", "wait", "--timeout", "5").returncode
        == 0
    )


async def test_an_unknown_projection_is_refused(
    case_store, database_url, key_file, tmp_path
) -> None:
    refused = haven(database_url, key_file, tmp_path, "projections", "rebuild", "nonesuch")
    assert refused.returncode == 2
    assert "no such projection: nonesuch" in refused.stderr
