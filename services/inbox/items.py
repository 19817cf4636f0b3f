"""The recipient organisation's use cases on its referral inbox: list, read, answer.

* `list_items` (`Action.INBOX_LIST`: its case workers and supervisors): ids, codes, dates and
  status from ``views.referral_inbox`` — nothing about the client, not even the sending
  case's id.
* `read_item` (`Action.INBOX_READ`): the item with what the consent released, opened from
  its sealed stream (a stream of the recipient's, sealed with the recipient's keys). The read
  is recorded first, in the recipient's access log under the item's id (part "referral",
  basis "inbox"), and nothing is returned unless that record commits (fail closed). The
  sender's log already holds the release itself (a disclosure, recorded when the referral
  was sent), so reads by the recipient's staff stay in the recipient's log: user ids of one
  organisation never enter another's records. Once the referral is declined, expired or
  revoked — or is overdue — the released data is no longer shown.
* `answer_item` (`Action.INBOX_ANSWER`): accepted, or declined with a reason code; decided on
  the sending case (`domain.case.inbox_rules`) and recorded there as the recipient
  organisation (`CaseUseCases.answer_referral`): the sender's case view shows the answer.
  One unit of work with its idempotency record (`unit_of_work.run_once`), keyed by the
  recipient's caller: a retry with the same `Idempotency-Key` gets the first answer.

An item of another organisation, or none, is 404 (`NotFound`), like a case of another
organisation. The list and the answer find items through the read model once it has caught
up (`caught_up`); the answer itself is decided on the sending case as stored.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import NamedTuple

import msgspec

from domain.case import commands as cmd
from domain.inbox.events import ReferralReceived, ReleasedRecord
from events.access_log import fail_closed, record_access
from events.errors import StreamErased, StreamNotFound
from projections import referral_inbox
from projections.referral_inbox import InboxItem, InboxSource
from services.authorisation import Action, CaseFacts, NotFound, require
from services.bootstrap import Runtime
from services.commands.case_access import acting_role
from services.commands.ports import Actor
from services.commands.unit_of_work import Answer, Idempotency, run_once
from services.identity import Principal

CLOSED_TO_RECIPIENT = frozenset({"declined", "expired", "revoked"})


WITHOUT_KEY = Idempotency(None, b"")  # a request without an Idempotency-Key (the console)


class ReferralAnswered(msgspec.Struct, frozen=True, kw_only=True):
    """An answer's body, stored in plain with its Idempotency-Key: ids and codes only."""

    item_id: uuid.UUID
    status: str


class OpenedItem(NamedTuple):
    item: InboxItem
    released: ReleasedRecord | None  # None once the referral is no longer the recipient's


def _facts(principal: Principal, found: object | None) -> CaseFacts | None:
    """An item's facts: its recipient organisation alone (the caller's, when found there)."""
    if found is None:
        return None
    return CaseFacts(organisation_id=principal.organisation_id, worker_id=None, team_id=None)


async def list_items(
    runtime: Runtime, principal: Principal, today: dt.date, *, waiting_only: bool = False
) -> list[InboxItem]:
    require(principal, Action.INBOX_LIST, None)
    return await referral_inbox.inbox_items(
        runtime.pool, principal.organisation_id, today, waiting_only=waiting_only
    )


async def read_item(
    runtime: Runtime,
    principal: Principal,
    request_id: str | None,
    item_id: uuid.UUID,
    today: dt.date,
) -> OpenedItem:
    tenant = principal.organisation_id
    item = await referral_inbox.inbox_item(runtime.pool, tenant, item_id, today)
    decision = require(principal, Action.INBOX_READ, _facts(principal, item))
    assert item is not None
    try:
        recorded = await runtime.store.read_stream(tenant, item_id)
    except (StreamNotFound, StreamErased):
        raise NotFound() from None
    received = recorded[0].event if recorded else None
    if not isinstance(received, ReferralReceived):
        raise NotFound()
    async with fail_closed(runtime.store.transaction(), item_id) as conn:
        await record_access(
            conn,
            tenant_id=tenant,
            case_id=item_id,
            actor_id=principal.user_id,
            role=acting_role(principal, Action.INBOX_READ, decision.basis),
            part="referral",
            basis=str(decision.basis),
            request_id=request_id,
        )
    shown = item.status not in CLOSED_TO_RECIPIENT and not item.overdue
    return OpenedItem(item, received.released if shown else None)


async def waiting_source(runtime: Runtime, principal: Principal, item_id: uuid.UUID) -> InboxSource:
    """The item's referral on the sending case, once the caller may answer it."""
    source = await referral_inbox.inbox_source(runtime.pool, principal.organisation_id, item_id)
    require(principal, Action.INBOX_ANSWER, _facts(principal, source))
    assert source is not None
    return source


async def answer_item(
    runtime: Runtime,
    principal: Principal,
    request_id: str | None,
    item_id: uuid.UUID,
    status: str,
    answered_on: dt.date,
    reason: str | None,
    idempotent: Idempotency = WITHOUT_KEY,
) -> Answer:
    """Accept or decline, answered 200 `ReferralAnswered` (the sending case's version is never
    shown to the recipient); the stored answer's subject is the item, the recipient's."""
    source = await waiting_source(runtime, principal, item_id)
    actor = Actor(principal.user_id, principal.organisation_id, request_id)
    command = cmd.AnswerReferral(
        referral_id=source.referral_id, status=status, answered_on=answered_on, reason=reason
    )
    return await run_once(
        runtime,
        actor,
        idempotent,
        200,
        lambda use_cases: use_cases.answer_referral(
            actor, source.from_organisation, str(source.sending_case_id), command
        ),
        lambda _version: ReferralAnswered(item_id=item_id, status=status),
        str(item_id),
    )
