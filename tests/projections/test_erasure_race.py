"""Attack: erase a case while a projector is writing it. A projector checks "is this case
erased?" and then writes the case's rows; an erasure that commits between the two would put
the case back into the caseload, the case view or the federal inputs until the next rebuild.

Erasure and projection take turns on a per-case lock (`events.erasure`). Each interleaving is
forced, not hoped for: the projector is stopped right after its check (or the erasure is
held open before the projector starts), the other side runs until it is done or waits on a
lock, then the first goes on. Repeated for many fresh cases, in both projections that keep
a case's rows. Control: without the projector's lock, the case comes back every time.
"""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from crypto.keyring import Keyring
from events.catalog import haven_registry
from events.store import EventMetadata, PostgresEventStore
from projections import cases as cases_module
from projections import checkpoints
from projections import federal_inputs as federal_module
from projections.base import tables_of
from projections.cases import CASE_VIEW, CASELOAD, CasesProjection
from projections.catalog import PROJECTION_TYPES
from projections.federal_inputs import SUBJECTS, FederalInputsProjection
from projections.rebuild import forget_case, rebuild
from tests.conftest import eventually
from tests.domain.builders import opened_event
from tests.tiers import scaled

ORG = "org-race"
ROUNDS = scaled(default=8, full=60)
WRITTEN = {"cases": (CASE_VIEW, CASELOAD), "federal_inputs": (SUBJECTS,)}


class Pause:
    """Stops the projector's erased-check (the `at`-th call) until `resume` is set."""

    def __init__(self, check, at: int) -> None:  # noqa: ANN001
        self._check, self._at, self._calls = check, at, 0
        self.checked, self.resume = asyncio.Event(), asyncio.Event()

    async def __call__(self, *args):  # noqa: ANN002, ANN204
        found = await self._check(*args)
        self._calls += 1
        if self._calls == self._at:
            self.checked.set()
            await self.resume.wait()
        return found


async def _erase(store: PostgresEventStore, case: uuid.UUID) -> None:
    """As DELETE /v1/cases/{id} does, in another process: with a keyring of its own, so the
    projector's keyring still holds the case's key."""
    elsewhere = PostgresEventStore(store.pool, Keyring(store._keyring.provider), haven_registry())
    async with elsewhere.transaction() as conn:
        await elsewhere.shred(ORG, case, connection=conn)
        await forget_case(conn, PROJECTION_TYPES, ORG, case)


async def _someone_waits_or(pool: asyncpg.Pool, task: asyncio.Task) -> bool:
    """`task` is done, or a session of this database waits for an advisory lock."""
    return task.done() or bool(
        await pool.fetchval(
            """SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
              AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"""
        )
    )


async def _rows_left(pool: asyncpg.Pool, name: str, generation: int, case: uuid.UUID) -> int:
    tables = tables_of(CasesProjection if name == "cases" else FederalInputsProjection, generation)
    return sum(
        [
            await pool.fetchval(f"SELECT count(*) FROM {tables[t]} WHERE case_id = $1", case)
            for t in WRITTEN[name]
        ]
    )


async def _new_case(store: PostgresEventStore) -> tuple[uuid.UUID, list]:
    """A case opened (below the API) and not projected yet: its id and its batch."""
    case = uuid.uuid4()
    before = await checkpoints.log_head(store.pool)
    await store.append(
        ORG,
        case,
        0,
        [opened_event(case_id=str(case), organisation_id=ORG)],
        EventMetadata(actor_id="synthetic-worker"),
    )
    return case, await store.read_all(before, 100, precise=True)


async def _projector_stopped_after_its_check(store, make, name, generation, monkeypatch) -> int:  # noqa: ANN001
    """The projector checks, stops; the erasure runs until done or waiting; the projector
    goes on."""
    pool = store.pool
    case, batch = await _new_case(store)
    projection = make()
    if name == "cases":
        module, at = cases_module, 1
    else:
        module, at = federal_module, 2  # the check made under the lock, before the write
    pause = Pause(module.erased_streams, at=at)
    monkeypatch.setattr(module, "erased_streams", pause)
    tables = tables_of(type(projection), generation)

    async def project() -> None:
        async with pool.acquire() as conn, conn.transaction():
            await projection.apply(conn, batch, tables)
            await projection.flush(conn, tables)

    projector = asyncio.create_task(project())
    await pause.checked.wait()
    erasure = asyncio.create_task(_erase(store, case))
    await eventually(lambda: _someone_waits_or(pool, erasure))
    pause.resume.set()
    await asyncio.gather(projector, erasure)
    monkeypatch.undo()
    return await _rows_left(pool, name, generation, case)


async def _erasure_open_before_the_projector(store, make, name, generation) -> int:  # noqa: ANN001
    """The erasure is done but not committed; the projector runs until done or waiting; commit."""
    pool = store.pool
    case, batch = await _new_case(store)
    projection = make()
    tables = tables_of(type(projection), generation)
    async with pool.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        elsewhere = PostgresEventStore(pool, Keyring(store._keyring.provider), haven_registry())
        await elsewhere.shred(ORG, case, connection=conn)
        await forget_case(conn, PROJECTION_TYPES, ORG, case)
        async with pool.acquire() as projector_conn:

            async def project() -> None:
                async with projector_conn.transaction():
                    await projection.apply(projector_conn, batch, tables)
                    await projection.flush(projector_conn, tables)

            projector = asyncio.create_task(project())
            await eventually(lambda: _someone_waits_or(pool, projector))
            await transaction.commit()
            await projector
    return await _rows_left(pool, name, generation, case)


@pytest.mark.parametrize("name", ["cases", "federal_inputs"])
async def test_an_erasure_racing_a_projector_never_leaves_the_case_in_its_views(
    case_store: PostgresEventStore, factories, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:  # noqa: ANN001
    built = await rebuild(case_store, case_store.pool, factories[name])
    for _ in range(ROUNDS):
        assert (
            await _projector_stopped_after_its_check(
                case_store, factories[name], name, built.generation, monkeypatch
            )
            == 0
        )
        assert (
            await _erasure_open_before_the_projector(
                case_store, factories[name], name, built.generation
            )
            == 0
        )


@pytest.mark.parametrize(
    ("name", "module"), [("cases", cases_module), ("federal_inputs", federal_module)]
)
async def test_control_without_the_projectors_lock_the_erased_case_comes_back(
    case_store: PostgresEventStore, factories, name: str, module, monkeypatch: pytest.MonkeyPatch
) -> None:  # noqa: ANN001
    built = await rebuild(case_store, case_store.pool, factories[name])

    async def no_lock(conn, cases) -> None:  # noqa: ANN001
        return None

    for _ in range(3):
        monkeypatch.setattr(module, "hold_against_erasure", no_lock)
        assert (
            await _projector_stopped_after_its_check(
                case_store, factories[name], name, built.generation, monkeypatch
            )
            > 0
        )
