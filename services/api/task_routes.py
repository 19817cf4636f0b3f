"""Follow-up rules and tasks (`services.tasks`, `projections.tasks`).

* `GET /v1/follow-up-rules` (follow_up.rules_read: the administrator, supervisors): the
  organisation's rules in force — one per kind, each with `enabled` and `days` — who set
  them and when (`set_by` null: the defaults).
* `PUT /v1/follow-up-rules` (follow_up.rules_set: the administrator): `{rules: [...]}`, every
  kind once -> 200 with the rules as recorded; days out of bounds or a kind missing is 422
  `validation-error`; another change recorded meanwhile is 409 `concurrent-change`.
* `GET /v1/tasks` (task.list_mine: case workers): the caller's tasks due or overdue today,
  oldest first — ids, kind, reason code, due date, status; nothing about the survivor.
* `POST /v1/tasks/{task_id}/complete`, `POST /v1/tasks/{task_id}/snooze` `{until}`
  (task.update: the case's assigned worker): 200 with the task. Another worker's task is 403,
  a task that is not (or no longer) there 404; a done task cannot be snoozed (409
  `task-done`); `until` must be after today and at most 90 days ahead (422).
* `GET /v1/tasks/overdue-summary` (task.overdue_team: supervisors): per worker of the
  caller's team, how many tasks are overdue and due today — counts only.

Tasks are computed from the caseload read model, so they lag the log by the projector's
delay; a task whose view is ahead of or behind its case is decided on the case's stream.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, TypeVar

import msgspec
from litestar import Request, Response, get, post, put
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body

from domain.tasks.due import Task, TaskStatus
from domain.tasks.rules import FollowUpKind, FollowUpRule
from projections.tasks import ListedTask, WorkerOverdue, team_overdue, worker_tasks
from services.api.caseload_routes import built
from services.api.identity_routes import BEARER_SECURITY
from services.api.responses import REFUSALS, problem_spec
from services.authorisation import Action, require
from services.bootstrap import Runtime
from services.commands.refusals import InvalidRequest
from services.identity import Principal
from services.tasks.actions import complete_task, snooze_task
from services.tasks.rules import FollowUpRulesRecord, RulesRefused, current_rules, set_rules

TAGS = ["tasks"]
NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
T = TypeVar("T")
_NOT_BUILT = {503: problem_spec("The read model is not built yet (`service-unavailable`).")}


class FollowUpRuleItem(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    kind: FollowUpKind
    enabled: bool
    days: int  # referrals and contact: "for longer than"; consents and immigration: "within"


class FollowUpRulesBody(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """Every kind once: referral_overdue, no_contact, consent_expiring, immigration_deadline."""

    rules: list[FollowUpRuleItem]


class FollowUpRulesView(msgspec.Struct, frozen=True, kw_only=True):
    organisation_id: str
    rules: list[FollowUpRuleItem]
    set_by: str | None  # null: the defaults, never set
    set_at: dt.datetime | None


class TaskList(msgspec.Struct, frozen=True, kw_only=True):
    tasks: list[ListedTask]


class TaskView(msgspec.Struct, frozen=True, kw_only=True):
    task_id: uuid.UUID
    case_id: uuid.UUID
    kind: FollowUpKind
    reason: str
    due_on: dt.date
    status: TaskStatus


class SnoozeBody(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    until: dt.date  # the task is listed again on this day


class OverdueSummary(msgspec.Struct, frozen=True, kw_only=True):
    team_id: str
    workers: list[WorkerOverdue]


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def _private(body: T) -> Response[T]:
    """Not cached anywhere: what a worker has to do is nobody else's to see."""
    return Response(body, headers=NO_STORE)


def _rules_view(record: FollowUpRulesRecord) -> FollowUpRulesView:
    return FollowUpRulesView(
        organisation_id=record.organisation_id,
        rules=[
            FollowUpRuleItem(kind=r.kind, enabled=r.enabled, days=r.days)
            for r in record.rules.rules
        ],
        set_by=record.set_by,
        set_at=record.set_at,
    )


def _task_view(task: Task) -> TaskView:
    return TaskView(
        task_id=task.task_id,
        case_id=task.case_id,
        kind=task.kind,
        reason=task.reason,
        due_on=task.due_on,
        status=task.status,
    )


@get(
    "/v1/follow-up-rules",
    operation_id="getFollowUpRules",
    tags=TAGS,
    summary="The organisation's follow-up rules (administrator, supervisors)",
    security=BEARER_SECURITY,
    responses={**REFUSALS},
)
async def get_follow_up_rules(
    request: Request[Principal, Any, Any], runtime: NamedDependency[Runtime]
) -> Response[FollowUpRulesView]:
    principal = request.user
    require(principal, Action.FOLLOW_UP_RULES_READ, None)
    return _private(_rules_view(await current_rules(runtime.store, principal.organisation_id)))


