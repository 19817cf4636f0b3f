"""The referral inbox: referrals partner organisations of this deployment sent to the caller's
organisation (`services.inbox.items`; docs/api.md#referral-inbox).

* `GET /v1/inbox` (inbox.list: case workers and supervisors): the organisation's items,
  newest first — ids, codes, dates, status; `?waiting=true` only those awaiting an answer.
* `GET /v1/inbox/{item_id}` (inbox.read): one item with what the survivor's consent released
  (`released`; null once declined, expired, revoked or overdue). Recorded first in the
  organisation's access log (basis "inbox"); nothing is returned unless that commits.
* `POST /v1/inbox/{item_id}/acceptance` `{accepted_on}` and `.../decline` `{declined_on,
  reason}` (inbox.answer): the answer, recorded on the sending case, whose worker sees it.
  `Idempotency-Key` optional, as on case commands (`services.api.cases.http.request_faults`):
  sent again with the same key and body, the first answer again and nothing recorded twice;
  the same key with another request is 422 `idempotency-key-reused`; a malformed key is 422
  `validation-error`.

Another organisation's item, or none, is 404. An answer after the answer-by day is 409
`referral-overdue` (it expired by rule); an item answered already is 409 `referral-not-open`
(unless it is the retry of that answer with its key).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.exceptions import ServiceUnavailableException
from litestar.openapi.spec import Operation
from litestar.params import Body, FromPath, QueryParameter

from domain.inbox.events import ReleasedRecord
from events.store import utc_now
from projections import checkpoints
from projections.queries import ViewNotBuilt
from projections.referral_inbox import InboxItem, ReferralInboxProjection
from services.api.cases.access import request_id
from services.api.cases.http import request_faults
from services.api.cases.openapi import (
    IDEMPOTENCY_KEY_PARAMETER,
    JSON,
    accepted_spec,
    with_parameters,
)
from services.api.identity_routes import BEARER_SECURITY
from services.api.responses import REFUSALS, problem_spec
from services.bootstrap import Runtime
from services.commands.refusals import InvalidRequest
from services.identity import Principal
from services.inbox import items
from services.inbox.items import ReferralAnswered

TAGS = ["inbox"]
NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
FRESH_TIMEOUT_SECONDS = 5.0
_BEHIND = {503: problem_spec("The inbox is not built or not caught up yet; retry.")}
_ANSWER_RESPONSES = {
    200: accepted_spec(
        "The answer was recorded on the sending case (or, sent again with its "
        "Idempotency-Key, the first answer).",
        ReferralAnswered,
    ),
    **REFUSALS,
    **_BEHIND,
    404: problem_spec("No such referral in your organisation's inbox."),
    409: problem_spec(
        "Answered already (`referral-not-open`), past its answer-by day "
        "(`referral-overdue`): it expired by rule, the sending case changed meanwhile "
        "(`concurrent-change`), or the Idempotency-Key is still in use."
    ),
    422: problem_spec(
        "Invalid body or Idempotency-Key (`validation-error`), a reason code or a date "
        "refused, or the Idempotency-Key was used for another request "
        "(`idempotency-key-reused`)."
    ),
}


@dataclass
class AnswerOperation(Operation):
    """An answer's operation: declares the optional Idempotency-Key, as case commands do."""

    def __post_init__(self) -> None:
        self.parameters = with_parameters(self.parameters, IDEMPOTENCY_KEY_PARAMETER)


class InboxList(msgspec.Struct, frozen=True, kw_only=True):
    items: list[InboxItem]


class InboxItemView(msgspec.Struct, frozen=True, kw_only=True):
    item: InboxItem
    released: ReleasedRecord | None  # what the consent released; null once no longer yours


