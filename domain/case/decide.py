"""`decide(state, command, context) -> events`: every rule of a case in one place.

Pure: the clock, the actor and the codebook come in through `Context`. Each refusal is a
named `DomainError`; nothing here logs or does I/O.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import msgspec

from domain.case import commands as cmd
from domain.case import errors as err
from domain.case import events as ev
from domain.case.lifecycles import (
    IMMIGRATION_MACHINES,
    OBTAINED_STEPS,
    REFERRAL_REASON_LIST,
    REFERRAL_TRANSITIONS,
)
from domain.case.state import CaseState
from domain.case.values import FamilyServed, Intake
from domain.codebook import CURRENT, Codebook, UnknownCode
from domain.text import text_faults

# Dates are calendar days in the organisation's time zone; the clock is UTC. A day is "in the
# future" only if it is later than today anywhere in US jurisdictions (UTC+10 in Guam), plus
# a few minutes of clock skew.
DATE_SKEW = dt.timedelta(hours=14, minutes=5)
MAX_CONSENT_DAYS = 366  # VAWA: "reasonably time-limited"
ADULT_AGE = 18
MAX_UNITS = 1000
MAX_MINUTES = 24 * 60
OUTCOME_SCALE = range(1, 6)  # 1 = crisis ... 5 = thriving


class Context(msgspec.Struct, frozen=True, kw_only=True):
    now: dt.datetime
    actor_id: str
    codebook: Codebook = CURRENT

    @property
    def latest_allowed_day(self) -> dt.date:
        return (self.now + DATE_SKEW).date()


def decide(state: CaseState, command: cmd.Command, context: Context) -> list[ev.DomainEvent]:
    for pointer, rule in text_faults(command):  # every id and text member, `domain.text`
        raise err.InvalidValue(f"{pointer or 'the command'} {rule}")
    if isinstance(command, cmd.OpenCase):
        if state.exists:
            raise err.CaseAlreadyOpen("the case already exists")
        return _open_case(command, context)
    if not state.exists:
        raise err.CaseNotFound("no such case")
    if isinstance(command, cmd.ReopenCase):
        return _reopen(state, command, context)
    if state.is_closed and not isinstance(command, _AFTER_CLOSURE):
        raise err.CaseClosed("the case is closed; reopen it first")
    handler = _HANDLERS.get(type(command))
    if handler is None:
        raise TypeError(f"no rule handles {type(command).__name__}")
    return handler(state, command, context)


# -- shared checks ----------------------------------------------------------------------

def _codes(context: Context, list_name: str, *codes: str) -> None:
    try:
        context.codebook.require(list_name, *codes)
    except UnknownCode as error:
        raise err.InvalidCode(str(error)) from None


def _not_future(context: Context, day: dt.date, what: str) -> None:
    if day > context.latest_allowed_day:
        raise err.DateInFuture(f"{what} is in the future")


def _not_before(day: dt.date, earliest: dt.date | None, what: str, other: str) -> None:
    if earliest is not None and day < earliest:
        raise err.DateOutOfOrder(f"{what} is before {other}")


def _not_before_enrolment(state: CaseState, day: dt.date, what: str) -> None:
    """Work is recorded within the current enrolment: not before intake, nor (after a
    reopening) in the time the case was closed."""
    _not_before(day, state.enrolled_on, what, "the start of the current enrolment")


def _fresh_id(existing: object, key: str, what: str) -> None:
    if not key or key in existing:  # type: ignore[operator]
        raise err.DuplicateRecord(f"{what} id is empty or already used on this case")


def _check_trafficking(context: Context, trafficking, age: int | None) -> None:
    t = trafficking
    _codes(context, "trafficking_type", t.trafficking_type)
    _codes(context, "recruitment_method", *t.recruitment)
    _codes(context, "control_method", *t.control_methods)
    _codes(context, "labor_industry", *t.labor_industries)
    _codes(context, "sex_exploitation", *t.sex_exploitation)
    _codes(context, "vulnerability", *t.vulnerabilities)
    if t.trafficking_type == "labor" and t.sex_exploitation:
        raise err.InvalidValue("sex exploitation recorded on a labor-only case: use 'both'")
    if t.trafficking_type == "sex" and t.labor_industries:
        raise err.InvalidValue("labor industries recorded on a sex-only case: use 'both'")
    # DVHT: anyone under 18 who performs a commercial sex act is a victim of sex trafficking,
    # whatever the means; the case must say so.
    if age is not None and age < ADULT_AGE and t.commercial_sex_act and t.trafficking_type not in ("sex", "both"):
        raise err.MinorSexTraffickingMisclassified(
            "a minor who performed a commercial sex act is a sex-trafficking victim (DVHT definition)")


def _check_victim_status(context: Context, status) -> None:
    _codes(context, "victim_status", status.status)
    _not_future(context, status.determined_on, "the victim-status determination")
    if not status.determined_by:
        raise err.InvalidValue("a victim-status determination names who made it")


# -- intake ---------------------------------------------------------------------------

def _open_case(c: cmd.OpenCase, context: Context) -> list[ev.DomainEvent]:
    intake = c.intake
    _codes(context, "intake_type", intake.intake_type)
    _codes(context, "eligibility_status", intake.eligibility_status)
    if intake.referral_source is not None:
        _codes(context, "referral_source", intake.referral_source)
    _not_future(context, intake.intake_on, "the intake date")
    if intake.referral_on is not None:
        _not_future(context, intake.referral_on, "the referral date")
        if intake.referral_on > intake.intake_on:
            raise err.DateOutOfOrder("the referral date is after the intake date")
    family = intake.family_served
    if min(family.parents, family.siblings, family.spouse, family.children_under_18, family.children_18_plus) < 0:
        raise err.InvalidValue("family member counts cannot be negative")
    if family.spouse > 1:
        raise err.InvalidValue("at most one spouse is served with a client")
    birth = c.identity.date_of_birth
    if not c.identity.preferred_name.strip():
        raise err.InvalidValue("a case needs at least a preferred name (an alias is fine)")
    if birth is not None:
        _not_future(context, birth, "the date of birth")
        if birth > intake.intake_on:
            raise err.DateOutOfOrder("the date of birth is after the intake date")
    if intake.age_at_intake is not None and not 0 <= intake.age_at_intake <= 120:
        raise err.InvalidValue("age at intake must be between 0 and 120")
    d = c.demographics
    _codes(context, "gender_identity", d.gender_identity)
    _codes(context, "yes_no_unknown", d.lgbtq)
    _codes(context, "race_ethnicity", *d.race_ethnicity)
    _codes(context, "disability", *d.disabilities)
    if d.citizenship is not None:
        _codes(context, "citizenship", d.citizenship)
    for channel in c.contact.channels:
        _codes(context, "contact_channel", channel.channel)
    _check_victim_status(context, c.victim_status)
    probe = CaseState(version=1, identity=c.identity, intake=intake)
    _check_trafficking(context, c.trafficking, probe.age_on(intake.intake_on))
    return [ev.CaseOpened(
        case_id=c.case_id, organisation_id=c.organisation_id, intake=intake, victim_status=c.victim_status,
        identity=c.identity, contact=c.contact, demographics=d, trafficking=c.trafficking,
        worker_id=c.worker_id, team_id=c.team_id)]


def _determine_status(state: CaseState, c: cmd.DetermineVictimStatus, context: Context) -> list[ev.DomainEvent]:
    _check_victim_status(context, c.victim_status)
    return [ev.VictimStatusDetermined(victim_status=c.victim_status)]


def _update_trafficking(state: CaseState, c: cmd.UpdateTraffickingContext, context: Context) -> list[ev.DomainEvent]:
    _check_trafficking(context, c.trafficking, state.age_on(state.intake.intake_on) if state.intake else None)
    return [ev.TraffickingContextUpdated(trafficking=c.trafficking)]


# -- consent --------------------------------------------------------------------------

def _grant_consent(state: CaseState, c: cmd.GrantConsent, context: Context) -> list[ev.DomainEvent]:
    if c.consent_id in state.consents or not c.consent_id:
        raise err.ConsentAlreadyExists("that consent id is already used on this case")
    _codes(context, "consent_purpose", c.purpose)
    _codes(context, "data_category", *c.data_categories)
    if c.signed_by not in ("client", "guardian"):
        raise err.InvalidValue("a consent is signed by the client or a guardian")
    if not c.data_categories or not c.recipient_organisation:
        raise err.ConsentNotValid("a consent names its recipient and the data it releases")
    if not c.written or not c.revocation_explained:
        raise err.ConsentNotValid("a release must be written and explain the right to revoke")
    _not_future(context, c.signed_on, "the signature date")
    if c.starts_on < c.signed_on:
        raise err.DateOutOfOrder("a consent cannot start before it was signed")
    if c.expires_on <= c.starts_on:
        raise err.DateOutOfOrder("a consent expires after it starts")
    if (c.expires_on - c.starts_on).days > MAX_CONSENT_DAYS:
        raise err.ConsentNotValid(f"a consent is time-limited to {MAX_CONSENT_DAYS} days")
    return [ev.ConsentGranted(
        consent_id=c.consent_id, recipient_organisation=c.recipient_organisation, purpose=c.purpose,
        data_categories=tuple(sorted(set(c.data_categories))), starts_on=c.starts_on, expires_on=c.expires_on,
        signed_on=c.signed_on, signed_by=c.signed_by, revocation_explained=c.revocation_explained,
        written=c.written)]


def _revoke_consent(state: CaseState, c: cmd.RevokeConsent, context: Context) -> list[ev.DomainEvent]:
    consent = state.consents.get(c.consent_id)
    if consent is None:
        raise err.ConsentNotFound("no such consent on this case")
    if consent.revoked is not None:
        raise err.ConsentRevokedError("the consent is already revoked")
    if c.method not in ("written", "oral"):
        raise err.InvalidValue("a revocation is written or oral")
    _not_future(context, c.revoked_on, "the revocation")
    _not_before(c.revoked_on, consent.granted.signed_on, "the revocation", "the signature")
    events: list[ev.DomainEvent] = [ev.ConsentRevoked(
        consent_id=c.consent_id, revoked_on=c.revoked_on, method=c.method, recorded_by=context.actor_id)]
    # Nothing more may be released under it: open external referrals that rely on it end —
    # never before their own last status (a revocation may be recorded late).
    for referral_id, referral in sorted(state.referrals.items()):
        if referral.is_open and referral.proposed.consent_id == c.consent_id:
            events.append(ev.ReferralStatusChanged(
                referral_id=referral_id, status="revoked", changed_on=max(c.revoked_on, referral.last_changed_on),
                reason="consent_revoked"))
    return events


def _statistics_consent(state: CaseState, c: cmd.RecordStatisticsConsent, context: Context) -> list[ev.DomainEvent]:
    _not_future(context, c.recorded_on, "the statistics consent")
    return [ev.StatisticsConsentRecorded(agrees=c.agrees, recorded_on=c.recorded_on)]


def require_consent(state: CaseState, consent_id: str | None, *, recipient: str, purpose: str,
                    categories: tuple[str, ...], on: dt.date) -> None:
    """An active consent that covers the recipient, the purpose and every released category."""
    if consent_id is None:
        raise err.ConsentRequired("releasing data outside the organisation needs the client's consent")
    consent = state.consents.get(consent_id)
    if consent is None:
        raise err.ConsentNotFound("no such consent on this case")
    if consent.revoked is not None:
        # Whatever date the revocation carries, nothing more is released once it is known.
        raise err.ConsentRevokedError("the consent was revoked")
    if not consent.active_on(on):
        raise err.ConsentExpired("the consent is not in force on that date")
    granted = consent.granted
    if granted.recipient_organisation != recipient or granted.purpose != purpose:
        raise err.ConsentDoesNotCover("the consent names another recipient or purpose")
    uncovered = set(categories) - set(granted.data_categories)
    if uncovered:
        raise err.ConsentDoesNotCover("the consent does not release: " + ", ".join(sorted(uncovered)))


# -- needs, goals ---------------------------------------------------------------------

def _assess_needs(state: CaseState, c: cmd.AssessNeeds, context: Context) -> list[ev.DomainEvent]:
    _fresh_id({n.assessment_id for n in state.needs}, c.assessment_id, "needs assessment")
    _codes(context, "service_category", *c.needs)
    _not_future(context, c.assessed_on, "the assessment")
    _not_before_enrolment(state, c.assessed_on, "the assessment")
    return [ev.NeedsAssessed(assessment_id=c.assessment_id, assessed_on=c.assessed_on,
                             needs=tuple(sorted(set(c.needs))), notes=c.notes)]


def _set_goal(state: CaseState, c: cmd.SetGoal, context: Context) -> list[ev.DomainEvent]:
    _fresh_id(state.goals, c.goal_id, "goal")
    _codes(context, "service_category", c.category)
    _not_future(context, c.set_on, "the goal")
    _not_before_enrolment(state, c.set_on, "the goal")
    if c.target_on is not None and c.target_on < c.set_on:
        raise err.DateOutOfOrder("a goal's target date is after it was set")
    if not c.description.strip():
        raise err.InvalidValue("a goal needs a description")
    return [ev.GoalSet(goal_id=c.goal_id, category=c.category, description=c.description,
                       set_on=c.set_on, target_on=c.target_on)]


def _change_goal(state: CaseState, c: cmd.ChangeGoalStatus, context: Context) -> list[ev.DomainEvent]:
    goal = state.goals.get(c.goal_id)
    if goal is None:
        raise err.GoalNotFound("no such goal on this case")
    _codes(context, "goal_status", c.status)
    if goal.status in ("achieved", "discontinued"):
        raise err.InvalidValue("the goal is already finished")
    if c.status == goal.status:
        raise err.InvalidValue("the goal already has that status")
    _not_future(context, c.changed_on, "the goal status change")
    _not_before(c.changed_on, goal.goal.set_on, "the goal status change", "the goal")
    return [ev.GoalStatusChanged(goal_id=c.goal_id, status=c.status, changed_on=c.changed_on)]


# -- referrals ------------------------------------------------------------------------

def _propose_referral(state: CaseState, c: cmd.ProposeReferral, context: Context) -> list[ev.DomainEvent]:
    if c.referral_id in state.referrals or not c.referral_id:
        raise err.ReferralAlreadyExists("that referral id is already used on this case")
    _codes(context, "service_category", c.category)
    _codes(context, "consent_purpose", c.purpose)
    _codes(context, "data_category", *c.released_categories)
    _not_future(context, c.proposed_on, "the referral")
    _not_before_enrolment(state, c.proposed_on, "the referral")
    if not c.recipient:
        raise err.InvalidValue("a referral names its recipient")
    if c.kind == "internal":
        if c.consent_id is not None or c.released_categories:
            raise err.InvalidValue("an internal referral releases nothing outside the organisation")
    elif c.kind == "external":
        if c.recipient == state.organisation_id:
            raise err.InvalidValue("an external referral goes to another organisation")
        if not c.released_categories:
            raise err.InvalidValue("an external referral lists exactly which data categories it releases")
        require_consent(state, c.consent_id, recipient=c.recipient, purpose=c.purpose,
                        categories=c.released_categories, on=c.proposed_on)
    else:
        raise err.InvalidValue("a referral is internal or external")
    return [ev.ReferralProposed(
        referral_id=c.referral_id, kind=c.kind, category=c.category, recipient=c.recipient, purpose=c.purpose,
        proposed_on=c.proposed_on, consent_id=c.consent_id,
        released_categories=tuple(sorted(set(c.released_categories))), notes=c.notes)]


def _update_referral(state: CaseState, c: cmd.UpdateReferral, context: Context) -> list[ev.DomainEvent]:
    referral = state.referrals.get(c.referral_id)
    if referral is None:
        raise err.ReferralNotFound("no such referral on this case")
    if not referral.is_open:
        raise err.ReferralNotOpen(f"the referral is {referral.status}")
    if c.status not in REFERRAL_TRANSITIONS[referral.status]:
        raise err.IllegalReferralTransition(f"a referral cannot go from {referral.status} to {c.status}")
    reason_list = REFERRAL_REASON_LIST.get(c.status)
    if reason_list is not None:
        if c.reason is None:
            raise err.ReasonRequired(f"a {c.status} referral needs a reason")
        _codes(context, reason_list, c.reason)
    elif c.reason is not None:
        raise err.InvalidValue(f"a {c.status} referral takes no reason")
    _not_future(context, c.changed_on, "the referral update")
    _not_before(c.changed_on, referral.last_changed_on, "the referral update", "its previous status")
    if c.status == "sent" and referral.proposed.kind == "external":
        p = referral.proposed  # the release happens now: the consent must still hold
        require_consent(state, p.consent_id, recipient=p.recipient, purpose=p.purpose,
                        categories=p.released_categories, on=c.changed_on)
    return [ev.ReferralStatusChanged(referral_id=c.referral_id, status=c.status, changed_on=c.changed_on,
                                     reason=c.reason)]


# -- services and outcomes ------------------------------------------------------------

def _record_service(state: CaseState, c: cmd.RecordService, context: Context) -> list[ev.DomainEvent]:
    # Services are never conditional on consent: no consent check here, by design.
    _fresh_id({s.service_id for s in state.services}, c.service_id, "service")
    _codes(context, "service_category", c.category)
    _not_future(context, c.delivered_on, "the service date")
    _not_before_enrolment(state, c.delivered_on, "the service")
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
    return [ev.ServiceDelivered(
        service_id=c.service_id, category=c.category, delivered_on=c.delivered_on, units=c.units,
        minutes=c.minutes, provider=c.provider, referral_id=c.referral_id, notes=c.notes)]


def _assess_outcome(state: CaseState, c: cmd.AssessOutcome, context: Context) -> list[ev.DomainEvent]:
    _fresh_id({o.assessment_id for o in state.outcomes}, c.assessment_id, "outcome assessment")
    if not c.scores:
        raise err.InvalidValue("an outcome assessment scores at least one domain")
    _codes(context, "outcome_domain", *c.scores)
    if any(score not in OUTCOME_SCALE for score in c.scores.values()):
        raise err.InvalidValue("outcome scores are on the 1-5 scale")
    _not_future(context, c.assessed_on, "the assessment")
    _not_before_enrolment(state, c.assessed_on, "the assessment")
    return [ev.OutcomeAssessed(assessment_id=c.assessment_id, assessed_on=c.assessed_on,
                               scores=dict(sorted(c.scores.items())))]


# -- immigration ----------------------------------------------------------------------

def _immigration_step(state: CaseState, c: cmd.RecordImmigrationStep, context: Context) -> list[ev.DomainEvent]:
    _codes(context, "immigration_kind", c.kind)
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
    _not_future(context, c.on, "the immigration step")
    _not_before(c.on, current.on if current else None, "the immigration step", "the previous step")
    if c.kind == "t_visa_derivative":
        relation = c.family_relation or (current.family_relation if current else None)
        if relation is None:
            raise err.InvalidValue("a derivative application names the family relation")
        _codes(context, "family_relation", relation)
    elif c.family_relation is not None:
        raise err.InvalidValue("only derivative applications carry a family relation")
    if c.kind in ("hhs_certification", "hhs_eligibility") and current is None:
        age = state.age_on(c.on)
        if age is not None and (age >= ADULT_AGE) != (c.kind == "hhs_certification"):
            raise err.CertificationAgeMismatch(
                "HHS certification letters are for adults, eligibility letters for minors")
    if c.expires_on is not None:
        if c.kind != "continued_presence" or c.step not in ("granted", "extended"):
            raise err.InvalidValue("only a grant or extension of Continued Presence has an expiry")
        if c.expires_on <= c.on:
            raise err.DateOutOfOrder("Continued Presence expires after it is granted")
    return [ev.ImmigrationStepRecorded(
        milestone_id=c.milestone_id, kind=c.kind, step=c.step, on=c.on, family_relation=c.family_relation,
        receipt_number=c.receipt_number, expires_on=c.expires_on)]


# -- assignment, transfer, closure ----------------------------------------------------

def _assign(state: CaseState, c: cmd.AssignCase, context: Context) -> list[ev.DomainEvent]:
    if (c.worker_id, c.team_id) == (state.worker_id, state.team_id):
        raise err.AlreadyAssigned("the case is already assigned to that worker and team")
    _not_future(context, c.assigned_on, "the assignment")
    return [ev.CaseAssigned(worker_id=c.worker_id, team_id=c.team_id, assigned_on=c.assigned_on)]


def _transfer_allowed(state: CaseState, context: Context, recipient: str, consent_id: str, living_situation: str,
                      on: dt.date) -> tuple[str, ...]:
    """The checks of a transfer, asked for or carried out on `on`; the released categories."""
    if recipient == state.organisation_id:
        raise err.InvalidValue("a transfer goes to another organisation; reassign within one")
    consent = state.consents.get(consent_id)
    categories = consent.granted.data_categories if consent else ()
    require_consent(state, consent_id, recipient=recipient, purpose="case_transfer", categories=categories, on=on)
    _codes(context, "living_situation", living_situation)
    _not_future(context, on, "the transfer")
    _not_before(on, state.enrolled_on, "the transfer", "the start of enrolment")
    _no_open_referrals(state)
    return categories


def _request_transfer(state: CaseState, c: cmd.RequestTransfer, context: Context) -> list[ev.DomainEvent]:
    if state.pending_transfer is not None:
        raise err.TransferPending("a transfer of this case is already waiting for its recipient's answer")
    _transfer_allowed(state, context, c.recipient_organisation, c.consent_id, c.living_situation, c.requested_on)
    return [ev.TransferRequested(
        transfer_id=c.transfer_id, recipient_organisation=c.recipient_organisation, consent_id=c.consent_id,
        requested_on=c.requested_on, receiving_worker_id=c.receiving_worker_id,
        receiving_team_id=c.receiving_team_id, living_situation=c.living_situation)]


def _decline_transfer(state: CaseState, c: cmd.DeclineTransfer, context: Context) -> list[ev.DomainEvent]:
    pending = state.pending_transfer
    if pending is None or pending.transfer_id != c.transfer_id:
        raise err.TransferNotFound("no such transfer is waiting for an answer")
    _not_future(context, c.declined_on, "the answer")
    _not_before(c.declined_on, pending.requested_on, "the answer", "the request")
    return [ev.TransferDeclined(transfer_id=c.transfer_id, declined_on=c.declined_on, reason=c.reason)]


def _transfer(state: CaseState, c: cmd.TransferCase, context: Context) -> list[ev.DomainEvent]:
    pending = state.pending_transfer
    if pending is not None and (pending.transfer_id, pending.recipient_organisation, pending.consent_id) != (
            c.receiving_case_id, c.recipient_organisation, c.consent_id):
        raise err.TransferPending("another transfer of this case is waiting for its recipient's answer")
    categories = _transfer_allowed(state, context, c.recipient_organisation, c.consent_id, c.living_situation,
                                   c.transferred_on)
    return [
        ev.CaseTransferred(recipient_organisation=c.recipient_organisation, consent_id=c.consent_id,
                           released_categories=categories, transferred_on=c.transferred_on,
                           receiving_case_id=c.receiving_case_id),
        ev.CaseClosed(closed_on=c.transferred_on, reason="transferred", living_situation=c.living_situation,
                      **_obtained(state), referred_for_case_management=True),
    ]


def receiving_case(state: CaseState, transferred: ev.CaseTransferred, c: cmd.TransferCase) -> ev.CaseOpened:
    """The receiving organisation's new case: only what the consent released."""
    released = set(transferred.released_categories)
    age = family = None
    if "demographics" in released:  # age and household are demographics: only with consent
        age = state.age_on(transferred.transferred_on)
        family = state.intake.family_served
    intake = Intake(intake_on=transferred.transferred_on, intake_type="transfer",
                    referral_on=transferred.transferred_on, referral_source="ngo", age_at_intake=age,
                    family_served=family or FamilyServed())
    return ev.CaseOpened(
        case_id=transferred.receiving_case_id, organisation_id=transferred.recipient_organisation, intake=intake,
        victim_status=state.victim_status if "trafficking" in released else None,
        identity=state.identity if "identity" in released else None,
        contact=state.contact if "contact" in released else None,
        demographics=state.demographics if "demographics" in released else None,
        trafficking=state.trafficking if "trafficking" in released else None,
        worker_id=c.receiving_worker_id, team_id=c.receiving_team_id, transferred_in=True)


