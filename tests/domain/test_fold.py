"""The fold: consecutive versions, a whole case story, and `invariants.problems`."""

from __future__ import annotations

import pytest

from domain.case import commands as cmd
from domain.case import errors as err
from domain.case import events as ev
from domain.case.decide import decide
from domain.case.invariants import problems
from domain.case.state import CaseState, fold
from domain.case.values import VictimStatus
from tests.domain.builders import (
    CASE_ID,
    ORG,
    PARTNER,
    a_minor,
    an_adult,
    case_closed,
    consent_granted,
    context,
    day,
    external_referral_proposed,
    given,
    grant_consent_command,
    internal_referral_proposed,
    labor_trafficking,
    open_case_command,
    opened_event,
    propose_external_referral,
    record_step,
    referral_changed,
    sex_trafficking,
    then,
)

# -- versions -----------------------------------------------------------------------------------


def test_fold_numbers_events_from_one() -> None:
    state = fold(enumerate([opened_event(), consent_granted()], 1))
    assert state.version == 2 and state.exists


def test_fold_of_nothing_is_a_case_that_does_not_exist() -> None:
    state = fold([])
    assert state == CaseState() and not state.exists


def test_fold_starting_at_version_2_is_a_gap() -> None:
    with pytest.raises(err.VersionGap):
        fold([(2, opened_event())])


def test_fold_with_a_missing_version_is_a_gap() -> None:
    with pytest.raises(err.VersionGap):
        fold([(1, opened_event()), (3, consent_granted())])


def test_fold_with_a_repeated_version_is_a_gap() -> None:
    with pytest.raises(err.VersionGap):
        fold([(1, opened_event()), (1, consent_granted())])


def test_fold_continues_a_state_from_its_version() -> None:
    state = given(opened_event())
    assert fold([(2, consent_granted())], state).version == 2
    with pytest.raises(err.VersionGap):
        fold([(3, consent_granted())], state)


def test_fold_refuses_something_that_is_not_a_case_event() -> None:
    with pytest.raises(TypeError):
        fold([(1, opened_event()), (2, "not an event")])  # type: ignore[list-item]


# -- a whole case story, command by command ------------------------------------------------------

STORY: list[cmd.Command] = [
    open_case_command(),
    cmd.DetermineVictimStatus(
        victim_status=VictimStatus(
            status="confirmed", determined_on=day(1, 20), determined_by="certifying-agency-role"
        )
    ),
    cmd.UpdateTraffickingContext(
        trafficking=labor_trafficking(control_methods=("withholds_documents",))
    ),
    grant_consent_command(),
    cmd.RecordStatisticsConsent(agrees=False, recorded_on=day(1, 5)),
    cmd.AssessNeeds(
        assessment_id="needs-1",
        assessed_on=day(1, 6),
        needs=("legal_immigration", "housing_shelter"),
    ),
    cmd.SetGoal(
        goal_id="goal-1",
        category="housing_shelter",
        description="synthetic goal",
        set_on=day(1, 6),
        target_on=day(6, 30),
    ),
    propose_external_referral(proposed_on=day(3, 1)),
    cmd.UpdateReferral(referral_id="ref-1", status="sent", changed_on=day(3, 2)),
    cmd.UpdateReferral(referral_id="ref-1", status="accepted", changed_on=day(3, 4)),
    cmd.RecordService(
        service_id="svc-1",
        category="housing_shelter",
        delivered_on=day(3, 10),
        units=30,
        provider=PARTNER,
        referral_id="ref-1",
    ),
    cmd.UpdateReferral(referral_id="ref-1", status="completed", changed_on=day(4, 10)),
    cmd.ChangeGoalStatus(goal_id="goal-1", status="achieved", changed_on=day(4, 10)),
    cmd.AssessOutcome(
        assessment_id="out-1", assessed_on=day(4, 12), scores={"housing_stability": 4, "safety": 3}
    ),
    record_step("cp-1", "continued_presence", "requested", day(1, 10)),
    record_step("cp-1", "continued_presence", "granted", day(2, 1), expires_on=day(2, 1, 2028)),
    record_step("tv-1", "t_visa", "filed", day(2, 15), receipt_number="TEST-0001"),
    cmd.AssignCase(worker_id="worker-2", team_id="team-test-b", assigned_on=day(4, 20)),
    cmd.CloseCase(
        closed_on=day(5, 1),
        reason="goals_met",
        living_situation="transitional_housing",
        obtained_continued_presence=True,
    ),
    cmd.ReopenCase(reopened_on=day(7, 1), reason="synthetic reason"),
    cmd.RecordService(
        service_id="svc-2", category="case_management", delivered_on=day(7, 2), minutes=45
    ),
]


def live(commands: list[cmd.Command]) -> tuple[CaseState, list[ev.DomainEvent]]:
    """Run commands through `decide` one by one, folding what each returns."""
    state, log = CaseState(), []
    for command in commands:
        events = decide(state, command, context())
        state = then(state, events)
        log.extend(events)
    return state, log


