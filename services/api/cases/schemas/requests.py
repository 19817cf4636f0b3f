"""Request bodies of the case routes: strict, so a typo never silently drops data.

An unknown member anywhere (top level or nested) is refused with 422 `validation-error`. Each
nested value type is a subclass of the domain value with `forbid_unknown_fields=True` and its
nested members re-declared with the strict types; `to_domain` converts a body to the plain
domain types before a command is built, so stored events never hold an API class.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, TypeVar

import msgspec

from domain.case import commands as cmd
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
Identifier = Annotated[
    str, msgspec.Meta(min_length=1, max_length=MAX_IDENTIFIER_LENGTH, pattern=IDENTIFIER_PATTERN)
]


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

    def command(
        self, *, case_id: str, organisation_id: str, worker_id: str, team_id: str
    ) -> cmd.OpenCase:
        return cmd.OpenCase(
            case_id=case_id,
            organisation_id=organisation_id,
            intake=to_domain(self.intake, Intake),
            victim_status=to_domain(self.victim_status, VictimStatus),
            identity=to_domain(self.identity, Identity),
            contact=to_domain(self.contact, SafeContact),
            demographics=to_domain(self.demographics, Demographics),
            trafficking=to_domain(self.trafficking, TraffickingContext),
            worker_id=self.worker_id or worker_id,
            team_id=self.team_id or team_id,
        )


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
        return cmd.RevokeConsent(
            consent_id=consent_id, revoked_on=self.revoked_on, method=self.method
        )


class ProposeReferralBody(
    cmd.ProposeReferral, forbid_unknown_fields=True, frozen=True, kw_only=True
):
    def command(self) -> cmd.ProposeReferral:
        return to_domain(self, cmd.ProposeReferral)


class UpdateReferralBody(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """The referral is named by the path (`.../referrals/{referral_id}/status`)."""

    status: str
    changed_on: dt.date
    reason: str | None = None

    def command(self, referral_id: str) -> cmd.UpdateReferral:
        return cmd.UpdateReferral(
            referral_id=referral_id,
            status=self.status,
            changed_on=self.changed_on,
            reason=self.reason,
        )


class CloseCaseBody(cmd.CloseCase, forbid_unknown_fields=True, frozen=True, kw_only=True):
    def command(self) -> cmd.CloseCase:
        return to_domain(self, cmd.CloseCase)


class AssessOutcomeBody(cmd.AssessOutcome, forbid_unknown_fields=True, frozen=True, kw_only=True):
    def command(self) -> cmd.AssessOutcome:
        return to_domain(self, cmd.AssessOutcome)


class ImmigrationStepBody(
    cmd.RecordImmigrationStep, forbid_unknown_fields=True, frozen=True, kw_only=True
):
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
        return cmd.AssignCase(
            worker_id=self.worker_id, team_id=team_id, assigned_on=self.assigned_on
        )


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


class StatisticsConsentBody(
    cmd.RecordStatisticsConsent, forbid_unknown_fields=True, frozen=True, kw_only=True
):
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
            transfer_id=transfer_id,
            recipient_organisation=self.recipient_organisation,
            consent_id=self.consent_id,
            requested_on=self.requested_on,
            receiving_worker_id=self.receiving_worker_id,
            receiving_team_id=self.receiving_team_id,
            living_situation=self.living_situation,
        )


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
