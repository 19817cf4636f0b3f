"""The case page's directory search: services other organisations publish, to refer to.

`GET /console/cases/{id}/directory?category=&state=&county=&language=` shows the case page
(read through the read use case, authorised and recorded like any view of it) with the
services matching the filters the worker chose (`domain.directory.search`); nothing of the
case is put in the search or its address. `refer=<service id>` fills the referral form in:
external, the service's first category (the filtered one when it has it), the providing
organisation as the recipient, for a referral for services. The worker still checks and sends
the form; consent to release anything is asked there as for any external referral.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Template

from domain.directory import taxonomy
from domain.directory.search import Query, query_faults
from projections.directory import ListedService, listed_service, search_services
from projections.queries import ViewNotBuilt
from services.authorisation import Action, require
from services.bootstrap import Runtime
from services.console.pages import case_page_again
from services.console.web import Console, signed_in

SUGGESTIONS = 10


def _blank(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None


def referral_prefill(listed: ListedService, category: str | None, organisation_id: str) -> dict:
    """The referral form's values for a referral to the listed service."""
    categories = [
        a.taxonomy_term.code
        for a in listed.record.service.attributes
        if a.taxonomy_term.taxonomy == taxonomy.CATEGORY
    ]
    provider = listed.record.organization.id or listed.listed_by
    return {
        "kind": "internal" if provider == organisation_id else "external",
        "category": category if category in categories else (categories or [""])[0],
        "recipient": provider,
        "purpose": "service_referral",
    }


@get("/cases/{case_id:uuid}/directory")
async def directory_search(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
    console: NamedDependency[Console],
    case_id: FromPath[uuid.UUID],
    category: Annotated[str | None, QueryParameter()] = None,
    us_state: Annotated[str | None, QueryParameter(name="state")] = None,
    county: Annotated[str | None, QueryParameter()] = None,
    language: Annotated[str | None, QueryParameter()] = None,
    refer: Annotated[uuid.UUID | None, QueryParameter()] = None,
) -> Template:
    signed = await signed_in(request, console)
    principal = signed.session.principal()
    require(principal, Action.DIRECTORY_SEARCH, None)
    query = Query(
        category=_blank(category),
        state=_blank(us_state),
        county=_blank(county),
        language=_blank(language),
    )
    shown = {
        name: value
        for name, value in (
            ("category", query.category),
            ("state", query.state),
            ("county", query.county),
            ("language", query.language),
        )
        if value is not None and name not in {n for n, _ in query_faults(query)}
    }
    directory: dict[str, Any] = {"query": shown, "found": [], "refused": False}
    directory["unavailable"] = False
    prefill = None
    try:
        if query_faults(query):
            directory["refused"] = True
        elif refer is None:
            found = await search_services(runtime.pool, query, limit=SUGGESTIONS)
            directory["found"] = [_entry(listed) for listed in found]
        if refer is not None:
            listed = await listed_service(runtime.pool, refer)
            if listed is not None:
                prefill = referral_prefill(listed, query.category, principal.organisation_id)
    except ViewNotBuilt:
        directory["unavailable"] = True
    shown_with: dict[str, Any] = {"referral_prefill": prefill}
    if refer is None:
        shown_with["directory"] = directory
    return await case_page_again(request, runtime, console, signed, case_id, **shown_with)


def _entry(listed: ListedService) -> dict[str, Any]:
    return {
        "service_id": str(listed.service_id),
        "service": listed.record.service,
        "organization": listed.record.organization,
    }


DIRECTORY_PAGES = [directory_search]
