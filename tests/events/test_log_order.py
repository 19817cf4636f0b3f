"""Reading the global log never skips a late commit, and an unrelated long transaction
holds readers back only until the precise horizon takes over."""

from __future__ import annotations

import uuid

from domain.event import EventMetadata
from events.log_order import LOG_START
from events.subscription import Subscription
from tests.conftest import consuming, eventually
from tests.events.sample_events import NoteAdded

META = EventMetadata(actor_id="worker-1")
ORG = "org-a"


async def test_an_event_whose_transaction_commits_late_is_not_skipped(store, pool):
    early, late = uuid.uuid4(), uuid.uuid4()
    async with pool.acquire() as slow:
        tx = slow.transaction()
        await tx.start()
        await store.append(ORG, early, 0, [NoteAdded(text="slow")], META, connection=slow)
        await store.append(ORG, late, 0, [NoteAdded(text="fast")], META)  # commits first

        # Control: a reader ordering by position alone sees the later position and would
        # move its checkpoint past the slow transaction's lower one.
        naive = await pool.fetch("SELECT position FROM haven.events ORDER BY position")
        slow_position = await slow.fetchval(
            "SELECT position FROM haven.events WHERE stream_id = $1", early
        )
        assert [r[0] for r in naive] == [slow_position + 1] and slow_position < naive[0][0]

        held = await store.read_all(LOG_START)
        assert held == []  # the committed event waits behind the open one
        await tx.commit()
    delivered = await store.read_all(LOG_START)
    assert [r.event.text for r in delivered] == ["slow", "fast"]


async def test_an_unrelated_long_transaction_holds_only_the_fast_horizon(store, pool):
    stream = uuid.uuid4()
    async with pool.acquire() as blocker:
        tx = blocker.transaction()
        await tx.start()
        await blocker.execute(
            "CREATE TEMPORARY TABLE scratch (n int) ON COMMIT DROP"
        )  # takes an xid
        await store.append(ORG, stream, 0, [NoteAdded(text="a")], META)

        assert await store.read_all(LOG_START) == []  # control: the fast horizon is held
        precise = await store.read_all(LOG_START, precise=True)
        assert [r.event.text for r in precise] == ["a"]
        await tx.rollback()


async def test_the_precise_horizon_still_waits_for_an_open_append(store, pool):
    async with pool.acquire() as blocker, pool.acquire() as appender:
        outer = blocker.transaction()
        await outer.start()
        await blocker.execute("CREATE TEMPORARY TABLE scratch (n int) ON COMMIT DROP")
        open_append = appender.transaction()
        await open_append.start()
        await store.append(
            ORG, uuid.uuid4(), 0, [NoteAdded(text="open")], META, connection=appender
        )
        await store.append(ORG, uuid.uuid4(), 0, [NoteAdded(text="after")], META)

        assert await store.read_all(LOG_START, precise=True) == []
        await open_append.commit()
        assert [r.event.text for r in await store.read_all(LOG_START, precise=True)] == [
            "open",
            "after",
        ]
        await outer.rollback()


async def test_a_subscriber_is_held_back_by_an_unrelated_transaction_only_for_the_stall_bound(
    store, pool, listen
):
    subscription = Subscription(store, listen, poll_interval=0.05, stall_seconds=0.2)
    async with consuming(subscription) as received, pool.acquire() as blocker:
        tx = blocker.transaction()
        await tx.start()
        await blocker.execute(
            "CREATE TEMPORARY TABLE scratch (n int) ON COMMIT DROP"
        )  # takes an xid
        await store.append(ORG, uuid.uuid4(), 0, [NoteAdded(text="a")], META)
        await eventually(lambda: _has(received))  # delivered while the blocker is still open
        assert [r.event.text for r in received] == ["a"]
        assert await store.read_all(LOG_START) == []  # control: the fast path is still held
        await tx.rollback()


async def _has(items) -> bool:
    return bool(items)


async def test_a_held_event_is_delivered_within_the_stall_bound_even_after_earlier_progress(
    store, pool, listen
):
    """Catching up past a readable event must not forget the held one behind it."""
    await store.append(ORG, uuid.uuid4(), 0, [NoteAdded(text="readable")], META)
    async with pool.acquire() as blocker:
        tx = blocker.transaction()
        await tx.start()
        await blocker.execute(
            "CREATE TEMPORARY TABLE scratch (n int) ON COMMIT DROP"
        )  # takes an xid
        await store.append(ORG, uuid.uuid4(), 0, [NoteAdded(text="held")], META)
        subscription = Subscription(store, listen, poll_interval=30, stall_seconds=0.2)
        async with consuming(subscription) as received:
            await eventually(lambda: _count(received, 2))  # while the blocker is still open
            assert [r.event.text for r in received] == ["readable", "held"]
        await tx.rollback()


async def _count(items, n: int) -> bool:
    return len(items) >= n
