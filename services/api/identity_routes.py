"""`GET /v1/whoami`: the caller as its token says; proves authentication end to end."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, get
from litestar.openapi.datastructures import ResponseSpec

from services.api.problems import PROBLEM_MEDIA_TYPE, Problem
from services.identity import Principal

AUTH_RESPONSES = {
    401: ResponseSpec(
        data_container=Problem,
        media_type=PROBLEM_MEDIA_TYPE,
        generate_examples=False,
        description="No bearer token, or one that was refused (`unauthorized`).",
    ),
    503: ResponseSpec(
        data_container=Problem,
        media_type=PROBLEM_MEDIA_TYPE,
        generate_examples=False,
        description="The identity provider's keys are unavailable (`service-unavailable`).",
    ),
}
BEARER_SECURITY = [{"BearerToken": []}]


class WhoAmI(msgspec.Struct, frozen=True):
    user_id: str
    organisation_id: str
    roles: list[str]  # sorted
    team: str  # the token's ``team`` claim, or the organisation's default team, "default"


@get(
    "/v1/whoami",
    operation_id="whoami",
    tags=["identity"],
    summary="The authenticated caller",
    security=BEARER_SECURITY,
    responses=AUTH_RESPONSES,
    sync_to_thread=False,
)
def whoami(request: Request[Principal, Any, Any]) -> WhoAmI:
    principal = request.user
    return WhoAmI(
        user_id=principal.user_id,
        organisation_id=principal.organisation_id,
        roles=sorted(principal.roles),
        team=principal.team_id,
    )
