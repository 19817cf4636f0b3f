"""Services, outcomes, needs and goals: RecordService, AssessOutcome, AssessNeeds, SetGoal,
ChangeGoalStatus."""

from __future__ import annotations

import pytest

from domain.case import commands as cmd
from domain.case import errors as err
from domain.case import events as ev
from domain.case.care_rules import MAX_MINUTES, MAX_UNITS
from tests.domain.builders import (
    PARTNER,
    consent_granted,
    consent_revoked,
    day,
    external_referral_proposed,
    internal_referral_proposed,
    opened_event,
    referral_history,
    when,
)

OPENED = opened_event()


def a_service(**overrides) -> cmd.RecordService:
    return cmd.RecordService(
        **{
            "service_id": "svc-1",
            "category": "case_management",
            "delivered_on": day(3, 1),
            "units": 2,
            "minutes": 90,
            "provider": "internal",
            "notes": "synthetic note",
            **overrides,
        }
    )


def service_delivered(**overrides) -> ev.ServiceDelivered:
    return ev.ServiceDelivered(
        **{
            "service_id": "svc-1",
            "category": "case_management",
            "delivered_on": day(3, 1),
            "units": 2,
            "minutes": 90,
            "provider": "internal",
            "referral_id": None,
            "notes": "synthetic note",
            **overrides,
        }
    )


# -- RecordService ----------------------------------------------------------------------------


def test_record_service_records_exactly_the_service() -> None:
    assert when([OPENED], a_service()) == [
        ev.ServiceDelivered(
            service_id="svc-1",
            category="case_management",
            delivered_on=day(3, 1),
            units=2,
            minutes=90,
            provider="internal",
            referral_id=None,
            notes="synthetic note",
        )
    ]


def test_a_service_is_recorded_on_a_case_with_no_consent_at_all() -> None:
    assert when([OPENED], a_service(category="housing_shelter")) == [
        service_delivered(category="housing_shelter")
    ]


def test_a_service_is_recorded_on_a_case_whose_only_consent_was_revoked() -> None:
    story = [OPENED, consent_granted(), consent_revoked(revoked_on=day(2, 10))]
    assert when(story, a_service(provider=PARTNER)) == [service_delivered(provider=PARTNER)]


def test_a_service_is_recorded_on_a_case_whose_consent_expired() -> None:
    story = [OPENED, consent_granted(expires_on=day(2, 20))]
    assert when(story, a_service()) == [service_delivered()]


def test_a_service_id_already_used_is_refused() -> None:
    with pytest.raises(err.DuplicateRecord):
        when([OPENED, service_delivered()], a_service(category="medical"))


def test_an_empty_service_id_is_refused() -> None:
    with pytest.raises(err.InvalidValue):
        when([OPENED], a_service(service_id=""))


def test_a_service_of_an_unknown_category_is_refused() -> None:
    with pytest.raises(err.InvalidCode):
        when([OPENED], a_service(category="massage_chair"))


@pytest.mark.parametrize("units", [0, -1, MAX_UNITS + 1])
def test_units_out_of_bounds_are_refused(units: int) -> None:
    with pytest.raises(err.InvalidValue):
        when([OPENED], a_service(units=units))


@pytest.mark.parametrize("units", [1, MAX_UNITS])
def test_units_at_the_bounds_are_accepted(units: int) -> None:
    assert when([OPENED], a_service(units=units)) == [service_delivered(units=units)]


@pytest.mark.parametrize("minutes", [0, -5, MAX_MINUTES + 1])
def test_minutes_out_of_bounds_are_refused(minutes: int) -> None:
    with pytest.raises(err.InvalidValue):
        when([OPENED], a_service(minutes=minutes))


@pytest.mark.parametrize("minutes", [1, MAX_MINUTES, None])
def test_minutes_at_the_bounds_or_unrecorded_are_accepted(minutes: int | None) -> None:
    assert MAX_MINUTES == 24 * 60
    assert when([OPENED], a_service(minutes=minutes)) == [service_delivered(minutes=minutes)]


