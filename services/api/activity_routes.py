"""Outreach, training and technical assistance: the organisation's activities over HTTP.

* `POST /v1/activities` (activity.record): record one -> 201 `{activity_id, version}` with
  `ETag` and `Location`; an optional `Idempotency-Key` makes a retry return the first answer.
* `GET /v1/activities/{id}` (activity.list): the whole record, from its stream, with `ETag`.
* `PUT /v1/activities/{id}` (activity.record): the whole corrected record, with `If-Match`
  naming the version it corrects (428 missing, 412 stale).
* `POST /v1/activities/{id}/withdrawal` (activity.record): `{reason}`, with `If-Match`: an
  activity recorded in error leaves the list and the summary; its stream stays.
* `GET /v1/activities` (activity.list): the organisation's activities, latest first, paged,
  from the `activities` read model (coded facts, no topic); `from`, `to`, `kind`, `sector`.
* `GET /v1/activities/summary` (activity.summary: supervisors): activities, participants and
  hours by month and kind, and by month, kind and sector, from `from` to `to`.

Another organisation's activity answers exactly like a missing one (404). Bad input is 422
`validation-error` naming each member by its pointer, never repeating it.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
import uuid
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get, post, put
from litestar.di import NamedDependency
from litestar.exceptions import ServiceUnavailableException, ValidationException
from litestar.params import FromPath, QueryParameter

from domain.outreach.codes import KINDS, SECTORS
from projections import checkpoints
from projections.activities import (
    ActivitiesProjection,
    ActivityListed,
    ActivitySummary,
    activity_page,
    activity_summary,
)
from services.api.activity_openapi import (
    COMMAND_RESPONSES,
    JSON,
    RECORD_RESPONSES,
    TAGS,
    ActivityCommandOperation,
    ActivityReadOperation,
    ActivityRecordOperation,
    body,
)
from services.api.activity_schemas import (
    ACTIVITY_EXAMPLE,
    CORRECTION_EXAMPLE,
    WITHDRAWAL_EXAMPLE,
    ActivityAccepted,
    ActivityBody,
    ActivityView,
    WithdrawalBody,
)
from services.api.caseload_routes import built
from services.api.cases import http
from services.api.identity_routes import BEARER_SECURITY
from services.api.responses import REFUSALS, problem_spec
from services.authorisation import Action, NotFound, require
from services.bootstrap import Runtime
from services.commands.refusals import InvalidRequest
from services.commands.unit_of_work import Answer, Idempotency
from services.identity import Principal
from services.outreach.activities import correct_activity, record_activity, withdraw_activity
from services.outreach.reads import read_activity

MAX_PAGE = 200
MAX_SUMMARY_DAYS = 3660  # ten years
FRESH_TIMEOUT_SECONDS = 5.0
_DECODE_ACCEPTED = msgspec.json.Decoder(ActivityAccepted)


class ActivityPageView(msgspec.Struct, frozen=True, kw_only=True):
    activities: list[ActivityListed]
    next_cursor: str | None = None


def _idempotency(
    request: Request[Principal, Any, Any], data: msgspec.Struct
) -> tuple[Idempotency, list[tuple[str, str]]]:
    """The request's idempotency, and a malformed Idempotency-Key (the body's members are the
    domain's to judge, `domain.outreach.activity`)."""
    idempotent, faults = http.request_faults(request, data)
    return idempotent, [fault for fault in faults if fault[0].startswith("#/header/")]


def _answered(answer: Answer, location: bool = False) -> Response[bytes]:
    accepted = _DECODE_ACCEPTED.decode(answer.body)
    headers = {"ETag": http.etag(accepted.version)}
    if location:
        headers["Location"] = f"/v1/activities/{accepted.activity_id}"
    return Response(
        content=answer.body, status_code=answer.status, media_type=JSON, headers=headers
    )


def _accepted(activity_id: uuid.UUID) -> Any:
    return lambda version: ActivityAccepted(activity_id=str(activity_id), version=version)


