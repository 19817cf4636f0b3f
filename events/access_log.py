"""Who read which case, and why; break-the-glass grants with sealed reasons.

Access records (`haven.access_records`) are append-only (a trigger refuses UPDATE and DELETE)
and hold no case content: tenant, case, actor, role, part read, basis, grant, request id.
Releases to another organisation (basis 'disclosure') and decryptions no person asked for
(basis 'system') are recorded beside the reads, by `events.disclosures`.

Fail closed: `record_access` must run in the request's transaction, and that transaction must
commit, *before* any case content is returned. It raises `AccessNotRecorded` on any failure;
the caller then returns no content. In a unit of work that also appends (`store.transaction()`),
call it AFTER the append: an append must be its transaction's first write (HV001).

Break-the-glass: a supervisor gives a reason and gets a grant for 1..240 minutes. The reason
is free text that may mention the survivor, so it is sealed with the case's data key, with
`grant_header(...)` as associated data (binding tenant, case, grant, actor and key id): a
sealed reason moved to another grant or case fails to open. Crypto-shredding the case makes
the reasons unreadable too. Only the privacy officer opens them (`grant_reasons`).

The records are their own read model: `access_review` pages through an organisation's,
newest first, by record id (the primary key's order, so the millionth page costs the same as
the first).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import asyncpg
import msgspec

from crypto.errors import DecryptionError
from crypto.keyring import DataKey, Keyring, WrappedDataKey
from events.errors import EventStoreError, StreamErased, StreamNotFound, TamperDetected
from events.store import Connection

GRANT_LABEL = "haven.break-glass.v1"
MIN_GRANT_MINUTES = 1
MAX_GRANT_MINUTES = 240
MAX_REASON_CHARS = 2000
BASES = frozenset({"assignment", "team", "break-glass", "privacy-review", "disclosure", "system"})

_encode = msgspec.msgpack.Encoder().encode


class AccessNotRecorded(EventStoreError):
    """The access could not be recorded: the caller must refuse the read (fail closed)."""


@asynccontextmanager
async def fail_closed(
    transaction: AbstractAsyncContextManager[Connection], case_id: uuid.UUID
) -> AsyncIterator[Connection]:
    """`transaction`, whose failure (the commit included) is `AccessNotRecorded`: whatever it
    records must have committed before anything is returned."""
    try:
        async with transaction as conn:
            yield conn
    except AccessNotRecorded:
        raise
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as error:
        raise AccessNotRecorded(f"access to case {case_id} could not be recorded") from error


class AccessRecord(msgspec.Struct, frozen=True):
    tenant_id: str
    record_id: int
    case_id: uuid.UUID
    accessed_at: dt.datetime
    actor_id: str
    role: str
    part: str
    basis: str
    grant_id: uuid.UUID | None
    request_id: str | None
    reason: str | None = None  # an erasure's ground (a code), on its record only
    # a disclosure's (basis 'disclosure', `events.disclosures`): the version of the case's
    # event that released the data (to whom, which categories, under which consent: sealed)
    event_version: int | None = None
    purpose: str | None = None  # a system access's (basis 'system'): why it decrypted


class BreakGlassGrant(msgspec.Struct, frozen=True):
    tenant_id: str
    grant_id: uuid.UUID
    case_id: uuid.UUID
    actor_id: str
    granted_at: dt.datetime
    expires_at: dt.datetime
    key_id: str


class GrantReason(msgspec.Struct, frozen=True):
    grant: BreakGlassGrant
    reason: str


def grant_header(
    tenant_id: str, case_id: uuid.UUID, grant_id: uuid.UUID, actor_id: str, key_id: str
) -> bytes:
    """Associated data of a sealed reason: a msgpack array, like `crypto.envelope.event_header`."""
    return _encode((GRANT_LABEL, tenant_id, str(case_id), str(grant_id), actor_id, key_id))


_RECORD_SQL = """
INSERT INTO haven.access_records
    (tenant_id, case_id, actor_id, role, part, basis, grant_id, request_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"""

# An erasure's record, with its ground.
_RECORD_REASON_SQL = """
INSERT INTO haven.access_records
    (tenant_id, case_id, actor_id, role, part, basis, grant_id, request_id, reason)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"""

# The same record, only while the case's stream is at the version the read was decided on
# (and not shredded): no row back, nothing recorded.
_RECORD_AT_VERSION_SQL = """
INSERT INTO haven.access_records
    (tenant_id, case_id, actor_id, role, part, basis, grant_id, request_id)
SELECT $1, $2, $3, $4, $5, $6, $7, $8
 WHERE EXISTS (SELECT 1 FROM haven.streams s WHERE s.tenant_id = $1 AND s.stream_id = $2
                  AND s.version = $9 AND s.wrapped_key IS NOT NULL)
RETURNING 1"""

_COLUMNS = """tenant_id, record_id, case_id, accessed_at, actor_id, role, part, basis, grant_id,
       request_id, reason, event_version, purpose"""

_LOG_SQL = f"""
SELECT {_COLUMNS}
  FROM haven.access_records WHERE tenant_id = $1 AND case_id = $2
 ORDER BY accessed_at DESC, record_id DESC LIMIT $3"""

_GRANT_COLUMNS = "tenant_id, grant_id, case_id, actor_id, granted_at, expires_at, key_id"

# Only for a case that exists, is not shredded, and whose current key is the one given.
_GRANT_SQL = """
INSERT INTO haven.break_glass_grants
    (tenant_id, grant_id, case_id, actor_id, granted_at, expires_at, reason_sealed, key_id)
SELECT $1, $2, $3, $4, $5, $6, $7, $8
 WHERE EXISTS (SELECT 1 FROM haven.streams s WHERE s.tenant_id = $1 AND s.stream_id = $3
                  AND s.key_id = $8 AND s.wrapped_key IS NOT NULL)
RETURNING 1"""

_ACTIVE_SQL = f"""
SELECT {_GRANT_COLUMNS} FROM haven.break_glass_grants
 WHERE tenant_id = $1 AND case_id = $2 AND actor_id = $3 AND granted_at <= $4 AND expires_at > $4
 ORDER BY expires_at DESC LIMIT 1"""

_REASONS_SQL = f"""
SELECT {_GRANT_COLUMNS}, reason_sealed FROM haven.break_glass_grants
 WHERE tenant_id = $1 AND case_id = $2 ORDER BY granted_at DESC, grant_id"""


async def record_access(
    conn: Connection,
    *,
    tenant_id: str,
    case_id: uuid.UUID,
    actor_id: str,
    role: str,
    part: str,
    basis: str,
    grant_id: uuid.UUID | None = None,
    request_id: str | None = None,
    at_version: int | None = None,
    reason: str | None = None,
) -> bool:
    """Append one access record in the caller's transaction; raises `AccessNotRecorded`.

    Run it inside the request's transaction before any content is returned, and return
    content only once that transaction has committed. `basis='break-glass'` needs the
    `grant_id` of a grant for this case and actor (a foreign key checks it; the caller checks
    it is still active with `active_grant`); every other basis must not name a grant.

    `at_version`: record only if the case's stream is at that version and not shredded, in
    the same statement (a read decided on a state known in memory); returns whether it
    recorded. Without it, always records (True). `reason`: an erasure's ground, a code
    (part 'erasure' only; the table checks both).
    """
    args = (tenant_id, case_id, actor_id, role, part, basis, grant_id, request_id)
    try:
        if reason is not None:
            await conn.execute(_RECORD_REASON_SQL, *args, reason)
            return True
        if at_version is None:
            await conn.execute(_RECORD_SQL, *args)
            return True
        return await conn.fetchval(_RECORD_AT_VERSION_SQL, *args, at_version) is not None
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as error:
        raise AccessNotRecorded(f"access to case {case_id} could not be recorded") from error


async def access_log(
    pool_or_conn: asyncpg.Pool | Connection, tenant_id: str, case_id: uuid.UUID, *, limit: int = 500
) -> list[AccessRecord]:
    """The case's access records, newest first (at most `limit`)."""
    if not 1 <= limit <= 10_000:
        raise ValueError("limit must be between 1 and 10000")
    rows = await pool_or_conn.fetch(_LOG_SQL, tenant_id, case_id, limit)
    return [_record(row) for row in rows]


def _record(row: Any) -> AccessRecord:
    return AccessRecord(
        row["tenant_id"],
        row["record_id"],
        row["case_id"],
        row["accessed_at"],
        row["actor_id"],
        row["role"],
        row["part"],
        row["basis"],
        row["grant_id"],
        row["request_id"],
        row["reason"],
        event_version=row["event_version"],
        purpose=row["purpose"],
    )


async def grant_break_glass(
    conn: Connection,
    *,
    tenant_id: str,
    case_id: uuid.UUID,
    actor_id: str,
    reason: str,
    minutes: int,
    data_key: DataKey,
    now: dt.datetime,
) -> BreakGlassGrant:
    """Create a time-limited grant with its reason sealed under the case's data key.

    ValueError for an empty or over-long reason, minutes outside 1..240, or a naive `now`.
    StreamNotFound when the case does not exist, is erased or `data_key` is not its current
    key (nothing is written then). In a unit of work that appends, call it after the append.
    """
    if not isinstance(reason, str) or not reason.strip():
        raise ValueError("a break-the-glass reason is required")
    if len(reason) > MAX_REASON_CHARS:
        raise ValueError(f"the reason must be at most {MAX_REASON_CHARS} characters")
    if (
        isinstance(minutes, bool)
        or not isinstance(minutes, int)
        or not MIN_GRANT_MINUTES <= minutes <= MAX_GRANT_MINUTES
    ):
        raise ValueError(
            f"minutes must be an integer from {MIN_GRANT_MINUTES} to {MAX_GRANT_MINUTES}"
        )
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    grant_id = uuid.uuid4()
    granted_at = now
    expires_at = granted_at + dt.timedelta(minutes=minutes)
    sealed = data_key.aead.seal(
        reason.encode(), grant_header(tenant_id, case_id, grant_id, actor_id, data_key.key_id)
    )
    inserted = await conn.fetchval(
        _GRANT_SQL,
        tenant_id,
        grant_id,
        case_id,
        actor_id,
        granted_at,
        expires_at,
        sealed,
        data_key.key_id,
    )
    if inserted is None:
        raise StreamNotFound(f"case {case_id} does not exist, is erased, or uses another key")
    return BreakGlassGrant(
        tenant_id, grant_id, case_id, actor_id, granted_at, expires_at, data_key.key_id
    )


async def active_grant(
    conn: asyncpg.Pool | Connection,
    tenant_id: str,
    case_id: uuid.UUID,
    actor_id: str,
    now: dt.datetime,
) -> BreakGlassGrant | None:
    """The actor's grant on the case valid at `now` (granted_at <= now < expires_at), if any."""
    row = await conn.fetchrow(_ACTIVE_SQL, tenant_id, case_id, actor_id, now)
    return None if row is None else BreakGlassGrant(*row)


async def grant_reasons(
    conn: asyncpg.Pool | Connection, tenant_id: str, case_id: uuid.UUID, data_key: DataKey
) -> list[GrantReason]:
    """Every grant on the case with its reason opened (for the privacy officer), newest first.

    Raises `TamperDetected` when a reason fails to open (wrong key, moved or altered row).
    Reading reasons is itself an access: record it (part 'access-log', basis 'privacy-review').
    """
    opened = []
    for row in await conn.fetch(_REASONS_SQL, tenant_id, case_id):
        grant = BreakGlassGrant(*row[:7])
        header = grant_header(
            grant.tenant_id, grant.case_id, grant.grant_id, grant.actor_id, grant.key_id
        )
        try:
            reason = data_key.aead.open(row["reason_sealed"], header).decode()
        except (DecryptionError, UnicodeDecodeError):
            raise TamperDetected(
                f"break-the-glass grant {grant.grant_id} fails authentication"
            ) from None
        opened.append(GrantReason(grant, reason))
    return opened


async def case_data_key(
    conn: asyncpg.Pool | Connection, keyring: Keyring, tenant_id: str, case_id: uuid.UUID
) -> DataKey:
    """The case stream's current data key (to seal or open grant reasons).

    StreamNotFound / StreamErased when there is no such case or it was crypto-shredded;
    TamperDetected when the wrapped key does not unwrap.
    """
    row: Any = await conn.fetchrow(
        "SELECT key_id, kek_id, wrapped_key FROM haven.streams"
        " WHERE tenant_id = $1 AND stream_id = $2",
        tenant_id,
        case_id,
    )
    if row is None:
        raise StreamNotFound(str(case_id))
    if row["wrapped_key"] is None:
        raise StreamErased(str(case_id))
    try:
        return keyring.unwrap(
            tenant_id,
            str(case_id),
            WrappedDataKey(row["key_id"], row["kek_id"], bytes(row["wrapped_key"])),
        )
    except DecryptionError:
        raise TamperDetected(f"the data key of case {case_id} does not unwrap") from None


async def cached_case_data_key(
    conn: asyncpg.Pool | Connection, keyring: Keyring, tenant_id: str, case_id: uuid.UUID
) -> DataKey:
    """The case's data key from the keyring's cache, else as `case_data_key` reads it."""
    return keyring.cached(tenant_id, str(case_id)) or await case_data_key(
        conn, keyring, tenant_id, case_id
    )


# -- the organisation's access log, for the privacy officer's review ----------------------

MAX_PAGE = 500

_REVIEW_SQL = f"""
SELECT {_COLUMNS}
  FROM haven.access_records
 WHERE tenant_id = $1
   AND ($2::text IS NULL OR actor_id = $2)
   AND ($3::uuid IS NULL OR case_id = $3)
   AND ($4::text IS NULL OR basis = $4)
   AND ($5::bigint IS NULL OR record_id < $5)
 ORDER BY record_id DESC
 LIMIT $6"""


async def access_review(
    conn: Connection | asyncpg.Pool,
    tenant_id: str,
    *,
    actor_id: str | None = None,
    case_id: uuid.UUID | None = None,
    basis: str | None = None,
    before: int | None = None,
    limit: int = 100,
) -> list[AccessRecord]:
    """A page of the organisation's access records, newest first; `before` is the last
    `record_id` of the previous page."""
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE}")
    rows = await conn.fetch(_REVIEW_SQL, tenant_id, actor_id, case_id, basis, before, limit)
    return [_record(row) for row in rows]