def test_a_service_without_a_provider_is_refused() -> None:
    with pytest.raises(err.InvalidValue):
        when([OPENED], a_service(provider=""))


def test_a_service_before_intake_is_refused() -> None:
    with pytest.raises(err.DateOutOfOrder):
        when([OPENED], a_service(delivered_on=day(1, 4)))


def test_a_service_on_the_intake_date_is_accepted() -> None:
    assert when([OPENED], a_service(delivered_on=day(1, 5))) == [
        service_delivered(delivered_on=day(1, 5))
    ]


def test_a_service_in_the_future_is_refused() -> None:
    with pytest.raises(err.DateInFuture):
        when([OPENED], a_service(delivered_on=day(9, 17)))


def test_a_service_under_an_unknown_referral_is_refused() -> None:
    with pytest.raises(err.ReferralNotFound):
        when([OPENED], a_service(referral_id="ref-404"))


@pytest.mark.parametrize("status", ["proposed", "sent", "declined", "revoked", "expired"])
def test_a_service_under_a_referral_that_was_not_accepted_is_refused(status: str) -> None:
    story = [OPENED, internal_referral_proposed(), *referral_history("ref-1", status)]
    with pytest.raises(err.ReferralNotOpen):
        when(story, a_service(referral_id="ref-1", delivered_on=day(3, 20)))


@pytest.mark.parametrize("status", ["accepted", "in_progress", "completed"])
def test_a_service_under_an_accepted_referral_is_accepted(status: str) -> None:
    story = [
        OPENED,
        consent_granted(),
        external_referral_proposed(),
        *referral_history("ref-1", status),
    ]
    command = a_service(referral_id="ref-1", provider=PARTNER, delivered_on=day(3, 20))
    assert when(story, command) == [
        service_delivered(referral_id="ref-1", provider=PARTNER, delivered_on=day(3, 20))
    ]


# -- AssessOutcome --------------------------------------------------------------------------------


def test_assess_outcome_records_the_scores_sorted_by_domain() -> None:
    command = cmd.AssessOutcome(
        assessment_id="out-1",
        assessed_on=day(4, 1),
        scores={"safety": 4, "housing_stability": 2, "mental_health": 3},
    )
    events = when([OPENED], command)
    assert events == [
        ev.OutcomeAssessed(
            assessment_id="out-1",
            assessed_on=day(4, 1),
            scores={"housing_stability": 2, "mental_health": 3, "safety": 4},
        )
    ]
    assert list(events[0].scores) == ["housing_stability", "mental_health", "safety"]


def test_assess_outcome_without_scores_is_refused() -> None:
    with pytest.raises(err.InvalidValue):
        when([OPENED], cmd.AssessOutcome(assessment_id="out-1", assessed_on=day(4, 1), scores={}))


def test_assess_outcome_in_an_unknown_domain_is_refused() -> None:
    with pytest.raises(err.InvalidCode):
        when(
            [OPENED],
            cmd.AssessOutcome(
                assessment_id="out-1", assessed_on=day(4, 1), scores={"safety": 3, "happiness": 5}
            ),
        )


@pytest.mark.parametrize("score", [0, 6, -1])
def test_assess_outcome_with_a_score_outside_1_to_5_is_refused(score: int) -> None:
    with pytest.raises(err.InvalidValue):
        when(
            [OPENED],
            cmd.AssessOutcome(
                assessment_id="out-1", assessed_on=day(4, 1), scores={"safety": score}
            ),
        )


@pytest.mark.parametrize("score", [1, 5])
def test_assess_outcome_at_the_ends_of_the_scale_is_accepted(score: int) -> None:
    events = when(
        [OPENED],
        cmd.AssessOutcome(assessment_id="out-1", assessed_on=day(4, 1), scores={"safety": score}),
    )
    assert events == [
        ev.OutcomeAssessed(assessment_id="out-1", assessed_on=day(4, 1), scores={"safety": score})
    ]


