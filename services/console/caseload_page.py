"""The console's home: a case worker's own open cases, as `GET /v1/caseload/mine` gives them
(`projections.caseload.my_caseload`, `Action.CASE_LIST_MINE`), sortable by any column and
paged (`?sort=days_open&order=asc&page=2`). A worker's caseload is read whole (it is tens of
cases), then sorted and cut into pages here; the default order puts the cases needing
attention first (most flags, then longest without contact). It is read from the read replica
when there is one (`services.read_replica`).

Above the cases, the worker's follow-up tasks due or overdue (`projections.tasks.worker_tasks`
under the organisation's rules), each with a button to complete it and a day to snooze it
until (`services.console.task_actions`). Back from such an action (`?task=`), the page waits,
bounded, until the `tasks` read model holds it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import Annotated, Any, Literal

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Template

from projections import checkpoints
from projections.caseload import MyCase, my_caseload
from projections.queries import ViewNotBuilt
from projections.tasks import ListedTask, TasksProjection, worker_tasks
from services.authorisation import Action, require
from services.bootstrap import Runtime
from services.case_finding.finding import caseload_names
from services.console.i18n import N_
from services.console.web import Console, page, reader, signed_in
from services.read_replica import read_views
from services.tasks.rules import current_rules

PAGE_SIZE = 25
TASK_CAUGHT_UP_SECONDS = 5.0
SNOOZE_DAYS = 7  # the day the snooze field offers
TaskOutcome = Literal["done", "snoozed", "snooze-refused", "already-done", "unavailable"]
TASK_REASONS = {
    "referral-unanswered": N_("A referral waits for an answer"),
    "no-recent-contact": N_("No recent contact"),
    "consent-expires": N_("A consent expires soon"),
    "immigration-deadline": N_("An immigration deadline is close"),
}
TASK_STATUSES = {"due": N_("due"), "overdue": N_("overdue")}
TASK_OUTCOMES = {
    "done": N_("The task is done."),
    "snoozed": N_("The task is snoozed."),
    "snooze-refused": N_("Not snoozed: choose a day after today, at most 90 days ahead."),
    "already-done": N_("Not snoozed: the task is done."),
    "unavailable": N_("The tasks are being built; try again in a moment."),
}
Sort = Literal[
    "attention", "days_open", "days_since_contact", "referrals_waiting", "next_consent_expiry"
]
FAR = dt.date.max
# (column heading, key) by sort name; ties keep the attention order (a stable sort).
COLUMNS: dict[str, tuple[str, Callable[[MyCase], Any]]] = {
    "attention": (N_("Flags"), lambda case: 0),
    "days_open": (N_("Days open"), lambda case: case.days_open),
    "days_since_contact": (N_("Days since contact"), lambda case: case.days_since_contact),
    "referrals_waiting": (N_("Referrals waiting"), lambda case: case.referrals_waiting),
    "next_consent_expiry": (
        N_("Next consent expiry"),
        lambda case: case.next_consent_expiry or FAR,
    ),
}


def arranged(
    cases: list[MyCase], sort: str, order: str, page_number: int
) -> tuple[list[MyCase], int]:
    """One page of the cases in the order asked, and how many pages there are."""
    key = COLUMNS[sort][1]
    ordered = sorted(cases, key=key, reverse=order == "desc") if sort != "attention" else cases
    pages = max(1, math.ceil(len(ordered) / PAGE_SIZE))
    start = (min(page_number, pages) - 1) * PAGE_SIZE
    return ordered[start : start + PAGE_SIZE], pages


@get("/", name="console-home")
async def caseload(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
    console: NamedDependency[Console],
    sort: Sort = "attention",
    order: Literal["asc", "desc"] = "desc",
    page_number: Annotated[int, QueryParameter(query="page", ge=1, le=10_000)] = 1,
    task: Annotated[TaskOutcome | None, QueryParameter()] = None,
) -> Template:
    signed = await signed_in(request, console)
    principal = signed.session.principal()
    cases = None
    tasks: list[ListedTask] = []
    tasks_built = True
    today = dt.datetime.now(dt.UTC).date()
    if "caseworker" in principal.roles:
        require(principal, Action.CASE_LIST_MINE, None)
        rules = (await current_rules(runtime.store, principal.organisation_id)).rules
        if task is not None:  # back from an action: show it done
            await checkpoints.wait_until_projected(
                runtime.pool,
                [TasksProjection.name],
                await checkpoints.log_head(runtime.pool),
                timeout=TASK_CAUGHT_UP_SECONDS,
            )
        try:
            cases, _ = await read_views(
                runtime.pool,
                runtime.replica,
                lambda pool: my_caseload(
                    pool, principal.organisation_id, principal.user_id, today, rules
                ),
                fresh=False,
            )
        except ViewNotBuilt:
            cases = None
        try:
            tasks, _ = await read_views(
                runtime.pool,
                runtime.replica,
                lambda pool: worker_tasks(
                    pool, principal.organisation_id, principal.user_id, today, rules
                ),
                fresh=task is not None,
            )
        except ViewNotBuilt:
            tasks_built = False
    shown, pages = arranged(cases or [], sort, order, page_number)
    names = await caseload_names(  # the page's cases only: one listing of what is shown
        runtime, principal, reader(request, signed, console).request_id, [c.case_id for c in shown]
    )
    return page(
        "caseload.html",
        signed.session,
        cases=cases,
        shown=shown,
        names=names,
        total=len(cases or []),
        sort=sort,
        order=order,
        page_number=min(page_number, pages),
        pages=pages,
        columns=COLUMNS,
        tasks=tasks,
        tasks_built=tasks_built,
        task_outcome=TASK_OUTCOMES.get(task or ""),
        task_reasons=TASK_REASONS,
        task_statuses=TASK_STATUSES,
        snooze_default=today + dt.timedelta(days=SNOOZE_DAYS),
    )


CASELOAD_PAGES = [caseload]
