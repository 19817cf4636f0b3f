"""The rules of the work on a case: needs, goals, referrals, services, outcomes and
immigration milestones.
"""

from __future__ import annotations

from domain.case import commands as cmd
from domain.case import errors as err
from domain.case import events as ev
from domain.case.checks import (
    ADULT_AGE,
    Context,
    fresh_id,
    not_before,
    not_before_enrolment,
    not_future,
    require_codes,
)
from domain.case.inbox_rules import RECIPIENT_ANSWERS, inbox_deadline
from domain.case.intake_rules import require_consent
from domain.case.lifecycles import IMMIGRATION_MACHINES, REFERRAL_REASON_LIST, REFERRAL_TRANSITIONS
from domain.case.state import CaseState
from domain.event import DomainEvent

MAX_UNITS = 1000
MAX_MINUTES = 24 * 60
OUTCOME_SCALE = range(1, 6)  # 1 = crisis ... 5 = thriving


def assess_needs(state: CaseState, c: cmd.AssessNeeds, context: Context) -> list[DomainEvent]:
    fresh_id({n.assessment_id for n in state.needs}, c.assessment_id, "needs assessment")
    require_codes(context, "service_category", *c.needs)
    not_future(context, c.assessed_on, "the assessment")
    not_before_enrolment(state, c.assessed_on, "the assessment")
    return [
        ev.NeedsAssessed(
            assessment_id=c.assessment_id,
            assessed_on=c.assessed_on,
            needs=tuple(sorted(set(c.needs))),
            notes=c.notes,
        )
    ]


def set_goal(state: CaseState, c: cmd.SetGoal, context: Context) -> list[DomainEvent]:
    fresh_id(state.goals, c.goal_id, "goal")
    require_codes(context, "service_category", c.category)
    not_future(context, c.set_on, "the goal")
    not_before_enrolment(state, c.set_on, "the goal")
    if c.target_on is not None and c.target_on < c.set_on:
        raise err.DateOutOfOrder("a goal's target date is after it was set")
    if not c.description.strip():
        raise err.InvalidValue("a goal needs a description")
    return [
        ev.GoalSet(
            goal_id=c.goal_id,
            category=c.category,
            description=c.description,
            set_on=c.set_on,
            target_on=c.target_on,
        )
    ]


def change_goal(state: CaseState, c: cmd.ChangeGoalStatus, context: Context) -> list[DomainEvent]:
    goal = state.goals.get(c.goal_id)
    if goal is None:
        raise err.GoalNotFound("no such goal on this case")
    require_codes(context, "goal_status", c.status)
    if goal.status in ("achieved", "discontinued"):
        raise err.InvalidValue("the goal is already finished")
    if c.status == goal.status:
        raise err.InvalidValue("the goal already has that status")
    not_future(context, c.changed_on, "the goal status change")
    not_before(c.changed_on, goal.goal.set_on, "the goal status change", "the goal")
    return [ev.GoalStatusChanged(goal_id=c.goal_id, status=c.status, changed_on=c.changed_on)]


def propose_referral(
    state: CaseState, c: cmd.ProposeReferral, context: Context
) -> list[DomainEvent]:
    if c.referral_id in state.referrals or not c.referral_id:
        raise err.ReferralAlreadyExists("that referral id is already used on this case")
    require_codes(context, "service_category", c.category)
    require_codes(context, "consent_purpose", c.purpose)
    require_codes(context, "data_category", *c.released_categories)
    not_future(context, c.proposed_on, "the referral")
    not_before_enrolment(state, c.proposed_on, "the referral")
    if not c.recipient:
        raise err.InvalidValue("a referral names its recipient")
    if c.kind == "internal":
        if c.consent_id is not None or c.released_categories:
            raise err.InvalidValue("an internal referral releases nothing outside the organisation")
    elif c.kind == "external":
        if c.recipient == state.organisation_id:
            raise err.InvalidValue("an external referral goes to another organisation")
        if not c.released_categories:
            raise err.InvalidValue(
                "an external referral lists exactly which data categories it releases"
            )
        require_consent(
            state,
            c.consent_id,
            recipient=c.recipient,
            purpose=c.purpose,
            categories=c.released_categories,
            on=c.proposed_on,
        )
    else:
        raise err.InvalidValue("a referral is internal or external")
    return [
        ev.ReferralProposed(
            referral_id=c.referral_id,
            kind=c.kind,
            category=c.category,
            recipient=c.recipient,
            purpose=c.purpose,
            proposed_on=c.proposed_on,
            consent_id=c.consent_id,
            released_categories=tuple(sorted(set(c.released_categories))),
            notes=c.notes,
        )
    ]


