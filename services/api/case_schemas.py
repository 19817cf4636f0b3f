"""Request and response bodies of the case routes: the API's contract, kept apart from events.

Request bodies are strict: an unknown member anywhere (top level or nested) is refused with
422 `validation-error`, so a typo ("preferd_name") never silently drops data. Each nested
value type is a subclass of the domain value with `forbid_unknown_fields=True` and its nested
members re-declared with the strict types; `to_domain` converts a body to the plain domain
types before a command is built, so stored events never hold an API class.

Responses: `CommandAccepted` carries ids and versions only (idempotency stores it in plain);
`CaseView` renders the case for the caseworker who may read it.

Every example is synthetic ("Client Example", 555-01xx numbers, placeholder towns) and is
accepted by the service as it stands, in this order: open, service, consent, referral,
referral status, revocation, closure (`tests/api/test_case_routes.py` posts them); and open,
victim status, trafficking context, needs, goal, goal status, statistics consent, then (after
a consent to transfer, `TRANSFER_CONSENT_EXAMPLE`) the transfer
(`tests/api/test_case_command_routes.py`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, TypeVar

import msgspec
from litestar.openapi.spec import Example

from domain.case import commands as cmd
from domain.case import events as ev
from domain.case.state import CaseState
from domain.case.values import (
    ContactChannel,
    Demographics,
    FamilyServed,
    Identity,
    Intake,
    SafeContact,
    TraffickingContext,
    VictimStatus,
)
from domain.identifiers import IDENTIFIER_PATTERN, MAX_IDENTIFIER_LENGTH
from events.access_log import MAX_GRANT_MINUTES, MAX_REASON_CHARS, MIN_GRANT_MINUTES

T = TypeVar("T")
# An id named in a body (a worker, a team, an organisation): the domain's rule, `domain.identifiers`
Identifier = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_IDENTIFIER_LENGTH, pattern=IDENTIFIER_PATTERN)]


def to_domain(value: Any, domain_type: type[T]) -> T:
    """The plain domain value (or command) of an API body: no API subclass reaches an event."""
    return msgspec.convert(msgspec.to_builtins(value), domain_type)


# -- strict nested values -------------------------------------------------------------------


class FamilyServedIn(FamilyServed, forbid_unknown_fields=True, frozen=True, kw_only=True):
    pass


class IntakeIn(Intake, forbid_unknown_fields=True, frozen=True, kw_only=True):
    family_served: FamilyServedIn = FamilyServedIn()


class VictimStatusIn(VictimStatus, forbid_unknown_fields=True, frozen=True, kw_only=True):
    pass


class IdentityIn(Identity, forbid_unknown_fields=True, frozen=True, kw_only=True):
    pass


class ContactChannelIn(ContactChannel, forbid_unknown_fields=True, frozen=True, kw_only=True):
    pass


class SafeContactIn(SafeContact, forbid_unknown_fields=True, frozen=True, kw_only=True):
    channels: tuple[ContactChannelIn, ...] = ()


class DemographicsIn(Demographics, forbid_unknown_fields=True, frozen=True, kw_only=True):
    pass


class TraffickingIn(TraffickingContext, forbid_unknown_fields=True, frozen=True, kw_only=True):
    pass


# -- request bodies ---------------------------------------------------------------------------


class OpenCaseBody(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """Intake. The server sets the case id (a new UUID) and the organisation (the caller's);
    the worker and team default to the caller's own."""

    intake: IntakeIn
    victim_status: VictimStatusIn
    identity: IdentityIn
    contact: SafeContactIn = SafeContactIn()
    demographics: DemographicsIn = DemographicsIn()
    trafficking: TraffickingIn
    worker_id: Identifier | None = None
    team_id: Identifier | None = None

    def command(self, *, case_id: str, organisation_id: str, worker_id: str, team_id: str) -> cmd.OpenCase:
        return cmd.OpenCase(
            case_id=case_id, organisation_id=organisation_id,
            intake=to_domain(self.intake, Intake), victim_status=to_domain(self.victim_status, VictimStatus),
            identity=to_domain(self.identity, Identity), contact=to_domain(self.contact, SafeContact),
            demographics=to_domain(self.demographics, Demographics),
            trafficking=to_domain(self.trafficking, TraffickingContext),
            worker_id=self.worker_id or worker_id, team_id=self.team_id or team_id)


class RecordServiceBody(cmd.RecordService, forbid_unknown_fields=True, frozen=True, kw_only=True):
    def command(self) -> cmd.RecordService:
        return to_domain(self, cmd.RecordService)


class GrantConsentBody(cmd.GrantConsent, forbid_unknown_fields=True, frozen=True, kw_only=True):
    def command(self) -> cmd.GrantConsent:
        return to_domain(self, cmd.GrantConsent)


class RevokeConsentBody(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """The consent revoked is named by the path (`.../consents/{consent_id}/revocation`)."""

    revoked_on: dt.date
    method: str  # written / oral

    def command(self, consent_id: str) -> cmd.RevokeConsent:
        return cmd.RevokeConsent(consent_id=consent_id, revoked_on=self.revoked_on, method=self.method)


class ProposeReferralBody(cmd.ProposeReferral, forbid_unknown_fields=True, frozen=True, kw_only=True):
    def command(self) -> cmd.ProposeReferral:
        return to_domain(self, cmd.ProposeReferral)


class UpdateReferralBody(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """The referral is named by the path (`.../referrals/{referral_id}/status`)."""

    status: str
    changed_on: dt.date
    reason: str | None = None

    def command(self, referral_id: str) -> cmd.UpdateReferral:
        return cmd.UpdateReferral(referral_id=referral_id, status=self.status, changed_on=self.changed_on,
                                  reason=self.reason)


class CloseCaseBody(cmd.CloseCase, forbid_unknown_fields=True, frozen=True, kw_only=True):
    def command(self) -> cmd.CloseCase:
        return to_domain(self, cmd.CloseCase)


class AssessOutcomeBody(cmd.AssessOutcome, forbid_unknown_fields=True, frozen=True, kw_only=True):
    def command(self) -> cmd.AssessOutcome:
        return to_domain(self, cmd.AssessOutcome)


class ImmigrationStepBody(cmd.RecordImmigrationStep, forbid_unknown_fields=True, frozen=True, kw_only=True):
    def command(self) -> cmd.RecordImmigrationStep:
        return to_domain(self, cmd.RecordImmigrationStep)


class AssignCaseBody(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """A reassignment by the supervisor of the case's team. `team_id` defaults to the
    supervisor's own team, and naming any other team is refused (403): a supervisor moves
    cases within their team only."""

    worker_id: Identifier
    assigned_on: dt.date
    team_id: Identifier | None = None

    def command(self, team_id: str) -> cmd.AssignCase:
        return cmd.AssignCase(worker_id=self.worker_id, team_id=team_id, assigned_on=self.assigned_on)


class ReopenCaseBody(cmd.ReopenCase, forbid_unknown_fields=True, frozen=True, kw_only=True):
    def command(self) -> cmd.ReopenCase:
        return to_domain(self, cmd.ReopenCase)


class VictimStatusBody(VictimStatusIn, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """A (re)determination of victim status: the body is the status itself."""

    def command(self) -> cmd.DetermineVictimStatus:
        return cmd.DetermineVictimStatus(victim_status=to_domain(self, VictimStatus))


class TraffickingContextBody(TraffickingIn, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """The case's whole trafficking context, replacing the one recorded before."""

    def command(self) -> cmd.UpdateTraffickingContext:
        return cmd.UpdateTraffickingContext(trafficking=to_domain(self, TraffickingContext))


class AssessNeedsBody(cmd.AssessNeeds, forbid_unknown_fields=True, frozen=True, kw_only=True):
    def command(self) -> cmd.AssessNeeds:
        return to_domain(self, cmd.AssessNeeds)


class SetGoalBody(cmd.SetGoal, forbid_unknown_fields=True, frozen=True, kw_only=True):
    def command(self) -> cmd.SetGoal:
        return to_domain(self, cmd.SetGoal)


class ChangeGoalStatusBody(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """The goal is named by the path (`.../goals/{goal_id}/status`)."""

    status: str
    changed_on: dt.date

    def command(self, goal_id: str) -> cmd.ChangeGoalStatus:
        return cmd.ChangeGoalStatus(goal_id=goal_id, status=self.status, changed_on=self.changed_on)


class StatisticsConsentBody(cmd.RecordStatisticsConsent, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """Whether the client agrees that their de-identified data count in federal statistics;
    recorded again whenever they change their mind (also on a closed case)."""

    def command(self) -> cmd.RecordStatisticsConsent:
        return to_domain(self, cmd.RecordStatisticsConsent)


class TransferCaseBody(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """A request that another organisation take the case over, under the client's consent
    (purpose `case_transfer`, naming that organisation). The server sets the transfer's id
    (also the receiving case's); the receiving worker and team are those the receiving
    organisation named for the hand-over, and they answer it."""

    recipient_organisation: Identifier
    consent_id: str
    requested_on: dt.date
    receiving_worker_id: Identifier
    receiving_team_id: Identifier
    living_situation: str = "unknown"

    def command(self, transfer_id: str) -> cmd.RequestTransfer:
        return cmd.RequestTransfer(
            transfer_id=transfer_id, recipient_organisation=self.recipient_organisation, consent_id=self.consent_id,
            requested_on=self.requested_on, receiving_worker_id=self.receiving_worker_id,
            receiving_team_id=self.receiving_team_id, living_situation=self.living_situation)


class AcceptTransferBody(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    accepted_on: dt.date


class DeclineTransferBody(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    declined_on: dt.date
    reason: str | None = None  # sealed into the sending case; its worker reads it


class BreakGlassBody(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """Why the supervisor needs the case now, and for how long. The reason is sealed with the
    case's data key; only the privacy officer reads it (`GET .../access-log`)."""

    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_REASON_CHARS)]
    minutes: Annotated[int, msgspec.Meta(ge=MIN_GRANT_MINUTES, le=MAX_GRANT_MINUTES)]


# -- responses --------------------------------------------------------------------------------


class CommandAccepted(msgspec.Struct, frozen=True):
    """The case's id and its version after the command. Never case content: stored in plain
    by the idempotency table."""

    case_id: str
    version: int


class TransferAsked(msgspec.Struct, frozen=True, kw_only=True):
    """The case's id and version, and the transfer's id (the receiving case's id, once it is
    accepted). Ids only: stored in plain like `CommandAccepted`."""

    case_id: str
    version: int
    transfer_id: str


class TransferDeclinedAnswer(msgspec.Struct, frozen=True, kw_only=True):
    transfer_id: str
    status: str  # "declined"


class BreakGlassGranted(msgspec.Struct, frozen=True):
    grant_id: uuid.UUID
    expires_at: dt.datetime


class HistoryEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One event of the case's timeline: its type and time, never its payload."""

    version: int
    recorded_at: dt.datetime
    event_type: str
    actor_id: str | None


class AccessRecordView(msgspec.Struct, frozen=True, kw_only=True):
    accessed_at: dt.datetime
    actor_id: str
    role: str
    part: str
    basis: str
    grant_id: uuid.UUID | None
    request_id: str | None


class GrantView(msgspec.Struct, frozen=True, kw_only=True):
    grant_id: uuid.UUID
    actor_id: str
    granted_at: dt.datetime
    expires_at: dt.datetime
    reason: str


class AccessLogView(msgspec.Struct, frozen=True, kw_only=True):
    """For the privacy officer: who read the case (newest first) and every break-the-glass
    grant with its reason opened (newest first)."""

    case_id: str
    records: list[AccessRecordView]
    grants: list[GrantView]


class ConsentView(msgspec.Struct, frozen=True, kw_only=True):
    consent_id: str
    recipient_organisation: str
    purpose: str
    data_categories: tuple[str, ...]
    starts_on: dt.date
    expires_on: dt.date
    signed_on: dt.date
    signed_by: str
    revoked_on: dt.date | None = None
    revocation_method: str | None = None


class ReferralView(msgspec.Struct, frozen=True, kw_only=True):
    referral_id: str
    kind: str
    category: str
    recipient: str
    purpose: str
    proposed_on: dt.date
    status: str
    history: tuple[tuple[str, dt.date], ...]
    consent_id: str | None = None
    released_categories: tuple[str, ...] = ()
    notes: str | None = None


class ServiceView(msgspec.Struct, frozen=True, kw_only=True):
    service_id: str
    category: str
    delivered_on: dt.date
    units: int
    minutes: int | None
    provider: str
    referral_id: str | None
    notes: str | None


class OutcomeView(msgspec.Struct, frozen=True, kw_only=True):
    assessment_id: str
    assessed_on: dt.date
    scores: dict[str, int]


class ClosureView(msgspec.Struct, frozen=True, kw_only=True):
    closed_on: dt.date
    reason: str
    living_situation: str
    obtained_continued_presence: bool
    obtained_t_visa: bool
    obtained_hhs_letter: bool
    referred_for_case_management: bool


class MilestoneView(msgspec.Struct, frozen=True, kw_only=True):
    milestone_id: str
    kind: str
    step: str
    on: dt.date
    history: tuple[tuple[str, dt.date], ...]
    family_relation: str | None = None
    expires_on: dt.date | None = None


class NeedsView(msgspec.Struct, frozen=True, kw_only=True):
    assessment_id: str
    assessed_on: dt.date
    needs: tuple[str, ...]
    notes: str | None


class GoalView(msgspec.Struct, frozen=True, kw_only=True):
    goal_id: str
    category: str
    description: str
    set_on: dt.date
    target_on: dt.date | None
    status: str


class PendingTransferView(msgspec.Struct, frozen=True, kw_only=True):
    transfer_id: str
    recipient_organisation: str
    consent_id: str
    requested_on: dt.date
    receiving_worker_id: str
    receiving_team_id: str


class DeclinedTransferView(msgspec.Struct, frozen=True, kw_only=True):
    transfer_id: str
    declined_on: dt.date
    reason: str | None


class CaseView(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """The case as its caseworker sees it. `immigration` is present only for a caller who may
    read immigration details (the assigned worker); otherwise the member is absent."""

    case_id: str
    version: int
    worker_id: str | None
    team_id: str | None
    intake: Intake | None
    victim_status: VictimStatus | None
    identity: Identity | None
    contact: SafeContact | None
    demographics: Demographics | None
    trafficking: TraffickingContext | None
    consents: list[ConsentView]
    referrals: list[ReferralView]
    services: list[ServiceView]
    outcomes: list[OutcomeView]
    needs: list[NeedsView]
    goals: list[GoalView]
    statistics_consent: bool | None  # None: not asked yet
    closure: ClosureView | None = None
    immigration: list[MilestoneView] | None = None
    pending_transfer: PendingTransferView | None = None  # asked of another organisation, not answered
    declined_transfers: list[DeclinedTransferView] | None = None


def _fields(view_type: type[T], source: Any, **extra: Any) -> T:
    names = [name for name in view_type.__struct_fields__ if name not in extra]  # type: ignore[attr-defined]
    return view_type(**{name: getattr(source, name) for name in names if hasattr(source, name)}, **extra)


def case_view(state: CaseState, *, include_immigration: bool) -> CaseView:
    consents = []
    for consent_id, consent in sorted(state.consents.items()):
        revoked: ev.ConsentRevoked | None = consent.revoked
        consents.append(_fields(ConsentView, consent.granted, consent_id=consent_id,
                                revoked_on=revoked.revoked_on if revoked else None,
                                revocation_method=revoked.method if revoked else None))
    referrals = [_fields(ReferralView, r.proposed, status=r.status, history=r.history)
                 for _, r in sorted(state.referrals.items())]
    immigration = None
    if include_immigration:
        immigration = [_fields(MilestoneView, m, milestone_id=mid) for mid, m in sorted(state.milestones.items())]
    return CaseView(
        case_id=state.case_id or "", version=state.version, worker_id=state.worker_id, team_id=state.team_id,
        intake=state.intake, victim_status=state.victim_status, identity=state.identity, contact=state.contact,
        demographics=state.demographics, trafficking=state.trafficking, consents=consents, referrals=referrals,
        services=[_fields(ServiceView, s) for s in state.services],
        outcomes=[_fields(OutcomeView, o) for o in state.outcomes],
        needs=[_fields(NeedsView, n) for n in state.needs],
        goals=[_fields(GoalView, g.goal, status=g.status) for _, g in sorted(state.goals.items())],
        statistics_consent=state.statistics_consent,
        closure=_fields(ClosureView, state.closure) if state.closure is not None else None,
        immigration=immigration,
        pending_transfer=_fields(PendingTransferView, state.pending_transfer) if state.pending_transfer else None,
        declined_transfers=[_fields(DeclinedTransferView, d) for d in state.declined_transfers] or None)


# -- OpenAPI examples: synthetic, and accepted by the service in this order -------------------

OPEN_CASE_EXAMPLE: dict[str, Any] = {
    "intake": {"intake_on": "2026-01-05", "intake_type": "referral", "referral_on": "2026-01-03",
               "referral_source": "hotline", "matched_within_48h": True, "eligibility_status": "eligible",
               "family_served": {"children_under_18": 1}},
    "victim_status": {"status": "strong_indicators", "determined_on": "2026-01-05",
                      "determined_by": "worker-example-1"},
    "identity": {"preferred_name": "Client Example", "aliases": ["Example-1"], "date_of_birth": "1994-03-12"},
    "contact": {"channels": [{"channel": "phone_call", "detail": "555-0100", "safe_times": "weekday mornings",
                              "may_leave_message": False}], "code_word": "placeholder-word"},
    "demographics": {"gender_identity": "woman", "lgbtq": "unknown", "race_ethnicity": ["not_reported"],
                     "citizenship": "foreign_national", "preferred_language": "es", "interpreter_needed": True},
    "trafficking": {"trafficking_type": "labor", "recruitment": ["job_offer"],
                    "control_methods": ["debt_bondage", "threats"], "labor_industries": ["agriculture"],
                    "vulnerabilities": ["recent_migration"], "recruitment_location": "Placeholder Town A",
                    "narrative": "Synthetic narrative for the documentation."},
}
RECORD_SERVICE_EXAMPLE: dict[str, Any] = {
    "service_id": "service-0001", "category": "case_management", "delivered_on": "2026-01-12", "units": 1,
    "minutes": 45, "notes": "Synthetic note: safety planning session."}
GRANT_CONSENT_EXAMPLE: dict[str, Any] = {
    "consent_id": "consent-0001", "recipient_organisation": "org-example-legal-aid", "purpose": "service_referral",
    "data_categories": ["identity", "contact"], "starts_on": "2026-01-15", "expires_on": "2026-07-15",
    "signed_on": "2026-01-15", "signed_by": "client", "revocation_explained": True, "written": True}
PROPOSE_REFERRAL_EXAMPLE: dict[str, Any] = {
    "referral_id": "referral-0001", "kind": "external", "category": "legal_immigration",
    "recipient": "org-example-legal-aid", "purpose": "service_referral", "proposed_on": "2026-01-16",
    "consent_id": "consent-0001", "released_categories": ["identity", "contact"]}
UPDATE_REFERRAL_EXAMPLE: dict[str, Any] = {"status": "sent", "changed_on": "2026-01-17"}
REVOKE_CONSENT_EXAMPLE: dict[str, Any] = {"revoked_on": "2026-02-01", "method": "written"}
ASSESS_OUTCOME_EXAMPLE: dict[str, Any] = {
    "assessment_id": "outcome-0001", "assessed_on": "2026-02-20", "scores": {"safety": 4, "housing_stability": 3}}
IMMIGRATION_STEP_EXAMPLE: dict[str, Any] = {
    "milestone_id": "milestone-0001", "kind": "continued_presence", "step": "requested", "on": "2026-01-20"}
ASSIGN_CASE_EXAMPLE: dict[str, Any] = {"worker_id": "worker-example-2", "assigned_on": "2026-02-01"}
REOPEN_CASE_EXAMPLE: dict[str, Any] = {"reopened_on": "2026-03-10", "reason": "client returned"}
BREAK_GLASS_EXAMPLE: dict[str, Any] = {"reason": "Synthetic: the assigned worker is unreachable during a safety "
                                                 "emergency.", "minutes": 30}
CLOSE_CASE_EXAMPLE: dict[str, Any] = {
    "closed_on": "2026-03-02", "reason": "goals_met", "living_situation": "rental",
    "referred_for_case_management": False}

VICTIM_STATUS_EXAMPLE: dict[str, Any] = {
    "status": "confirmed", "determined_on": "2026-01-20", "determined_by": "worker-example-1"}
TRAFFICKING_CONTEXT_EXAMPLE: dict[str, Any] = {
    "trafficking_type": "labor", "recruitment": ["job_offer"], "control_methods": ["debt_bondage", "threats"],
    "labor_industries": ["agriculture"], "vulnerabilities": ["recent_migration"],
    "recruitment_location": "Placeholder Town A", "exploitation_location": "Placeholder Town B",
    "narrative": "Synthetic narrative, revised after a second interview."}
ASSESS_NEEDS_EXAMPLE: dict[str, Any] = {
    "assessment_id": "needs-0001", "assessed_on": "2026-01-08", "needs": ["housing_shelter", "legal_immigration"],
    "notes": "Synthetic note: needs a safe place to stay and immigration advice."}
SET_GOAL_EXAMPLE: dict[str, Any] = {
    "goal_id": "goal-0001", "category": "housing_shelter",
    "description": "Synthetic goal: move from the shelter into stable rental housing.",
    "set_on": "2026-01-08", "target_on": "2026-06-30"}
CHANGE_GOAL_STATUS_EXAMPLE: dict[str, Any] = {"status": "in_progress", "changed_on": "2026-02-02"}
STATISTICS_CONSENT_EXAMPLE: dict[str, Any] = {"agrees": True, "recorded_on": "2026-01-05"}
TRANSFER_CONSENT_EXAMPLE: dict[str, Any] = {
    "consent_id": "consent-0002", "recipient_organisation": "org-example-receiving", "purpose": "case_transfer",
    "data_categories": ["identity", "contact", "trafficking"], "starts_on": "2026-02-20", "expires_on": "2026-08-20",
    "signed_on": "2026-02-20", "signed_by": "client", "revocation_explained": True, "written": True}
TRANSFER_CASE_EXAMPLE: dict[str, Any] = {
    "recipient_organisation": "org-example-receiving", "consent_id": "consent-0002", "requested_on": "2026-03-01",
    "receiving_worker_id": "worker-example-9", "receiving_team_id": "team-example-east",
    "living_situation": "shelter"}


ACCEPT_TRANSFER_EXAMPLE: dict[str, Any] = {"accepted_on": "2026-03-02"}
DECLINE_TRANSFER_EXAMPLE: dict[str, Any] = {"declined_on": "2026-03-02",
                                            "reason": "Synthetic: no shelter place this month."}


def example(summary: str, value: dict[str, Any]) -> list[Example]:
    return [Example(summary=summary, value=value)]
