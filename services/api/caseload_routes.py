"""Caseloads, read from the projection (`projections.caseload`).

* `GET /v1/cases` (case.list_mine: case workers): the caller's open cases with next actions
  and each client's preferred name and aliases (opened from their sealed rows,
  `projections.case_finder`). The answer is recorded ONCE in the access log, as a listing
  naming its cases (`events.access_listings`), not as a read of each case; reading a case
  itself is `GET /v1/cases/{case_id}`, recorded per case.
* `GET /v1/caseload` (caseload.team: supervisors): the caller's team (the organisation's
  default team, ``default``, for a token without a ``team`` claim), per case and per worker,
  as counts, ages and flags only. `worker`, `flag`, `sort`, `order`, `limit` and an opaque
  `cursor` (from `next_cursor`) page through thousands of cases; a malformed cursor is 422
  `validation-error`.

Both answer from the read model, so they lag the log by the projector's delay (see
`/metrics`, `haven_projection_lag_seconds`). `fresh=true` gives read-your-writes: the answer
waits (up to `FRESH_TIMEOUT_SECONDS`) until the projection has applied everything committed
before the request arrived — a command's events included — and is 503 `service-unavailable`
with `Retry-After` if it cannot.

With a read replica (`HAVEN_READ_DATABASE_URL`, `services.read_replica`) both are read from
it. A `fresh=true` read then also waits (bounded) until the replica has replayed the primary's
WAL past that point, or is answered by the primary; `Haven-Read-From` says which.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

import msgspec
from litestar import Request, Response, get
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.exceptions import ServiceUnavailableException, ValidationException
from litestar.params import QueryParameter

from domain.identifiers import IDENTIFIER_PATTERN, MAX_IDENTIFIER_LENGTH
from projections import checkpoints
from projections.case_finder import CaseNames
from projections.caseload import (
    Flag,
    MyCase,
    SortKey,
    TeamCase,
    WorkerSummary,
    my_caseload,
    team_caseload,
)
from projections.cases import CasesProjection
from projections.queries import ViewNotBuilt
from services.api.cases import access
from services.api.identity_routes import BEARER_SECURITY
from services.api.responses import REFUSALS, problem_spec
from services.authorisation import Action, require
from services.bootstrap import Runtime
from services.case_finding.finding import caseload_names
from services.identity import Principal
from services.read_replica import READ_FROM_HEADER, read_views
from services.tasks.rules import current_rules

TAGS = ["caseloads"]
NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
MAX_PAGE = 200
FRESH_TIMEOUT_SECONDS = 5.0
FRESH = Annotated[
    bool,
    QueryParameter(
        description="wait until every write committed before this request is "
        "in the answer (read-your-writes)"
    ),
]


async def caught_up(runtime: Runtime) -> None:
    """Wait until the caseload has applied everything committed now (503 after the timeout)."""
    if not await checkpoints.wait_until_projected(
        runtime.pool,
        [CasesProjection.name],
        await checkpoints.log_head(runtime.pool),
        timeout=FRESH_TIMEOUT_SECONDS,
    ):
        raise ServiceUnavailableException(headers={"Retry-After": "1"})


class NamedCase(MyCase, frozen=True, kw_only=True):
    """One of the caller's cases with its client's names (None until the names are projected)."""

    preferred_name: str | None = None
    aliases: list[str] = []


class MyCaseload(msgspec.Struct, frozen=True):
    cases: list[NamedCase]


class TeamCaseloadPage(msgspec.Struct, frozen=True, kw_only=True):
    workers: list[WorkerSummary]
    cases: list[TeamCase]
    total_cases: int
    next_cursor: str | None = None


_FRESH_RESPONSES = {
    503: problem_spec(
        "`fresh=true` and the projection did not catch up in time "
        "(`service-unavailable`, with `Retry-After`)."
    )
}
_READ_FROM = [
    ResponseHeader(
        name=READ_FROM_HEADER,
        description="`replica` or `primary`: the server that answered (a read replica, or "
        "the primary when there is none or it has not replayed the caller's writes in time)",
        documentation_only=True,
    )
]


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def _encode_cursor(cursor: tuple[int, uuid.UUID] | None) -> str | None:
    if cursor is None:
        return None
    return (
        base64.urlsafe_b64encode(msgspec.json.encode([cursor[0], str(cursor[1])]))
        .decode()
        .rstrip("=")
    )


def _decode_cursor(text: str | None) -> tuple[int, uuid.UUID] | None:
    if text is None:
        return None
    try:
        value, case_id = msgspec.json.decode(
            base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)), type=tuple[int, uuid.UUID]
        )
    except (binascii.Error, ValueError, msgspec.ValidationError, msgspec.DecodeError):
        value = None
    if value is None or not -(2**31) <= value < 2**31:  # every sort key is a PostgreSQL integer
        raise ValidationException(
            extra=[
                {"key": "cursor", "source": "query", "message": "not a cursor this service issued"}
            ]
        ) from None
    return value, case_id


@contextlib.asynccontextmanager
async def built() -> AsyncIterator[None]:
    """The caseload is not built yet (a fresh database, before the projector's first rebuild):
    503 `service-unavailable` with Retry-After, as for a read model that is behind."""
    try:
        yield
    except ViewNotBuilt:
        raise ServiceUnavailableException(headers={"Retry-After": "5"}) from None


@get(
    "/v1/cases",
    operation_id="myCaseload",
    tags=TAGS,
    summary="My open cases, with next actions",
    security=BEARER_SECURITY,
    responses={
        **REFUSALS,
        **_FRESH_RESPONSES,
        422: problem_spec("A query parameter is invalid (`validation-error`)."),
    },
    response_headers=_READ_FROM,
)
async def my_cases(
    request: Request[Principal, Any, Any], runtime: NamedDependency[Runtime], fresh: FRESH = False
) -> Response[MyCaseload]:
    principal = request.user
    require(principal, Action.CASE_LIST_MINE, None)
    rules = (await current_rules(runtime.store, principal.organisation_id)).rules
    if fresh:
        await caught_up(runtime)
    async with built():
        cases, server = await read_views(
            runtime.pool,
            runtime.replica,
            lambda pool: my_caseload(
                pool, principal.organisation_id, principal.user_id, _today(), rules
            ),
            fresh=fresh,
        )
    names = await caseload_names(
        runtime, principal, access.request_id(request), [case.case_id for case in cases]
    )
    return Response(
        MyCaseload(cases=[with_names(case, names.get(case.case_id)) for case in cases]),
        headers={READ_FROM_HEADER: server, **NO_STORE},
    )


def with_names(case: MyCase, names: CaseNames | None) -> NamedCase:
    return NamedCase(
        **msgspec.structs.asdict(case),
        preferred_name=names.preferred_name if names else None,
        aliases=list(names.aliases) if names else [],
    )


@get(
    "/v1/caseload",
    operation_id="teamCaseload",
    tags=TAGS,
    summary="My team's caseload: counts, ages and flags, no identifying field",
    security=BEARER_SECURITY,
    responses={
        **REFUSALS,
        **_FRESH_RESPONSES,
        422: problem_spec("A query parameter is invalid (`validation-error`)."),
    },
    response_headers=_READ_FROM,
)
async def team_cases(
    request: Request[Principal, Any, Any],
    runtime: NamedDependency[Runtime],
    worker: Annotated[
        str | None,
        QueryParameter(
            description="only this worker's cases (an identifier)",
            max_length=MAX_IDENTIFIER_LENGTH,
            pattern=IDENTIFIER_PATTERN,
        ),
    ] = None,
    flag: Annotated[Flag | None, QueryParameter(description="only cases with this flag")] = None,
    sort: Annotated[
        SortKey, QueryParameter(description="the order of the cases (then case id)")
    ] = "days_since_contact",
    order: Annotated[Literal["asc", "desc"], QueryParameter()] = "desc",
    limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE)] = 50,
    cursor: Annotated[
        str | None, QueryParameter(description="`next_cursor` of the previous page", max_length=200)
    ] = None,
    fresh: FRESH = False,
) -> Response[TeamCaseloadPage]:
    principal = request.user
    require(principal, Action.CASELOAD_TEAM, None)
    rules = (await current_rules(runtime.store, principal.organisation_id)).rules
    after = _decode_cursor(cursor)
    if fresh:
        await caught_up(runtime)
    async with built():
        page, server = await read_views(
            runtime.pool,
            runtime.replica,
            lambda pool: team_caseload(
                pool,
                principal.organisation_id,
                principal.team_id,
                _today(),
                worker_id=worker,
                flag=flag,
                sort=sort,
                descending=order == "desc",
                limit=limit,
                after=after,
                rules=rules,
            ),
            fresh=fresh,
        )
    return Response(
        TeamCaseloadPage(
            workers=page.workers,
            cases=page.cases,
            total_cases=page.total_cases,
            next_cursor=_encode_cursor(page.next_cursor),
        ),
        headers={READ_FROM_HEADER: server},
    )


CASELOAD_ROUTES = [my_cases, team_cases]
