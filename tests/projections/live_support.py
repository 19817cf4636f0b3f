"""A projection's live runner for a test: running while a block records events, and the wait
until it has projected everything recorded."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from events.store import PostgresEventStore
from projections import checkpoints
from projections.runner import ProjectionRunner


@contextlib.asynccontextmanager
async def live_runner(store: PostgresEventStore, listen: Any, make: Any) -> AsyncIterator[None]:
    """The projection's runner follows the log until the block ends (it is cancelled then)."""
    runner = ProjectionRunner(store, listen, make, poll_interval=0.2)
    task = asyncio.create_task(runner.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def projected_to_head(store: PostgresEventStore, name: str) -> bool:
    """Whether the projection reaches the last event committed now (waiting up to a minute)."""
    head = await checkpoints.log_head(store.pool)
    return await checkpoints.wait_until_projected(store.pool, [name], head, timeout=60)
