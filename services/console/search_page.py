"""The case worker's search for a client (`POST /v1/cases/search` in the console).

`GET /console/search` is the form; its `POST` searches the organisation's blind index by name,
alias, date of birth or phone (`services.case_finding.finding.search`: only cases the worker
may read, the search recorded once without its terms) and lists what it found with the
client's names. A form post and not a query string: the terms never enter an address, a
server's log or the browser's history.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.response import Template

from domain.case.search_terms import UnusableSearchTerm, search_criteria
from projections.queries import ViewNotBuilt
from services.authorisation import Action, require
from services.bootstrap import Runtime
from services.case_finding.finding import search
from services.console.i18n import N_
from services.console.web import Console, page, posted, reader, signed_in

FIELDS = ("name", "alias", "date_of_birth", "phone")
ASK_SOMETHING = N_("Give a name, an alias, a date of birth or a phone number.")
UNUSABLE = N_("A name needs a letter or a digit; a phone number 8 to 15 digits.")
BAD_DATE = N_("Give the date of birth as YYYY-MM-DD.")
NOT_READY = N_("The search is being built; try again in a moment.")


@get("/search", name="console-search")
async def search_form(
    request: Request[Any, Any, Any], console: NamedDependency[Console]
) -> Template:
    signed = await signed_in(request, console)
    require(signed.session.principal(), Action.CASE_SEARCH, None)
    return page("search.html", signed.session, values={}, found=None, message=None)


@post("/search", status_code=200)
async def search_cases(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
    console: NamedDependency[Console],
) -> Template:
    signed, fields = await posted(request, console)
    principal = signed.session.principal()
    require(principal, Action.CASE_SEARCH, None)
    values = {name: fields.get(name, "").strip() for name in FIELDS}
    try:
        birth = dt.date.fromisoformat(values["date_of_birth"]) if values["date_of_birth"] else None
    except ValueError:
        return page("search.html", signed.session, 422, values=values, found=None, message=BAD_DATE)
    try:
        criteria = search_criteria(
            name=values["name"] or None,
            alias=values["alias"] or None,
            date_of_birth=birth,
            phone=values["phone"] or None,
        )
    except UnusableSearchTerm:
        return page("search.html", signed.session, 422, values=values, found=None, message=UNUSABLE)
    except ValueError:
        return page(
            "search.html", signed.session, 422, values=values, found=None, message=ASK_SOMETHING
        )
    who = reader(request, signed, console)
    try:
        found = await search(runtime, principal, who.request_id, who.team_access, criteria)
    except ViewNotBuilt:
        return page(
            "search.html", signed.session, 503, values=values, found=None, message=NOT_READY
        )
    return page("search.html", signed.session, values=values, found=found, message=None)


SEARCH_PAGES = [search_form, search_cases]
