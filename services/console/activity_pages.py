"""Outreach, training and technical-assistance activities in the console (docs/outreach.md).

* `GET /console/activities[?from=D&to=D]`: the organisation's activities (latest first, from
  the `activities` read model) for case workers, outreach staff and supervisors; for a
  supervisor also the summary by month, kind and sector (`Action.ACTIVITY_SUMMARY`), as a
  chart of participants per month followed by the table of the same numbers.
* `GET /console/activities/new`, `POST /console/activities`: the form to record one, through
  `services.outreach.activities.record_activity` as `POST /v1/activities` goes, with the
  form's own idempotency key. Its faults are the record's own rules, named by pointer.

An activity is an organisational fact: its sectors are counted, its area is a state and
county FIPS codes, and nothing on these pages is about a person.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Redirect, Template

from domain.outreach.codes import DELIVERY, KINDS, SECTORS, STATES
from projections.activities import activity_page, activity_summary
from projections.queries import ViewNotBuilt
from services.api import observe
from services.api.activity_schemas import ActivityAccepted
from services.authorisation import Action, require
from services.bootstrap import Runtime
from services.commands.ports import Actor
from services.commands.refusals import InvalidRequest
from services.console import activity_form, forms
from services.console.charts import bar_chart
from services.console.i18n import N_, translate
from services.console.screening_pages import permitted
from services.console.web import PREFIX, Console, SignedIn, page, posted, signed_in
from services.outreach.activities import record_activity
from services.read_replica import read_views

LISTED = 100  # the latest activities the page lists
SUMMARY_MONTHS = 12  # the summary's default span: the twelve months up to today
MAX_DAYS = 3660  # as `GET /v1/activities/summary`


def span_of(
    first: dt.date | None, last: dt.date | None, max_days: int = MAX_DAYS
) -> tuple[dt.date, dt.date]:
    """The days a summary covers: those asked (in order, at most `max_days` apart: the
    latest kept), by default the twelve months up to today."""
    today = dt.datetime.now(dt.UTC).date()
    last = last or today
    if first is None:
        year, month = last.year, last.month - SUMMARY_MONTHS + 1
        while month < 1:
            year, month = year - 1, month + 12
        first = dt.date(year, month, 1)
    if last < first:
        first, last = last, first
    return max(first, last - dt.timedelta(days=max_days)), last


@get("/activities")
async def activities_page(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
    console: NamedDependency[Console],
    first: Annotated[dt.date | None, QueryParameter(name="from")] = None,
    last: Annotated[dt.date | None, QueryParameter(name="to")] = None,
    recorded: bool = False,
) -> Template:
    signed = await signed_in(request, console)
    principal = signed.session.principal()
    require(principal, Action.ACTIVITY_LIST, None)
    first, last = span_of(first, last)
    summarises = permitted(principal, Action.ACTIVITY_SUMMARY)
    organisation = principal.organisation_id

    async def read(pool: Any) -> tuple[Any, Any]:
        listed = await activity_page(pool, organisation, limit=LISTED)
        summary = await activity_summary(pool, organisation, first, last) if summarises else None
        return listed, summary

    try:
        (listed, summary), _ = await read_views(runtime.pool, runtime.replica, read, fresh=False)
    except ViewNotBuilt:
        return page("activities.html", signed.session, built=False)
    language = signed.session.language
    chart = None
    if summary is not None:
        per_month: dict[str, int] = {}
        for row in summary.by_month_and_kind:
            per_month[row.month] = per_month.get(row.month, 0) + row.participants
        title = translate(language, N_("Participants per month"))
        chart = bar_chart(
            "chart-participants", title, sorted(per_month.items()),
            translate(language, N_("No data")),
        )  # fmt: skip
    return page(
        "activities.html",
        signed.session,
        built=True,
        activities=listed.activities,
        summary=summary,
        chart=chart,
        first=first,
        last=last,
        kinds=KINDS,
        sectors=SECTORS,
        delivery=DELIVERY,
        may_record=permitted(principal, Action.ACTIVITY_RECORD),
        recorded=recorded,
    )


def _form_page(
    signed: SignedIn,
    status: int = 200,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Template:
    fresh = {
        "held_on": forms.today(),
        "languages": "en",
        "idempotency_key": forms.new_key(),
    }
    return page(
        "activity_form.html",
        signed.session,
        status,
        values=fresh if values is None else values,
        errors=errors or {},
        kinds=list(KINDS.items()),
        sectors=list(SECTORS.items()),
        delivery=list(DELIVERY.items()),
        states=[(code, code) for code in STATES],
    )


@get("/activities/new")
async def activity_form_page(
    request: Request[Any, Any, Any], console: NamedDependency[Console]
) -> Template:
    signed = await signed_in(request, console)
    require(signed.session.principal(), Action.ACTIVITY_RECORD, None)
    return _form_page(signed)


@post("/activities", status_code=303)
async def record_activity_page(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
    console: NamedDependency[Console],
) -> Any:
    signed, form = await posted(request, console)
    principal = signed.session.principal()
    require(principal, Action.ACTIVITY_RECORD, None)
    body, errors = activity_form.parsed(form)
    if body is None:
        return _form_page(signed, 422, form, errors)
    actor = Actor(principal.user_id, principal.organisation_id, observe.request_id(request.scope))
    try:
        await record_activity(
            runtime, actor, body.activity(),
            forms.form_idempotency(form, request.url.path, body),
            lambda activity_id, version: ActivityAccepted(
                activity_id=activity_id, version=version
            ),
        )  # fmt: skip
    except InvalidRequest as refused:
        return _form_page(signed, 422, form, activity_form.field_errors(refused.faults))
    return Redirect(f"{PREFIX}/activities?recorded=1", status_code=303)


ACTIVITY_PAGES = [activities_page, activity_form_page, record_activity_page]
