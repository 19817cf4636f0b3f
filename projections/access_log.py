"""The access-log view for the privacy officer: every recorded access of the organisation.

The access records (`events.access_log`, table ``haven.access_records``) are append-only and
written in the request that read the case, so they are their own read model: this module
only queries them — newest first, filtered by actor, case or basis, paged by record id (the
primary key's order, so a page costs the same at the millionth record as at the first).
Break-the-glass reasons stay sealed here; a case's own access log
(`GET /v1/cases/{id}/access-log`) opens them.
"""

from __future__ import annotations

import uuid

import asyncpg

from events.access_log import AccessRecord
from events.store import Connection

MAX_PAGE = 500

_REVIEW_SQL = """
SELECT tenant_id, record_id, case_id, accessed_at, actor_id, role, part, basis, grant_id, request_id
  FROM haven.access_records
 WHERE tenant_id = $1
   AND ($2::text IS NULL OR actor_id = $2)
   AND ($3::uuid IS NULL OR case_id = $3)
   AND ($4::text IS NULL OR basis = $4)
   AND ($5::bigint IS NULL OR record_id < $5)
 ORDER BY record_id DESC
 LIMIT $6"""


async def access_review(conn: Connection | asyncpg.Pool, tenant_id: str, *, actor_id: str | None = None,
                        case_id: uuid.UUID | None = None, basis: str | None = None, before: int | None = None,
                        limit: int = 100) -> list[AccessRecord]:
    """A page of the organisation's access records, newest first; `before` is the last
    `record_id` of the previous page."""
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE}")
    rows = await conn.fetch(_REVIEW_SQL, tenant_id, actor_id, case_id, basis, before, limit)
    return [AccessRecord(*row) for row in rows]
