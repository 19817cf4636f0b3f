"""Group commit: appends from concurrent callers share one statement and one commit.

A caller hands its sealed append to `Committer.write` and waits. While fewer than `lanes`
batches are being written, a lane takes every append waiting (up to `max_batch`, one per
stream) and writes them at once (`write_many`); appends arriving meanwhile wait for the next
batch. Alone, an append is written as it always was (`write_one`), so a single writer pays
nothing for the grouping. This is how a database commits its own log: under load, many
callers share each commit; at rest, each commit is one caller's.

Each caller still gets its own answer. The batch is one statement in its own transaction
(autocommit), so it commits whole or not at all, and every caller is answered only after it
committed: durability is unchanged. An append the batch did not write (its stream had moved,
or a later transaction moved the head first) is written again alone, and only that answer
decides whether it is a conflict — one caller's conflict never fails another's append. A
batch the server refuses for any reason but an outage (a deadlock, a constraint) is retried
one append at a time, each caller getting its own error. When the database is unreachable
or the connection breaks mid-batch, every caller of that batch gets the error: the outcome
is unknown to all of them alike, as it is to a lone caller whose connection breaks.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

import asyncpg

from events.append_statements import SealedAppend, write_many, write_one

DEFAULT_LANES = 4
DEFAULT_MAX_BATCH = 256


def _outcome_unknown(error: BaseException) -> bool:
    """Whether the batch may have committed: anything but the server's own refusal (a broken
    connection, a timeout waiting for the answer), or the server going away (SQLSTATE classes
    08 and 57). A refusal the server answered rolled the whole statement back."""
    if not isinstance(error, asyncpg.PostgresError):
        return True
    return (getattr(error, "sqlstate", "") or "").startswith(("08", "57"))


class Committer:
    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        lanes: int = DEFAULT_LANES,
        max_batch: int = DEFAULT_MAX_BATCH,
    ) -> None:
        if lanes < 1 or max_batch < 1:
            raise ValueError("lanes and max_batch must be positive")
        self._pool = pool
        self._lanes = lanes
        self._max_batch = max_batch
        self._waiting: deque[tuple[SealedAppend, asyncio.Future[list[Any]]]] = deque()
        self._busy = 0
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def waiting(self) -> int:
        """Appends handed in and not yet taken into a batch."""
        return len(self._waiting)

    async def write(self, append: SealedAppend) -> list[Any]:
        """Write `append`, perhaps together with others; its rows in version order, or none
        when its stream was not where it expected (see `write_one`)."""
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._waiting.append((append, future))
        if self._busy < self._lanes:
            self._busy += 1
            task = asyncio.get_running_loop().create_task(self._lane())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    async def _lane(self) -> None:
        try:
            while self._waiting:
                batch = self._next_batch()
                if batch:
                    await self._write_batch(batch)
        finally:
            self._busy -= 1

    def _next_batch(self) -> list[tuple[SealedAppend, asyncio.Future[list[Any]]]]:
        """Up to `max_batch` waiting appends, at most one per stream, oldest first; the rest
        keep their place."""
        batch: list[tuple[SealedAppend, asyncio.Future[list[Any]]]] = []
        streams: set[tuple[str, object]] = set()
        held: list[tuple[SealedAppend, asyncio.Future[list[Any]]]] = []
        while self._waiting and len(batch) < self._max_batch:
            entry = self._waiting.popleft()
            stream = (entry[0].tenant_id, entry[0].stream_id)
            if entry[1].done():  # its caller was cancelled before it was written
                continue
            if stream in streams:
                held.append(entry)
            else:
                streams.add(stream)
                batch.append(entry)
        self._waiting.extendleft(reversed(held))
        return batch

    async def _write_batch(
        self, batch: list[tuple[SealedAppend, asyncio.Future[list[Any]]]]
    ) -> None:
        if len(batch) == 1:
            await self._write_alone(*batch[0])
            return
        try:
            written = await write_many(self._pool, [append for append, _ in batch])
        except asyncio.CancelledError:
            for _, future in batch:
                future.cancel()
            raise
        except Exception as error:
            if _outcome_unknown(error):
                for _, future in batch:
                    _settle(future, error=error)
                return
            written = [[] for _ in batch]  # refused whole: each append is tried alone
        for (append, future), rows in zip(batch, written, strict=True):
            if rows:
                _settle(future, rows=rows)
            else:
                await self._write_alone(append, future)

    async def _write_alone(self, append: SealedAppend, future: asyncio.Future[list[Any]]) -> None:
        try:
            rows = await write_one(self._pool, append)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as error:
            _settle(future, error=error)
        else:
            _settle(future, rows=rows)

    async def close(self) -> None:
        """Wait for the batches being written."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


def _settle(
    future: asyncio.Future[list[Any]],
    *,
    rows: list[Any] | None = None,
    error: BaseException | None = None,
) -> None:
    if future.done():  # the caller gave up waiting; the outcome stands in the store
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(rows if rows is not None else [])
