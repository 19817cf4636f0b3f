"""Disclosures and system decryptions, recorded in the access log beside the reads.

A *disclosure* (basis 'disclosure') is a release of a case's data to another organisation: a
referral sent to it, a transfer it accepted. Its record names who released it, what carried
it (`part`: 'referral', 'transfer') and the version of the case's event that released it;
that event holds the recipient organisation, the data categories and the consent relied on,
sealed under the case's data key (`domain.case.disclosures.release_of` reads them from it),
so the record says nothing about the survivor in plain, and crypto-shredding the case makes
them unreadable with the rest. It is written in the transaction that appends the release:
a release never commits without its record.

A *system access* (basis 'system', actor and role 'system') is a decryption no person asked
for: a projection rebuild decrypts every case, `haven verify` opens every event. One record
per case, with its `purpose` (a code), written in one statement before the work starts.
Exports are a person's read and are recorded as one (`services.commands.case_export`).

Ids and codes only; the table is append-only (migration 0016).
"""

from __future__ import annotations

import uuid

import asyncpg

from events.access_log import AccessNotRecorded
from events.store import Connection

DISCLOSURE = "disclosure"
SYSTEM = "system"
SYSTEM_ACTOR = "system"
RELEASING_ROLE = "organisation"  # the organisation releases, under the survivor's consent

_DISCLOSURE_SQL = """
INSERT INTO haven.access_records
    (tenant_id, case_id, actor_id, role, part, basis, request_id, event_version)
VALUES ($1, $2, $3, $4, $5, 'disclosure', $6, $7)"""

# Every case stream that is not shredded (its opening event names it a case), optionally of
# one organisation: the cases a whole-log decryption opens.
_SYSTEM_SQL = """
INSERT INTO haven.access_records (tenant_id, case_id, actor_id, role, part, basis, purpose)
SELECT s.tenant_id, s.stream_id, 'system', 'system', $1, 'system', $2
  FROM haven.streams s
 WHERE s.wrapped_key IS NOT NULL
   AND ($3::text IS NULL OR s.tenant_id = $3)
   AND EXISTS (SELECT 1 FROM haven.events e
                WHERE e.tenant_id = s.tenant_id AND e.stream_id = s.stream_id
                  AND e.version = 1 AND e.event_type = 'case.opened')"""


async def record_disclosure(
    conn: Connection,
    *,
    tenant_id: str,
    case_id: uuid.UUID,
    actor_id: str,
    part: str,
    event_version: int,
    request_id: str | None = None,
) -> None:
    """One release of `case_id`'s data, by its event at `event_version`, in the caller's
    transaction (after its appends: an append must be its transaction's first write). Raises
    `AccessNotRecorded`: the caller's transaction must then not commit."""
    try:
        await conn.execute(
            _DISCLOSURE_SQL,
            tenant_id,
            case_id,
            actor_id,
            RELEASING_ROLE,
            part,
            request_id,
            event_version,
        )
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as error:
        raise AccessNotRecorded(f"the disclosure of case {case_id} was not recorded") from error


async def record_system_access(
    conn: Connection | asyncpg.Pool, *, part: str, purpose: str, tenant_id: str | None = None
) -> int:
    """A system decryption of every live case (of `tenant_id`, or of every organisation):
    one record per case; returns how many."""
    status = await conn.execute(_SYSTEM_SQL, part, purpose, tenant_id)
    return int(status.rsplit(" ", 1)[-1])
