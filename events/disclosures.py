"""Disclosures and system decryptions, recorded in the access log beside the reads.

A *disclosure* (basis 'disclosure') is a release of a case's data to another organisation: a
referral sent to it, a transfer it accepted. Its record names the recipient organisation,
the data categories released (codebook `data_category` codes) and the consent relied on —
what a privacy officer needs to give a survivor an accounting of disclosures. It is written
in the transaction that appends the release, so a release never commits without its record.

A *system access* (basis 'system', actor and role 'system') is a decryption no person asked
for: a projection rebuild decrypts every case, `haven verify` opens every event. One record
per case it decrypted, with its `purpose` (a code: `projection-rebuild`, `verify`), written
in one statement after the work is done. Exports are a person's read and are recorded as one
(`services.commands.case_export`).

Ids and codes only, never content; the table is append-only (migration 0016).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import asyncpg

from events.access_log import AccessNotRecorded
from events.store import Connection

DISCLOSURE = "disclosure"
SYSTEM = "system"
SYSTEM_ACTOR = "system"
RELEASING_ROLE = "organisation"  # the organisation releases, under the survivor's consent

_DISCLOSURE_SQL = """
INSERT INTO haven.access_records
    (tenant_id, case_id, actor_id, role, part, basis, request_id, recipient, categories,
     consent_id)
VALUES ($1, $2, $3, $4, $5, 'disclosure', $6, $7, $8, $9)"""

# Every case stream that is not shredded (its opening event names it a case), optionally of
# one organisation: the cases a whole-log decryption opened.
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
    recipient: str,
    categories: Sequence[str],
    consent_id: str | None,
    request_id: str | None = None,
) -> None:
    """One release of `case_id`'s data to `recipient`, in the caller's transaction (after its
    appends: an append must be its transaction's first write). `part` names what carried
    it ('referral', 'transfer'). Raises `AccessNotRecorded`: the caller's transaction must
    then not commit."""
    try:
        await conn.execute(
            _DISCLOSURE_SQL,
            tenant_id,
            case_id,
            actor_id,
            RELEASING_ROLE,
            part,
            request_id,
            recipient,
            sorted(set(categories)),
            consent_id,
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
