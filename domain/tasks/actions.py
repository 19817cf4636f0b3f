"""Completing and snoozing a task: its events and rules, pure, no I/O.

A task's actions are events on the case's task stream (`services.tasks.actions`): ids, the
kind, days and who acted, nothing about the survivor. A completed task stays done (another
completion records nothing; a snooze is refused); a snooze lasts until a day after today and
at most `MAX_SNOOZE_DAYS` ahead, and a later snooze replaces it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable

import msgspec

from domain.case.errors import DomainError
from domain.event import DomainEvent
from domain.tasks.due import Task, TaskAction, TaskStatus
from domain.tasks.rules import FollowUpKind

MAX_SNOOZE_DAYS = 90


class TaskCompleted(DomainEvent, frozen=True, kw_only=True, tag="task.completed"):
    task_id: str
    case_id: str
    kind: FollowUpKind
    completed_on: dt.date
    completed_by: str


class TaskSnoozed(DomainEvent, frozen=True, kw_only=True, tag="task.snoozed"):
    task_id: str
    case_id: str
    kind: FollowUpKind
    snoozed_until: dt.date
    snoozed_by: str


TASK_EVENTS: tuple[type[DomainEvent], ...] = (TaskCompleted, TaskSnoozed)


class TaskDone(DomainError):
    """The task was completed: a done task stays done."""

    code = "task-done"


def snooze_faults(until: dt.date, today: dt.date) -> list[tuple[str, str]]:
    if not today < until <= today + dt.timedelta(days=MAX_SNOOZE_DAYS):
        return [("until", f"until must be a day after today and at most {MAX_SNOOZE_DAYS} ahead")]
    return []


def complete(task: Task, by: str, today: dt.date) -> list[DomainEvent]:
    """A completion (nothing when the task is done already)."""
    if task.status is TaskStatus.DONE:
        return []
    return [
        TaskCompleted(
            task_id=str(task.task_id),
            case_id=str(task.case_id),
            kind=task.kind,
            completed_on=today,
            completed_by=by,
        )
    ]


def snooze(task: Task, until: dt.date, by: str) -> list[DomainEvent]:
    """A snooze until `until` (checked by `snooze_faults`); `TaskDone` for a done task."""
    if task.status is TaskStatus.DONE:
        raise TaskDone("a completed task stays done")
    return [
        TaskSnoozed(
            task_id=str(task.task_id),
            case_id=str(task.case_id),
            kind=task.kind,
            snoozed_until=until,
            snoozed_by=by,
        )
    ]


def fold_actions(events: Iterable[DomainEvent | None]) -> dict[uuid.UUID, TaskAction]:
    """What a task stream's events say of each task: the first completion stays, the last
    snooze counts."""
    actions: dict[uuid.UUID, TaskAction] = {}
    for event in events:
        if isinstance(event, TaskCompleted):
            key = uuid.UUID(event.task_id)
            earlier = actions.get(key, TaskAction())
            if earlier.completed_on is None:
                actions[key] = msgspec.structs.replace(earlier, completed_on=event.completed_on)
        elif isinstance(event, TaskSnoozed):
            key = uuid.UUID(event.task_id)
            earlier = actions.get(key, TaskAction())
            actions[key] = msgspec.structs.replace(earlier, snoozed_until=event.snoozed_until)
    return actions