def _no_open_referrals(state: CaseState) -> None:
    if any(r.is_open for r in state.referrals.values()):
        raise err.OpenReferralsOnClosure("resolve open referrals (complete, revoke or expire them) first")


def _obtained(state: CaseState) -> dict[str, bool]:
    def obtained(*kinds: str) -> bool:
        return any(any(step in OBTAINED_STEPS[m.kind] for step, _ in m.history)
                   for m in state.milestones.values() if m.kind in kinds)

    return {
        "obtained_continued_presence": obtained("continued_presence"),
        "obtained_t_visa": obtained("t_visa"),
        "obtained_hhs_letter": obtained("hhs_certification", "hhs_eligibility"),
    }


def _close(state: CaseState, c: cmd.CloseCase, context: Context) -> list[ev.DomainEvent]:
    _codes(context, "closure_reason", c.reason)
    _codes(context, "living_situation", c.living_situation)
    if c.reason == "transferred":
        raise err.InvalidValue("use a transfer to close a case as transferred")
    _not_future(context, c.closed_on, "the closure")
    _not_before(c.closed_on, state.enrolled_on, "the closure", "the start of enrolment")
    _no_open_referrals(state)
    facts = _obtained(state)
    claimed = {"obtained_continued_presence": c.obtained_continued_presence,
               "obtained_t_visa": c.obtained_t_visa, "obtained_hhs_letter": c.obtained_hhs_letter}
    for name, value in claimed.items():
        if value and not facts[name]:
            raise err.InvalidValue(f"{name} is claimed but no such milestone is recorded")
    return [ev.CaseClosed(closed_on=c.closed_on, reason=c.reason, living_situation=c.living_situation,
                          referred_for_case_management=c.referred_for_case_management, **facts)]


