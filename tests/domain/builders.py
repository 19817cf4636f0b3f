"""Builders for the case aggregate's unit tests: synthetic, clearly fictitious data only.

Every name is a made-up label ("Client Alpha"), every phone number a 555-01xx placeholder,
every organisation an obviously fake id. Defaults describe one valid case; each builder takes
keyword overrides, so a test states only what it is about.

    state = given(opened_event(), consent_granted())
    assert decide(state, propose_external_referral(), context()) == [...]
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from typing import Any

from domain.case import commands as cmd
from domain.case import events as ev
from domain.case.checks import Context
from domain.case.decide import decide
from domain.case.lifecycles import IMMIGRATION_MACHINES, REFERRAL_REASON_LIST, REFERRAL_TRANSITIONS
from domain.case.state import CaseState, fold
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

# -- the clock and the people -----------------------------------------------------------

FIXED_NOW = dt.datetime(2026, 9, 15, 15, 0, tzinfo=dt.UTC)
TODAY = dt.date(2026, 9, 15)
LATEST_ALLOWED_DAY = dt.date(2026, 9, 16)  # FIXED_NOW + 14h05m falls on the 16th (UTC)
ACTOR = "worker-1"

CASE_ID = "case-test-0001"
ORG = "org-test-haven"
PARTNER = "org-test-partner-shelter"
OTHER_PARTNER = "org-test-partner-clinic"
WORKER = "worker-1"
TEAM = "team-test-a"

INTAKE_ON = dt.date(2026, 1, 5)
ADULT_DOB = dt.date(1994, 3, 12)  # 31 at intake
MINOR_DOB = dt.date(2010, 6, 1)  # 15 at intake


def day(month: int, d: int, year: int = 2026) -> dt.date:
    return dt.date(year, month, d)


def context(now: dt.datetime = FIXED_NOW, actor_id: str = ACTOR) -> Context:
    return Context(now=now, actor_id=actor_id)


def given(*events: ev.DomainEvent) -> CaseState:
    """The state after `events`, numbered 1, 2, 3, ..."""
    return fold(enumerate(events, 1))


def when(
    events: list[ev.DomainEvent] | tuple[ev.DomainEvent, ...],
    command: cmd.Command,
    now: dt.datetime = FIXED_NOW,
) -> list[ev.DomainEvent]:
    """Given these events, what `decide` answers to the command."""
    return decide(given(*events), command, context(now))


def then(state: CaseState, events: list[ev.DomainEvent]) -> CaseState:
    """The state after appending `events` to `state`."""
    return fold(enumerate(events, state.version + 1), state)


# -- intake values --------------------------------------------------------------------


def an_adult(**overrides: Any) -> Identity:
    return Identity(
        **{
            "preferred_name": "Client Alpha",
            "legal_name": "Client Alpha Example",
            "aliases": ("Alpha",),
            "date_of_birth": ADULT_DOB,
            **overrides,
        }
    )


def a_minor(**overrides: Any) -> Identity:
    return Identity(
        **{
            "preferred_name": "Client Beta",
            "legal_name": None,
            "aliases": (),
            "date_of_birth": MINOR_DOB,
            **overrides,
        }
    )


def an_intake(**overrides: Any) -> Intake:
    return Intake(
        **{
            "intake_on": INTAKE_ON,
            "intake_type": "referral",
            "referral_on": day(1, 3),
            "referral_source": "hotline",
            "matched_within_48h": True,
            "eligibility_status": "eligible",
            "age_at_intake": None,
            "family_served": FamilyServed(children_under_18=1),
            **overrides,
        }
    )


def a_safe_contact(**overrides: Any) -> SafeContact:
    channel = ContactChannel(
        channel="phone_call",
        detail="555-0100",
        safe_times="weekday mornings",
        may_leave_message=False,
    )
    return SafeContact(
        **{
            "channels": (channel,),
            "code_word": "placeholder-word",
            "notes": "synthetic note",
            **overrides,
        }
    )


def demographics(**overrides: Any) -> Demographics:
    return Demographics(
        **{
            "gender_identity": "woman",
            "lgbtq": "unknown",
            "race_ethnicity": ("not_reported",),
            "disabilities": (),
            "citizenship": "foreign_national",
            "preferred_language": "es",
            "interpreter_needed": True,
            **overrides,
        }
    )


def a_victim_status(**overrides: Any) -> VictimStatus:
    return VictimStatus(
        **{
            "status": "strong_indicators",
            "determined_on": INTAKE_ON,
            "determined_by": WORKER,
            **overrides,
        }
    )


def labor_trafficking(**overrides: Any) -> TraffickingContext:
    return TraffickingContext(
        **{
            "trafficking_type": "labor",
            "commercial_sex_act": False,
            "recruitment": ("job_offer",),
            "control_methods": ("debt_bondage", "threats"),
            "labor_industries": ("agriculture",),
            "sex_exploitation": (),
            "vulnerabilities": ("recent_migration",),
            "recruitment_location": "Placeholder Town A",
            "exploitation_location": "Placeholder Town B",
            "narrative": "synthetic narrative",
            **overrides,
        }
    )


def sex_trafficking(**overrides: Any) -> TraffickingContext:
    return TraffickingContext(
        **{
            "trafficking_type": "sex",
            "commercial_sex_act": True,
            "recruitment": ("internet",),
            "control_methods": ("psychological_abuse",),
            "labor_industries": (),
            "sex_exploitation": ("commercial_sex",),
            "vulnerabilities": ("runaway",),
            **overrides,
        }
    )


# -- intake: command and event ------------------------------------------------------------


def _case_fields(overrides: dict[str, Any]) -> dict[str, Any]:
    return {
        "case_id": CASE_ID,
        "organisation_id": ORG,
        "intake": an_intake(),
        "victim_status": a_victim_status(),
        "identity": an_adult(),
        "contact": a_safe_contact(),
        "demographics": demographics(),
        "trafficking": labor_trafficking(),
        "worker_id": WORKER,
        "team_id": TEAM,
        **overrides,
    }


def open_case_command(**overrides: Any) -> cmd.OpenCase:
    return cmd.OpenCase(**_case_fields(overrides))


def opened_event(**overrides: Any) -> ev.CaseOpened:
    return ev.CaseOpened(**_case_fields(overrides))


def opened_minor(**overrides: Any) -> ev.CaseOpened:
    """A 15-year-old's case, recorded (correctly) as sex trafficking."""
    return opened_event(**{"identity": a_minor(), "trafficking": sex_trafficking(), **overrides})


