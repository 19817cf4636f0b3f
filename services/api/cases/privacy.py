"""The privacy side of a case: break-the-glass, the access log review, and erasure.

* `POST .../break-glass` (a supervisor of the case's team): `{reason, minutes}` -> 201
  `{grant_id, expires_at}`; the grant is its own audit record (its reason sealed with the
  case's data key), and every read made with it is recorded with basis "break-glass".
* `GET .../access-log` (the privacy officer): the review is recorded first, in the same
  transaction that then reads the access records (newest first) and opens the grants'
  reasons; nothing is returned unless that transaction commits. Disclosures (basis
  "disclosure": recipient, categories, consent) and system decryptions (basis "system",
  with their purpose) are among the records: the case's accounting of disclosures.
* `DELETE /v1/cases/{case_id}` (the privacy officer): crypto-shreds the case's data key and
  records the erasure in one transaction -> 204. The case leaves every read model and its
  stored idempotent answers go in the same transaction; from then on it answers every route
  exactly like a missing one (404).

The access log review and the erasure are use cases (`services.commands.case_privacy`),
shared with the console; these routes turn their answers into responses.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath

from events.access_log import case_data_key, grant_break_glass
from events.store import utc_now
from services.api.cases import access
from services.api.cases.http import body_faults, team_access
from services.api.cases.openapi import TAGS
from services.api.cases.schemas.examples import BREAK_GLASS_EXAMPLE, example
from services.api.cases.schemas.requests import BreakGlassBody
from services.api.cases.schemas.views import (
    AccessLogView,
    AccessRecordView,
    BreakGlassGranted,
    GrantView,
)
from services.api.identity_routes import BEARER_SECURITY
from services.api.responses import REFUSALS, problem_spec
from services.authorisation import Action, CaseFacts, require
from services.bootstrap import Runtime
from services.commands import case_privacy, case_reads
from services.commands.case_reader import load_for
from services.commands.refusals import InvalidRequest
from services.identity import Principal


@post(
    "/v1/cases/{case_id:uuid}/break-glass",
    operation_id="breakGlass",
    tags=TAGS,
    summary="Request time-limited emergency access to a case of the supervisor's team",
    security=BEARER_SECURITY,
    status_code=201,
    responses={
        **REFUSALS,
        422: problem_spec(
            "Invalid body: a blank or over-long reason, "
            "minutes outside 1..240 (`validation-error`)."
        ),
    },
)
async def break_glass(
    request: Request[Principal, Any, Any],
    runtime: NamedDependency[Runtime],
    case_id: FromPath[uuid.UUID],
    data: Annotated[
        BreakGlassBody,
        Body(
            media_type=RequestEncodingType.JSON,
            examples=example("A safety emergency", BREAK_GLASS_EXAMPLE),
        ),
    ],
) -> Response[BreakGlassGranted]:
    principal = request.user
    state = await load_for(runtime, principal.organisation_id, case_id)
    require(
        principal, Action.CASE_BREAK_GLASS, CaseFacts.of(state), team_access=team_access(request)
    )
    if not data.reason.strip():
        raise InvalidRequest([("/reason", "the reason must not be blank")])
    faults = body_faults(data)
    if faults:
        raise InvalidRequest(faults)
    # StreamNotFound/StreamErased (erased meanwhile) -> 404
    async with runtime.store.transaction() as conn:
        key = await case_data_key(conn, runtime.keyring, principal.organisation_id, case_id)
        grant = await grant_break_glass(
            conn,
            tenant_id=principal.organisation_id,
            case_id=case_id,
            actor_id=principal.user_id,
            reason=data.reason,
            minutes=data.minutes,
            data_key=key,
            now=utc_now(),
        )
    return Response(
        BreakGlassGranted(grant_id=grant.grant_id, expires_at=grant.expires_at), status_code=201
    )


@get(
    "/v1/cases/{case_id:uuid}/access-log",
    operation_id="getCaseAccessLog",
    tags=TAGS,
    summary="Who read the case, and the break-the-glass grants with their reasons "
    "(privacy officer)",
    security=BEARER_SECURITY,
    responses={
        **REFUSALS,
        503: problem_spec("The review could not be recorded, so nothing is returned."),
    },
)
async def case_access_log(
    request: Request[Principal, Any, Any],
    runtime: NamedDependency[Runtime],
    case_id: FromPath[uuid.UUID],
) -> Response[AccessLogView]:
    review = await case_privacy.review_access(runtime, _reader(request), case_id)
    return Response(
        AccessLogView(
            case_id=str(case_id),
            records=[AccessRecordView.of(r, review.released) for r in review.records],
            grants=[GrantView.of(g) for g in review.grants],
            listings=list(review.listings),
        )
    )


@delete(
    "/v1/cases/{case_id:uuid}",
    operation_id="eraseCase",
    tags=TAGS,
    summary="Erase a case by crypto-shredding its data key (privacy officer)",
    security=BEARER_SECURITY,
    status_code=204,
    responses={
        **REFUSALS,
        503: problem_spec("The erasure could not be recorded, so nothing was erased."),
    },
)
async def erase_case(
    request: Request[Principal, Any, Any],
    runtime: NamedDependency[Runtime],
    case_id: FromPath[uuid.UUID],
) -> None:
    await case_privacy.erase(runtime, _reader(request), case_id)


def _reader(request: Request[Principal, Any, Any]) -> case_reads.Reader:
    return case_reads.Reader(request.user, access.request_id(request), team_access(request))


PRIVACY_ROUTES = [break_glass, case_access_log, erase_case]
