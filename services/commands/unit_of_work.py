"""One command's unit of work: its events and its idempotency record commit together.

Without an Idempotency-Key the unit is the append alone (one atomic statement; a use case
that appends twice, the transfer, opens its own transaction). With one: `lookup` first (a
replay answers the stored result), then one transaction holding the use case's append,
`claim` and `complete`. A crash leaves no key, so a retry runs afresh; a retry of a command
that had committed gets the first answer, never a second append.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, NamedTuple

import msgspec

from domain.case.state import CaseState
from events import idempotency
from events.errors import ConcurrencyConflict
from events.store import Connection, PostgresEventStore
from services.bootstrap import Runtime
from services.commands.inbox_delivery import partner_routing
from services.commands.ports import Actor
from services.commands.refusals import (
    ConcurrentChange,
    IdempotencyKeyInProgress,
    IdempotencyKeyReused,
    PreconditionFailed,
    StaleVersion,
)
from services.commands.use_cases import CaseUseCases

ENCODE = msgspec.json.Encoder().encode


class Answer(NamedTuple):
    """What a command answers: its status and body (the JSON stored with its key)."""

    status: int
    body: bytes


class Idempotency(NamedTuple):
    """The request's Idempotency-Key as sent (None: none) and the hash of the request."""

    key: str | None
    request_hash: bytes


class UnitOfWorkStore:
    """The event store as `CaseUseCases` sees it, bound to one transaction: reads run on the
    transaction's own connection (never a second pool connection while this one is held: with
    as many commands in flight as the pool has connections, that would wait forever), and
    appends join it. A use case that opens a transaction of its own (the transfer: two
    streams) gets this one: its appends and the idempotency record commit together."""

    def __init__(
        self, store: PostgresEventStore, conn: Connection, *, in_transaction: bool = True
    ) -> None:
        self._store = store
        self._conn = conn
        self._in_transaction = in_transaction

    async def read_stream(self, tenant_id: str, stream_id: uuid.UUID) -> Any:
        return await self._store.read_stream(tenant_id, stream_id, connection=self._conn)

    async def append(self, *args: Any, connection: Connection | None = None, **kwargs: Any) -> Any:
        if connection is not None and connection is not self._conn:
            raise RuntimeError("an append outside the unit of work")
        return await self._store.append(*args, connection=self._conn, **kwargs)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        if self._in_transaction:
            yield self._conn  # already inside the unit of work's transaction
            return
        async with self._conn.transaction():
            yield self._conn


class _AnsweredEarlier(Exception):
    """Raised inside the transaction to roll it back: an earlier request holds the key."""

    def __init__(self, answer: Answer) -> None:
        super().__init__("answered earlier")
        self.answer = answer


def _replayed(outcome: idempotency.Outcome) -> Answer:
    if isinstance(outcome, idempotency.Replay):
        return Answer(outcome.status, outcome.body)
    if isinstance(outcome, idempotency.KeyReuse):
        raise IdempotencyKeyReused()
    raise IdempotencyKeyInProgress()


async def run_once(
    runtime: Runtime,
    actor: Actor,
    idempotent: Idempotency,
    status: int,
    execute: Callable[[CaseUseCases], Awaitable[int]],
    answer: Callable[[int], msgspec.Struct],
    case_id: str,
    known: Mapping[tuple[str, str], CaseState] | None = None,
) -> Answer:
    """Run `execute` once in one unit of work with its idempotency bookkeeping; `answer(version)`
    is the body, stored in plain with the key, so it carries ids and versions only."""
    pool = runtime.store.pool
    tenant, user = actor.organisation_id, actor.user_id
    key, hashed = idempotent
    if key is not None:  # from here on the stored key: a keyed hash, never the client's text
        key = await runtime.key_hasher().stored(pool, tenant, user, key)
        earlier = await idempotency.lookup(pool, tenant, user, key, hashed)
        if earlier is not None:
            return _replayed(earlier)
    try:
        if key is None:  # nothing to commit beside the events: an append is one statement
            async with pool.acquire() as conn:
                use_cases = CaseUseCases(
                    UnitOfWorkStore(runtime.store, conn, in_transaction=False),
                    known=known,
                    inbox=partner_routing(conn, runtime.referral_answer_days),
                )
                version = await execute(use_cases)
            runtime.store.announce()
            payload = ENCODE(answer(version))
        else:
            async with runtime.store.transaction() as conn:
                use_cases = CaseUseCases(
                    UnitOfWorkStore(runtime.store, conn),
                    known=known,
                    inbox=partner_routing(conn, runtime.referral_answer_days),
                )
                version = await execute(use_cases)
                payload = ENCODE(answer(version))
                claimed = await idempotency.claim(conn, tenant, user, key, hashed)
                if not isinstance(claimed, idempotency.Claimed):
                    raise _AnsweredEarlier(_replayed(claimed))  # rolls the append back
                await idempotency.complete(
                    conn, tenant, user, key, hashed, status, payload, uuid.UUID(case_id)
                )
    except _AnsweredEarlier as answered:
        return answered.answer
    except StaleVersion:  # decided on a version the case is not at: nothing was appended
        raise PreconditionFailed() from None
    except ConcurrencyConflict:
        if key is not None:  # an identical request may have committed meanwhile: its answer
            earlier = await idempotency.lookup(pool, tenant, user, key, hashed)
            if earlier is not None:
                return _replayed(earlier)
        raise ConcurrentChange() from None
    if runtime.recent is not None:  # committed: the next command on the case need not read it
        runtime.recent.remember(use_cases.appended)
    return Answer(status, payload)


async def once_in_transaction(
    runtime: Runtime,
    actor: Actor,
    idempotent: Idempotency,
    status: int,
    subject: uuid.UUID,
    write: Callable[[Connection], Awaitable[bytes]],
) -> Answer:
    """`write(conn)` once, in one transaction with its idempotency bookkeeping, for a stream
    that is not a case's (an activity, a screening): it appends on `conn` and returns the
    answer's body, stored in plain with the key (ids and versions only). A replay answers the
    stored result; a `ConcurrencyConflict` that an identical request committed meanwhile is
    answered with that request's result, any other is raised for the caller to word."""
    pool = runtime.store.pool
    tenant, user = actor.organisation_id, actor.user_id
    key, hashed = idempotent
    if key is not None:  # from here on the stored key: a keyed hash, never the client's text
        key = await runtime.key_hasher().stored(pool, tenant, user, key)
        earlier = await idempotency.lookup(pool, tenant, user, key, hashed)
        if earlier is not None:
            return _replayed(earlier)
    try:
        async with runtime.store.transaction() as conn:
            payload = await write(conn)
            if key is not None:
                claimed = await idempotency.claim(conn, tenant, user, key, hashed)
                if not isinstance(claimed, idempotency.Claimed):
                    raise _AnsweredEarlier(_replayed(claimed))  # rolls the append back
                await idempotency.complete(
                    conn, tenant, user, key, hashed, status, payload, subject
                )
    except _AnsweredEarlier as answered:
        return answered.answer
    except ConcurrencyConflict:
        if key is not None:
            earlier = await idempotency.lookup(pool, tenant, user, key, hashed)
            if earlier is not None:
                return _replayed(earlier)
        raise
    return Answer(status, payload)
