"""Follow-up rules and the tasks they make of a case (`domain.tasks`): due dates at the
rules' thresholds, a completed task that stays done, a snoozed one that comes back on its
day, a task that goes with its condition, and rules that are validated before they are
recorded. All data is synthetic."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid

import msgspec
import pytest

from domain.case.state import CaseState
from domain.tasks.actions import TaskDone, complete, fold_actions, snooze, snooze_faults
from domain.tasks.due import TaskAction, TaskStatus, conditions, due_tasks, task_id, tasks_on
from domain.tasks.rules import (
    DEFAULT_RULES,
    FollowUpKind,
    FollowUpRule,
    FollowUpRules,
    FollowUpRulesSet,
    rules_after,
    rules_faults,
)
from tests.domain.builders import (
    INTAKE_ON,
    case_closed,
    consent_granted,
    consent_revoked,
    day,
    external_referral_proposed,
    given,
    opened_event,
    referral_changed,
    step_recorded,
)

CASE = uuid.UUID("00000000-0000-4000-8000-00000000c0de")
K = FollowUpKind


def with_rule(kind: FollowUpKind, *, enabled: bool = True, days: int) -> tuple[FollowUpRule, ...]:
    return tuple(
        FollowUpRule(kind=r.kind, enabled=enabled, days=days) if r.kind == kind else r
        for r in DEFAULT_RULES.rules
    )


def kinds_due(
    state: CaseState,
    rules: FollowUpRules = DEFAULT_RULES,
    today: dt.date = INTAKE_ON,
    actions: dict[uuid.UUID, TaskAction] | None = None,
) -> dict[K, dt.date]:
    return {t.kind: t.due_on for t in due_tasks(CASE, state, rules, today, actions)}


def test_the_defaults_are_the_caseload_s_thresholds() -> None:
    assert [(r.kind, r.enabled, r.days) for r in DEFAULT_RULES.rules] == [
        (K.REFERRAL_OVERDUE, True, 14),
        (K.NO_CONTACT, True, 30),
        (K.CONSENT_EXPIRING, True, 30),
        (K.IMMIGRATION_DEADLINE, True, 30),
    ]
    assert rules_after([]) == DEFAULT_RULES


def test_no_contact_is_due_the_day_after_the_threshold() -> None:
    state = given(opened_event())  # last contact: the intake day
    assert kinds_due(state, today=INTAKE_ON + dt.timedelta(days=30)) == {}
    day_31 = INTAKE_ON + dt.timedelta(days=31)
    assert kinds_due(state, today=day_31) == {K.NO_CONTACT: day_31}
    [task] = due_tasks(CASE, state, DEFAULT_RULES, day_31 + dt.timedelta(days=1))
    assert task.status is TaskStatus.OVERDUE and task.reason == "no-recent-contact"


def test_an_organisation_s_rule_moves_the_due_date_and_a_disabled_rule_makes_none() -> None:
    state = given(opened_event())
    rules = rules_after(
        [FollowUpRulesSet(organisation_id="o", rules=with_rule(K.NO_CONTACT, days=7), set_by="a")]
    )
    assert kinds_due(state, rules, INTAKE_ON + dt.timedelta(days=8)) == {
        K.NO_CONTACT: INTAKE_ON + dt.timedelta(days=8)
    }
    off = rules_after(
        [
            FollowUpRulesSet(
                organisation_id="o",
                rules=with_rule(K.NO_CONTACT, enabled=False, days=7),
                set_by="a",
            )
        ]
    )
    assert kinds_due(state, off, INTAKE_ON + dt.timedelta(days=90)) == {}


def test_a_referral_waiting_too_long_is_a_task_until_it_is_answered() -> None:
    state = given(opened_event(), consent_granted(), external_referral_proposed())
    today = day(3, 16)  # proposed 3/1: 15 days waiting
    assert K.REFERRAL_OVERDUE in kinds_due(state, today=today)
    assert K.REFERRAL_OVERDUE not in kinds_due(state, today=day(3, 15))
    answered = given(
        opened_event(),
        consent_granted(),
        external_referral_proposed(),
        referral_changed("ref-1", "sent", day(3, 2)),
        referral_changed("ref-1", "accepted", day(3, 3)),
    )
    assert K.REFERRAL_OVERDUE not in kinds_due(answered, today=today)


def test_expiries_are_due_within_the_days_and_gone_once_passed() -> None:
    state = given(
        opened_event(),
        consent_granted(expires_on=day(12, 31)),
        step_recorded("cp-1", "continued_presence", "granted", day(3, 1), expires_on=day(11, 30)),
    )
    due = kinds_due(state, today=day(12, 1))
    assert due[K.CONSENT_EXPIRING] == day(12, 1)
    assert K.IMMIGRATION_DEADLINE not in due  # its expiry has passed: the condition is gone
    assert kinds_due(state, today=day(11, 5))[K.IMMIGRATION_DEADLINE] == day(10, 31)
    assert K.CONSENT_EXPIRING not in kinds_due(state, today=day(11, 30))
    revoked = given(opened_event(), consent_granted(), consent_revoked(revoked_on=day(4, 1)))
    assert K.CONSENT_EXPIRING not in kinds_due(revoked, today=day(12, 1))


def test_a_closed_case_has_no_task() -> None:
    state = given(opened_event(), case_closed())
    assert conditions(CASE, state) == []
    # control: the same case open has one
    assert conditions(CASE, given(opened_event()))


def test_a_completed_task_stays_done_and_a_later_contact_is_another_task() -> None:
    state = given(opened_event())
    today = INTAKE_ON + dt.timedelta(days=40)
    [task] = due_tasks(CASE, state, DEFAULT_RULES, today)
    done = fold_actions(complete(task, "worker-1", today))
    assert due_tasks(CASE, state, DEFAULT_RULES, today, done) == []
    [kept] = tasks_on(CASE, state, DEFAULT_RULES, today + dt.timedelta(days=5), done)
    assert kept.status is TaskStatus.DONE
    assert complete(kept, "worker-1", today) == []  # done once: nothing more recorded
    with pytest.raises(TaskDone):
        snooze(kept, today + dt.timedelta(days=3), "worker-1")
    # a snooze after a completion leaves it done
    both = fold_actions([*complete(task, "w", today), *snooze(task, today, "w")])
    assert tasks_on(CASE, state, DEFAULT_RULES, today, both)[0].status is TaskStatus.DONE
    later = given(
        opened_event(),
        consent_granted(),
        external_referral_proposed(proposed_on=today),  # a contact: the last one moves
    )
    assert task_id(CASE, K.NO_CONTACT, INTAKE_ON) != task_id(CASE, K.NO_CONTACT, today)
    assert due_tasks(CASE, later, DEFAULT_RULES, today, done) == []


def test_a_snoozed_task_reappears_on_its_day() -> None:
    state = given(opened_event())
    today = INTAKE_ON + dt.timedelta(days=40)
    [task] = due_tasks(CASE, state, DEFAULT_RULES, today)
    until = today + dt.timedelta(days=3)
    snoozed = fold_actions(snooze(task, until, "worker-1"))
    assert due_tasks(CASE, state, DEFAULT_RULES, until - dt.timedelta(days=1), snoozed) == []
    [back] = due_tasks(CASE, state, DEFAULT_RULES, until, snoozed)
    assert back.task_id == task.task_id and back.status is TaskStatus.OVERDUE


def test_a_snooze_must_end_after_today_and_within_bounds() -> None:
    today = day(5, 1)
    assert snooze_faults(today, today) and snooze_faults(today + dt.timedelta(days=91), today)
    assert snooze_faults(today + dt.timedelta(days=90), today) == []


def test_the_task_id_is_the_md5_postgresql_computes() -> None:
    digest = hashlib.md5(f"{CASE}/no_contact/2026-01-05".encode()).hexdigest()
    assert task_id(CASE, K.NO_CONTACT, day(1, 5)) == uuid.UUID(digest)


def test_rules_must_name_each_kind_once_with_days_in_bounds() -> None:
    assert rules_faults(DEFAULT_RULES.rules, "admin-1") == []
    assert [f for f, _ in rules_faults(DEFAULT_RULES.rules[:3], "admin-1")] == ["rules"]
    assert [f for f, _ in rules_faults(with_rule(K.NO_CONTACT, days=0), "admin-1")] == [
        "rules/1/days"
    ]
    assert [f for f, _ in rules_faults(with_rule(K.NO_CONTACT, days=367), "admin-1")] == [
        "rules/1/days"
    ]
    twice = (*DEFAULT_RULES.rules[:3], DEFAULT_RULES.rules[0])
    assert [f for f, _ in rules_faults(twice, "admin-1")] == ["rules"]
    assert [f for f, _ in rules_faults(DEFAULT_RULES.rules, "")] == ["set_by"]


def test_the_rules_event_holds_ids_and_numbers_only() -> None:
    event = FollowUpRulesSet(organisation_id="o", rules=DEFAULT_RULES.rules, set_by="admin-1")
    assert set(msgspec.to_builtins(event)) == {"type", "organisation_id", "rules", "set_by"}
