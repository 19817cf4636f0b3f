"""Attack: read an erased case through another process that still holds its key. Process B
read the case (its keyring caches the unwrapped data key, its recent states the decrypted
case); process A erases it. B must drop both when the erasure's notification arrives, and
must never decrypt with the cached key once the erasure is visible in the database — even
if the notification never arrives.

Two runtimes with their own connections and keyrings stand in for two processes here (the
notification goes through PostgreSQL either way); `tests/api/test_erasure_everywhere.py`
runs real `haven serve` processes and a `haven worker`.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import asyncpg

from crypto.keyring import Keyring
from domain.case.state import CaseState
from events.catalog import haven_registry
from events.log_order import LOG_START
from events.store import EventMetadata, PostgresEventStore
from services.bootstrap import watch_erasures
from services.recent_states import RecentStates
from tests.conftest import empty_log_and_read_models, eventually
from tests.domain.builders import opened_event

ORG = "org-broadcast"


async def _opened(store: PostgresEventStore) -> uuid.UUID:
    case = uuid.uuid4()
    await store.append(
        ORG,
        case,
        0,
        [opened_event(case_id=str(case), organisation_id=ORG)],
        EventMetadata(actor_id="synthetic-worker"),
    )
    return case


@contextlib.asynccontextmanager
async def _process_b(
    pool: asyncpg.Pool, keyring: Keyring, database_url: str, *, watching: bool = True
):
    other_keyring = Keyring(keyring.provider)
    store = PostgresEventStore(pool, other_keyring, haven_registry())
    recent = RecentStates()
    watch = watch_erasures(database_url, other_keyring, recent)
    task = asyncio.create_task(watch.run()) if watching else None
    try:
        if task is not None:
            await asyncio.wait_for(watch.listening.wait(), 30)
        yield store, other_keyring, recent, watch
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await store.close()


async def test_another_process_drops_the_key_and_the_state_when_the_erasure_commits(
    pool: asyncpg.Pool, keyring: Keyring, database_url: str
) -> None:
    a = PostgresEventStore(pool, keyring, haven_registry())
    case = await _opened(a)
    async with _process_b(pool, keyring, database_url) as (b, b_keyring, recent, watch):
        await b.read_stream(ORG, case)  # B reads the case: its key and state are in B's memory
        recent.remember({(ORG, str(case)): CaseState(version=1, case_id=str(case))})
        other = await _opened(a)
        await b.read_stream(ORG, other)
        assert b_keyring.cached(ORG, str(case)) is not None  # control: cached before the erasure
        await a.shred(ORG, case)
        await eventually(lambda: _forgotten(b_keyring, recent, case))
        assert b_keyring.cached(ORG, str(other)) is not None  # control: only the erased case goes
    await a.close()


async def _forgotten(keyring: Keyring, recent: RecentStates, case: uuid.UUID) -> bool:
    return keyring.cached(ORG, str(case)) is None and recent.latest((ORG, str(case))) is None


async def test_without_the_notification_a_cached_key_still_decrypts_nothing_after_the_erasure(
    pool: asyncpg.Pool, keyring: Keyring, database_url: str
) -> None:
    """B's watch is not running (its notification is lost), so B's keyring still holds the key;
    B's log reader must still find the stream erased and open nothing."""
    await empty_log_and_read_models(pool)  # B reads the whole log: no other file's events
    a = PostgresEventStore(pool, keyring, haven_registry())
    case = await _opened(a)
    async with _process_b(pool, keyring, database_url, watching=False) as (
        b,
        b_keyring,
        _recent,
        _watch,
    ):
        before = [
            r for r in await b.read_all(LOG_START, 100_000, precise=True) if r.stream_id == case
        ]
        assert before and before[0].event is not None  # control: B decrypts it while it exists
        await a.shred(ORG, case)
        assert b_keyring.cached(ORG, str(case)) is not None  # the notification never came
        after = [
            r for r in await b.read_all(LOG_START, 100_000, precise=True) if r.stream_id == case
        ]
        assert after and all(r.event is None for r in after)
        assert b_keyring.cached(ORG, str(case)) is None  # and the check dropped the key
    await a.close()


async def test_a_lost_listening_connection_drops_everything(
    pool: asyncpg.Pool, keyring: Keyring, database_url: str
) -> None:
    """Notifications sent while B was not listening are lost: losing (and regaining) the
    connection empties B's caches. Control: with the connection up, an unrelated case stays."""
    a = PostgresEventStore(pool, keyring, haven_registry())
    case = await _opened(a)
    async with _process_b(pool, keyring, database_url) as (b, b_keyring, _recent, watch):
        await b.read_stream(ORG, case)
        await asyncio.sleep(0)
        assert b_keyring.cached(ORG, str(case)) is not None
        admin = await asyncpg.connect(database_url)
        try:  # cut B's listening connection from the server side
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE query LIKE 'LISTEN%' AND datname = current_database()"
            )
        finally:
            await admin.close()
        await eventually(lambda: _empty(b_keyring, case))
    await a.close()


async def _empty(keyring: Keyring, case: uuid.UUID) -> bool:
    return keyring.cached(ORG, str(case)) is None
