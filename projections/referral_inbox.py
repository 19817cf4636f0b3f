"""The `referral_inbox` projection: referrals partner organisations sent, as their recipients'
inboxes list them (``views.referral_inbox``).

One row per inbox item, in the *recipient's* organisation (``tenant_id``; ``case_id`` is the
item's stream, as in every view, so erasure and quarantine treat it like any other): who sent
it, the service category and purpose, the names of the data categories released, the day it
was sent and the day it must be answered by, and its status — ids, codes and dates only; what
was released stays in the item's sealed stream (`services.inbox.items`). The status follows
the referral on the sending case: each later status change of that referral (accepted,
declined with its reason code, expired, revoked, ...) finds its row by the item id, which
both sides compute alike (`domain.inbox.release.item_id`). The item is appended in the
transaction that sends the referral, after the sending case's events, so its row exists
before any later change of the referral arrives in log order (hence not ``stream_local``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import ClassVar, NamedTuple

import asyncpg
import msgspec

from domain.case.events import ReferralStatusChanged
from domain.inbox.events import ReferralReceived
from domain.inbox.release import item_id
from events.store import Connection, RecordedEvent
from projections.base import Tables, WritesInApply
from projections.queries import reads_view

INBOX = "views.referral_inbox"

_RECEIVED_SQL = """
INSERT INTO {table} (tenant_id, case_id, from_organisation, sending_case_id, referral_id,
                     category, purpose, released_categories, sent_on, answer_by, status,
                     status_on)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'sent', $9)
ON CONFLICT (tenant_id, case_id) DO NOTHING"""

_STATUS_SQL = """
UPDATE {table} SET status = $2, status_on = $3, reason = $4 WHERE case_id = $1"""


class ReferralInboxProjection(WritesInApply):
    name: ClassVar[str] = "referral_inbox"
    version: ClassVar[int] = 1
    tables: ClassVar[dict[str, str]] = {
        INBOX: """CREATE TABLE {table} (
            tenant_id            text   NOT NULL,  -- the recipient organisation
            case_id              uuid   NOT NULL,  -- the inbox item's stream
            from_organisation    text   NOT NULL,
            sending_case_id      uuid   NOT NULL,  -- never shown to the recipient
            referral_id          text   NOT NULL,
            category             text   NOT NULL,
            purpose              text   NOT NULL,
            released_categories  text[] NOT NULL,
            sent_on              date   NOT NULL,
            answer_by            date   NOT NULL,
            status               text   NOT NULL,
            status_on            date   NOT NULL,
            reason               text,             -- a decline or revoke reason code
            PRIMARY KEY (tenant_id, case_id))""",
    }

    async def apply(self, conn: Connection, batch: Sequence[RecordedEvent], tables: Tables) -> None:
        table = tables[INBOX]
        for recorded in batch:  # in log order: an item's row before its later changes
            event = recorded.event
            if isinstance(event, ReferralReceived):
                await conn.execute(
                    _RECEIVED_SQL.format(table=table),
                    recorded.tenant_id,
                    recorded.stream_id,
                    event.from_organisation,
                    uuid.UUID(event.case_id),
                    event.referral_id,
                    event.category,
                    event.purpose,
                    list(event.released_categories),
                    event.sent_on,
                    event.answer_by,
                )
            elif isinstance(event, ReferralStatusChanged) and event.status != "sent":
                item = item_id(recorded.tenant_id, str(recorded.stream_id), event.referral_id)
                await conn.execute(
                    _STATUS_SQL.format(table=table),
                    uuid.UUID(item),
                    event.status,
                    event.changed_on,
                    event.reason,
                )


class InboxItem(msgspec.Struct, frozen=True, kw_only=True):
    """One referral in the inbox, as listed: no client data, not even the sending case's id."""

    item_id: uuid.UUID
    from_organisation: str
    category: str
    purpose: str
    released_categories: list[str]
    sent_on: dt.date
    answer_by: dt.date
    status: str
    status_on: dt.date
    reason: str | None = None
    overdue: bool = False  # still waiting past its day: it expires (`services.inbox`)


class InboxSource(NamedTuple):
    """Where an item's referral lives: for the API alone, never answered to the recipient."""

    from_organisation: str
    sending_case_id: uuid.UUID
    referral_id: str
    status: str
    answer_by: dt.date


class Overdue(NamedTuple):
    from_organisation: str
    sending_case_id: uuid.UUID
    referral_id: str
    answer_by: dt.date


_ITEM_COLUMNS = """case_id, from_organisation, category, purpose, released_categories, sent_on,
       answer_by, status, status_on, reason"""


def _item(row: asyncpg.Record, today: dt.date) -> InboxItem:
    return InboxItem(
        item_id=row[0],
        from_organisation=row[1],
        category=row[2],
        purpose=row[3],
        released_categories=list(row[4]),
        sent_on=row[5],
        answer_by=row[6],
        status=row[7],
        status_on=row[8],
        reason=row[9],
        overdue=row[7] == "sent" and today > row[6],
    )


@reads_view
async def inbox_items(
    conn: Connection | asyncpg.Pool,
    recipient: str,
    today: dt.date,
    *,
    waiting_only: bool = False,
    limit: int = 500,
) -> list[InboxItem]:
    """The recipient's items, newest first (only those waiting for an answer, if asked)."""
    rows = await conn.fetch(
        f"""SELECT {_ITEM_COLUMNS} FROM {INBOX}
             WHERE tenant_id = $1 AND (NOT $2 OR status = 'sent')
             ORDER BY sent_on DESC, case_id LIMIT $3""",
        recipient,
        waiting_only,
        limit,
    )
    return [_item(row, today) for row in rows]


@reads_view
async def inbox_item(
    conn: Connection | asyncpg.Pool, recipient: str, item: uuid.UUID, today: dt.date
) -> InboxItem | None:
    row = await conn.fetchrow(
        f"SELECT {_ITEM_COLUMNS} FROM {INBOX} WHERE tenant_id = $1 AND case_id = $2",
        recipient,
        item,
    )
    return None if row is None else _item(row, today)


@reads_view
async def inbox_source(
    conn: Connection | asyncpg.Pool, recipient: str, item: uuid.UUID
) -> InboxSource | None:
    row = await conn.fetchrow(
        f"""SELECT from_organisation, sending_case_id, referral_id, status, answer_by
              FROM {INBOX} WHERE tenant_id = $1 AND case_id = $2""",
        recipient,
        item,
    )
    return None if row is None else InboxSource(*row)


@reads_view
async def overdue(conn: Connection | asyncpg.Pool, today: dt.date, limit: int) -> list[Overdue]:
    """Items of every organisation still waiting after their day (`services.inbox.expiry`),
    but for those whose sending case was erased meanwhile (nothing left to expire)."""
    rows = await conn.fetch(
        f"""SELECT i.from_organisation, i.sending_case_id, i.referral_id, i.answer_by
              FROM {INBOX} i JOIN haven.streams s
                ON s.tenant_id = i.from_organisation AND s.stream_id = i.sending_case_id
             WHERE i.status = 'sent' AND i.answer_by < $1 AND s.wrapped_key IS NOT NULL
             ORDER BY i.answer_by LIMIT $2""",
        today,
        limit,
    )
    return [Overdue(*row) for row in rows]
