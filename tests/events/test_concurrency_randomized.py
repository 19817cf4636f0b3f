"""A randomized test of many interleavings: writers that commit (alone or sharing the group
commit's statement with others), hold transactions open, roll back, and die mid-append (in
their own transaction or in the group commit's), while a subscriber tails the log.

Across SCHEDULES random schedules (the seed of each is in the failure message) the
subscriber must see every committed event exactly once, each stream's events in version
order, and nothing that was rolled back or died before commit. Ground truth is the table
itself after the run, plus what writers were told: an acknowledged append must be there.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections import defaultdict

import asyncpg
import pytest

from domain.event import EventMetadata
from events.errors import ConcurrencyConflict, EventStoreError
from events.store import PostgresEventStore
from events.subscription import Subscription
from tests.conftest import consuming, eventually
from tests.events.sample_events import NoteAdded, sample_registry
from tests.tiers import scaled

pytestmark = [pytest.mark.fault, pytest.mark.fuzz]

SCHEDULES = scaled(default=100, full=1000)
STREAMS = 8
ORG = "org-a"
META = EventMetadata(actor_id="worker-1")
# A connection killed under a running query surfaces as any of these, depending on timing.
DRIVER_ERRORS = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    ConnectionError,
    OSError,
)


class Ledger:
    def __init__(self) -> None:
        self.acknowledged: set[str] = set()
        self.never_committed: set[str] = set()
        self.group_kills = 0  # a killed group commit fails every append it was writing
        self.batches_killed = 0


async def _writer(store, pool, streams, rng: random.Random, label: str, ledger: Ledger) -> None:
    stream = rng.choice(streams)
    kind = rng.choice(
        [
            "commit",
            "commit",
            "batch",
            "hold",
            "rollback",
            "kill_in_tx",
            "kill_racing",
            "kill_group",
            "unrelated",
        ]
    )
    texts = [f"{label}-{i}" for i in range(3 if kind == "batch" else 1)]
    events = [NoteAdded(text=t) for t in texts]
    await asyncio.sleep(rng.random() * 0.002)
    expected = await store.stream_version(ORG, stream)
    try:
        if kind in ("commit", "batch"):
            await store.append(ORG, stream, expected, events, META)
            ledger.acknowledged.update(texts)
        elif kind == "kill_racing":
            async with _killable(pool) as conn:
                append = asyncio.create_task(
                    store.append(ORG, stream, expected, events, META, connection=conn)
                )
                await asyncio.sleep(rng.random() * 0.003)
                await pool.execute("SELECT pg_terminate_backend($1)", conn.get_server_pid())
                try:
                    await append
                    ledger.acknowledged.update(texts)
                except (EventStoreError, *DRIVER_ERRORS):
                    pass  # outcome unknown to the writer: the table decides
        elif kind == "kill_group":  # a batch's connection dies under the group commit
            append = asyncio.create_task(store.append(ORG, stream, expected, events, META))
            await asyncio.sleep(rng.random() * 0.003)
            ledger.group_kills += 1
            ledger.batches_killed += await pool.fetchval(
                """SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                    WHERE datname = current_database() AND state = 'active'
                      AND query LIKE '%WITH ORDINALITY%' AND pid <> pg_backend_pid()"""
            )
            try:
                await append
                ledger.acknowledged.update(texts)
            except (EventStoreError, *DRIVER_ERRORS):
                pass  # outcome unknown to the writer: the table decides
        elif kind == "unrelated":  # holds an xid without appending
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute("CREATE TEMPORARY TABLE scratch (n int) ON COMMIT DROP")
                await asyncio.sleep(rng.random() * 0.01)
        else:
            async with _killable(pool) as conn:
                pid = conn.get_server_pid()
                tx = conn.transaction()
                await tx.start()
                await store.append(ORG, stream, expected, events, META, connection=conn)
                await asyncio.sleep(rng.random() * 0.005)
                if kind == "hold":
                    await tx.commit()
                    ledger.acknowledged.update(texts)
                elif kind == "rollback":
                    await tx.rollback()
                    ledger.never_committed.update(texts)
                else:  # kill_in_tx: the connection dies before COMMIT
                    await pool.execute("SELECT pg_terminate_backend($1)", pid)
                    ledger.never_committed.update(texts)
                    try:
                        await tx.rollback()
                    except DRIVER_ERRORS:
                        pass
    except ConcurrencyConflict:
        pass
    except DRIVER_ERRORS:
        sharing_a_killed_group = kind in ("commit", "batch") and ledger.group_kills
        if kind not in ("kill_in_tx", "kill_racing", "kill_group") and not sharing_a_killed_group:
            raise


@contextlib.asynccontextmanager
async def _killable(pool):
    """A pooled connection that may be killed: closed on our side before going back, so the
    pool replaces it instead of resetting a connection the server is tearing down."""
    conn = await pool.acquire()
    try:
        yield conn
    finally:
        conn.terminate()
        await pool.release(conn)


@pytest.fixture
async def grouping_store(clean_pool, keyring):
    """A store whose group commit has one lane, so that concurrent appends share batches."""
    store = PostgresEventStore(clean_pool, keyring, sample_registry(), commit_lanes=1)
    yield store
    await store.close()


async def test_subscriber_sees_every_committed_event_once_in_order_across_random_schedules(
    grouping_store, pool, listen
):
    store = grouping_store
    streams = [uuid.uuid4() for _ in range(STREAMS)]
    ledger = Ledger()
    subscription = Subscription(
        store, listen, batch_size=50, poll_interval=0.02, stall_seconds=0.05
    )
    async with consuming(subscription) as delivered:
        for seed in range(SCHEDULES):
            rng = random.Random(seed)
            writers = [
                _writer(store, pool, streams, rng, f"s{seed}w{w}", ledger)
                for w in range(rng.randint(2, 6))
            ]
            await asyncio.gather(*writers)

        stored = await pool.fetch(
            "SELECT stream_id, version, position, transaction_id FROM haven.events"
        )
        await eventually(lambda: _at_least(delivered, len(stored)), attempts=600)
        await asyncio.sleep(0.2)  # anything extra (a duplicate) would arrive now

    # Exactly once: delivered identities equal the table's, without repeats.
    identities = [(r.stream_id, r.version) for r in delivered]
    assert len(identities) == len(set(identities)), "an event was delivered twice"
    assert set(identities) == {(r["stream_id"], r["version"]) for r in stored}

    # Log order is strictly increasing, and per stream the versions run 1, 2, 3, ...
    positions = [r.log_position for r in delivered]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    per_stream = defaultdict(list)
    for recorded in delivered:
        per_stream[recorded.stream_id].append(recorded.version)
    for versions in per_stream.values():
        assert versions == list(range(1, len(versions) + 1))

    # Acknowledged appends are there; rolled-back or killed ones are not.
    texts = {r.event.text for r in delivered}
    assert ledger.acknowledged <= texts
    assert not (ledger.never_committed & texts)
    assert ledger.never_committed, "the schedules must include rollbacks and kills"
    assert len(ledger.acknowledged) > SCHEDULES  # and plenty of successful appends
    streams_per_transaction = defaultdict(set)
    for row in stored:
        streams_per_transaction[row["transaction_id"]].add(row["stream_id"])
    assert any(len(s) > 1 for s in streams_per_transaction.values()), (
        "the schedules must include appends sharing the group commit's transaction"
    )
    assert ledger.batches_killed, "the schedules must include a batch killed mid-statement"


async def _at_least(items, count: int) -> bool:
    return len(items) >= count
