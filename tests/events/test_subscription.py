"""Subscriptions: catch-up, then live; a dead listening connection falls back to polling."""

from __future__ import annotations

import asyncio
import uuid

from domain.event import EventMetadata
from events.subscription import Subscription
from tests.conftest import consuming, eventually
from tests.events.sample_events import NoteAdded

META = EventMetadata(actor_id="worker-1")
ORG = "org-a"


def texts(received) -> list[str]:
    return [r.event.text for r in received]


async def test_catches_up_then_follows_live_appends(store, listen):
    for i in range(5):
        await store.append(ORG, uuid.uuid4(), 0, [NoteAdded(text=f"past {i}")], META)
    # A long poll interval: live delivery has to come from the notification.
    subscription = Subscription(store, listen, batch_size=2, poll_interval=30)
    async with consuming(subscription) as received:
        await eventually(lambda: _ready(len(received) == 5 and subscription.listening))
        await store.append(ORG, uuid.uuid4(), 0, [NoteAdded(text="live")], META)
        await eventually(lambda: _ready(len(received) == 6))
        assert texts(received) == [f"past {i}" for i in range(5)] + ["live"]


async def test_resumes_after_a_position_without_redelivering(store, listen):
    for i in range(4):
        await store.append(ORG, uuid.uuid4(), 0, [NoteAdded(text=f"e{i}")], META)
    everything = await store.read_all()
    subscription = Subscription(store, listen, after=everything[1].log_position, poll_interval=0.05)
    async with consuming(subscription) as received:
        await eventually(lambda: _ready(len(received) >= 2))
        await asyncio.sleep(0.2)
        assert texts(received) == ["e2", "e3"]


async def test_killed_listening_connection_falls_back_to_polling_and_reconnects(
    store, pool, listen
):
    subscription = Subscription(store, listen, poll_interval=0.1, reconnect_delay=0.05)
    async with consuming(subscription) as received:
        await eventually(lambda: _ready(subscription.listening))
        listener_pid = subscription._listener.get_server_pid()
        assert await pool.fetchval("SELECT pg_terminate_backend($1)", listener_pid)
        await store.append(ORG, uuid.uuid4(), 0, [NoteAdded(text="while reconnecting")], META)
        await eventually(lambda: _ready(texts(received) == ["while reconnecting"]))
        await eventually(lambda: _ready(subscription.listening and subscription.reconnects >= 1))
        assert subscription._listener.get_server_pid() != listener_pid
        await store.append(ORG, uuid.uuid4(), 0, [NoteAdded(text="after")], META)
        await eventually(lambda: _ready(texts(received)[-1:] == ["after"]))


async def _ready(value: bool) -> bool:
    return value


async def test_an_append_in_a_unit_of_work_wakes_subscribers_after_commit(store, listen):
    subscription = Subscription(store, listen, poll_interval=30)  # only a notification can wake it
    async with consuming(subscription) as received:
        await eventually(lambda: _ready(subscription.listening))
        async with store.transaction() as conn:
            await store.append(
                ORG, uuid.uuid4(), 0, [NoteAdded(text="in a unit of work")], META, connection=conn
            )
        await eventually(lambda: _ready(texts(received) == ["in a unit of work"]))