@put(
    "/v1/follow-up-rules",
    operation_id="setFollowUpRules",
    tags=TAGS,
    summary="Set the organisation's follow-up rules (administrator)",
    security=BEARER_SECURITY,
    responses={
        **REFUSALS,
        409: problem_spec("Another change was recorded meanwhile (`concurrent-change`)."),
        422: problem_spec(
            "Days out of bounds, or a kind missing or repeated (`validation-error`)."
        ),
    },
)
async def set_follow_up_rules(
    request: Request[Principal, Any, Any],
    runtime: NamedDependency[Runtime],
    data: Annotated[FollowUpRulesBody, Body(media_type=RequestEncodingType.JSON)],
) -> Response[FollowUpRulesView]:
    principal = request.user
    require(principal, Action.FOLLOW_UP_RULES_SET, None)
    rules = tuple(FollowUpRule(kind=r.kind, enabled=r.enabled, days=r.days) for r in data.rules)
    try:
        record = await set_rules(runtime.store, principal.organisation_id, rules, principal.user_id)
    except RulesRefused as refused:
        raise InvalidRequest([(f"/{field}", rule) for field, rule in refused.faults]) from None
    return _private(_rules_view(record))


@get(
    "/v1/tasks",
    operation_id="myTasks",
    tags=TAGS,
    summary="My follow-up tasks due or overdue today",
    security=BEARER_SECURITY,
    responses={**REFUSALS, **_NOT_BUILT},
)
async def my_tasks(
    request: Request[Principal, Any, Any], runtime: NamedDependency[Runtime]
) -> Response[TaskList]:
    principal = request.user
    require(principal, Action.TASK_LIST_MINE, None)
    rules = (await current_rules(runtime.store, principal.organisation_id)).rules
    async with built():
        tasks = await worker_tasks(
            runtime.pool, principal.organisation_id, principal.user_id, _today(), rules
        )
    return _private(TaskList(tasks=tasks))


@get(
    "/v1/tasks/overdue-summary",
    operation_id="teamOverdueTasks",
    tags=TAGS,
    summary="My team's overdue and due task counts per worker (supervisors)",
    security=BEARER_SECURITY,
    responses={**REFUSALS, **_NOT_BUILT},
)
async def overdue_summary(
    request: Request[Principal, Any, Any], runtime: NamedDependency[Runtime]
) -> Response[OverdueSummary]:
    principal = request.user
    require(principal, Action.TASK_OVERDUE_TEAM, None)
    rules = (await current_rules(runtime.store, principal.organisation_id)).rules
    async with built():
        workers = await team_overdue(
            runtime.pool, principal.organisation_id, principal.team_id, _today(), rules
        )
    return _private(OverdueSummary(team_id=principal.team_id, workers=workers))


_ACT_RESPONSES = {
    **REFUSALS,
    **_NOT_BUILT,
    409: problem_spec(
        "A done task cannot be snoozed (`task-done`), or another action was recorded "
        "meanwhile (`concurrent-change`)."
    ),
}


@post(
    "/v1/tasks/{task_id:uuid}/complete",
    operation_id="completeTask",
    tags=TAGS,
    summary="Complete one of my tasks (it stays done)",
    security=BEARER_SECURITY,
    status_code=200,
    responses=_ACT_RESPONSES,
)
async def complete(
    request: Request[Principal, Any, Any], runtime: NamedDependency[Runtime], task_id: uuid.UUID
) -> Response[TaskView]:
    async with built():
        task = await complete_task(runtime, request.user, task_id, _today())
    return _private(_task_view(task))


@post(
    "/v1/tasks/{task_id:uuid}/snooze",
    operation_id="snoozeTask",
    tags=TAGS,
    summary="Snooze one of my tasks until a day (it is listed again on that day)",
    security=BEARER_SECURITY,
    status_code=200,
    responses={
        **_ACT_RESPONSES,
        422: problem_spec("`until` not after today or too far ahead (`validation-error`)."),
    },
)
async def snooze(
    request: Request[Principal, Any, Any],
    runtime: NamedDependency[Runtime],
    task_id: uuid.UUID,
    data: Annotated[SnoozeBody, Body(media_type=RequestEncodingType.JSON)],
) -> Response[TaskView]:
    async with built():
        task = await snooze_task(runtime, request.user, task_id, data.until, _today())
    return _private(_task_view(task))


TASK_ROUTES = [
    get_follow_up_rules,
    set_follow_up_rules,
    my_tasks,
    overdue_summary,
    complete,
    snooze,
]
