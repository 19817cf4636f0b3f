"""A case worker's follow-up tasks from the caseload page: `POST /console/tasks/{id}/complete`
and `POST /console/tasks/{id}/snooze` (`until`), through the same use cases as
`POST /v1/tasks/{id}/complete|snooze` (`services.tasks.actions`, `Action.TASK_UPDATE`: the
case's assigned worker only). Each answers with the caseload page again, which waits
(bounded) until the `tasks` read model holds the action; a day the snooze refuses, or a done
task snoozed, is said there in a sentence. Another worker's task, or one that is not there,
is the console's not-found page."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from litestar import Request, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect

from domain.tasks.actions import TaskDone
from projections.queries import ViewNotBuilt
from services.bootstrap import Runtime
from services.commands.refusals import InvalidRequest
from services.console.web import PREFIX, Console, posted
from services.tasks.actions import complete_task, snooze_task


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def _back(outcome: str) -> Redirect:
    return Redirect(f"{PREFIX}/?task={outcome}", status_code=303)


@post("/tasks/{task_id:uuid}/complete", status_code=303)
async def complete(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
    console: NamedDependency[Console],
    task_id: FromPath[uuid.UUID],
) -> Redirect:
    signed, _ = await posted(request, console)
    try:
        await complete_task(runtime, signed.session.principal(), task_id, _today())
    except ViewNotBuilt:
        return _back("unavailable")
    return _back("done")


@post("/tasks/{task_id:uuid}/snooze", status_code=303)
async def snooze(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
    console: NamedDependency[Console],
    task_id: FromPath[uuid.UUID],
) -> Redirect:
    signed, form = await posted(request, console)
    try:
        until = dt.date.fromisoformat(form.get("until", ""))
    except ValueError:
        return _back("snooze-refused")
    try:
        await snooze_task(runtime, signed.session.principal(), task_id, until, _today())
    except InvalidRequest:
        return _back("snooze-refused")
    except TaskDone:
        return _back("already-done")
    except ViewNotBuilt:
        return _back("unavailable")
    return _back("snoozed")


TASK_ACTION_PAGES = [complete, snooze]
