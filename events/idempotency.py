"""`Idempotency-Key`: a retried command returns its first result without appending twice.

Keys are scoped to the caller: (tenant_id, actor_id, key). The key is never stored as the
client sent it (it is the client's text, and may say something): the functions here take the
*stored key*, `KeyHasher.stored(...)`: HMAC-SHA-256 of (caller, key) under a secret of the
organisation's own, kept in `haven.tenant_secrets` wrapped by its KEK, so a copy of the
database alone cannot test guesses against it. A key remembers the hash of the request that
first used it (`request_hash`: sha256 over method, route and body) and, once the command is
done, its status, its response body and the case it is about. The body is stored in plain:
command responses carry only ids and versions, NEVER case content — keep it that way. An
erasure deletes the case's keys (`forget_case`), so a retry after it runs afresh (and is told
the case does not exist) instead of being answered from what was stored.

Use, per command (READ COMMITTED, PostgreSQL's default — under REPEATABLE READ the second of
two concurrent claims fails with a serialization error instead of seeing the first):

1. `lookup(pool, ...)` before doing any work: `Replay` → answer the stored result;
   `KeyReuse` → 422; `InProgress` → 409; None → go on.
2. In the unit of work (`store.transaction()`): append FIRST (an append must be the
   transaction's first write), then `claim(conn, ...)`:
   - `Claimed` → build the response, `complete(conn, ..., status, body)` in the SAME
     transaction, commit. Key, events and result commit together or not at all: if the
     transaction fails, the key is gone too and a retry runs the command afresh.
   - `Replay` / `KeyReuse` / `InProgress` → ROLL BACK (raise out of the unit of work, which
     discards the append) and answer as in step 1.
3. If the append raises `ConcurrencyConflict` and the request had a key, `lookup` once more:
   an identical request may have committed meanwhile, and its result is the answer.

The race. Two identical requests run concurrently; both find nothing in step 1. If they
append to the same stream, the optimistic check lets one through and the other gets
`ConcurrencyConflict` (step 3 then replays). If both appends succeed (e.g. both create a new
stream), both reach `claim`: `INSERT ... ON CONFLICT DO NOTHING` of the second finds the
first's uncommitted row in the primary key and WAITS for the first transaction to end. If the
first commits, the second's insert does nothing, and its `SELECT ... FOR SHARE` (a new
statement, so a new snapshot) sees the committed row: Replay — the second rolls back its
append. If the first rolls back, the second's insert goes ahead: Claimed. Exactly one wins.

Retention: `purge_expired` deletes keys older than `DEFAULT_RETENTION` (24 hours) — long
enough for clients' retries; run it periodically. A key not yet purged still replays.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import re
import uuid

import asyncpg
import msgspec

from crypto.providers import KeyProvider
from events.errors import EventStoreError
from events.store import Connection

DEFAULT_RETENTION = dt.timedelta(hours=24)
MAX_KEY_LENGTH = 255

_encode = msgspec.msgpack.Encoder().encode


class IdempotencyError(EventStoreError):
    pass


class Claimed(msgspec.Struct, frozen=True):
    """First use of the key: go on, then `complete` in the same transaction."""


class Replay(msgspec.Struct, frozen=True):
    """The same request already completed: answer this."""

    status: int
    body: bytes


class KeyReuse(msgspec.Struct, frozen=True):
    """The key was used for a different request (answer 422)."""


class InProgress(msgspec.Struct, frozen=True):
    """The key was claimed by a committed transaction that never completed it (answer 409).

    Cannot happen when `claim` and `complete` share a transaction, as they must.
    """


Outcome = Replay | KeyReuse | InProgress


def request_hash(method: str, route: str, body: bytes) -> bytes:
    """sha256 over (method, route, body), each length-delimited (a msgpack array)."""
    return hashlib.sha256(_encode(("haven.request.v1", method.upper(), route, body))).digest()


_STORED_KEY = re.compile(r"[0-9a-f]{64}")
_SECRET_CONTEXT = b"haven.secret.idempotency.v1"


class KeyHasher:
    """Turns a client's Idempotency-Key into the stored key (module doc). One per process: the
    organisations' secrets are unwrapped once and kept in memory."""

    def __init__(self, provider: KeyProvider) -> None:
        self._provider = provider
        self._secrets: dict[str, bytes] = {}

    async def stored(
        self, conn: asyncpg.Pool | Connection, tenant_id: str, actor_id: str, key: str
    ) -> str:
        if not key or len(key) > MAX_KEY_LENGTH:
            raise ValueError(f"an idempotency key has 1 to {MAX_KEY_LENGTH} characters")
        secret = self._secrets.get(tenant_id) or await self._secret(conn, tenant_id)
        return hmac.new(secret, _encode((actor_id, key)), hashlib.sha256).hexdigest()

    async def _secret(self, conn: asyncpg.Pool | Connection, tenant_id: str) -> bytes:
        select = (
            "SELECT kek_id, wrapped FROM haven.tenant_secrets"
            " WHERE tenant_id = $1 AND purpose = 'idempotency'"
        )
        row = await conn.fetchrow(select, tenant_id)
        if row is None:  # the organisation's first key: make its secret (the first writer's wins)
            kek_id, wrapped = self._provider.wrap(tenant_id, os.urandom(32), _SECRET_CONTEXT)
            await conn.execute(
                "INSERT INTO haven.tenant_secrets (tenant_id, purpose, kek_id, wrapped) "
                "VALUES ($1, 'idempotency', $2, $3) ON CONFLICT DO NOTHING",
                tenant_id,
                kek_id,
                wrapped,
            )
            row = await conn.fetchrow(select, tenant_id)
        secret = self._provider.unwrap(
            tenant_id, row["kek_id"], bytes(row["wrapped"]), _SECRET_CONTEXT
        )
        self._secrets[tenant_id] = secret
        return secret


