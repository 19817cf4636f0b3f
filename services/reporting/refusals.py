"""A refused federal release tells its requester nothing about the data.

A refusal's reason names a table and a rule, or that some counted client has spent their
privacy budget: both say something about the people counted. So the requester — over HTTP or
on the command line — gets one fixed sentence and a reference id, whatever the reason
(`PUBLIC_REFUSAL`); the reason is recorded under that reference in
``reporting_ledger.refusals``, which only the application reads, for the privacy officer of
the requesting organisation (`GET /v1/reports/refusals`).
"""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg
import msgspec

from services.reporting.access import ReportError, ReportRefused, RevisionNeedsReview
from services.reporting.dp import Requester
from services.reporting.dp_contributions import DPError

PUBLIC_REFUSAL = "Refused by the disclosure policy."
# A release no suppression can protect, counts that contradict the ledger, and every refusal
# of the differential-privacy mode (a client's or the requester's budget, an epsilon above the
# per-client budget). A period that is malformed or not final is not a refusal: saying so
# reveals nothing.
REFUSALS: tuple[type[Exception], ...] = (ReportRefused, RevisionNeedsReview, DPError)


def is_refusal(error: BaseException) -> bool:
    return isinstance(error, REFUSALS)


def public_text(reference: uuid.UUID) -> str:
    """The requester's whole answer: the same words for every reason."""
    return f"{PUBLIC_REFUSAL} Reference {reference}."


class Refusal(msgspec.Struct, frozen=True, kw_only=True):
    """One refusal as the privacy officer reads it."""

    reference: uuid.UUID
    period: str
    scope: str
    mode: str
    requester_role: str
    actor_id: str
    reason: str
    refused_at: dt.datetime


async def record_refusal(
    conn: asyncpg.Pool | asyncpg.Connection,
    error: ReportError | DPError,
    *,
    period: str,
    scope: str,
    requester: Requester,
) -> uuid.UUID:
    """Record why (for the privacy officer); the reference to give the requester."""
    reference = uuid.uuid4()
    mode = "differential-privacy" if isinstance(error, DPError) else "suppression"
    await conn.execute(
        """INSERT INTO reporting_ledger.refusals
               (reference, period, scope, mode, requester_organisation, requester_role,
                actor_id, reason)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
        reference,
        period,
        scope,
        mode,
        requester.organisation,
        requester.role,
        requester.actor_id,
        f"{type(error).__name__}: {error}",
    )
    return reference


async def refusals_of(
    conn: asyncpg.Pool | asyncpg.Connection,
    organisation: str,
    *,
    reference: uuid.UUID | None = None,
    limit: int = 100,
) -> list[Refusal]:
    """The organisation's refusals, newest first (or the one `reference` names)."""
    rows = await conn.fetch(
        """SELECT reference, period, scope, mode, requester_role, actor_id, reason, refused_at
             FROM reporting_ledger.refusals
            WHERE requester_organisation = $1 AND ($2::uuid IS NULL OR reference = $2)
            ORDER BY refused_at DESC, reference LIMIT $3""",
        organisation,
        reference,
        limit,
    )
    return [Refusal(**dict(row)) for row in rows]
