"""The state of a case: a pure fold of its events.

`evolve(state, event)` never validates — rules are `decide`'s job — so history always
folds, whatever later codebooks say. `fold` checks that versions run 1, 2, 3, ...
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Never, TypeVar

import msgspec
from msgspec.structs import replace

from domain.case import events as ev
from domain.case.errors import VersionGap
from domain.case.lifecycles import REFERRAL_OPEN
from domain.case.values import (
    Demographics,
    Identity,
    Intake,
    SafeContact,
    TraffickingContext,
    VictimStatus,
)
from domain.event import DomainEvent

_EMPTY: Mapping[str, Never] = MappingProxyType({})
V = TypeVar("V")


class ConsentState(msgspec.Struct, frozen=True, kw_only=True):
    granted: ev.ConsentGranted
    revoked: ev.ConsentRevoked | None = None

    def active_on(self, day: dt.date) -> bool:
        """An expired, not-yet-started or revoked consent is no consent."""
        if self.revoked is not None and self.revoked.revoked_on <= day:
            return False
        return self.granted.starts_on <= day <= self.granted.expires_on


class ReferralState(msgspec.Struct, frozen=True, kw_only=True):
    proposed: ev.ReferralProposed
    status: str = "proposed"
    history: tuple[tuple[str, dt.date], ...] = ()
    answer_by: dt.date | None = None  # in a partner's inbox: it answers by this day
    reason: str | None = None  # the last status change's reason code (a decline's, say)

    @property
    def is_open(self) -> bool:
        return self.status in REFERRAL_OPEN

    @property
    def last_changed_on(self) -> dt.date:
        return self.history[-1][1] if self.history else self.proposed.proposed_on


class MilestoneState(msgspec.Struct, frozen=True, kw_only=True):
    kind: str
    step: str
    on: dt.date
    history: tuple[tuple[str, dt.date], ...] = ()
    family_relation: str | None = None
    expires_on: dt.date | None = None


class GoalState(msgspec.Struct, frozen=True, kw_only=True):
    goal: ev.GoalSet
    status: str = "open"


class CaseState(msgspec.Struct, frozen=True, kw_only=True):
    version: int = 0
    case_id: str | None = None
    organisation_id: str | None = None
    intake: Intake | None = None
    victim_status: VictimStatus | None = None
    identity: Identity | None = None
    contact: SafeContact | None = None
    demographics: Demographics | None = None
    trafficking: TraffickingContext | None = None
    worker_id: str | None = None
    team_id: str | None = None
    transferred_in: bool = False
    consents: Mapping[str, ConsentState] = _EMPTY
    statistics_consent: bool | None = None
    needs: tuple[ev.NeedsAssessed, ...] = ()
    goals: Mapping[str, GoalState] = _EMPTY
    referrals: Mapping[str, ReferralState] = _EMPTY
    services: tuple[ev.ServiceDelivered, ...] = ()
    outcomes: tuple[ev.OutcomeAssessed, ...] = ()
    milestones: Mapping[str, MilestoneState] = _EMPTY
    transfer: ev.CaseTransferred | None = None
    pending_transfer: ev.TransferRequested | None = None  # asked, not yet accepted or declined
    declined_transfers: tuple[ev.TransferDeclined, ...] = ()
    closure: ev.CaseClosed | None = None
    enrolments: int = 0  # program entries: 1 at intake, +1 for each reopening
    enrolled_on: dt.date | None = None  # start of the current enrolment
    last_activity_on: dt.date | None = None

    @property
    def exists(self) -> bool:
        return self.version > 0

    @property
    def is_closed(self) -> bool:
        return self.closure is not None

    def age_on(self, day: dt.date) -> int | None:
        age = self.identity.age_on(day) if self.identity else None
        if age is not None:
            return age
        if self.intake is not None and self.intake.age_at_intake is not None:
            return self.intake.age_at_intake + (day - self.intake.intake_on).days // 365
        return None


def _with(mapping: Mapping[str, V], key: str, value: V) -> Mapping[str, V]:
    return MappingProxyType({**mapping, key: value})


def _touch(state: CaseState, day: dt.date) -> dt.date:
    last = state.last_activity_on
    return day if last is None or day > last else last


def evolve(state: CaseState, event: DomainEvent) -> CaseState:
    """The state after one more event (the version is advanced by `fold`)."""
    match event:
        case ev.CaseOpened():
            return replace(
                state,
                case_id=event.case_id,
                organisation_id=event.organisation_id,
                intake=event.intake,
                victim_status=event.victim_status,
                identity=event.identity,
                contact=event.contact,
                demographics=event.demographics,
                trafficking=event.trafficking,
                worker_id=event.worker_id,
                team_id=event.team_id,
                transferred_in=event.transferred_in,
                enrolments=1,
                enrolled_on=event.intake.intake_on,
                last_activity_on=event.intake.intake_on,
            )
        case ev.VictimStatusDetermined():
            return replace(state, victim_status=event.victim_status)
        case ev.TraffickingContextUpdated():
            return replace(state, trafficking=event.trafficking)
        case ev.ConsentGranted():
            return replace(
                state, consents=_with(state.consents, event.consent_id, ConsentState(granted=event))
            )
        case ev.ConsentRevoked():
            consent = replace(state.consents[event.consent_id], revoked=event)
            return replace(state, consents=_with(state.consents, event.consent_id, consent))
        case ev.StatisticsConsentRecorded():
            return replace(state, statistics_consent=event.agrees)
        case ev.NeedsAssessed():
            return replace(
                state,
                needs=(*state.needs, event),
                last_activity_on=_touch(state, event.assessed_on),
            )
        case ev.GoalSet():
            return replace(state, goals=_with(state.goals, event.goal_id, GoalState(goal=event)))
        case ev.GoalStatusChanged():
            goal = replace(state.goals[event.goal_id], status=event.status)
            return replace(state, goals=_with(state.goals, event.goal_id, goal))
        case ev.ReferralProposed():
            referral = ReferralState(proposed=event, history=(("proposed", event.proposed_on),))
            return replace(
                state,
                referrals=_with(state.referrals, event.referral_id, referral),
                last_activity_on=_touch(state, event.proposed_on),
            )
        case ev.ReferralStatusChanged():
            old = state.referrals[event.referral_id]
            if event.answer_by is not None:
                old = replace(old, answer_by=event.answer_by)
            referral = replace(
                old,
                status=event.status,
                history=(*old.history, (event.status, event.changed_on)),
                reason=event.reason,
            )
            return replace(state, referrals=_with(state.referrals, event.referral_id, referral))
        case ev.ServiceDelivered():
            return replace(
                state,
                services=(*state.services, event),
                last_activity_on=_touch(state, event.delivered_on),
            )
        case ev.OutcomeAssessed():
            return replace(
                state,
                outcomes=(*state.outcomes, event),
                last_activity_on=_touch(state, event.assessed_on),
            )
        case ev.ImmigrationStepRecorded():
            earlier = state.milestones.get(event.milestone_id)
            milestone = MilestoneState(
                kind=event.kind,
                step=event.step,
                on=event.on,
                history=(*(earlier.history if earlier else ()), (event.step, event.on)),
                family_relation=event.family_relation
                or (earlier.family_relation if earlier else None),
                expires_on=event.expires_on or (earlier.expires_on if earlier else None),
            )
            return replace(state, milestones=_with(state.milestones, event.milestone_id, milestone))
        case ev.CaseAssigned():
            return replace(state, worker_id=event.worker_id, team_id=event.team_id)
        case ev.TransferRequested():
            return replace(state, pending_transfer=event)
        case ev.TransferDeclined():
            return replace(
                state, pending_transfer=None, declined_transfers=(*state.declined_transfers, event)
            )
        case ev.CaseTransferred():
            return replace(state, transfer=event, pending_transfer=None)
        case ev.CaseClosed():
            return replace(state, closure=event)
        case ev.CaseReopened():
            return replace(
                state,
                closure=None,
                transfer=None,
                enrolments=state.enrolments + 1,
                enrolled_on=event.reopened_on,
                last_activity_on=_touch(state, event.reopened_on),
            )
    raise TypeError(f"not an event of the case aggregate: {type(event).__name__}")


def fold(events: Iterable[tuple[int, DomainEvent]], state: CaseState | None = None) -> CaseState:
    """Fold `(version, event)` pairs, which must continue the state's version without gaps."""
    state = state or CaseState()
    for version, event in events:
        if version != state.version + 1:
            raise VersionGap(f"version {version} cannot follow {state.version}")
        state = replace(evolve(state, event), version=version)
    return state