def test_assess_outcome_with_an_id_already_used_is_refused() -> None:
    earlier = ev.OutcomeAssessed(assessment_id="out-1", assessed_on=day(3, 1), scores={"safety": 2})
    with pytest.raises(err.DuplicateRecord):
        when(
            [OPENED, earlier],
            cmd.AssessOutcome(assessment_id="out-1", assessed_on=day(4, 1), scores={"safety": 3}),
        )


def test_assess_outcome_before_intake_is_refused() -> None:
    with pytest.raises(err.DateOutOfOrder):
        when(
            [OPENED],
            cmd.AssessOutcome(assessment_id="out-1", assessed_on=day(1, 1), scores={"safety": 3}),
        )


def test_assess_outcome_in_the_future_is_refused() -> None:
    with pytest.raises(err.DateInFuture):
        when(
            [OPENED],
            cmd.AssessOutcome(assessment_id="out-1", assessed_on=day(9, 17), scores={"safety": 3}),
        )


# -- AssessNeeds ---------------------------------------------------------------------------------


def test_assess_needs_records_the_needs_deduplicated_and_sorted() -> None:
    command = cmd.AssessNeeds(
        assessment_id="needs-1",
        assessed_on=day(1, 6),
        needs=("medical", "housing_shelter", "medical"),
        notes="synthetic note",
    )
    assert when([OPENED], command) == [
        ev.NeedsAssessed(
            assessment_id="needs-1",
            assessed_on=day(1, 6),
            needs=("housing_shelter", "medical"),
            notes="synthetic note",
        )
    ]


def test_assess_needs_of_an_unknown_category_is_refused() -> None:
    with pytest.raises(err.InvalidCode):
        when(
            [OPENED],
            cmd.AssessNeeds(assessment_id="needs-1", assessed_on=day(1, 6), needs=("yacht",)),
        )


def test_assess_needs_with_an_id_already_used_is_refused() -> None:
    earlier = ev.NeedsAssessed(assessment_id="needs-1", assessed_on=day(1, 6), needs=("medical",))
    with pytest.raises(err.DuplicateRecord):
        when(
            [OPENED, earlier],
            cmd.AssessNeeds(assessment_id="needs-1", assessed_on=day(2, 6), needs=("dental",)),
        )


def test_assess_needs_before_intake_is_refused() -> None:
    with pytest.raises(err.DateOutOfOrder):
        when(
            [OPENED],
            cmd.AssessNeeds(assessment_id="needs-1", assessed_on=day(1, 4), needs=("medical",)),
        )


def test_assess_needs_in_the_future_is_refused() -> None:
    with pytest.raises(err.DateInFuture):
        when(
            [OPENED],
            cmd.AssessNeeds(assessment_id="needs-1", assessed_on=day(9, 17), needs=("medical",)),
        )


# -- SetGoal -----------------------------------------------------------------------------------


def a_goal(**overrides) -> cmd.SetGoal:
    return cmd.SetGoal(
        **{
            "goal_id": "goal-1",
            "category": "employment",
            "description": "synthetic goal",
            "set_on": day(2, 1),
            "target_on": day(8, 1),
            **overrides,
        }
    )


GOAL = ev.GoalSet(
    goal_id="goal-1",
    category="employment",
    description="synthetic goal",
    set_on=day(2, 1),
    target_on=day(8, 1),
)


def test_set_goal_records_it() -> None:
    assert when([OPENED], a_goal()) == [
        ev.GoalSet(
            goal_id="goal-1",
            category="employment",
            description="synthetic goal",
            set_on=day(2, 1),
            target_on=day(8, 1),
        )
    ]


def test_set_goal_without_a_target_date_is_accepted() -> None:
    assert when([OPENED], a_goal(target_on=None)) == [
        ev.GoalSet(
            goal_id="goal-1",
            category="employment",
            description="synthetic goal",
            set_on=day(2, 1),
            target_on=None,
        )
    ]


def test_set_goal_with_a_target_date_before_it_was_set_is_refused() -> None:
    with pytest.raises(err.DateOutOfOrder):
        when([OPENED], a_goal(set_on=day(2, 1), target_on=day(1, 31)))


