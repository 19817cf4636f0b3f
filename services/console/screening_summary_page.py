"""The supervisors' screening counts: `GET /console/screenings/summary?from=D&to=D`.

Authorised and read exactly as `GET /v1/screenings/summary` (`Action.SCREENING_SUMMARY`,
`projections.screenings.screening_summary`): the organisation's screenings counted by result,
setting and month, from a read model that holds no answers and nothing about a person. A
supervisor sees these counts, never a screening. Every chart is followed by the table of its
numbers.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Template

from projections.queries import ViewNotBuilt
from projections.screenings import screening_summary
from services.authorisation import Action, require
from services.bootstrap import Runtime
from services.console.activity_pages import span_of
from services.console.charts import bar_chart
from services.console.i18n import N_, translate
from services.console.screening_form import RESULT_LABELS, SETTING_LABELS
from services.console.web import Console, page, signed_in
from services.read_replica import read_views

MAX_DAYS = 3 * 366 + 31  # as `GET /v1/screenings/summary`


@get("/screenings/summary")
async def screening_summary_page(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
    console: NamedDependency[Console],
    first: Annotated[dt.date | None, QueryParameter(name="from")] = None,
    last: Annotated[dt.date | None, QueryParameter(name="to")] = None,
) -> Template:
    signed = await signed_in(request, console)
    principal = signed.session.principal()
    require(principal, Action.SCREENING_SUMMARY, None)
    first, last = span_of(first, last, MAX_DAYS)

    async def read(pool: Any) -> Any:
        return await screening_summary(pool, principal.organisation_id, first, last)

    try:
        summary, _ = await read_views(runtime.pool, runtime.replica, read, fresh=False)
    except ViewNotBuilt:
        return page("screening_summary.html", signed.session, built=False)
    language = signed.session.language
    results = [
        (translate(language, RESULT_LABELS.get(code, code)), n)
        for code, n in summary.by_result.items()
    ]
    settings = [
        (translate(language, SETTING_LABELS.get(code, code)), n)
        for code, n in summary.by_setting.items()
    ]
    months = list(summary.by_month.items())
    empty = translate(language, N_("No data"))
    titles = {
        "results": translate(language, N_("Screenings by result")),
        "settings": translate(language, N_("Screenings by setting")),
        "months": translate(language, N_("Screenings per month")),
    }
    tables = {"results": results, "settings": settings, "months": months}
    return page(
        "screening_summary.html",
        signed.session,
        built=True,
        first=first,
        last=last,
        total=summary.total,
        charts=[
            (name, titles[name], bar_chart(f"chart-{name}", titles[name], rows, empty), rows)
            for name, rows in tables.items()
        ],
    )


SCREENING_SUMMARY_PAGES = [screening_summary_page]
