"""Outreach, training and technical assistance: the organisation's activities over HTTP.

* `POST /v1/activities` (activity.record): record one -> 201 `{activity_id, version}` with
  `ETag` and `Location`; an optional `Idempotency-Key` makes a retry return the first answer.
* `GET /v1/activities/{id}` (activity.list): the whole record, from its stream, with `ETag`.
* `PUT /v1/activities/{id}` (activity.record): the whole corrected record, with `If-Match`
  naming the version it corrects (428 missing, 412 stale); `PATCH` the members to change.
* `POST /v1/activities/{id}/withdrawal` (activity.record): `{reason}`, with `If-Match`: an
  activity recorded in error leaves the list and the summary; its stream stays.
* `GET /v1/activities` (activity.list): the organisation's activities, latest first, paged,
  from the `activities` read model (coded facts, no topic); `from`, `to`, `kind`, `sector`.
* `GET /v1/activities/summary` (activity.summary: supervisors): activities, participants and
  hours by month and kind, and by month, kind and sector, from `from` to `to`.

The list and the summary are `services.api.activity_query_routes`. Another organisation's
activity answers exactly like a missing one (404). Bad input is 422
`validation-error` naming each member by its pointer, never repeating it.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath

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
from services.api.activity_query_routes import QUERY_ROUTES
from services.api.activity_schemas import (
    ACTIVITY_EXAMPLE,
    CORRECTION_EXAMPLE,
    PATCH_EXAMPLE,
    WITHDRAWAL_EXAMPLE,
    ActivityAccepted,
    ActivityBody,
    ActivityPatch,
    ActivityView,
    WithdrawalBody,
)
from services.api.cases import http
from services.api.identity_routes import BEARER_SECURITY
from services.api.responses import REFUSALS
from services.authorisation import Action, NotFound, require
from services.bootstrap import Runtime
from services.commands.unit_of_work import Answer, Idempotency
from services.identity import Principal
from services.outreach.activities import (
    correct_activity,
    patch_activity,
    record_activity,
    withdraw_activity,
)
from services.outreach.reads import read_activity

_DECODE_ACCEPTED = msgspec.json.Decoder(ActivityAccepted)


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


async def _command_on(
    request: Request[Principal, Any, Any],
    runtime: Runtime,
    activity_id: uuid.UUID,
    data: msgspec.Struct,
    command: Callable[..., Awaitable[Answer]],
    payload: Callable[[], object],
) -> Response[bytes]:
    """A correction or a withdrawal: `command(runtime, actor, activity_id, payload(), If-Match's
    version, idempotency, answer, faults)` (`services.outreach.activities`), answered 200."""
    principal = request.user
    require(principal, Action.ACTIVITY_RECORD, None)
    idempotent, faults = _idempotency(request, data)
    answer = await command(
        runtime,
        http.actor_of(principal, request),
        activity_id,
        payload(),
        http.expected_version(request),
        idempotent,
        _accepted(activity_id),
        faults,
    )
    return _answered(answer)


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
    return await _command_on(
        request, runtime, activity_id, data, correct_activity, lambda: data.activity()
    )


@patch(
    "/v1/activities/{activity_id:uuid}",
    operation_id="patchActivity",
    tags=TAGS,
    summary="Correct some members of an activity (the others keep their values)",
    status_code=200,
    security=BEARER_SECURITY,
    operation_class=ActivityCommandOperation,
    responses=COMMAND_RESPONSES,
)
async def correct_some(
    request: Request[Principal, Any, Any],
    runtime: NamedDependency[Runtime],
    activity_id: FromPath[uuid.UUID],
    data: Annotated[ActivityPatch, body("Longer, and in three languages", PATCH_EXAMPLE)],
) -> Response[bytes]:
    return await _command_on(
        request, runtime, activity_id, data, patch_activity, lambda: data.applied_to
    )


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
    return await _command_on(
        request, runtime, activity_id, data, withdraw_activity, lambda: data.reason
    )


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


ACTIVITY_ROUTES = [record, correct, correct_some, withdraw, read, *QUERY_ROUTES]
