"""Which follow-up tasks a case has on a day: pure rules, no I/O.

A task is a follow-up rule met by one fact of an open case: a referral waiting since a day,
the last contact on a day, a consent or an immigration deadline expiring on a day (its
*anchor*). Referrals waiting since the same day make one task, as do consents expiring on the
same day. A task's id is derived from the case, the kind and the anchor alone
(`task_id`), so the same fact is the same task on every day and under any rule, and a
different fact (a contact logged, a referral answered and another sent) is another task.

* Its due date: the first day the rule is met — `days` + 1 days after a referral started
  waiting or after the last contact ("for longer than `days`"), `days` days before a
  consent or an immigration deadline expires ("within `days`").
* It is listed from its due date, and overdue on every day after it.
* Its condition is gone, and so is the task, when the fact is: the referral answered, a
  contact logged, the consent revoked, the expiry passed, the case closed or transferred,
  the rule switched off.
* Completed, it stays done; snoozed until a day, it is not listed before that day.

A task carries ids, a kind, dates and a reason code: nothing about the survivor. The
same rule is written in SQL over the caseload (`projections.tasks`); a test holds the two
equal.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import uuid
from collections.abc import Mapping

import msgspec

from domain.case.lifecycles import REFERRAL_AWAITING_ANSWER
from domain.case.state import CaseState
from domain.tasks.rules import FollowUpKind, FollowUpRules

REASONS: Mapping[FollowUpKind, str] = {
    FollowUpKind.REFERRAL_OVERDUE: "referral-unanswered",
    FollowUpKind.NO_CONTACT: "no-recent-contact",
    FollowUpKind.CONSENT_EXPIRING: "consent-expires",
    FollowUpKind.IMMIGRATION_DEADLINE: "immigration-deadline",
}
_COUNTS_FROM_ANCHOR = frozenset({FollowUpKind.REFERRAL_OVERDUE, FollowUpKind.NO_CONTACT})


class TaskStatus(enum.StrEnum):
    DUE = "due"
    OVERDUE = "overdue"
    SNOOZED = "snoozed"
    DONE = "done"


class Condition(msgspec.Struct, frozen=True, kw_only=True):
    """A fact of an open case that a follow-up rule may be about."""

    case_id: uuid.UUID
    kind: FollowUpKind
    anchor_on: dt.date

    @property
    def task_id(self) -> uuid.UUID:
        return task_id(self.case_id, self.kind, self.anchor_on)


class TaskAction(msgspec.Struct, frozen=True, kw_only=True):
    """What the worker did with a task: completed it (on a day), snoozed it (until a day)."""

    completed_on: dt.date | None = None
    snoozed_until: dt.date | None = None


class Task(msgspec.Struct, frozen=True, kw_only=True):
    task_id: uuid.UUID
    case_id: uuid.UUID
    kind: FollowUpKind
    due_on: dt.date
    reason: str
    status: TaskStatus


def task_id(case_id: uuid.UUID, kind: FollowUpKind, anchor_on: dt.date) -> uuid.UUID:
    """The task's id: an MD5 of `case/kind/anchor`, which PostgreSQL computes alike
    (`md5(...)::uuid`). Not a secret: a name."""
    return uuid.UUID(hashlib.md5(f"{case_id}/{kind}/{anchor_on.isoformat()}".encode()).hexdigest())


def conditions(case_id: uuid.UUID, state: CaseState) -> list[Condition]:
    """The facts of the case that follow-up rules are about (none for a closed, transferred
    or unassigned case)."""
    if not state.exists or state.closure is not None or state.transfer is not None:
        return []
    if state.worker_id is None:
        return []
    anchors: set[tuple[FollowUpKind, dt.date]] = set()
    for referral in state.referrals.values():
        if referral.status in REFERRAL_AWAITING_ANSWER:
            anchors.add((FollowUpKind.REFERRAL_OVERDUE, referral.last_changed_on))
    if state.last_activity_on is not None:
        anchors.add((FollowUpKind.NO_CONTACT, state.last_activity_on))
    for consent in state.consents.values():
        if consent.revoked is None:
            anchors.add((FollowUpKind.CONSENT_EXPIRING, consent.granted.expires_on))
    for milestone in state.milestones.values():
        if milestone.expires_on is not None:
            anchors.add((FollowUpKind.IMMIGRATION_DEADLINE, milestone.expires_on))
    return [
        Condition(case_id=case_id, kind=kind, anchor_on=anchor) for kind, anchor in sorted(anchors)
    ]


def due_on(kind: FollowUpKind, anchor_on: dt.date, days: int) -> dt.date:
    if kind in _COUNTS_FROM_ANCHOR:
        return anchor_on + dt.timedelta(days=days + 1)
    return anchor_on - dt.timedelta(days=days)


def holds_on(condition: Condition, today: dt.date) -> bool:
    """An expiry that has passed is no longer coming: its task is gone."""
    return condition.kind in _COUNTS_FROM_ANCHOR or condition.anchor_on >= today


def status_on(due: dt.date, action: TaskAction | None, today: dt.date) -> TaskStatus:
    if action is not None and action.completed_on is not None:
        return TaskStatus.DONE
    if action is not None and action.snoozed_until is not None and action.snoozed_until > today:
        return TaskStatus.SNOOZED
    return TaskStatus.OVERDUE if due < today else TaskStatus.DUE


def tasks_on(
    case_id: uuid.UUID,
    state: CaseState,
    rules: FollowUpRules,
    today: dt.date,
    actions: Mapping[uuid.UUID, TaskAction] | None = None,
) -> list[Task]:
    """Every task of the case that has come due by `today` under `rules`, whatever its
    status (done and snoozed included), by due date then id."""
    tasks = []
    for condition in conditions(case_id, state):
        rule = rules.rule(condition.kind)
        if not rule.enabled or not holds_on(condition, today):
            continue
        due = due_on(condition.kind, condition.anchor_on, rule.days)
        if due > today:
            continue
        tasks.append(
            Task(
                task_id=condition.task_id,
                case_id=case_id,
                kind=condition.kind,
                due_on=due,
                reason=REASONS[condition.kind],
                status=status_on(due, (actions or {}).get(condition.task_id), today),
            )
        )
    return sorted(tasks, key=lambda t: (t.due_on, str(t.task_id)))


def due_tasks(
    case_id: uuid.UUID,
    state: CaseState,
    rules: FollowUpRules,
    today: dt.date,
    actions: Mapping[uuid.UUID, TaskAction] | None = None,
) -> list[Task]:
    """The tasks the worker has to do on `today`: due or overdue (not done, not snoozed)."""
    return [
        task
        for task in tasks_on(case_id, state, rules, today, actions)
        if task.status in (TaskStatus.DUE, TaskStatus.OVERDUE)
    ]
