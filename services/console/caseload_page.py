"""The console's home: a case worker's own open cases, as `GET /v1/caseload/mine` gives them
(`projections.caseload.my_caseload`, `Action.CASE_LIST_MINE`), sortable by any column and
paged (`?sort=days_open&order=asc&page=2`). A worker's caseload is read whole (it is tens of
cases), then sorted and cut into pages here; the default order puts the cases needing
attention first (most flags, then longest without contact). It is read from the read replica
when there is one (`services.read_replica`).
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

from projections.caseload import MyCase, my_caseload
from projections.queries import ViewNotBuilt
from services.authorisation import Action, require
from services.bootstrap import Runtime
from services.console.i18n import N_
from services.console.web import Console, page, signed_in
from services.read_replica import read_views

PAGE_SIZE = 25
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
) -> Template:
    signed = await signed_in(request, console)
    principal = signed.session.principal()
    cases = None
    if "caseworker" in principal.roles:
        require(principal, Action.CASE_LIST_MINE, None)
        today = dt.datetime.now(dt.UTC).date()
        try:
            cases, _ = await read_views(
                runtime.pool,
                runtime.replica,
                lambda pool: my_caseload(pool, principal.organisation_id, principal.user_id, today),
                fresh=False,
            )
        except ViewNotBuilt:
            cases = None
    shown, pages = arranged(cases or [], sort, order, page_number)
    return page(
        "caseload.html",
        signed.session,
        cases=cases,
        shown=shown,
        total=len(cases or []),
        sort=sort,
        order=order,
        page_number=min(page_number, pages),
        pages=pages,
        columns=COLUMNS,
    )


CASELOAD_PAGES = [caseload]
