"""What a partner's inbox receives when a referral is sent: only what the consent released.

Pure. `received(state, sent)` builds the inbox item's event from the sending case as it is
once the referral is sent; `item_id` names the item's stream, the same whoever computes it,
so a referral can land in an inbox once only.
"""

from __future__ import annotations

import uuid

from domain.case import events as ev
from domain.case.state import CaseState
from domain.inbox.events import (
    ReferralReceived,
    ReleasedMilestone,
    ReleasedNeeds,
    ReleasedOutcome,
    ReleasedRecord,
)

_ITEMS = uuid.UUID("6d1b7c1e-3f0a-5e55-9c3e-2b8f4a1d7e60")  # the namespace of item ids


def item_id(from_organisation: str, case_id: str, referral_id: str) -> str:
    """The inbox item's stream id for this referral."""
    return str(uuid.uuid5(_ITEMS, f"{from_organisation}\x1f{case_id}\x1f{referral_id}"))


def released_record(state: CaseState, categories: frozenset[str]) -> ReleasedRecord:
    """The case's data in `categories`, and nothing else."""
    trafficking = "trafficking" in categories
    return ReleasedRecord(
        identity=state.identity if "identity" in categories else None,
        contact=state.contact if "contact" in categories else None,
        demographics=state.demographics if "demographics" in categories else None,
        victim_status=state.victim_status if trafficking else None,
        trafficking=state.trafficking if trafficking else None,
        needs=tuple(ReleasedNeeds(assessed_on=n.assessed_on, needs=n.needs) for n in state.needs)
        if "needs" in categories
        else (),
        outcomes=tuple(
            ReleasedOutcome(assessed_on=o.assessed_on, scores=o.scores) for o in state.outcomes
        )
        if "outcomes" in categories
        else (),
        immigration=tuple(
            ReleasedMilestone(kind=m.kind, step=m.step, on=m.on)
            for _, m in sorted(state.milestones.items())
        )
        if "immigration" in categories
        else (),
    )


def received(state: CaseState, sent: ev.ReferralStatusChanged) -> ReferralReceived:
    """The inbox item of the referral `sent` (a status change to "sent" with a day to answer
    by) sends, from `state` (the sending case)."""
    if sent.status != "sent" or sent.answer_by is None:
        raise ValueError("only a referral sent to an inbox is received")
    if state.case_id is None or state.organisation_id is None:
        raise ValueError("the sending case does not exist")
    proposed = state.referrals[sent.referral_id].proposed
    return ReferralReceived(
        item_id=item_id(state.organisation_id, state.case_id, sent.referral_id),
        from_organisation=state.organisation_id,
        case_id=state.case_id,
        referral_id=sent.referral_id,
        category=proposed.category,
        purpose=proposed.purpose,
        consent_id=proposed.consent_id,
        released_categories=proposed.released_categories,
        sent_on=sent.changed_on,
        answer_by=sent.answer_by,
        released=released_record(state, frozenset(proposed.released_categories)),
    )