# -- consent --------------------------------------------------------------------------


def _consent_fields(overrides: dict[str, Any]) -> dict[str, Any]:
    return {
        "consent_id": "consent-1",
        "recipient_organisation": PARTNER,
        "purpose": "service_referral",
        "data_categories": ("contact", "identity", "needs"),
        "starts_on": day(2, 1),
        "expires_on": day(12, 31),
        "signed_on": day(2, 1),
        "signed_by": "client",
        "revocation_explained": True,
        "written": True,
        **overrides,
    }


def grant_consent_command(**overrides: Any) -> cmd.GrantConsent:
    return cmd.GrantConsent(**_consent_fields(overrides))


def consent_granted(**overrides: Any) -> ev.ConsentGranted:
    return ev.ConsentGranted(**_consent_fields(overrides))


def transfer_consent(**overrides: Any) -> ev.ConsentGranted:
    return consent_granted(
        **{
            "consent_id": "consent-transfer",
            "purpose": "case_transfer",
            "data_categories": ("contact", "identity", "needs"),
            **overrides,
        }
    )


def consent_revoked(
    consent_id: str = "consent-1",
    revoked_on: dt.date = day(4, 1),
    method: str = "written",
    recorded_by: str = ACTOR,
) -> ev.ConsentRevoked:
    return ev.ConsentRevoked(
        consent_id=consent_id, revoked_on=revoked_on, method=method, recorded_by=recorded_by
    )


