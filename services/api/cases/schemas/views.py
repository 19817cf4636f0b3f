"""Response bodies of the case routes: ids and versions for a command, the case's view for
the worker who may read it, its timeline and its access log.

`CommandAccepted` carries ids and versions only: idempotency stores it in plain.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Mapping
from typing import Any, TypeVar

import msgspec

from domain.case import events as ev
from domain.case.disclosures import Release
from domain.case.outcome_trends import outcome_trends
from domain.case.state import CaseState
from domain.case.values import (
    Demographics,
    Identity,
    Intake,
    SafeContact,
    TraffickingContext,
    VictimStatus,
)
from events.access_listings import Listing
from events.access_log import AccessRecord, GrantReason

T = TypeVar("T")

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
    # a disclosure (basis "disclosure"): the receiving organisation, the data categories
    # released and the consent relied on; a system access (basis "system"): its purpose
    recipient: str | None = None
    categories: list[str] | None = None
    consent_id: str | None = None
    purpose: str | None = None

    @classmethod
    def of(cls, r: AccessRecord, released: Mapping[int, Release]) -> AccessRecordView:
        """The record, with what its disclosure released (opened from the case's event)."""
        release = released.get(r.event_version) if r.event_version is not None else None
        return cls(
            accessed_at=r.accessed_at,
            actor_id=r.actor_id,
            role=r.role,
            part=r.part,
            basis=r.basis,
            grant_id=r.grant_id,
            request_id=r.request_id,
            recipient=release.recipient if release else None,
            categories=list(release.categories) if release else None,
            consent_id=release.consent_id if release else None,
            purpose=r.purpose,
        )


class GrantView(msgspec.Struct, frozen=True, kw_only=True):
    grant_id: uuid.UUID
    actor_id: str
    granted_at: dt.datetime
    expires_at: dt.datetime
    reason: str

    @classmethod
    def of(cls, opened: GrantReason) -> GrantView:
        """The view of a grant with its reason opened."""
        grant = opened.grant
        return cls(
            grant_id=grant.grant_id,
            actor_id=grant.actor_id,
            granted_at=grant.granted_at,
            expires_at=grant.expires_at,
            reason=opened.reason,
        )


class AccessLogView(msgspec.Struct, frozen=True, kw_only=True):
    """For the privacy officer: who read the case (newest first), every break-the-glass
    grant with its reason opened (newest first), and the caseloads and searches that showed
    the client's name among others (`listings`, newest first: who, when, kind, the fields a
    search was by, how many cases it named)."""

    case_id: str
    records: list[AccessRecordView]
    grants: list[GrantView]
    listings: list[Listing] = []


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
    # sent to a partner organisation of this deployment: it answers in its inbox by this day
    # (or the referral expires); `reason`: the last status change's reason code
    answer_by: dt.date | None = None
    reason: str | None = None


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


class OutcomeTrendView(msgspec.Struct, frozen=True, kw_only=True):
    """One outcome domain's change (`domain.case.outcome_trends`): its first and latest score
    (1 = crisis ... 5 = thriving) and the trend between them; `trend` is null until the domain
    has been scored twice."""

    domain: str
    first_score: int
    first_on: dt.date
    latest_score: int
    latest_on: dt.date
    assessments: int
    trend: str | None


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
    outcome_trends: list[OutcomeTrendView]  # per outcome domain scored
    needs: list[NeedsView]
    goals: list[GoalView]
    statistics_consent: bool | None  # None: not asked yet
    closure: ClosureView | None = None
    immigration: list[MilestoneView] | None = None
    pending_transfer: PendingTransferView | None = (
        None  # asked of another organisation, not answered
    )
    declined_transfers: list[DeclinedTransferView] | None = None


def _fields(view_type: type[T], source: Any, **extra: Any) -> T:
    names = _shared_fields(view_type, type(source), tuple(extra))
    if names is None:  # not a struct: its attributes are the instance's own
        names = tuple(
            name
            for name in view_type.__struct_fields__  # type: ignore[attr-defined]
            if name not in extra and hasattr(source, name)
        )
    return view_type(**{name: getattr(source, name) for name in names}, **extra)


@functools.cache
def _shared_fields(
    view_type: type[Any], source_type: type[Any], extra: tuple[str, ...]
) -> tuple[str, ...] | None:
    """The attributes a view takes from a struct of `source_type`: a struct's attributes are
    its type's (fields, properties), so they are found once per pair of types, not per object
    read; None for another type, whose instances may carry attributes of their own."""
    if not issubclass(source_type, msgspec.Struct) or source_type.__struct_config__.dict:
        return None
    return tuple(
        name
        for name in view_type.__struct_fields__
        if name not in extra and hasattr(source_type, name)
    )


def case_view(state: CaseState, *, include_immigration: bool) -> CaseView:
    consents = []
    for consent_id, consent in sorted(state.consents.items()):
        revoked: ev.ConsentRevoked | None = consent.revoked
        consents.append(
            _fields(
                ConsentView,
                consent.granted,
                consent_id=consent_id,
                revoked_on=revoked.revoked_on if revoked else None,
                revocation_method=revoked.method if revoked else None,
            )
        )
    referrals = [
        _fields(
            ReferralView,
            r.proposed,
            status=r.status,
            history=r.history,
            answer_by=r.answer_by,
            reason=r.reason,
        )
        for _, r in sorted(state.referrals.items())
    ]
    immigration = None
    if include_immigration:
        immigration = [
            _fields(MilestoneView, m, milestone_id=mid)
            for mid, m in sorted(state.milestones.items())
        ]
    return CaseView(
        case_id=state.case_id or "",
        version=state.version,
        worker_id=state.worker_id,
        team_id=state.team_id,
        intake=state.intake,
        victim_status=state.victim_status,
        identity=state.identity,
        contact=state.contact,
        demographics=state.demographics,
        trafficking=state.trafficking,
        consents=consents,
        referrals=referrals,
        services=[_fields(ServiceView, s) for s in state.services],
        outcomes=[_fields(OutcomeView, o) for o in state.outcomes],
        outcome_trends=[_fields(OutcomeTrendView, t) for t in outcome_trends(state.outcomes)],
        needs=[_fields(NeedsView, n) for n in state.needs],
        goals=[_fields(GoalView, g.goal, status=g.status) for _, g in sorted(state.goals.items())],
        statistics_consent=state.statistics_consent,
        closure=_fields(ClosureView, state.closure) if state.closure is not None else None,
        immigration=immigration,
        pending_transfer=_fields(PendingTransferView, state.pending_transfer)
        if state.pending_transfer
        else None,
        declined_transfers=[_fields(DeclinedTransferView, d) for d in state.declined_transfers]
        or None,
    )
