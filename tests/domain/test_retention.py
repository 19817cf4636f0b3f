"""The retention policy's rules (`domain.retention`): its bounds, and which cases are past it."""

from __future__ import annotations

import datetime as dt

import pytest

from domain.case import events as ev
from domain.case.state import CaseState
from domain.retention import (
    MAX_ERASE_AFTER_DAYS,
    MIN_ERASE_AFTER_DAYS,
    RetentionPolicy,
    RetentionPolicySet,
    case_past_policy,
    closure_past_policy,
    policy_after,
    policy_faults,
)
from tests.domain.builders import case_closed, day, given, opened_event

YEAR = RetentionPolicy(erase_after_days=365)


@pytest.mark.parametrize("days", [MIN_ERASE_AFTER_DAYS, 3650, MAX_ERASE_AFTER_DAYS])
def test_a_policy_within_the_bounds_may_be_set(days: int) -> None:
    assert policy_faults(days, "admin-1") == []


@pytest.mark.parametrize(
    "days", [0, -1, 30, MIN_ERASE_AFTER_DAYS - 1, MAX_ERASE_AFTER_DAYS + 1, True, 400.0, "400"]
)
def test_a_policy_outside_the_bounds_is_refused_by_field(days: object) -> None:
    faults = policy_faults(days, "admin-1")
    assert [field for field, _ in faults] == ["erase_after_days"]
    assert f"from {MIN_ERASE_AFTER_DAYS} to {MAX_ERASE_AFTER_DAYS}" in faults[0][1]


def test_the_setter_must_be_an_identifier_and_a_withdrawal_has_no_days() -> None:
    assert [field for field, _ in policy_faults(400, "line\nbreak")] == ["set_by"]
    assert policy_faults(None, "admin-1") == []


def test_the_last_event_is_the_policy_in_force() -> None:
    def set_to(days: int | None) -> RetentionPolicySet:
        return RetentionPolicySet(organisation_id="org-a", erase_after_days=days, set_by="a")

    assert policy_after([]) is None
    assert policy_after([set_to(400)]) == RetentionPolicy(erase_after_days=400)
    assert policy_after([set_to(400), set_to(800)]) == RetentionPolicy(erase_after_days=800)
    assert policy_after([set_to(400), set_to(None)]) is None


def test_a_case_is_kept_the_policy_s_full_days_after_its_closure() -> None:
    closed = dt.date(2026, 1, 20)
    last_kept = closed + dt.timedelta(days=365)
    assert not closure_past_policy(closed, YEAR, last_kept)
    assert closure_past_policy(closed, YEAR, last_kept + dt.timedelta(days=1))
    assert not closure_past_policy(None, YEAR, dt.date(2099, 1, 1))  # open: kept
    assert not closure_past_policy(closed, None, dt.date(2099, 1, 1))  # no policy: kept


def test_on_a_folded_case_only_a_closed_one_past_the_policy_is_due() -> None:
    opened = given(opened_event())
    closed = given(opened_event(), case_closed(closed_on=day(6, 1)))
    reopened = given(
        opened_event(), case_closed(closed_on=day(6, 1)), ev.CaseReopened(reopened_on=day(7, 1))
    )
    later = dt.date(2030, 1, 1)
    assert case_past_policy(closed, YEAR, later)
    assert not case_past_policy(closed, YEAR, day(6, 1) + dt.timedelta(days=365))
    assert not case_past_policy(opened, YEAR, later)
    assert not case_past_policy(reopened, YEAR, later)
    assert not case_past_policy(CaseState(), YEAR, later)
    assert not case_past_policy(closed, None, later)