def update_referral(state: CaseState, c: cmd.UpdateReferral, context: Context) -> list[DomainEvent]:
    referral = state.referrals.get(c.referral_id)
    if referral is None:
        raise err.ReferralNotFound("no such referral on this case")
    if not referral.is_open:
        raise err.ReferralNotOpen(f"the referral is {referral.status}")
    if c.status not in REFERRAL_TRANSITIONS[referral.status]:
        raise err.IllegalReferralTransition(
            f"a referral cannot go from {referral.status} to {c.status}"
        )
    if referral.answer_by is not None and c.status in RECIPIENT_ANSWERS:
        raise err.AnsweredByRecipient(
            f"the recipient organisation answers this referral; it is not {c.status} by hand"
        )
    answer_by = inbox_deadline(referral, c)
    reason_list = REFERRAL_REASON_LIST.get(c.status)
    if reason_list is not None:
        if c.reason is None:
            raise err.ReasonRequired(f"a {c.status} referral needs a reason")
        require_codes(context, reason_list, c.reason)
    elif c.reason is not None:
        raise err.InvalidValue(f"a {c.status} referral takes no reason")
    not_future(context, c.changed_on, "the referral update")
    not_before(c.changed_on, referral.last_changed_on, "the referral update", "its previous status")
    if c.status == "sent" and referral.proposed.kind == "external":
        p = referral.proposed  # sending is the release: the consent must still hold
        require_consent(
            state,
            p.consent_id,
            recipient=p.recipient,
            purpose=p.purpose,
            categories=p.released_categories,
            on=c.changed_on,
        )
    return [
        ev.ReferralStatusChanged(
            referral_id=c.referral_id,
            status=c.status,
            changed_on=c.changed_on,
            reason=c.reason,
            answer_by=answer_by,
        )
    ]


def record_service(state: CaseState, c: cmd.RecordService, context: Context) -> list[DomainEvent]:
    # Services are never conditional on consent: no consent check here, by design.
    fresh_id({s.service_id for s in state.services}, c.service_id, "service")
    require_codes(context, "service_category", c.category)
    not_future(context, c.delivered_on, "the service date")
    not_before_enrolment(state, c.delivered_on, "the service")
    if not 1 <= c.units <= MAX_UNITS:
        raise err.InvalidValue(f"units must be between 1 and {MAX_UNITS}")
    if c.minutes is not None and not 1 <= c.minutes <= MAX_MINUTES:
        raise err.InvalidValue("minutes must be between 1 and a day's worth")
    if not c.provider:
        raise err.InvalidValue("a service names its provider")
    if c.referral_id is not None:
        referral = state.referrals.get(c.referral_id)
        if referral is None:
            raise err.ReferralNotFound("no such referral on this case")
        if referral.status not in ("accepted", "in_progress", "completed"):
            raise err.ReferralNotOpen("services are delivered under an accepted referral")
    return [
        ev.ServiceDelivered(
            service_id=c.service_id,
            category=c.category,
            delivered_on=c.delivered_on,
            units=c.units,
            minutes=c.minutes,
            provider=c.provider,
            referral_id=c.referral_id,
            notes=c.notes,
        )
    ]


def assess_outcome(state: CaseState, c: cmd.AssessOutcome, context: Context) -> list[DomainEvent]:
    fresh_id({o.assessment_id for o in state.outcomes}, c.assessment_id, "outcome assessment")
    if not c.scores:
        raise err.InvalidValue("an outcome assessment scores at least one domain")
    require_codes(context, "outcome_domain", *c.scores)
    if any(score not in OUTCOME_SCALE for score in c.scores.values()):
        raise err.InvalidValue("outcome scores are on the 1-5 scale")
    not_future(context, c.assessed_on, "the assessment")
    not_before_enrolment(state, c.assessed_on, "the assessment")
    return [
        ev.OutcomeAssessed(
            assessment_id=c.assessment_id,
            assessed_on=c.assessed_on,
            scores=dict(sorted(c.scores.items())),
        )
    ]


def immigration_step(
    state: CaseState, c: cmd.RecordImmigrationStep, context: Context
) -> list[DomainEvent]:
    require_codes(context, "immigration_kind", c.kind)
    machine = IMMIGRATION_MACHINES.get(c.kind)
    if machine is None:
        raise err.InvalidCode(f"no milestone rules for {c.kind!r}")
    current = state.milestones.get(c.milestone_id)
    if current is not None and current.kind != c.kind:
        raise err.InvalidValue("a milestone keeps its kind")
    if not c.milestone_id:
        raise err.InvalidValue("a milestone needs an id")
    if not machine.allows(current.step if current else None, c.step):
        where = current.step if current else "the start"
        raise err.IllegalImmigrationTransition(f"{c.kind} cannot go from {where} to {c.step}")
    not_future(context, c.on, "the immigration step")
    not_before(c.on, current.on if current else None, "the immigration step", "the previous step")
    if c.kind == "t_visa_derivative":
        relation = c.family_relation or (current.family_relation if current else None)
        if relation is None:
            raise err.InvalidValue("a derivative application names the family relation")
        require_codes(context, "family_relation", relation)
    elif c.family_relation is not None:
        raise err.InvalidValue("only derivative applications carry a family relation")
    if c.kind in ("hhs_certification", "hhs_eligibility") and current is None:
        age = state.age_on(c.on)
        if age is not None and (age >= ADULT_AGE) != (c.kind == "hhs_certification"):
            raise err.CertificationAgeMismatch(
                "HHS certification letters are for adults, eligibility letters for minors"
            )
    if c.expires_on is not None:
        if c.kind != "continued_presence" or c.step not in ("granted", "extended"):
            raise err.InvalidValue("only a grant or extension of Continued Presence has an expiry")
        if c.expires_on <= c.on:
            raise err.DateOutOfOrder("Continued Presence expires after it is granted")
    return [
        ev.ImmigrationStepRecorded(
            milestone_id=c.milestone_id,
            kind=c.kind,
            step=c.step,
            on=c.on,
            family_relation=c.family_relation,
            receipt_number=c.receipt_number,
            expires_on=c.expires_on,
        )
    ]