# -- referrals ------------------------------------------------------------------------


def _external_referral_fields(overrides: dict[str, Any]) -> dict[str, Any]:
    return {
        "referral_id": "ref-1",
        "kind": "external",
        "category": "housing_shelter",
        "recipient": PARTNER,
        "purpose": "service_referral",
        "proposed_on": day(3, 1),
        "consent_id": "consent-1",
        "released_categories": ("contact", "identity"),
        "notes": "synthetic note",
        **overrides,
    }


def _internal_referral_fields(overrides: dict[str, Any]) -> dict[str, Any]:
    return {
        "referral_id": "ref-1",
        "kind": "internal",
        "category": "mental_health",
        "recipient": "team-test-b",
        "purpose": "care_coordination",
        "proposed_on": day(3, 1),
        "consent_id": None,
        "released_categories": (),
        "notes": None,
        **overrides,
    }


def propose_external_referral(**overrides: Any) -> cmd.ProposeReferral:
    return cmd.ProposeReferral(**_external_referral_fields(overrides))


def external_referral_proposed(**overrides: Any) -> ev.ReferralProposed:
    return ev.ReferralProposed(**_external_referral_fields(overrides))


def propose_internal_referral(**overrides: Any) -> cmd.ProposeReferral:
    return cmd.ProposeReferral(**_internal_referral_fields(overrides))


def internal_referral_proposed(**overrides: Any) -> ev.ReferralProposed:
    return ev.ReferralProposed(**_internal_referral_fields(overrides))


A_REASON = {"declined": "no_capacity", "revoked": "client_request"}
assert set(A_REASON) == set(REFERRAL_REASON_LIST)


def referral_changed(
    referral_id: str, status: str, changed_on: dt.date, reason: str | None = None
) -> ev.ReferralStatusChanged:
    return ev.ReferralStatusChanged(
        referral_id=referral_id, status=status, changed_on=changed_on, reason=reason
    )


def referral_path(target: str) -> list[str]:
    """The shortest legal status sequence from 'proposed' to `target`, from the table itself."""
    paths = {"proposed": ["proposed"]}
    queue = deque(["proposed"])
    while queue:
        current = queue.popleft()
        for nxt in sorted(REFERRAL_TRANSITIONS[current]):
            if nxt not in paths:
                paths[nxt] = [*paths[current], nxt]
                queue.append(nxt)
    return paths[target]


def referral_history(
    referral_id: str, target: str, start: dt.date = day(3, 1)
) -> list[ev.ReferralStatusChanged]:
    """Status changes taking a proposed referral to `target`, one day apart after `start`."""
    return [
        referral_changed(referral_id, status, start + dt.timedelta(days=i), A_REASON.get(status))
        for i, status in enumerate(referral_path(target)[1:], 1)
    ]


# -- immigration ------------------------------------------------------------------------


def step_recorded(
    milestone_id: str, kind: str, step: str, on: dt.date, **overrides: Any
) -> ev.ImmigrationStepRecorded:
    return ev.ImmigrationStepRecorded(
        milestone_id=milestone_id, kind=kind, step=step, on=on, **overrides
    )


def record_step(
    milestone_id: str, kind: str, step: str, on: dt.date, **overrides: Any
) -> cmd.RecordImmigrationStep:
    return cmd.RecordImmigrationStep(
        milestone_id=milestone_id, kind=kind, step=step, on=on, **overrides
    )


def milestone_path(kind: str, target: str) -> list[str]:
    """The shortest legal step sequence of `kind` that ends in `target`, from the table itself."""
    machine = IMMIGRATION_MACHINES[kind]
    paths = {start: [start] for start in sorted(machine.start)}
    queue = deque(sorted(machine.start))
    while queue:
        current = queue.popleft()
        for nxt in sorted(machine.transitions.get(current, ())):
            if nxt not in paths:
                paths[nxt] = [*paths[current], nxt]
                queue.append(nxt)
    return paths[target]


