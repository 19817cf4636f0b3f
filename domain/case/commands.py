"""Commands on a case: what a user asks for. `decide` turns each into events or an error."""

from __future__ import annotations

import datetime as dt

import msgspec

from domain.case.values import (
    Demographics,
    Identity,
    Intake,
    SafeContact,
    TraffickingContext,
    VictimStatus,
)


class Command(msgspec.Struct, frozen=True, kw_only=True):
    pass


class OpenCase(Command, frozen=True, kw_only=True):
    case_id: str
    organisation_id: str
    intake: Intake
    victim_status: VictimStatus
    identity: Identity
    contact: SafeContact
    demographics: Demographics
    trafficking: TraffickingContext
    worker_id: str
    team_id: str


class DetermineVictimStatus(Command, frozen=True, kw_only=True):
    victim_status: VictimStatus


class UpdateTraffickingContext(Command, frozen=True, kw_only=True):
    trafficking: TraffickingContext


class GrantConsent(Command, frozen=True, kw_only=True):
    consent_id: str
    recipient_organisation: str
    purpose: str
    data_categories: tuple[str, ...]
    starts_on: dt.date
    expires_on: dt.date
    signed_on: dt.date
    signed_by: str = "client"
    revocation_explained: bool
    written: bool


class RevokeConsent(Command, frozen=True, kw_only=True):
    consent_id: str
    revoked_on: dt.date
    method: str  # written / oral


class RecordStatisticsConsent(Command, frozen=True, kw_only=True):
    agrees: bool
    recorded_on: dt.date


class AssessNeeds(Command, frozen=True, kw_only=True):
    assessment_id: str
    assessed_on: dt.date
    needs: tuple[str, ...]
    notes: str | None = None


class SetGoal(Command, frozen=True, kw_only=True):
    goal_id: str
    category: str
    description: str
    set_on: dt.date
    target_on: dt.date | None = None


class ChangeGoalStatus(Command, frozen=True, kw_only=True):
    goal_id: str
    status: str
    changed_on: dt.date


class ProposeReferral(Command, frozen=True, kw_only=True):
    referral_id: str
    kind: str
    category: str
    recipient: str
    purpose: str
    proposed_on: dt.date
    consent_id: str | None = None
    released_categories: tuple[str, ...] = ()
    notes: str | None = None


class UpdateReferral(Command, frozen=True, kw_only=True):
    referral_id: str
    status: str
    changed_on: dt.date
    reason: str | None = None
    # set by the service, never by a request: the recipient is a partner organisation of this
    # deployment, which answers in its inbox within this many days
    answer_days: int | None = None


class AnswerReferral(Command, frozen=True, kw_only=True):
    """The recipient organisation's answer, from its inbox: accepted, or declined with a
    reason (codebook decline_reason)."""

    referral_id: str
    status: str
    answered_on: dt.date
    reason: str | None = None


class ExpireReferral(Command, frozen=True, kw_only=True):
    """The rule: a referral in a partner's inbox unanswered past its day expires."""

    referral_id: str
    expired_on: dt.date


class RecordService(Command, frozen=True, kw_only=True):
    service_id: str
    category: str
    delivered_on: dt.date
    units: int = 1
    minutes: int | None = None
    provider: str = "internal"
    referral_id: str | None = None
    notes: str | None = None


class AssessOutcome(Command, frozen=True, kw_only=True):
    assessment_id: str
    assessed_on: dt.date
    scores: dict[str, int]


class RecordImmigrationStep(Command, frozen=True, kw_only=True):
    milestone_id: str
    kind: str
    step: str
    on: dt.date
    family_relation: str | None = None
    receipt_number: str | None = None
    expires_on: dt.date | None = None


class AssignCase(Command, frozen=True, kw_only=True):
    worker_id: str
    team_id: str
    assigned_on: dt.date


class RequestTransfer(Command, frozen=True, kw_only=True):
    """Ask `recipient_organisation` to take the case over; `transfer_id` becomes its case's id."""

    transfer_id: str
    recipient_organisation: str
    consent_id: str
    requested_on: dt.date
    receiving_worker_id: str
    receiving_team_id: str
    living_situation: str = "unknown"


class DeclineTransfer(Command, frozen=True, kw_only=True):
    transfer_id: str
    declined_on: dt.date
    reason: str | None = None


class TransferCase(Command, frozen=True, kw_only=True):
    """Carry the transfer out (the recipient accepted): close here, open there. When a request
    is pending it must be that request (`receiving_case_id` is its `transfer_id`)."""

    recipient_organisation: str
    consent_id: str
    transferred_on: dt.date
    receiving_case_id: str
    receiving_worker_id: str
    receiving_team_id: str
    living_situation: str = "unknown"


class CloseCase(Command, frozen=True, kw_only=True):
    closed_on: dt.date
    reason: str
    living_situation: str
    obtained_continued_presence: bool = False
    obtained_t_visa: bool = False
    obtained_hhs_letter: bool = False
    referred_for_case_management: bool = False


class ReopenCase(Command, frozen=True, kw_only=True):
    reopened_on: dt.date
    reason: str | None = None