def _check(key: str, hashed: bytes) -> None:
    if not _STORED_KEY.fullmatch(key):
        raise ValueError("a stored idempotency key is a keyed hash (`KeyHasher.stored`)")
    if len(hashed) != 32:
        raise ValueError("request_hash must be a sha256 digest (32 bytes)")


_CLAIM_SQL = """
INSERT INTO haven.idempotency_keys (tenant_id, actor_id, key, request_hash) VALUES ($1, $2, $3, $4)
ON CONFLICT DO NOTHING RETURNING true"""

_LOOKUP_SQL = """
SELECT request_hash, status, response_body FROM haven.idempotency_keys
 WHERE tenant_id = $1 AND actor_id = $2 AND key = $3"""

_COMPLETE_SQL = """
UPDATE haven.idempotency_keys SET status = $5, response_body = $6, case_id = $7
 WHERE tenant_id = $1 AND actor_id = $2 AND key = $3 AND request_hash = $4 AND status IS NULL"""


def _outcome(row: asyncpg.Record, hashed: bytes) -> Outcome:
    if bytes(row["request_hash"]) != hashed:
        return KeyReuse()
    if row["status"] is None:
        return InProgress()
    return Replay(row["status"], bytes(row["response_body"]))


async def lookup(
    conn_or_pool: asyncpg.Pool | Connection,
    tenant_id: str,
    actor_id: str,
    key: str,
    request_hash: bytes,
) -> Outcome | None:
    """What an earlier use of the key decided, or None when the key is unused (do the work)."""
    _check(key, request_hash)
    row = await conn_or_pool.fetchrow(_LOOKUP_SQL, tenant_id, actor_id, key)
    return None if row is None else _outcome(row, request_hash)


async def claim(
    conn: Connection, tenant_id: str, actor_id: str, key: str, request_hash: bytes
) -> Claimed | Outcome:
    """Claim the key in the caller's transaction (after its append); see the module docstring."""
    _check(key, request_hash)
    for _ in range(3):
        if await conn.fetchval(_CLAIM_SQL, tenant_id, actor_id, key, request_hash):
            return Claimed()
        row = await conn.fetchrow(_LOOKUP_SQL + " FOR SHARE", tenant_id, actor_id, key)
        if row is not None:
            return _outcome(row, request_hash)
        # the conflicting row was purged between the two statements: try again
    raise IdempotencyError(f"idempotency key {key!r} could not be claimed")


async def complete(
    conn: Connection,
    tenant_id: str,
    actor_id: str,
    key: str,
    request_hash: bytes,
    status: int,
    body: bytes,
    case_id: uuid.UUID | None = None,
) -> None:
    """Store the result of a claimed key, in the transaction that claimed it, and the case it is
    about (`forget_case` deletes it with the case).

    `body` must carry no case content (only ids and versions): it is stored in plain.
    """
    _check(key, request_hash)
    if not 100 <= status <= 599:
        raise ValueError("status must be an HTTP status code")
    done = await conn.execute(
        _COMPLETE_SQL, tenant_id, actor_id, key, request_hash, status, bytes(body), case_id
    )
    if done != "UPDATE 1":
        raise IdempotencyError(f"idempotency key {key!r} was not claimed by this request")


async def forget_case(conn: Connection, tenant_id: str, case_id: uuid.UUID) -> None:
    """Erasure: the stored answers about the case go with it (in the erasure's transaction)."""
    await conn.execute(
        "DELETE FROM haven.idempotency_keys WHERE tenant_id = $1 AND case_id = $2",
        tenant_id,
        case_id,
    )


async def purge_expired(
    pool: asyncpg.Pool | Connection, older_than: dt.timedelta = DEFAULT_RETENTION
) -> int:
    """Delete keys created more than `older_than` ago; returns how many."""
    if older_than <= dt.timedelta(0):
        raise ValueError("older_than must be positive")
    done = await pool.execute(
        "DELETE FROM haven.idempotency_keys WHERE created_at < now() - $1::interval", older_than
    )
    return int(done.split()[-1])