def test_set_goal_with_a_target_date_on_the_day_it_was_set_is_accepted() -> None:
    events = when([OPENED], a_goal(set_on=day(2, 1), target_on=day(2, 1)))
    assert [e.target_on for e in events] == [day(2, 1)]


@pytest.mark.parametrize("description", ["", "  "])
def test_set_goal_without_a_description_is_refused(description: str) -> None:
    with pytest.raises(err.InvalidValue):
        when([OPENED], a_goal(description=description))


def test_set_goal_with_an_id_already_used_is_refused() -> None:
    with pytest.raises(err.DuplicateRecord):
        when([OPENED, GOAL], a_goal(category="education"))


def test_set_goal_of_an_unknown_category_is_refused() -> None:
    with pytest.raises(err.InvalidCode):
        when([OPENED], a_goal(category="world_domination"))


def test_set_goal_before_intake_is_refused() -> None:
    with pytest.raises(err.DateOutOfOrder):
        when([OPENED], a_goal(set_on=day(1, 4)))


def test_set_goal_in_the_future_is_refused() -> None:
    with pytest.raises(err.DateInFuture):
        when([OPENED], a_goal(set_on=day(9, 17), target_on=None))


# -- ChangeGoalStatus ----------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["in_progress", "achieved", "discontinued"])
def test_change_goal_status_records_it(status: str) -> None:
    command = cmd.ChangeGoalStatus(goal_id="goal-1", status=status, changed_on=day(3, 1))
    assert when([OPENED, GOAL], command) == [
        ev.GoalStatusChanged(goal_id="goal-1", status=status, changed_on=day(3, 1))
    ]


def test_a_goal_in_progress_may_go_back_to_open() -> None:
    story = [
        OPENED,
        GOAL,
        ev.GoalStatusChanged(goal_id="goal-1", status="in_progress", changed_on=day(3, 1)),
    ]
    assert when(
        story, cmd.ChangeGoalStatus(goal_id="goal-1", status="open", changed_on=day(3, 2))
    ) == [ev.GoalStatusChanged(goal_id="goal-1", status="open", changed_on=day(3, 2))]


@pytest.mark.parametrize("finished", ["achieved", "discontinued"])
@pytest.mark.parametrize("status", ["open", "in_progress", "achieved", "discontinued"])
def test_a_finished_goal_cannot_change(finished: str, status: str) -> None:
    story = [
        OPENED,
        GOAL,
        ev.GoalStatusChanged(goal_id="goal-1", status=finished, changed_on=day(3, 1)),
    ]
    with pytest.raises(err.InvalidValue):
        when(story, cmd.ChangeGoalStatus(goal_id="goal-1", status=status, changed_on=day(3, 2)))


def test_changing_a_goal_to_the_status_it_has_is_refused() -> None:
    with pytest.raises(err.InvalidValue):
        when(
            [OPENED, GOAL],
            cmd.ChangeGoalStatus(goal_id="goal-1", status="open", changed_on=day(3, 1)),
        )


def test_changing_an_unknown_goal_is_refused() -> None:
    with pytest.raises(err.GoalNotFound):
        when(
            [OPENED, GOAL],
            cmd.ChangeGoalStatus(goal_id="goal-2", status="achieved", changed_on=day(3, 1)),
        )


def test_changing_a_goal_to_an_unknown_status_is_refused() -> None:
    with pytest.raises(err.InvalidCode):
        when(
            [OPENED, GOAL],
            cmd.ChangeGoalStatus(goal_id="goal-1", status="abandoned", changed_on=day(3, 1)),
        )


def test_changing_a_goal_before_it_was_set_is_refused() -> None:
    with pytest.raises(err.DateOutOfOrder):
        when(
            [OPENED, GOAL],
            cmd.ChangeGoalStatus(goal_id="goal-1", status="achieved", changed_on=day(1, 31)),
        )


def test_changing_a_goal_in_the_future_is_refused() -> None:
    with pytest.raises(err.DateInFuture):
        when(
            [OPENED, GOAL],
            cmd.ChangeGoalStatus(goal_id="goal-1", status="achieved", changed_on=day(9, 17)),
        )
