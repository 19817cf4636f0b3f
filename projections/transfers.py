"""Transfers waiting for their recipient, over ``views.caseload`` (filled by `projections.cases`).

A transfer asked of another organisation sits on the sending case's caseload row until it is
answered: its id, the recipient, the day, and the receiving worker and team. That is all the
recipient learns before it accepts — no case content, not even the sending case's id.
`transfer_source` is for the API alone: where the request lives, so that an answer can be
decided on the sending case.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import NamedTuple

import asyncpg
import msgspec

from events.store import Connection
from projections.queries import reads_view


class IncomingTransfer(msgspec.Struct, frozen=True, kw_only=True):
    transfer_id: str
    from_organisation: str
    requested_on: dt.date
    receiving_worker_id: str
    receiving_team_id: str


class TransferSource(NamedTuple):
    organisation_id: str
    case_id: uuid.UUID
    receiving_worker_id: str
    receiving_team_id: str


@reads_view
async def incoming_transfers(
    conn: Connection | asyncpg.Pool,
    recipient: str,
    *,
    team_id: str | None = None,
    worker_id: str | None = None,
    limit: int = 500,
) -> list[IncomingTransfer]:
    """Requests addressed to `recipient`, oldest first: for a team, or naming a worker."""
    rows = await conn.fetch(
        """SELECT transfer_id, tenant_id, transfer_requested_on, transfer_worker_id,
                  transfer_team_id
             FROM views.caseload
            WHERE transfer_recipient = $1 AND transfer_id IS NOT NULL
              AND ($2::text IS NULL OR transfer_team_id = $2)
              AND ($3::text IS NULL OR transfer_worker_id = $3)
            ORDER BY transfer_requested_on, transfer_id LIMIT $4""",
        recipient,
        team_id,
        worker_id,
        limit,
    )
    return [
        IncomingTransfer(
            transfer_id=r[0],
            from_organisation=r[1],
            requested_on=r[2],
            receiving_worker_id=r[3],
            receiving_team_id=r[4],
        )
        for r in rows
    ]


@reads_view
async def transfer_source(
    conn: Connection | asyncpg.Pool, recipient: str, transfer_id: str
) -> TransferSource | None:
    row = await conn.fetchrow(
        """SELECT tenant_id, case_id, transfer_worker_id, transfer_team_id FROM views.caseload
            WHERE transfer_recipient = $1 AND transfer_id = $2""",
        recipient,
        transfer_id,
    )
    return None if row is None else TransferSource(*row)
