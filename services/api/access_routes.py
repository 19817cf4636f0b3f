"""`GET /v1/access-log` (access.review: the privacy officer): the organisation's access
records, newest first — who read which case, which part, when and on what basis — filtered by
`actor`, `case_id` or `basis`, paged with `before` (the `next_before` of the previous page).
Releases to other organisations are among them (basis `disclosure`; to whom, which data
categories and under which consent are sealed with the case: its own access log opens them),
and so are system decryptions (basis `system`, with their purpose).

It shows audit metadata, not case content (break-the-glass reasons stay sealed; a case's own
access log opens them and is itself recorded), so the review is not an access record of its
own; the request log line names the reviewer.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

import msgspec
from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from domain.identifiers import IDENTIFIER_PATTERN, MAX_IDENTIFIER_LENGTH
from events.access_log import MAX_PAGE, access_review
from services.api.identity_routes import BEARER_SECURITY
from services.api.responses import REFUSALS, problem_spec
from services.authorisation import Action, require
from services.bootstrap import Runtime
from services.identity import Principal


class ReviewedAccess(msgspec.Struct, frozen=True, kw_only=True):
    record_id: int
    case_id: uuid.UUID
    accessed_at: dt.datetime
    actor_id: str
    role: str
    part: str
    basis: str
    grant_id: uuid.UUID | None
    purpose: str | None = None  # a system access's purpose


class AccessReview(msgspec.Struct, frozen=True, kw_only=True):
    records: list[ReviewedAccess]
    next_before: int | None = None


@get(
    "/v1/access-log",
    operation_id="reviewAccess",
    tags=["access"],
    summary="The organisation's access records (privacy officer)",
    security=BEARER_SECURITY,
    responses={**REFUSALS, 422: problem_spec("A query parameter is invalid (`validation-error`).")},
)
async def review_access(
    request: Request[Principal, Any, Any],
    runtime: NamedDependency[Runtime],
    actor: Annotated[
        str | None,
        QueryParameter(
            description="only this person's accesses (an identifier)",
            max_length=MAX_IDENTIFIER_LENGTH,
            pattern=IDENTIFIER_PATTERN,
        ),
    ] = None,
    case_id: Annotated[
        uuid.UUID | None, QueryParameter(description="only accesses of this case")
    ] = None,
    basis: Annotated[
        Literal["assignment", "team", "break-glass", "privacy-review", "disclosure", "system"]
        | None,
        QueryParameter(description="only accesses on this basis"),
    ] = None,
    before: Annotated[
        int | None,
        QueryParameter(description="`next_before` of the previous page", ge=1, le=2**63 - 1),
    ] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE)] = 100,
) -> AccessReview:
    principal = request.user
    require(principal, Action.ACCESS_REVIEW, None)
    records = await access_review(
        runtime.pool,
        principal.organisation_id,
        actor_id=actor,
        case_id=case_id,
        basis=basis,
        before=before,
        limit=limit,
    )
    return AccessReview(
        records=[
            ReviewedAccess(
                record_id=r.record_id,
                case_id=r.case_id,
                accessed_at=r.accessed_at,
                actor_id=r.actor_id,
                role=r.role,
                part=r.part,
                basis=r.basis,
                grant_id=r.grant_id,
                purpose=r.purpose,
            )
            for r in records
        ],
        next_before=records[-1].record_id if len(records) == limit else None,
    )


ACCESS_ROUTES = [review_access]
