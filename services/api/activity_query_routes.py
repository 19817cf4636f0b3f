"""The organisation's activities as lists and sums, from the `activities` read model
(`projections.activities`): `GET /v1/activities` (activity.list) and `GET
/v1/activities/summary` (activity.summary). `from` and `to` are parsed here, so that a fault
names the parameter as the client wrote it (`#/query/from`); an unknown code, a malformed day
or cursor is 422, and a read model not built yet 503 with `Retry-After`.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
import uuid
from typing import Annotated, Any

import msgspec
from litestar import Request, get
from litestar.di import NamedDependency
from litestar.exceptions import ServiceUnavailableException, ValidationException
from litestar.params import QueryParameter

from domain.outreach.codes import KINDS, SECTORS
from projections import checkpoints
from projections.activities import (
    ActivitiesProjection,
    ActivityListed,
    ActivitySummary,
    activity_page,
    activity_summary,
)
from services.api.activity_openapi import TAGS
from services.api.caseload_routes import built
from services.api.identity_routes import BEARER_SECURITY
from services.api.responses import REFUSALS, problem_spec
from services.authorisation import Action, require
from services.bootstrap import Runtime
from services.commands.refusals import InvalidRequest
from services.identity import Principal

MAX_PAGE = 200
MAX_SUMMARY_DAYS = 3660  # ten years
FRESH_TIMEOUT_SECONDS = 5.0


class ActivityPageView(msgspec.Struct, frozen=True, kw_only=True):
    activities: list[ActivityListed]
    next_cursor: str | None = None


FRESH = Annotated[
    bool,
    QueryParameter(
        description="wait until every write committed before this request is in the answer"
    ),
]
# `from` and `to` are parsed here, so that a fault is named by the parameter's own name
DAY = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
FIRST_DAY = Annotated[
    str | None, QueryParameter(name="from", description="the first day, YYYY-MM-DD", max_length=64)
]
LAST_DAY = Annotated[
    str | None, QueryParameter(name="to", description="the last day, YYYY-MM-DD", max_length=64)
]
_DAY = re.compile(DAY)


def _days(
    first: str | None, last: str | None
) -> tuple[dt.date | None, dt.date | None, list[tuple[str, str]]]:
    """The period's days, and the faults of `from` and `to` (a malformed day, `to` before
    `from`)."""
    days: list[dt.date | None] = []
    faults = []
    for name, text in (("from", first), ("to", last)):
        try:
            days.append(None if text is None else dt.date.fromisoformat(text))
            if text is not None and not _DAY.fullmatch(text):
                raise ValueError(name)
        except ValueError:
            days.append(None)
            faults.append((f"#/query/{name}", "must be a day, YYYY-MM-DD"))
    first_day, last_day = days[0], days[-1]
    if first_day is not None and last_day is not None and first_day > last_day:
        faults.append(("#/query/to", "must not be before `from`"))
    return first_day, last_day, faults


async def _caught_up(runtime: Runtime) -> None:
    if not await checkpoints.wait_until_projected(
        runtime.pool,
        [ActivitiesProjection.name],
        await checkpoints.log_head(runtime.pool),
        timeout=FRESH_TIMEOUT_SECONDS,
    ):
        raise ServiceUnavailableException(headers={"Retry-After": "1"})


def _encode_cursor(cursor: tuple[dt.date, uuid.UUID] | None) -> str | None:
    if cursor is None:
        return None
    raw = msgspec.json.encode([cursor[0].isoformat(), str(cursor[1])])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(text: str | None) -> tuple[dt.date, uuid.UUID] | None:
    if text is None:
        return None
    try:
        day, activity_id = msgspec.json.decode(
            base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)),
            type=tuple[dt.date, uuid.UUID],
        )
    except (binascii.Error, ValueError, msgspec.ValidationError, msgspec.DecodeError):
        raise ValidationException(
            extra=[
                {"key": "cursor", "source": "query", "message": "not a cursor this service issued"}
            ]
        ) from None
    return day, activity_id


_QUERY_RESPONSES = {
    **REFUSALS,
    422: problem_spec("A query parameter is invalid (`validation-error`)."),
    503: problem_spec(
        "`fresh=true` and the read model did not catch up in time, or it is not built yet "
        "(`service-unavailable`, with `Retry-After`)."
    ),
}


@get(
    "/v1/activities",
    operation_id="listActivities",
    tags=TAGS,
    summary="The organisation's activities, latest first (coded facts, no topic)",
    security=BEARER_SECURITY,
    responses=_QUERY_RESPONSES,
)
async def list_activities(
    request: Request[Principal, Any, Any],
    runtime: NamedDependency[Runtime],
    first: FIRST_DAY = None,
    last: LAST_DAY = None,
    kind: Annotated[str | None, QueryParameter(description="a kind code", max_length=64)] = None,
    sector: Annotated[
        str | None, QueryParameter(description="a sector code", max_length=64)
    ] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE)] = 50,
    cursor: Annotated[
        str | None, QueryParameter(description="`next_cursor` of the previous page", max_length=200)
    ] = None,
    fresh: FRESH = False,
) -> ActivityPageView:
    principal = request.user
    require(principal, Action.ACTIVITY_LIST, None)
    first_day, last_day, faults = _days(first, last)
    if kind is not None and kind not in KINDS:
        faults.append(("#/query/kind", "must be one of: " + ", ".join(sorted(KINDS))))
    if sector is not None and sector not in SECTORS:
        faults.append(("#/query/sector", "must be one of: " + ", ".join(sorted(SECTORS))))
    after = _decode_cursor(cursor)
    if faults:
        raise InvalidRequest(faults)
    if fresh:
        await _caught_up(runtime)
    async with built():
        page = await activity_page(
            runtime.pool,
            principal.organisation_id,
            first_day=first_day,
            last_day=last_day,
            kind=kind,
            sector=sector,
            limit=limit,
            after=after,
        )
    return ActivityPageView(
        activities=page.activities, next_cursor=_encode_cursor(page.next_cursor)
    )


@get(
    "/v1/activities/summary",
    operation_id="summariseActivities",
    tags=TAGS,
    summary="Activities, participants and hours by month, kind and sector (supervisors)",
    security=BEARER_SECURITY,
    responses=_QUERY_RESPONSES,
)
async def summarise(
    request: Request[Principal, Any, Any],
    runtime: NamedDependency[Runtime],
    first: FIRST_DAY = None,
    last: LAST_DAY = None,
    fresh: FRESH = False,
) -> ActivitySummary:
    principal = request.user
    require(principal, Action.ACTIVITY_SUMMARY, None)
    first_day, last_day, faults = _days(first, last)
    for name, given in (("from", first), ("to", last)):
        if given is None:
            faults.append((f"#/query/{name}", "is required"))
    if first_day is None or last_day is None or faults:
        raise InvalidRequest(faults)
    if (last_day - first_day).days > MAX_SUMMARY_DAYS:
        faults.append(("#/query/to", f"must be at most {MAX_SUMMARY_DAYS} days after `from`"))
    if faults:
        raise InvalidRequest(faults)
    if fresh:
        await _caught_up(runtime)
    async with built():
        return await activity_summary(runtime.pool, principal.organisation_id, first_day, last_day)


QUERY_ROUTES = [list_activities, summarise]