def test_the_fold_of_a_whole_case_story_holds_its_facts() -> None:
    state, log = live(STORY)

    assert state.version == len(log) == len(STORY)
    assert (state.case_id, state.organisation_id) == (CASE_ID, ORG)
    assert state.victim_status == VictimStatus(
        status="confirmed", determined_on=day(1, 20), determined_by="certifying-agency-role"
    )
    assert state.trafficking.control_methods == ("withholds_documents",)
    assert state.identity == an_adult()
    assert list(state.consents) == ["consent-1"] and state.consents["consent-1"].revoked is None
    assert state.statistics_consent is False
    assert [n.needs for n in state.needs] == [("housing_shelter", "legal_immigration")]
    assert state.goals["goal-1"].status == "achieved"
    referral = state.referrals["ref-1"]
    assert (referral.status, referral.is_open) == ("completed", False)
    assert referral.history == (
        ("proposed", day(3, 1)),
        ("sent", day(3, 2)),
        ("accepted", day(3, 4)),
        ("completed", day(4, 10)),
    )
    assert [s.service_id for s in state.services] == ["svc-1", "svc-2"]
    assert [o.scores for o in state.outcomes] == [{"housing_stability": 4, "safety": 3}]
    cp = state.milestones["cp-1"]
    assert (cp.kind, cp.step, cp.on, cp.expires_on) == (
        "continued_presence",
        "granted",
        day(2, 1),
        day(2, 1, 2028),
    )
    assert cp.history == (("requested", day(1, 10)), ("granted", day(2, 1)))
    assert (state.milestones["tv-1"].step, state.milestones["tv-1"].history) == (
        "filed",
        (("filed", day(2, 15)),),
    )
    assert (state.worker_id, state.team_id) == ("worker-2", "team-test-b")
    assert (state.closure, state.transfer, state.is_closed) == (None, None, False)
    assert (state.enrolments, state.enrolled_on) == (2, day(7, 1))
    assert state.last_activity_on == day(7, 2)


def test_the_story_closed_with_the_obtained_milestones() -> None:
    _, log = live(STORY)
    closed = next(e for e in log if isinstance(e, ev.CaseClosed))
    assert closed == ev.CaseClosed(
        closed_on=day(5, 1),
        reason="goals_met",
        living_situation="transitional_housing",
        obtained_continued_presence=True,
        obtained_t_visa=False,
        obtained_hhs_letter=False,
        referred_for_case_management=False,
    )


def test_folding_in_one_go_equals_folding_step_by_step() -> None:
    state, log = live(STORY)
    assert given(*log) == state


def test_a_valid_story_has_no_problems() -> None:
    state, _ = live(STORY)
    assert problems(state) == []


def test_every_prefix_of_a_valid_story_has_no_problems() -> None:
    _, log = live(STORY)
    for n in range(1, len(log) + 1):
        assert problems(given(*log[:n])) == [], n


# -- invariants: controls that the checker can fail ------------------------------------------------


def test_control_a_closed_case_with_an_open_referral_is_a_problem() -> None:
    # `decide` would refuse this closure; `evolve` never validates, so the state can be built.
    state = given(opened_event(), internal_referral_proposed(), case_closed())
    assert problems(state) == ["a closed case has open referrals"]


def test_control_a_minor_in_commercial_sex_recorded_as_labor_is_a_problem() -> None:
    state = given(
        opened_event(identity=a_minor(), trafficking=labor_trafficking(commercial_sex_act=True))
    )
    assert problems(state) == [
        "a minor in commercial sex is not recorded as a sex-trafficking victim"
    ]


def test_control_an_external_referral_beyond_its_consent_is_a_problem() -> None:
    state = given(
        opened_event(),
        consent_granted(data_categories=("needs",)),
        external_referral_proposed(released_categories=("identity", "needs")),
    )
    assert problems(state) == ["external referral ref-1 released more than the consent covers"]


def test_control_an_external_referral_without_an_active_consent_is_a_problem() -> None:
    state = given(
        opened_event(), consent_granted(expires_on=day(2, 20)), external_referral_proposed()
    )
    assert problems(state) == ["external referral ref-1 was proposed outside its consent"]


def test_control_an_illegal_referral_history_is_a_problem() -> None:
    state = given(
        opened_event(),
        internal_referral_proposed(),
        referral_changed("ref-1", "completed", day(3, 2)),
    )
    assert problems(state) == [
        "referral ref-1 moved proposed -> completed",
        "referral ref-1 completed without being accepted",
    ]


def test_control_a_referral_history_going_back_in_time_is_a_problem() -> None:
    state = given(
        opened_event(),
        internal_referral_proposed(proposed_on=day(3, 5)),
        referral_changed("ref-1", "sent", day(3, 4)),
    )
    assert problems(state) == ["referral ref-1 history goes back in time"]


def test_control_an_invalid_consent_is_a_problem() -> None:
    state = given(opened_event(), consent_granted(written=False, expires_on=day(1, 1)))
    assert problems(state) == [
        "consent consent-1 has dates out of order",
        "consent consent-1 is not a valid release",
    ]


def test_control_an_illegal_milestone_step_is_a_problem() -> None:
    state = given(
        opened_event(),
        ev.ImmigrationStepRecorded(
            milestone_id="tv-1", kind="t_visa", step="approved", on=day(2, 1)
        ),
    )
    assert problems(state) == ["milestone tv-1 took an illegal step"]


def test_control_a_closure_before_the_enrolment_is_a_problem() -> None:
    state = given(opened_event(), case_closed(closed_on=day(1, 1)))
    assert problems(state) == ["the case closed before it was opened"]


def test_control_the_same_facts_recorded_validly_have_no_problems() -> None:
    state = given(
        opened_event(identity=a_minor(), trafficking=sex_trafficking()),
        internal_referral_proposed(),
        referral_changed("ref-1", "revoked", day(3, 2), "client_request"),
        case_closed(),
    )
    assert problems(state) == []
