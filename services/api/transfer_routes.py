"""The receiving side of a transfer: see what is asked of you, accept it or decline it.

A case worker asks another organisation to take a case over (`POST /v1/cases/{id}/transfer`,
`services.api.cases.commands`); nothing leaves the case until that organisation answers here:
`GET /v1/transfers` lists the waiting requests (ids and a date, no case content), and
`POST /v1/transfers/{transfer_id}/acceptance` or `.../decline` answers one (docs/api.md). A
transfer that is not waiting for the caller's organisation is 404, like a case of another
organisation. Requests are found through the caseload view once it has caught up; the answer
itself is decided on the sending case as stored.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath

from projections import transfers
from services.api.caseload_routes import built, caught_up
from services.api.cases.http import actor_of, body_faults, etag
from services.api.cases.openapi import accepted_spec
from services.api.cases.schemas.examples import (
    ACCEPT_TRANSFER_EXAMPLE,
    DECLINE_TRANSFER_EXAMPLE,
    example,
)
from services.api.cases.schemas.requests import (
    AcceptTransferBody,
    DeclineTransferBody,
)
from services.api.cases.schemas.views import (
    CommandAccepted,
    TransferDeclinedAnswer,
)
from services.api.identity_routes import BEARER_SECURITY
from services.api.responses import REFUSALS, problem_spec
from services.authorisation import Action, CaseFacts, require
from services.bootstrap import Runtime
from services.commands import transfers as answers
from services.commands.refusals import InvalidRequest
from services.identity import Principal

TAGS = ["transfers"]
_ANSWER_RESPONSES = {
    **REFUSALS,
    404: problem_spec("No such transfer is waiting for your organisation."),
    409: problem_spec(
        "The sending case cannot be transferred now (a consent no longer in force, "
        "open referrals, a closed case) or changed meanwhile."
    ),
    422: problem_spec("Invalid body (`validation-error`) or a date a rule refuses."),
    503: problem_spec("The transfers could not be looked up in time; retry."),
}


async def _source(
    request: Request[Principal, Any, Any], runtime: Runtime, transfer_id: str
) -> transfers.TransferSource:
    """The waiting request, once the caller may answer it (404 otherwise, 403 for the wrong
    team)."""
    principal = request.user
    await caught_up(runtime)
    async with built():
        source = await transfers.transfer_source(
            runtime.pool, principal.organisation_id, transfer_id
        )
    facts = (
        None
        if source is None
        else CaseFacts(
            organisation_id=principal.organisation_id,
            worker_id=source.receiving_worker_id,
            team_id=source.receiving_team_id,
        )
    )
    require(principal, Action.TRANSFER_ANSWER, facts)
    assert source is not None
    return source


@get(
    "/v1/transfers",
    operation_id="incomingTransfers",
    tags=TAGS,
    security=BEARER_SECURITY,
    summary="Transfers other organisations ask of yours, waiting for an answer",
    responses=REFUSALS,
)
async def incoming_transfers(
    request: Request[Principal, Any, Any], runtime: NamedDependency[Runtime]
) -> list[transfers.IncomingTransfer]:
    principal = request.user
    decision = require(principal, Action.TRANSFER_LIST, None)
    await caught_up(runtime)
    team, worker = (
        (principal.team_id, None) if decision.basis == "team" else (None, principal.user_id)
    )
    async with built():
        return await transfers.incoming_transfers(
            runtime.pool, principal.organisation_id, team_id=team, worker_id=worker
        )


@post(
    "/v1/transfers/{transfer_id:str}/acceptance",
    operation_id="acceptTransfer",
    tags=TAGS,
    security=BEARER_SECURITY,
    status_code=201,
    summary="Take the case over: it opens here with what was released",
    responses={
        **_ANSWER_RESPONSES,
        201: accepted_spec("The case is yours: `case_id` is the transfer's id."),
    },
)
async def accept_transfer(
    request: Request[Principal, Any, Any],
    runtime: NamedDependency[Runtime],
    transfer_id: FromPath[str],
    data: Annotated[
        AcceptTransferBody,
        Body(
            media_type=RequestEncodingType.JSON,
            examples=example("Accepted the next day", ACCEPT_TRANSFER_EXAMPLE),
        ),
    ],
) -> Response[bytes]:
    source = await _source(request, runtime, transfer_id)
    version = await answers.accept_transfer(
        runtime,
        actor_of(request.user, request),
        source.organisation_id,
        str(source.case_id),
        transfer_id,
        data.accepted_on,
    )
    return Response(
        CommandAccepted(case_id=transfer_id, version=version),
        status_code=201,  # type: ignore[return-value]
        headers={"ETag": etag(version), "Location": f"/v1/cases/{uuid.UUID(transfer_id)}"},
    )


@post(
    "/v1/transfers/{transfer_id:str}/decline",
    operation_id="declineTransfer",
    tags=TAGS,
    security=BEARER_SECURITY,
    status_code=200,
    summary="Say no: the case stays with its organisation",
    responses=_ANSWER_RESPONSES,
)
async def decline_transfer(
    request: Request[Principal, Any, Any],
    runtime: NamedDependency[Runtime],
    transfer_id: FromPath[str],
    data: Annotated[
        DeclineTransferBody,
        Body(
            media_type=RequestEncodingType.JSON,
            examples=example("No place this month", DECLINE_TRANSFER_EXAMPLE),
        ),
    ],
) -> Response[TransferDeclinedAnswer]:
    faults = body_faults(data)
    if faults:
        raise InvalidRequest(faults)
    source = await _source(request, runtime, transfer_id)
    await answers.decline_transfer(
        runtime,
        actor_of(request.user, request),
        source.organisation_id,
        str(source.case_id),
        transfer_id,
        data.declined_on,
        data.reason,
    )
    return Response(TransferDeclinedAnswer(transfer_id=transfer_id, status="declined"))


TRANSFER_ROUTES = [incoming_transfers, accept_transfer, decline_transfer]