class AcceptReferralBody(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    accepted_on: dt.date


class DeclineReferralBody(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    declined_on: dt.date
    reason: str  # codebook decline_reason; the sending case's worker reads it


@contextlib.asynccontextmanager
async def _inbox_read(runtime: Runtime) -> AsyncIterator[None]:
    """The inbox caught up with everything committed now, and built (503 otherwise)."""
    if not await checkpoints.wait_until_projected(
        runtime.pool,
        [ReferralInboxProjection.name],
        await checkpoints.log_head(runtime.pool),
        timeout=FRESH_TIMEOUT_SECONDS,
    ):
        raise ServiceUnavailableException(headers={"Retry-After": "1"})
    try:
        yield
    except ViewNotBuilt:
        raise ServiceUnavailableException(headers={"Retry-After": "5"}) from None


def _today() -> dt.date:
    return utc_now().date()


@get(
    "/v1/inbox",
    operation_id="listInbox",
    tags=TAGS,
    security=BEARER_SECURITY,
    summary="Referrals partner organisations sent to yours",
    responses={
        **REFUSALS,
        **_BEHIND,
        422: problem_spec("A query parameter is invalid (`validation-error`)."),
    },
)
async def list_inbox(
    request: Request[Principal, Any, Any],
    runtime: NamedDependency[Runtime],
    waiting: Annotated[
        bool, QueryParameter(description="only referrals awaiting an answer")
    ] = False,
) -> Response[InboxList]:
    async with _inbox_read(runtime):
        listed = await items.list_items(runtime, request.user, _today(), waiting_only=waiting)
    return Response(InboxList(items=listed), headers=NO_STORE)


@get(
    "/v1/inbox/{item_id:uuid}",
    operation_id="readInboxItem",
    tags=TAGS,
    security=BEARER_SECURITY,
    summary="One referral with what the survivor's consent released (recorded as an access)",
    responses={
        **REFUSALS,
        **_BEHIND,
        404: problem_spec("No such referral in your organisation's inbox."),
    },
)
async def read_inbox_item(
    request: Request[Principal, Any, Any],
    runtime: NamedDependency[Runtime],
    item_id: FromPath[uuid.UUID],
) -> Response[InboxItemView]:
    async with _inbox_read(runtime):
        opened = await items.read_item(
            runtime, request.user, request_id(request), item_id, _today()
        )
    return Response(InboxItemView(item=opened.item, released=opened.released), headers=NO_STORE)


async def _answer(
    request: Request[Principal, Any, Any],
    runtime: Runtime,
    item_id: uuid.UUID,
    body: msgspec.Struct,
    answer: tuple[str, dt.date, str | None],
) -> Response[bytes]:
    """The answer through its unit of work; with an Idempotency-Key, a retry's first answer."""
    idempotent, faults = request_faults(request, body)
    if faults:
        raise InvalidRequest(faults)
    status, on, reason = answer
    async with _inbox_read(runtime):
        answered = await items.answer_item(
            runtime, request.user, request_id(request), item_id, status, on, reason, idempotent
        )
    return Response(
        content=answered.body, status_code=answered.status, media_type=JSON, headers=NO_STORE
    )


@post(
    "/v1/inbox/{item_id:uuid}/acceptance",
    operation_id="acceptReferral",
    tags=TAGS,
    security=BEARER_SECURITY,
    status_code=200,
    summary="Accept the referral: the sending case shows it accepted",
    responses=_ANSWER_RESPONSES,
    operation_class=AnswerOperation,
)
async def accept_referral(
    request: Request[Principal, Any, Any],
    runtime: NamedDependency[Runtime],
    item_id: FromPath[uuid.UUID],
    data: Annotated[AcceptReferralBody, Body(media_type=RequestEncodingType.JSON)],
) -> Response[bytes]:
    return await _answer(request, runtime, item_id, data, ("accepted", data.accepted_on, None))


@post(
    "/v1/inbox/{item_id:uuid}/decline",
    operation_id="declineReferral",
    tags=TAGS,
    security=BEARER_SECURITY,
    status_code=200,
    summary="Decline the referral with a reason: the sending case shows it declined",
    responses=_ANSWER_RESPONSES,
    operation_class=AnswerOperation,
)
async def decline_referral(
    request: Request[Principal, Any, Any],
    runtime: NamedDependency[Runtime],
    item_id: FromPath[uuid.UUID],
    data: Annotated[DeclineReferralBody, Body(media_type=RequestEncodingType.JSON)],
) -> Response[bytes]:
    answer = ("declined", data.declined_on, data.reason)
    return await _answer(request, runtime, item_id, data, answer)


INBOX_ROUTES = [list_inbox, read_inbox_item, accept_referral, decline_referral]
