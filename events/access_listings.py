"""Listings in the access log: a caseload that showed clients' names, and a search.

A worker's caseload shows the names of their cases, and a search answers with the cases that
match. Either is recorded ONCE, as a listing (`haven.access_listings`, append-only), not as a
read of every case in it: who, when, the kind (``caseload`` or ``search``), for a search the
fields searched by (never the values), and the ids of the cases in the answer — so "who saw
this client's name, and where" is answered by `listings_naming` beside the case's own access
records. A listing holds no case content.

Fail closed like `events.access_log.record_access`: record in the request's transaction, and
answer only once it has committed; any failure is `AccessNotRecorded`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Literal

import asyncpg
import msgspec

from events.access_log import AccessNotRecorded
from events.store import Connection

ListingKind = Literal["caseload", "search"]

_RECORD_SQL = """
INSERT INTO haven.access_listings
    (tenant_id, actor_id, role, kind, searched_by, case_ids, request_id)
VALUES ($1, $2, $3, $4, $5, $6, $7)"""

_NAMING_SQL = """
SELECT listing_id, accessed_at, actor_id, role, kind, searched_by, cardinality(case_ids),
       request_id
  FROM haven.access_listings
 WHERE tenant_id = $1 AND case_ids @> ARRAY[$2::uuid]
 ORDER BY listing_id DESC LIMIT $3"""


class Listing(msgspec.Struct, frozen=True, kw_only=True):
    """One listing that named a case: who, when, how, and how many cases it named."""

    listing_id: int
    accessed_at: dt.datetime
    actor_id: str
    role: str
    kind: str
    searched_by: list[str]
    cases: int
    request_id: str | None


async def record_listing(
    conn: Connection | asyncpg.Pool,
    *,
    tenant_id: str,
    actor_id: str,
    role: str,
    kind: ListingKind,
    case_ids: Sequence[uuid.UUID],
    searched_by: Sequence[str] = (),
    request_id: str | None = None,
) -> None:
    """Append one listing record; raises `AccessNotRecorded` (answer nothing then)."""
    try:
        await conn.execute(
            _RECORD_SQL,
            tenant_id,
            actor_id,
            role,
            kind,
            list(searched_by),
            list(case_ids),
            request_id,
        )
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as error:
        raise AccessNotRecorded(f"a {kind} listing could not be recorded") from error


async def listings_naming(
    conn: Connection | asyncpg.Pool, tenant_id: str, case_id: uuid.UUID, *, limit: int = 500
) -> list[Listing]:
    """The listings whose answer named the case, newest first (at most `limit`)."""
    if not 1 <= limit <= 10_000:
        raise ValueError("limit must be between 1 and 10000")
    rows = await conn.fetch(_NAMING_SQL, tenant_id, case_id, limit)
    return [
        Listing(
            listing_id=row[0],
            accessed_at=row[1],
            actor_id=row[2],
            role=row[3],
            kind=row[4],
            searched_by=list(row[5]),
            cases=row[6],
            request_id=row[7],
        )
        for row in rows
    ]
