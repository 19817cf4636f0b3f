"""Events of the case aggregate: frozen, past tense, explicit stable tags, schema versions.

Codes are strings from the codebook (never enums), so new categories need no migration.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from domain.case.values import (
    Demographics,
    Identity,
    Intake,
    SafeContact,
    TraffickingContext,
    VictimStatus,
)
from domain.event import DomainEvent


class CaseOpened(DomainEvent, frozen=True, kw_only=True, tag="case.opened"):
    """Intake. Each data-category group is optional so that a case received by transfer holds
    only what the survivor's consent released.

    v2: `Demographics.lgbtq` became yes/no/unknown (v1 stored a nullable boolean).
    """

    schema_version: ClassVar[int] = 2
    case_id: str
    organisation_id: str
    intake: Intake
    victim_status: VictimStatus | None = None
    identity: Identity | None = None
    contact: SafeContact | None = None
    demographics: Demographics | None = None
    trafficking: TraffickingContext | None = None
    worker_id: str
    team_id: str
    transferred_in: bool = False


def upcast_case_opened_v1(document: dict[str, Any]) -> dict[str, Any]:
    demographics = document.get("demographics")
    if demographics is not None and "lgbtq" in demographics:
        old = demographics["lgbtq"]
        demographics["lgbtq"] = "unknown" if old is None else ("yes" if old else "no")
    return document


class VictimStatusDetermined(
    DomainEvent, frozen=True, kw_only=True, tag="case.victim_status_determined"
):
    victim_status: VictimStatus


class TraffickingContextUpdated(
    DomainEvent, frozen=True, kw_only=True, tag="case.trafficking_context_updated"
):
    trafficking: TraffickingContext


class ConsentGranted(DomainEvent, frozen=True, kw_only=True, tag="case.consent_granted"):
    """A written, informed, time-limited release (the nine elements of a 42 CFR Part 2
    consent: client, discloser, what data, recipient, purpose, right to revoke, expiry,
    signature, date)."""

    consent_id: str
    recipient_organisation: str
    purpose: str
    data_categories: tuple[str, ...]
    starts_on: dt.date
    expires_on: dt.date
    signed_on: dt.date
    signed_by: str  # client / guardian
    revocation_explained: bool
    written: bool


class ConsentRevoked(DomainEvent, frozen=True, kw_only=True, tag="case.consent_revoked"):
    consent_id: str
    revoked_on: dt.date
    method: str  # written / oral
    recorded_by: str


class StatisticsConsentRecorded(
    DomainEvent, frozen=True, kw_only=True, tag="case.statistics_consent_recorded"
):
    agrees: bool
    recorded_on: dt.date


class NeedsAssessed(DomainEvent, frozen=True, kw_only=True, tag="case.needs_assessed"):
    assessment_id: str
    assessed_on: dt.date
    needs: tuple[str, ...]  # service categories
    notes: str | None = None  # sensitive


class GoalSet(DomainEvent, frozen=True, kw_only=True, tag="case.goal_set"):
    goal_id: str
    category: str
    description: str  # sensitive
    set_on: dt.date
    target_on: dt.date | None = None


class GoalStatusChanged(DomainEvent, frozen=True, kw_only=True, tag="case.goal_status_changed"):
    goal_id: str
    status: str
    changed_on: dt.date


class ReferralProposed(DomainEvent, frozen=True, kw_only=True, tag="case.referral_proposed"):
    referral_id: str
    kind: str  # internal / external
    category: str
    recipient: str  # a team (internal) or a partner organisation (external)
    purpose: str
    proposed_on: dt.date
    consent_id: str | None = None  # external only
    released_categories: tuple[str, ...] = ()  # exactly what leaves the organisation
    notes: str | None = None  # sensitive


class ReferralStatusChanged(
    DomainEvent, frozen=True, kw_only=True, tag="case.referral_status_changed"
):
    referral_id: str
    status: str
    changed_on: dt.date
    reason: str | None = None  # codebook decline_reason / revoke_reason
    # sent to a partner organisation of this deployment: it answers in its inbox by this day
    # (`domain.case.inbox_rules`), or the referral expires
    answer_by: dt.date | None = None


class ServiceDelivered(DomainEvent, frozen=True, kw_only=True, tag="case.service_delivered"):
    service_id: str
    category: str
    delivered_on: dt.date
    units: int = 1
    minutes: int | None = None
    provider: str  # "internal" or a partner organisation id
    referral_id: str | None = None
    notes: str | None = None  # sensitive


class OutcomeAssessed(DomainEvent, frozen=True, kw_only=True, tag="case.outcome_assessed"):
    assessment_id: str
    assessed_on: dt.date
    scores: dict[str, int]  # outcome domain -> 1..5


class ImmigrationStepRecorded(
    DomainEvent, frozen=True, kw_only=True, tag="case.immigration_step_recorded"
):
    milestone_id: str
    kind: str  # codebook immigration_kind
    step: str
    on: dt.date
    family_relation: str | None = None  # Supplement A derivatives
    receipt_number: str | None = None  # sensitive
    expires_on: dt.date | None = None  # Continued Presence


class CaseAssigned(DomainEvent, frozen=True, kw_only=True, tag="case.assigned"):
    worker_id: str
    team_id: str
    assigned_on: dt.date


class TransferRequested(DomainEvent, frozen=True, kw_only=True, tag="case.transfer_requested"):
    """The assigned worker asks another organisation to take the case over (under the client's
    consent). Nothing leaves the case until the recipient accepts (`CaseTransferred`) or it
    declines (`TransferDeclined`). `transfer_id` is also the id the receiving case will have."""

    transfer_id: str
    recipient_organisation: str
    consent_id: str
    requested_on: dt.date
    receiving_worker_id: str
    receiving_team_id: str
    living_situation: str = "unknown"


class TransferDeclined(DomainEvent, frozen=True, kw_only=True, tag="case.transfer_declined"):
    transfer_id: str
    declined_on: dt.date
    reason: str | None = None  # sensitive: the receiving organisation's words


class CaseTransferred(DomainEvent, frozen=True, kw_only=True, tag="case.transferred"):
    recipient_organisation: str
    consent_id: str
    released_categories: tuple[str, ...]
    transferred_on: dt.date
    receiving_case_id: str


class CaseClosed(DomainEvent, frozen=True, kw_only=True, tag="case.closed"):
    """TVAP/DVHT "Client Case Closure"."""

    closed_on: dt.date
    reason: str
    living_situation: str
    obtained_continued_presence: bool = False
    obtained_t_visa: bool = False
    obtained_hhs_letter: bool = False
    referred_for_case_management: bool = False


class CaseReopened(DomainEvent, frozen=True, kw_only=True, tag="case.reopened"):
    reopened_on: dt.date
    reason: str | None = None  # sensitive


CASE_EVENTS: tuple[type[DomainEvent], ...] = (
    CaseOpened,
    VictimStatusDetermined,
    TraffickingContextUpdated,
    ConsentGranted,
    ConsentRevoked,
    StatisticsConsentRecorded,
    NeedsAssessed,
    GoalSet,
    GoalStatusChanged,
    ReferralProposed,
    ReferralStatusChanged,
    ServiceDelivered,
    OutcomeAssessed,
    ImmigrationStepRecorded,
    CaseAssigned,
    CaseTransferred,
    CaseClosed,
    CaseReopened,
    TransferRequested,
    TransferDeclined,
)
CASE_UPCASTERS = {("case.opened", 1): upcast_case_opened_v1}

CaseEvent = (
    CaseOpened
    | VictimStatusDetermined
    | TraffickingContextUpdated
    | ConsentGranted
    | ConsentRevoked
    | StatisticsConsentRecorded
    | NeedsAssessed
    | GoalSet
    | GoalStatusChanged
    | ReferralProposed
    | ReferralStatusChanged
    | ServiceDelivered
    | OutcomeAssessed
    | ImmigrationStepRecorded
    | CaseAssigned
    | CaseTransferred
    | CaseClosed
    | CaseReopened
    | TransferRequested
    | TransferDeclined
)
