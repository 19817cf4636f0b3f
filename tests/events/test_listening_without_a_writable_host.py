"""A listening connection that finds no host taking writes: during a switchover, or a failover
whose old primary is still reachable, every host of Haven's multi-host URL answers but none is
read-write, and asyncpg refuses the connection with `TargetServerAttributeNotMatched` (an
`InternalClientError`, neither an `OSError` nor a `PostgresError`). The erasure watch and the
subscriptions keep trying, with backoff, and listen once a host takes writes again.

The hosts here are the test server itself, made to look read-only by a startup parameter
(`default_transaction_read_only`, which asyncpg checks for `target_session_attrs=read-write`)
for the first attempts. Control: that connection really is refused with that error.
"""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import Awaitable, Callable

import asyncpg
import pytest

from domain.event import EventMetadata
from events.erasure import ErasureWatch
from events.subscription import Subscription
from tests.conftest import consuming, eventually
from tests.events.sample_events import NoteAdded

META = EventMetadata(actor_id="synthetic-worker-1")
ORG = "org-switchover"
READ_ONLY_ATTEMPTS = 2


def read_write(url: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}target_session_attrs=read-write"


class Switchover:
    """`connect` for a URL whose hosts are all read-only for the first `attempts` tries."""

    def __init__(self, url: str, attempts: int = READ_ONLY_ATTEMPTS) -> None:
        self.url, self.left, self.refused = read_write(url), attempts, 0

    async def __call__(self) -> asyncpg.Connection:
        if self.left > 0:
            self.left -= 1
            try:
                return await read_only_host(self.url)()
            except asyncpg.TargetServerAttributeNotMatched:
                self.refused += 1
                raise
        return await asyncpg.connect(self.url)


def read_only_host(url: str) -> Callable[[], Awaitable[asyncpg.Connection]]:
    return functools.partial(
        asyncpg.connect, url, server_settings={"default_transaction_read_only": "on"}
    )


async def test_control_asyncpg_refuses_a_host_that_does_not_take_writes(database_url: str) -> None:
    with pytest.raises(asyncpg.TargetServerAttributeNotMatched):
        await read_only_host(read_write(database_url))()


async def test_the_erasure_watch_listens_once_a_host_takes_writes(database_url: str) -> None:
    connect = Switchover(database_url)
    forgotten: list[str] = []
    watch = ErasureWatch(connect, reconnect_delay=0.01)
    watch.subscribe(lambda *_: None, lambda: forgotten.append("all"))
    task = asyncio.create_task(watch.run())
    try:
        await eventually(lambda: _ready(watch.listening.is_set() or task.done()))
        assert not task.done(), task.exception()
        assert connect.refused == READ_ONLY_ATTEMPTS
        assert forgotten  # what was erased while nobody listened is forgotten
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_a_subscription_polls_then_listens_once_a_host_takes_writes(
    store, database_url: str
) -> None:
    connect = Switchover(database_url)
    subscription = Subscription(store, connect, poll_interval=0.05, reconnect_delay=0.01)
    async with consuming(subscription) as received:
        await store.append(ORG, uuid.uuid4(), 0, [NoteAdded(text="while read-only")], META)
        await eventually(lambda: _ready([r.event.text for r in received] == ["while read-only"]))
        await eventually(lambda: _ready(subscription.listening))
        assert connect.refused == READ_ONLY_ATTEMPTS


async def _ready(value: bool) -> bool:
    return value