@post(
    "/v1/activities",
    operation_id="recordActivity",
    tags=TAGS,
    summary="Record an outreach, training or technical-assistance activity",
    status_code=201,
    security=BEARER_SECURITY,
    operation_class=ActivityRecordOperation,
    responses=RECORD_RESPONSES,
)
async def record(
    request: Request[Principal, Any, Any],
    runtime: NamedDependency[Runtime],
    data: Annotated[ActivityBody, body("A training of police and clinic staff", ACTIVITY_EXAMPLE)],
) -> Response[bytes]:
    principal = request.user
    require(principal, Action.ACTIVITY_RECORD, None)
    idempotent, faults = _idempotency(request, data)
    answer = await record_activity(
        runtime,
        http.actor_of(principal, request),
        data.activity(),
        idempotent,
        lambda activity_id, version: ActivityAccepted(activity_id=activity_id, version=version),
        faults,
    )
    return _answered(answer, location=True)


@put(
    "/v1/activities/{activity_id:uuid}",
    operation_id="correctActivity",
    tags=TAGS,
    summary="Correct an activity: the whole corrected record",
    status_code=200,
    security=BEARER_SECURITY,
    operation_class=ActivityCommandOperation,
    responses=COMMAND_RESPONSES,
)
async def correct(
    request: Request[Principal, Any, Any],
    runtime: NamedDependency[Runtime],
    activity_id: FromPath[uuid.UUID],
    data: Annotated[ActivityBody, body("Two more officers attended", CORRECTION_EXAMPLE)],
) -> Response[bytes]:
    principal = request.user
    require(principal, Action.ACTIVITY_RECORD, None)
    idempotent, faults = _idempotency(request, data)
    answer = await correct_activity(
        runtime,
        http.actor_of(principal, request),
        activity_id,
        data.activity(),
        http.expected_version(request),
        idempotent,
        _accepted(activity_id),
        faults,
    )
    return _answered(answer)


@post(
    "/v1/activities/{activity_id:uuid}/withdrawal",
    operation_id="withdrawActivity",
    tags=TAGS,
    summary="Withdraw an activity recorded in error",
    status_code=200,
    security=BEARER_SECURITY,
    operation_class=ActivityCommandOperation,
    responses=COMMAND_RESPONSES,
)
async def withdraw(
    request: Request[Principal, Any, Any],
    runtime: NamedDependency[Runtime],
    activity_id: FromPath[uuid.UUID],
    data: Annotated[WithdrawalBody, body("It was recorded twice", WITHDRAWAL_EXAMPLE)],
) -> Response[bytes]:
    principal = request.user
    require(principal, Action.ACTIVITY_RECORD, None)
    idempotent, faults = _idempotency(request, data)
    answer = await withdraw_activity(
        runtime,
        http.actor_of(principal, request),
        activity_id,
        data.reason,
        http.expected_version(request),
        idempotent,
        _accepted(activity_id),
        faults,
    )
    return _answered(answer)


@get(
    "/v1/activities/{activity_id:uuid}",
    operation_id="getActivity",
    tags=TAGS,
    summary="Read an activity (the whole record, withdrawn or not)",
    security=BEARER_SECURITY,
    operation_class=ActivityReadOperation,
    responses={**REFUSALS},
)
async def read(
    request: Request[Principal, Any, Any],
    runtime: NamedDependency[Runtime],
    activity_id: FromPath[uuid.UUID],
) -> Response[ActivityView]:
    principal = request.user
    require(principal, Action.ACTIVITY_LIST, None)
    state = await read_activity(runtime.store, principal.organisation_id, activity_id)
    if state.activity is None:
        raise NotFound()
    activity = state.activity
    view = ActivityView(
        activity_id=str(activity_id),
        version=state.version,
        held_on=activity.held_on,
        kind=activity.kind,
        audience=list(activity.audience),
        participants=activity.participants,
        hours=activity.hours,
        languages=list(activity.languages),
        delivery=activity.delivery,
        area=activity.area,
        topic=activity.topic,
        corrections=state.corrections,
        withdrawn=state.withdrawn,
    )
    return Response(view, headers={"ETag": http.etag(state.version)})


# -- the list and the summary, from the read model ---------------------------------------------

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


ACTIVITY_ROUTES = [record, correct, withdraw, read, list_activities, summarise]
