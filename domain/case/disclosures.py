"""Which events of a case release its data to another organisation, and what they release.

A referral's data leaves the organisation when the referral is *sent* (an external one, under
its consent: `care_rules.update_referral` checks the consent still holds then); a transfer's
when the case is transferred. Proposing, requesting or declining releases nothing. Pure: the
access log records each release by the version of its event (`events.disclosures`), and
`release_of` reads what it released back from that event.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from domain.case import events as ev
from domain.case.state import CaseState
from domain.event import DomainEvent


class Release(NamedTuple):
    part: str  # what carried it: "referral" or "transfer"
    recipient: str  # the receiving organisation
    categories: tuple[str, ...]  # codebook data_category codes
    consent_id: str | None


def release_of(state: CaseState, event: DomainEvent | None) -> Release | None:
    """What `event` released, if it is a release; `state` holds its referral (any later state
    of the case does: a referral's proposal never changes)."""
    if isinstance(event, ev.ReferralStatusChanged) and event.status == "sent":
        referral = state.referrals.get(event.referral_id)
        if referral is not None and referral.proposed.kind == "external":
            proposed = referral.proposed
            return Release(
                "referral", proposed.recipient, proposed.released_categories, proposed.consent_id
            )
    elif isinstance(event, ev.CaseTransferred):
        return Release(
            "transfer", event.recipient_organisation, event.released_categories, event.consent_id
        )
    return None


def releases(state: CaseState, events: Sequence[DomainEvent]) -> list[tuple[int, Release]]:
    """The releases `events`, appended to `state`, make, with the version of each one's event."""
    found = []
    for index, event in enumerate(events, start=state.version + 1):
        release = release_of(state, event)
        if release is not None:
            found.append((index, release))
    return found


def releases_by_version(
    state: CaseState, recorded: Iterable[tuple[int, DomainEvent | None]]
) -> dict[int, Release]:
    """Every release of a case's history (`(version, event)` pairs, `state` its fold), by the
    version of its event: what a disclosure record's `event_version` names."""
    found = {}
    for version, event in recorded:
        release = release_of(state, event)
        if release is not None:
            found[version] = release
    return found
