"""Attack: one event that no projection can apply, written below the API (a script, a restored
backup, an older release without today's checks). A worker id holding a NUL is sealed into
the event without complaint, but the caseload's plain `worker_id` column refuses it. Without
quarantine, the cases projection retries that batch for ever and stops for every
organisation; so does every rebuild.

With quarantine, the poisoned stream is set aside (recorded by ids, event type and error
class only), its rows leave the projection's tables, the log goes on for everyone else, later
events of the stream are passed over, and the administrator sees it in `haven projections
status`, `/ready` and `/metrics`. Controls: applying the same batch plainly fails, as it did;
`--retry-quarantined` after the cause is gone restores the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import secrets
import uuid

import asyncpg
import pytest

from domain.case import events as ev
from events.store import EventMetadata, PostgresEventStore
from projections import checkpoints, quarantine
from projections.base import tables_of
from projections.cases import CASE_VIEW, CASELOAD, CasesProjection
from projections.rebuild import rebuild
from projections.runner import ProjectionRunner
from services.demo.seeding import demo_use_cases, seed_demo
from tests.conftest import eventually
from tests.domain.builders import opened_event
from tests.projections.test_cli import haven

POISONED_ORG = "org-poisoned"
LATER_ORG = "org-later"


async def _append_below_the_api(
    store: PostgresEventStore, tenant: str, worker_id: str
) -> uuid.UUID:
    stream = uuid.uuid4()
    event = opened_event(case_id=str(stream), organisation_id=tenant, worker_id=worker_id)
    await store.append(tenant, stream, 0, [event], EventMetadata(actor_id="synthetic-script"))
    return stream


async def _rows(pool: asyncpg.Pool, view: str, stream: uuid.UUID) -> int:
    return await pool.fetchval(f"SELECT count(*) FROM {view} WHERE case_id = $1", stream)


@contextlib.asynccontextmanager
async def _running(store: PostgresEventStore, listen, make):  # noqa: ANN001
    runner = ProjectionRunner(store, listen, make, poll_interval=0.05, standby_interval=0.05)
    task = asyncio.create_task(runner.run())
    try:
        yield runner
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _caught_up(pool: asyncpg.Pool) -> bool:
    head = await checkpoints.log_head(pool)
    return await checkpoints.wait_until_projected(pool, ["cases"], head, timeout=0.01)


async def test_a_poisoned_event_is_quarantined_and_the_log_goes_on_for_everyone(
    case_store: PostgresEventStore, factories, listen
) -> None:  # noqa: ANN001
    pool = case_store.pool
    await seed_demo(demo_use_cases(case_store), cases=3, seed=31)
    async with _running(case_store, listen, factories["cases"]):
        await eventually(lambda: _caught_up(pool))
        poisoned = await _append_below_the_api(case_store, POISONED_ORG, "worker\x00one")
        later = await _append_below_the_api(case_store, LATER_ORG, "worker-later")
        await eventually(lambda: _caught_up(pool))  # the log went on past the poison
        assert await _rows(pool, CASELOAD, later) == 1 and await _rows(pool, CASE_VIEW, later) == 1
        assert (
            await _rows(pool, CASELOAD, poisoned) == 0
            and await _rows(pool, CASE_VIEW, poisoned) == 0
        )
        # a later event of the quarantined stream is passed over, and the log still goes on
        await case_store.append(
            POISONED_ORG,
            poisoned,
            1,
            [
                ev.CaseAssigned(
                    worker_id="worker-2", team_id="t", assigned_on=opened_event().intake.intake_on
                )
            ],
            EventMetadata(actor_id="synthetic-script"),
        )
        after = await _append_below_the_api(case_store, LATER_ORG, "worker-after")
        await eventually(lambda: _caught_up(pool))
        assert (
            await _rows(pool, CASELOAD, after) == 1 and await _rows(pool, CASELOAD, poisoned) == 0
        )
    [entry] = await quarantine.listing(pool)
    assert (entry.projection, entry.tenant_id, entry.stream_id) == (
        "cases",
        POISONED_ORG,
        str(poisoned),
    )
    assert (entry.version, entry.event_type, entry.error_class) == (
        1,
        "case.opened",
        "CharacterNotInRepertoireError",
    )
    columns = {
        r[0]
        for r in await pool.fetch(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = 'projection_quarantine'"
        )
    }
    assert not columns & {"payload", "message", "detail", "content"}  # ids and classes only


async def test_control_the_same_batch_applied_plainly_fails(
    case_store: PostgresEventStore, factories
) -> None:  # noqa: ANN001
    pool = case_store.pool
    built = await rebuild(case_store, pool, factories["cases"])
    await _append_below_the_api(case_store, POISONED_ORG, "worker\x00one")
    batch = await case_store.read_all(built.position, 100)
    projection = factories["cases"]()
    tables = tables_of(CasesProjection, built.generation)
    with pytest.raises(asyncpg.CharacterNotInRepertoireError):
        async with pool.acquire() as conn, conn.transaction():
            await projection.apply(conn, batch, tables)
            await projection.flush(conn, tables)


@pytest.mark.parametrize("workers", [1, 2])
async def test_a_rebuild_quarantines_the_poison_instead_of_failing(
    case_store: PostgresEventStore, factories, partitioning, workers: int
) -> None:  # noqa: ANN001
    pool = case_store.pool
    await seed_demo(demo_use_cases(case_store), cases=3, seed=32)
    incompressible = secrets.token_hex(4000)  # 8,000 characters: too long for an index row
    poisoned = await _append_below_the_api(case_store, POISONED_ORG, incompressible)
    later = await _append_below_the_api(case_store, LATER_ORG, "worker-later")
    built = await rebuild(
        case_store, pool, factories["cases"], partitioning=partitioning._replace(workers=workers)
    )
    assert not multiprocessing.active_children()
    assert built.position == await checkpoints.log_head(pool)
    assert await _rows(pool, CASELOAD, later) == 1 and await _rows(pool, CASELOAD, poisoned) == 0
    assert [(q.stream_id, q.error_class) for q in await quarantine.listing(pool)] == [
        (str(poisoned), "ProgramLimitExceededError")
    ]
    # and the next rebuild passes over the known poison without stumbling
    again = await rebuild(case_store, pool, factories["cases"])
    assert again.generation == built.generation + 1 and await _rows(pool, CASELOAD, later) == 1


async def test_the_administrator_sees_it_and_can_retry_once_the_cause_is_gone(
    case_store: PostgresEventStore, factories, database_url, key_file, tmp_path
) -> None:  # noqa: ANN001
    pool = case_store.pool
    poisoned = await _append_below_the_api(case_store, POISONED_ORG, "worker\x00one")
    await rebuild(case_store, pool, factories["cases"])
    status = haven(database_url, key_file, tmp_path, "projections", "status")
    assert status.returncode == 0, status.stderr
    assert "quarantined: 1 streams" in status.stdout
    assert (
        f"cases {POISONED_ORG} {poisoned} version 1 case.opened CharacterNotInRepertoireError"
        in status.stdout
    )
    # the cause mended (here: the stream's only event erased from it, as a privacy officer would)
    await case_store.shred(POISONED_ORG, poisoned)
    retried = haven(
        database_url, key_file, tmp_path, "projections", "rebuild", "cases", "--retry-quarantined"
    )
    assert retried.returncode == 0, retried.stderr
    assert "1 quarantined streams to retry" in retried.stdout
    assert await quarantine.listing(pool) == []