# -- closure -----------------------------------------------------------------------------


def case_closed(**overrides: Any) -> ev.CaseClosed:
    return ev.CaseClosed(
        **{"closed_on": day(6, 1), "reason": "goals_met", "living_situation": "rental", **overrides}
    )


def close_case_command(**overrides: Any) -> cmd.CloseCase:
    return cmd.CloseCase(
        **{"closed_on": day(6, 1), "reason": "goals_met", "living_situation": "rental", **overrides}
    )


def transfer_command(**overrides: Any) -> cmd.TransferCase:
    return cmd.TransferCase(
        **{
            "recipient_organisation": PARTNER,
            "consent_id": "consent-transfer",
            "transferred_on": day(5, 1),
            "receiving_case_id": "case-test-0002",
            "receiving_worker_id": "partner-worker-1",
            "receiving_team_id": "partner-team-1",
            "living_situation": "shelter",
            **overrides,
        }
    )


def request_transfer_command(**overrides: Any) -> cmd.RequestTransfer:
    return cmd.RequestTransfer(
        **{
            "transfer_id": "case-test-0002",
            "recipient_organisation": PARTNER,
            "consent_id": "consent-transfer",
            "requested_on": day(5, 1),
            "receiving_worker_id": "partner-worker-1",
            "receiving_team_id": "partner-team-1",
            "living_situation": "shelter",
            **overrides,
        }
    )


# -- one valid instance of every command (for "any command on ..." tests) ----------------


def one_of_each_command() -> dict[type[cmd.Command], cmd.Command]:
    commands: list[cmd.Command] = [
        open_case_command(),
        cmd.DetermineVictimStatus(
            victim_status=a_victim_status(status="confirmed", determined_on=day(2, 1))
        ),
        cmd.UpdateTraffickingContext(
            trafficking=labor_trafficking(labor_industries=("construction",))
        ),
        grant_consent_command(consent_id="consent-new"),
        cmd.RevokeConsent(consent_id="consent-1", revoked_on=day(7, 1), method="oral"),
        cmd.RecordStatisticsConsent(agrees=True, recorded_on=day(2, 1)),
        cmd.AssessNeeds(assessment_id="needs-1", assessed_on=day(7, 1), needs=("medical",)),
        cmd.SetGoal(
            goal_id="goal-new",
            category="employment",
            description="synthetic goal",
            set_on=day(7, 1),
        ),
        cmd.ChangeGoalStatus(goal_id="goal-1", status="in_progress", changed_on=day(7, 1)),
        propose_internal_referral(referral_id="ref-new", proposed_on=day(7, 1)),
        cmd.UpdateReferral(referral_id="ref-1", status="sent", changed_on=day(7, 1)),
        cmd.AnswerReferral(referral_id="ref-1", status="accepted", answered_on=day(7, 1)),
        cmd.ExpireReferral(referral_id="ref-1", expired_on=day(7, 1)),
        cmd.RecordService(service_id="svc-new", category="case_management", delivered_on=day(7, 1)),
        cmd.AssessOutcome(assessment_id="out-new", assessed_on=day(7, 1), scores={"safety": 3}),
        record_step("ms-new", "t_visa", "preparing", day(7, 1)),
        cmd.AssignCase(worker_id="worker-2", team_id=TEAM, assigned_on=day(7, 1)),
        transfer_command(transferred_on=day(7, 1)),
        request_transfer_command(requested_on=day(7, 1)),
        cmd.DeclineTransfer(transfer_id="case-test-0002", declined_on=day(7, 1)),
        close_case_command(closed_on=day(7, 1)),
        cmd.ReopenCase(reopened_on=day(7, 1)),
    ]
    return {type(c): c for c in commands}
