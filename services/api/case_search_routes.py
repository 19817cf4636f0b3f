"""`POST /v1/cases/search` (case.search: case workers): find a client within the organisation.

The body names any of ``name``, ``alias``, ``date_of_birth`` (ISO 8601) and ``phone``; a case
is found when it matches every one given, exactly once normalised
(`domain.case.search_terms`): ``name`` matches any of a case's names and aliases, ``alias``
its aliases only. The search runs over the organisation's blind index
(`projections.case_finder`: keyed hashes, never the values), and the answer keeps only the
cases the caller may read (the rule of `GET /v1/cases/{case_id}`), open cases first, at most
`MAX_MATCHES`, each with its client's preferred name and aliases.

A POST and not a GET with a query: the terms are a survivor's name, date of birth or number,
and a query string is written into URLs, proxies' and servers' access logs and browser
history; a body is not. Each search is recorded once in the access log
(`events.access_listings`): the fields searched by and the cases answered, never the terms.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, post
from litestar.di import NamedDependency

from domain.case.search_terms import MAX_NAME_LENGTH, UnusableSearchTerm, search_criteria
from services.api.caseload_routes import built
from services.api.cases import access
from services.api.cases.http import team_access
from services.api.identity_routes import BEARER_SECURITY
from services.api.responses import REFUSALS, problem_spec
from services.authorisation import Action, require
from services.bootstrap import Runtime
from services.case_finding.finding import FoundCase, search
from services.commands.refusals import InvalidRequest
from services.identity import Principal

TAGS = ["cases"]
NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}

SearchName = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_NAME_LENGTH)]
SearchPhone = Annotated[str, msgspec.Meta(min_length=1, max_length=40)]


class CaseSearchBody(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """At least one criterion; a case must match all that are given."""

    name: SearchName | None = None
    alias: SearchName | None = None
    date_of_birth: dt.date | None = None
    phone: SearchPhone | None = None


class CaseSearchAnswer(msgspec.Struct, frozen=True):
    cases: list[FoundCase]


@post(
    "/v1/cases/search",
    operation_id="searchCases",
    tags=TAGS,
    summary="Find a client within the organisation (by name, alias, date of birth, phone)",
    security=BEARER_SECURITY,
    status_code=200,
    responses={
        **REFUSALS,
        422: problem_spec(
            "No criterion, an unknown member, or a value that normalises to nothing "
            "(`validation-error`)."
        ),
        503: problem_spec(
            "The index is not built yet, or the search could not be recorded; nothing is returned."
        ),
    },
)
async def search_cases(
    request: Request[Principal, Any, Any],
    runtime: NamedDependency[Runtime],
    data: CaseSearchBody,
) -> Response[CaseSearchAnswer]:
    principal = request.user
    require(principal, Action.CASE_SEARCH, None)
    try:
        criteria = search_criteria(
            name=data.name, alias=data.alias, date_of_birth=data.date_of_birth, phone=data.phone
        )
    except UnusableSearchTerm as unusable:
        raise InvalidRequest(
            [(f"/{unusable.field}", "must hold a letter or digit (a phone: 8 to 15 digits)")]
        ) from None
    except ValueError:
        raise InvalidRequest(
            [("", "name at least one of name, alias, date_of_birth, phone")]
        ) from None
    async with built():
        found = await search(
            runtime, principal, access.request_id(request), team_access(request), criteria
        )
    return Response(CaseSearchAnswer(found), headers=NO_STORE)


CASE_SEARCH_ROUTES = [search_cases]
