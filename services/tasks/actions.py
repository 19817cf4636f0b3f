"""Completing and snoozing a follow-up task (`domain.tasks.actions`): find → authorise → decide
→ append.

The task is found by id among the organisation's tasks of today (`projections.tasks`), which
names its case; the decision is then taken on the case as its stream has it
(`services.commands.case_reader.current_state`) and on the case's task stream: the task must
still hold under the organisation's rules, and only the case's assigned worker may act on it
(`Action.TASK_UPDATE`). The events go to the case's task stream, in the organisation's
tenant, with the stream's version as the concurrency check (`ConcurrencyConflict`: 409),
holding the case against erasure until they commit (an erased case's task stream is erased
with it).
"""

from __future__ import annotations

import datetime as dt
import uuid

from domain.event import EventMetadata
from domain.tasks.actions import complete, fold_actions, snooze, snooze_faults
from domain.tasks.due import Task, tasks_on
from events.erasure import hold_against_erasure
from events.errors import StreamNotFound
from events.store import Connection
from projections.tasks import find_task
from services.authorisation import (
    Action,
    CaseFacts,
    Forbidden,
    NotFound,
    Outcome,
    authorise,
    require,
)
from services.bootstrap import Runtime
from services.commands.case_reader import current_state
from services.commands.refusals import InvalidRequest
from services.identity import Principal
from services.tasks.rules import current_rules
from services.tasks.streams import task_stream


async def _hold_case(conn: Connection, tenant: str, case_id: uuid.UUID) -> None:
    """Hold the case against erasure until the action commits, and refuse a case erased
    meanwhile: an erasure then either comes first (404 here) or waits and erases the task
    stream with the case (`services.tasks.streams`)."""
    await hold_against_erasure(conn, [(tenant, case_id)])
    alive = await conn.fetchval(
        "SELECT wrapped_key IS NOT NULL FROM haven.streams WHERE tenant_id = $1 AND stream_id = $2",
        tenant,
        case_id,
    )
    if not alive:
        raise NotFound()


async def _act(
    runtime: Runtime,
    principal: Principal,
    task_id: uuid.UUID,
    today: dt.date,
    until: dt.date | None,
) -> Task:
    if authorise(principal, Action.TASK_UPDATE, None).outcome is Outcome.FORBIDDEN:
        raise Forbidden()  # a role that may never: refused before anything is looked up
    organisation = principal.organisation_id
    rules = (await current_rules(runtime.store, organisation)).rules
    # the caller's own tasks first (the usual case, one worker's cases), then the
    # organisation's: another worker's task is 403, no such task 404
    listed = await find_task(
        runtime.pool, organisation, task_id, today, rules, worker_id=principal.user_id
    ) or await find_task(runtime.pool, organisation, task_id, today, rules)
    if listed is None:
        raise NotFound()
    case_id = listed.case_id
    state = await current_state(runtime, organisation, case_id)
    require(principal, Action.TASK_UPDATE, CaseFacts.of(state))
    stream = task_stream(case_id)
    try:
        recorded = list(await runtime.store.read_stream(organisation, stream))
    except StreamNotFound:
        recorded = []
    events = [r.event for r in recorded]

    def the_task() -> Task | None:
        found = tasks_on(case_id, state, rules, today, fold_actions(events))
        return next((t for t in found if t.task_id == task_id), None)

    task = the_task()
    if task is None:  # the view is behind the case: the task's condition is gone
        raise NotFound()
    if until is None:
        decided = complete(task, principal.user_id, today)
    else:
        faults = snooze_faults(until, today)
        if faults:
            raise InvalidRequest([(f"/{field}", rule) for field, rule in faults])
        decided = snooze(task, until, principal.user_id)
    if decided:
        async with runtime.store.transaction() as conn:
            await _hold_case(conn, organisation, case_id)
            await runtime.store.append(
                organisation,
                stream,
                recorded[-1].version if recorded else 0,
                decided,
                EventMetadata(actor_id=principal.user_id),
                connection=conn,
            )
        events += decided
    acted = the_task()
    if acted is None:  # cannot be: an action changes a task's status, not its condition
        raise NotFound()
    return acted


async def complete_task(
    runtime: Runtime, principal: Principal, task_id: uuid.UUID, today: dt.date
) -> Task:
    """Complete the task (a done task stays done: nothing more is recorded)."""
    return await _act(runtime, principal, task_id, today, None)


async def snooze_task(
    runtime: Runtime, principal: Principal, task_id: uuid.UUID, until: dt.date, today: dt.date
) -> Task:
    """Snooze the task until `until`; `InvalidRequest` for a day out of bounds, `TaskDone` for
    a completed task."""
    return await _act(runtime, principal, task_id, today, until)
