"""The supervisor's team page: the team's open cases as counts, ages, flags and worker ids
only, the workload per worker, referrals waiting by age, and the cases without a logged
service or contact in N days (`?days=N`; 0 lists every open case), each with a link to
reassign it (`services.console.reassign`).

It is authorised exactly as `GET /v1/caseload` (`Action.CASELOAD_TEAM`) and reads the same
query (`projections.caseload.team_caseload`), whose answer holds no identifying field: the
page cannot show survivor data because it is never given any. Every chart is followed by a
table of the same numbers. It is read from the read replica when there is one; shown right
after a reassignment (`?reassigned=`), only once the replica has replayed the primary's WAL
that far, else from the primary (`services.read_replica`).

The thresholds are the organisation's follow-up rules; the page also counts each worker's
overdue follow-up tasks, as `GET /v1/tasks/overdue-summary` does (`Action.TASK_OVERDUE_TEAM`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Template

from domain.tasks.rules import DEFAULT_RULES, FollowUpKind, FollowUpRules
from projections.caseload import OVERDUE_REFERRAL_DAYS, TeamCase, WorkerSummary, team_caseload
from projections.queries import ViewNotBuilt
from projections.tasks import WorkerOverdue, team_overdue
from services.authorisation import Action, require
from services.bootstrap import Runtime
from services.console.charts import bar_chart
from services.console.i18n import DEFAULT, N_, translate
from services.console.web import Console, page, signed_in
from services.read_replica import read_views
from services.tasks.rules import current_rules

DEFAULT_DAYS = 30
PAGE_SIZE = 200
MAX_CASES = 10_000  # the page reads at most this many of a team's open cases


async def team_cases(
    runtime: Runtime,
    organisation_id: str,
    team_id: str,
    today: dt.date,
    *,
    fresh: bool = False,
    rules: FollowUpRules = DEFAULT_RULES,
) -> tuple[list[WorkerSummary], list[TeamCase]]:
    """Every open case of the team (paged through the query, longest without contact
    first), and the summary per worker; with `fresh`, from a server that has every write
    committed so far."""

    async def every_page(pool: Any) -> tuple[list[WorkerSummary], list[TeamCase]]:
        cases: list[TeamCase] = []
        after = None
        while True:
            found = await team_caseload(
                pool, organisation_id, team_id, today, limit=PAGE_SIZE, after=after, rules=rules
            )
            cases.extend(found.cases)
            after = found.next_cursor
            if after is None or len(cases) >= MAX_CASES:
                return found.workers, cases

    team, _ = await read_views(runtime.pool, runtime.replica, every_page, fresh=fresh)
    return team


def figures(
    workers: list[WorkerSummary],
    cases: list[TeamCase],
    days: int,
    language: str = DEFAULT,
    *,
    referral_days: int = OVERDUE_REFERRAL_DAYS,
    overdue_tasks: list[WorkerOverdue] | None = None,
) -> dict[str, list[tuple[str, int]]]:
    """The numbers of the page's charts, each as (label, value) pairs, labelled in
    `language` (with `overdue_tasks`, the overdue follow-up tasks per worker too)."""
    waiting = sum(case.referrals_waiting for case in cases)
    overdue = sum(case.overdue_referrals for case in cases)
    unassigned = translate(language, N_("unassigned"))
    return {
        "workload": [(w.worker_id or unassigned, w.open_cases) for w in workers],
        "referrals": [
            (translate(language, N_("Waiting up to %(days)s days"), days=referral_days),
             waiting - overdue),
            (translate(language, N_("Overdue (over %(days)s days)"), days=referral_days),
             overdue),
        ],
        "quiet": [
            (w.worker_id or unassigned, sum(
                1 for c in cases if c.worker_id == w.worker_id and c.days_since_contact >= days
            ))
            for w in workers
        ],
        **({"tasks": [(w.worker_id, w.overdue) for w in overdue_tasks]}
           if overdue_tasks is not None else {}),
    }  # fmt: skip


@get("/team", name="console-team")
async def team_page(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
    console: NamedDependency[Console],
    days: Annotated[int, QueryParameter(ge=0, le=3650)] = DEFAULT_DAYS,
    reassigned: uuid.UUID | None = None,
) -> Template:
    signed = await signed_in(request, console)
    principal = signed.session.principal()
    require(principal, Action.CASELOAD_TEAM, None)
    require(principal, Action.TASK_OVERDUE_TEAM, None)
    rules = (await current_rules(runtime.store, principal.organisation_id)).rules
    today = dt.datetime.now(dt.UTC).date()
    try:
        workers, cases = await team_cases(
            runtime,
            principal.organisation_id,
            principal.team_id,
            today,
            fresh=reassigned is not None,
            rules=rules,
        )
    except ViewNotBuilt:
        return page("team.html", signed.session, built=False, days=days)
    overdue_tasks: list[WorkerOverdue] | None
    try:
        overdue_tasks, _ = await read_views(
            runtime.pool,
            runtime.replica,
            lambda pool: team_overdue(
                pool, principal.organisation_id, principal.team_id, today, rules
            ),
            fresh=False,
        )
    except ViewNotBuilt:  # the tasks read model not built yet: the page without its chart
        overdue_tasks = None
    language = signed.session.language
    numbers = figures(
        workers,
        cases,
        days,
        language,
        referral_days=rules.days(FollowUpKind.REFERRAL_OVERDUE),
        overdue_tasks=overdue_tasks,
    )
    titles = {
        "workload": translate(language, N_("Open cases per worker")),
        "referrals": translate(language, N_("Referrals waiting for an answer, by age")),
        "quiet": translate(
            language,
            N_("Cases without a service or contact in %(days)s days, per worker"),
            days=days,
        ),
        "tasks": translate(language, N_("Overdue follow-up tasks per worker")),
    }
    return page(
        "team.html",
        signed.session,
        built=True,
        days=days,
        reassigned=reassigned,
        workers=workers,
        total=len(cases),
        partial=len(cases) >= MAX_CASES,
        quiet=[case for case in cases if case.days_since_contact >= days],
        charts=[
            (
                name,
                titles[name],
                bar_chart(f"chart-{name}", titles[name], bars, translate(language, N_("No data"))),
                bars,
            )
            for name, bars in numbers.items()
        ],
    )


SUPERVISOR_PAGES = [team_page]