def _reopen(state: CaseState, c: cmd.ReopenCase, context: Context) -> list[ev.DomainEvent]:
    if not state.is_closed:
        raise err.CaseNotClosed("only a closed case can be reopened")
    if state.transfer is not None:
        raise err.CaseClosed("a transferred case lives on at the receiving organisation")
    _not_future(context, c.reopened_on, "the reopening")
    _not_before(c.reopened_on, state.closure.closed_on, "the reopening", "the closure")
    return [ev.CaseReopened(reopened_on=c.reopened_on, reason=c.reason)]


# A client may revoke a consent, or change their mind about statistics, at any time —
# including after the case is closed (VAWA: consent is revocable).
_AFTER_CLOSURE = (cmd.RevokeConsent, cmd.RecordStatisticsConsent, cmd.DeclineTransfer)

_HANDLERS: dict[type, Callable[[CaseState, cmd.Command, Context], list[ev.DomainEvent]]] = {
    cmd.DetermineVictimStatus: _determine_status,
    cmd.UpdateTraffickingContext: _update_trafficking,
    cmd.GrantConsent: _grant_consent,
    cmd.RevokeConsent: _revoke_consent,
    cmd.RecordStatisticsConsent: _statistics_consent,
    cmd.AssessNeeds: _assess_needs,
    cmd.SetGoal: _set_goal,
    cmd.ChangeGoalStatus: _change_goal,
    cmd.ProposeReferral: _propose_referral,
    cmd.UpdateReferral: _update_referral,
    cmd.RecordService: _record_service,
    cmd.AssessOutcome: _assess_outcome,
    cmd.RecordImmigrationStep: _immigration_step,
    cmd.AssignCase: _assign,
    cmd.RequestTransfer: _request_transfer,
    cmd.DeclineTransfer: _decline_transfer,
    cmd.TransferCase: _transfer,
    cmd.CloseCase: _close,
}
