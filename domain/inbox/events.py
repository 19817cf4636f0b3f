"""The event of an inbox item: a referral as its recipient organisation received it.

The item is a stream of its own in the *recipient's* organisation, sealed with that
organisation's keys: it holds the referral's terms and exactly the data categories the
survivor's consent released, copied from the sending case when the referral was sent
(`domain.inbox.release`). Its answer is not here: the referral's status lives on the sending
case (`domain.case.inbox_rules`), the one record both sides read.
"""

from __future__ import annotations

import datetime as dt

import msgspec

from domain.case.values import (
    Demographics,
    Identity,
    SafeContact,
    TraffickingContext,
    VictimStatus,
)
from domain.event import DomainEvent


class ReleasedNeeds(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    assessed_on: dt.date
    needs: tuple[str, ...]  # service categories


class ReleasedOutcome(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    assessed_on: dt.date
    scores: dict[str, int]


class ReleasedMilestone(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    kind: str
    step: str
    on: dt.date


class ReleasedRecord(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """What the consent released, by data category; a category not released is empty. The
    other categories (services, referrals, health, legal) carry no structured record here:
    their names travel with the referral, their content is for the workers to exchange."""

    identity: Identity | None = None
    contact: SafeContact | None = None
    demographics: Demographics | None = None
    victim_status: VictimStatus | None = None  # with `trafficking`
    trafficking: TraffickingContext | None = None
    needs: tuple[ReleasedNeeds, ...] = ()
    outcomes: tuple[ReleasedOutcome, ...] = ()
    immigration: tuple[ReleasedMilestone, ...] = ()


class ReferralReceived(DomainEvent, frozen=True, kw_only=True, tag="inbox.referral_received"):
    item_id: str  # this stream's id (`domain.inbox.release.item_id`)
    from_organisation: str
    case_id: str  # the sending case: never shown to the recipient
    referral_id: str
    category: str  # codebook service_category
    purpose: str  # codebook consent_purpose
    consent_id: str | None
    released_categories: tuple[str, ...]
    sent_on: dt.date
    answer_by: dt.date
    released: ReleasedRecord


INBOX_EVENTS: tuple[type[DomainEvent], ...] = (ReferralReceived,)
