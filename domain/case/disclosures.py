"""Which events of a case release its data to another organisation, and what they release.

A referral's data leaves the organisation when the referral is *sent* (an external one, under
its consent: `care_rules.update_referral` checks the consent still holds then); a transfer's
when the case is transferred. Proposing, requesting or declining releases nothing. Pure: the
access log records what this names (`events.disclosures`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from domain.case import events as ev
from domain.case.state import CaseState
from domain.event import DomainEvent


class Release(NamedTuple):
    part: str  # what carried it: "referral" or "transfer"
    recipient: str  # the receiving organisation
    categories: tuple[str, ...]  # codebook data_category codes
    consent_id: str | None


def releases(state: CaseState, events: Sequence[DomainEvent]) -> list[Release]:
    """The releases `events`, appended to `state`, make."""
    found = []
    for event in events:
        if isinstance(event, ev.ReferralStatusChanged) and event.status == "sent":
            referral = state.referrals.get(event.referral_id)
            if referral is not None and referral.proposed.kind == "external":
                proposed = referral.proposed
                found.append(
                    Release(
                        "referral",
                        proposed.recipient,
                        proposed.released_categories,
                        proposed.consent_id,
                    )
                )
        elif isinstance(event, ev.CaseTransferred):
            found.append(
                Release(
                    "transfer",
                    event.recipient_organisation,
                    event.released_categories,
                    event.consent_id,
                )
            )
    return found
