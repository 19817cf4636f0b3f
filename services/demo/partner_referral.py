"""A referral between two demo organisations of the same deployment, so that an inbox has one
waiting: the last demo organisation (`org-meadow` by default) refers the client of one of its
open cases to its partner, the first (`org-harbor`, whose people `haven serve --demo` prints
tokens for; `organisation_profiles` makes each organisation's partner the next one). The
client signs a release of identity, contact, needs and trafficking to the partner; the
referral releases identity, contact and needs. Sent on the plan's `today`, it waits in the
partner's inbox (`GET /v1/inbox`, the console's inbox) until its answer-by day.

Written last (after the organisations, `seed_organisations`) through `CaseUseCases`, so the inbox
item, the disclosure record and the sending case's events commit together as they do through
the API. The routing decides on the organisations' own streams, by the rule of the read model
(`projections.organisations.is_partner_in_deployment`: an active partner with a profile
here), since no read model is built while the demo seeds.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from domain.case import commands as cmd
from domain.case.state import CaseState, fold
from events.store import PostgresEventStore
from services.commands.inbox_delivery import InboxRouting
from services.commands.ports import Actor
from services.commands.use_cases import CaseUseCases
from services.demo.plan import DemoPlan, demo_now
from services.organisations.command import read_organisation

CONSENTED = ("contact", "identity", "needs", "trafficking")
RELEASED = ("contact", "identity", "needs")
CONSENT_ID, REFERRAL_ID = "consent-partner-1", "referral-partner-1"


class PartnerReferral(NamedTuple):
    sender: str  # the sending organisation
    recipient: str  # the partner whose inbox holds the referral
    case_id: str  # the sending case (the sender's; never shown to the recipient)


def sending_case(plan: DemoPlan) -> tuple[str, str, CaseState] | None:
    """(sender, recipient, case): the sender's open case with the latest intake, not waiting
    for a transfer; None when the plan has one organisation or the sender no open case."""
    if len(plan.organisations) < 2:
        return None
    sender, recipient = plan.organisations[-1], plan.organisations[0]
    candidates = [
        fold(enumerate(events, start=1))
        for (organisation, _), events in sorted(plan.streams.items())
        if organisation == sender
    ]
    open_cases = [
        state
        for state in candidates
        if state.exists
        and not state.is_closed
        and state.transfer is None
        and state.pending_transfer is None
        and state.intake is not None
    ]
    if not open_cases:
        return None
    latest = max(open_cases, key=lambda s: s.intake.intake_on if s.intake else dt.date.min)
    return sender, recipient, latest


def _routing(store: PostgresEventStore, answer_days: int) -> InboxRouting:
    async def is_partner(organisation_id: str, recipient: str) -> bool:
        sender = await read_organisation(store, organisation_id)
        partner = sender.active_partner(recipient) is not None
        return partner and (await read_organisation(store, recipient)).in_deployment

    return InboxRouting(is_partner, answer_days)


async def seed_partner_referral(
    store: PostgresEventStore, plan: DemoPlan, answer_days: int
) -> PartnerReferral | None:
    """Release, propose and send the referral (module doc) on a case the plan wrote; None
    when the plan has no case to send it from."""
    chosen = sending_case(plan)
    if chosen is None:
        return None
    sender, recipient, planned = chosen
    today = plan.today
    moment = demo_now(today)
    use_cases = CaseUseCases(store, clock=lambda: moment, inbox=_routing(store, answer_days))
    # as written: what was seeded after the plan (`identification`) may have added to it
    state = await use_cases.load(sender, str(planned.case_id))
    assert state.case_id is not None and state.worker_id is not None
    actor = Actor(state.worker_id, sender, "demo-partner-referral")
    age = state.age_on(today)
    consent = cmd.GrantConsent(
        consent_id=CONSENT_ID,
        recipient_organisation=recipient,
        purpose="care_coordination",
        data_categories=CONSENTED,
        starts_on=today,
        expires_on=today + dt.timedelta(days=180),
        signed_on=today,
        signed_by="guardian" if age is not None and age < 18 else "client",
        revocation_explained=True,
        written=True,
    )
    version = await use_cases.record_consent(actor, state.case_id, consent, state.version)
    referral = cmd.ProposeReferral(
        referral_id=REFERRAL_ID,
        kind="external",
        category="case_management",
        recipient=recipient,
        purpose="care_coordination",
        proposed_on=today,
        consent_id=CONSENT_ID,
        released_categories=RELEASED,
    )
    version = await use_cases.refer(actor, state.case_id, referral, version)
    sent = cmd.UpdateReferral(referral_id=REFERRAL_ID, status="sent", changed_on=today)
    await use_cases.update_referral(actor, state.case_id, sent, version)
    return PartnerReferral(sender, recipient, state.case_id)
