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
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Template

from projections.caseload import OVERDUE_REFERRAL_DAYS, TeamCase, WorkerSummary, team_caseload
from projections.queries import ViewNotBuilt
from services.authorisation import Action, require
from services.bootstrap import Runtime
from services.console.charts import bar_chart
from services.console.i18n import DEFAULT, N_, translate
from services.console.web import Console, page, signed_in
from services.read_replica import read_views

DEFAULT_DAYS = 30
PAGE_SIZE = 200
MAX_CASES = 10_000  # the page reads at most this many of a team's open cases


async def team_cases(
    runtime: Runtime, organisation_id: str, team_id: str, today: dt.date, *, fresh: bool = False
) -> tuple[list[WorkerSummary], list[TeamCase]]:
    """Every open case of the team (paged through the query, longest without contact
    first), and the summary per worker; with `fresh`, from a server that has every write
    committed so far."""

    async def every_page(pool: Any) -> tuple[list[WorkerSummary], list[TeamCase]]:
        cases: list[TeamCase] = []
        after = None
        while True:
            found = await team_caseload(
                pool, organisation_id, team_id, today, limit=PAGE_SIZE, after=after
            )
            cases.extend(found.cases)
            after = found.next_cursor
            if after is None or len(cases) >= MAX_CASES:
                return found.workers, cases

    team, _ = await read_views(runtime.pool, runtime.replica, every_page, fresh=fresh)
    return team


def figures(
    workers: list[WorkerSummary], cases: list[TeamCase], days: int, language: str = DEFAULT
) -> dict[str, list[tuple[str, int]]]:
    """The numbers of the page's charts, each as (label, value) pairs, labelled in
    `language`."""
    waiting = sum(case.referrals_waiting for case in cases)
    overdue = sum(case.overdue_referrals for case in cases)
    unassigned = translate(language, N_("unassigned"))
    return {
        "workload": [(w.worker_id or unassigned, w.open_cases) for w in workers],
        "referrals": [
            (translate(language, N_("Waiting up to %(days)s days"), days=OVERDUE_REFERRAL_DAYS),
             waiting - overdue),
            (translate(language, N_("Overdue (over %(days)s days)"), days=OVERDUE_REFERRAL_DAYS),
             overdue),
        ],
        "quiet": [
            (w.worker_id or unassigned, sum(
                1 for c in cases if c.worker_id == w.worker_id and c.days_since_contact >= days
            ))
            for w in workers
        ],
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
    try:
        workers, cases = await team_cases(
            runtime,
            principal.organisation_id,
            principal.team_id,
            dt.datetime.now(dt.UTC).date(),
            fresh=reassigned is not None,
        )
    except ViewNotBuilt:
        return page("team.html", signed.session, built=False, days=days)
    language = signed.session.language
    numbers = figures(workers, cases, days, language)
    titles = {
        "workload": translate(language, N_("Open cases per worker")),
        "referrals": translate(language, N_("Referrals waiting for an answer, by age")),
        "quiet": translate(
            language,
            N_("Cases without a service or contact in %(days)s days, per worker"),
            days=days,
        ),
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
