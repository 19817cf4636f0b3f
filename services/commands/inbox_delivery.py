"""Sending a referral to a partner organisation of this deployment puts it in that
organisation's inbox (`domain.case.inbox_rules`, `domain.inbox`).

`routed` marks the command that sends an external referral with the deployment's answer
period when its recipient is a partner organisation of this deployment (`InboxRouting.
is_partner`: `projections.organisations.is_partner_in_deployment`); any other referral is
sent as before, to an organisation outside Haven. `deliveries` names the inbox items the
decided events make: the use case appends each, as a new stream of the recipient's, in the
transaction that appends the sending case's events (`CaseUseCases.execute`), so a referral
is in the inbox exactly when it is sent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NamedTuple

from msgspec.structs import replace

from domain.case import commands as cmd
from domain.case import events as ev
from domain.case.state import CaseState, fold
from domain.event import DomainEvent
from domain.inbox.events import ReferralReceived
from domain.inbox.release import received
from projections.organisations import PARTNERS, PROFILES, is_partner_in_deployment


class InboxRouting(NamedTuple):
    """Whether a recipient answers in Haven, and how long it has to."""

    is_partner: Callable[[str, str], Awaitable[bool]]  # (organisation, recipient)
    answer_days: int


class Delivery(NamedTuple):
    recipient: str  # the organisation whose inbox receives it
    item: ReferralReceived


async def routed(
    routing: InboxRouting | None, state: CaseState, command: cmd.Command
) -> cmd.Command:
    """`command`, marked for the recipient's inbox when it sends an external referral to a
    partner organisation of this deployment."""
    if (
        routing is None
        or not isinstance(command, cmd.UpdateReferral)
        or command.status != "sent"
        or state.organisation_id is None
    ):
        return command
    referral = state.referrals.get(command.referral_id)
    if referral is None or referral.proposed.kind != "external":
        return command
    if not await routing.is_partner(state.organisation_id, referral.proposed.recipient):
        return command
    return replace(command, answer_days=routing.answer_days)


def deliveries(state: CaseState, events: Sequence[DomainEvent]) -> list[Delivery]:
    """The inbox items `events`, appended to `state`, send."""
    sent = [
        e
        for e in events
        if isinstance(e, ev.ReferralStatusChanged) and e.status == "sent" and e.answer_by
    ]
    if not sent:
        return []
    after = fold(enumerate(events, start=state.version + 1), state)
    return [
        Delivery(after.referrals[e.referral_id].proposed.recipient, received(after, e))
        for e in sent
    ]


def partner_routing(conn: Any, answer_days: int) -> InboxRouting:
    """Routing by the organisations' read model, on `conn` (the command's own connection: a
    second one from the pool could wait forever under load). Before that read model is first
    built no partner is known, and the query is not even tried: a failed statement would
    abort the command's transaction."""

    async def is_partner(organisation_id: str, recipient: str) -> bool:
        built = await conn.fetchval(
            "SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NOT NULL",
            PARTNERS,
            PROFILES,
        )
        return bool(built) and await is_partner_in_deployment(conn, organisation_id, recipient)

    return InboxRouting(is_partner, answer_days)


def from_organisation(organisation_id: str) -> str:
    """Who the recipient's item records as its author: the sending organisation, never one of
    its staff (user ids of one organisation stay out of another's)."""
    return f"referral-from:{organisation_id}"
