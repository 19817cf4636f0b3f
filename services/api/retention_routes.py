"""The organisation's retention policy (`services.retention`): how long a closed case is kept.

* `GET /v1/retention-policy` (retention.policy_read: the administrator, the privacy officer):
  the policy in force, who set it and when; `erase_after_days` null when there is none (every
  case is kept).
* `PUT /v1/retention-policy` (retention.policy_set: the administrator): `{erase_after_days}`
  -> 200 with the policy as recorded; a number of days outside the bounds is 422
  `validation-error` naming `/erase_after_days`; another change recorded meanwhile is 409
  `concurrent-change`.

The policy is the caller's own organisation's. `haven retention run` (or the worker, daily)
applies it.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import msgspec
from litestar import Request, get, put
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body

from services.api.identity_routes import BEARER_SECURITY
from services.api.responses import REFUSALS, problem_spec
from services.authorisation import Action, require
from services.bootstrap import Runtime
from services.commands.refusals import InvalidRequest
from services.identity import Principal
from services.retention.policy import (
    PolicyRefused,
    RetentionPolicyRecord,
    current_policy,
    set_policy,
)

TAGS = ["retention"]


class RetentionPolicyBody(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """Erase each closed case this many days after its closure (open cases are kept)."""

    erase_after_days: int


class RetentionPolicyView(msgspec.Struct, frozen=True, kw_only=True):
    organisation_id: str
    erase_after_days: int | None  # null: no policy, every case is kept
    set_by: str | None
    set_at: dt.datetime | None


def _view(record: RetentionPolicyRecord) -> RetentionPolicyView:
    return RetentionPolicyView(
        organisation_id=record.organisation_id,
        erase_after_days=record.policy.erase_after_days if record.policy else None,
        set_by=record.set_by,
        set_at=record.set_at,
    )


@get(
    "/v1/retention-policy",
    operation_id="getRetentionPolicy",
    tags=TAGS,
    summary="The organisation's retention policy (administrator, privacy officer)",
    security=BEARER_SECURITY,
    responses={**REFUSALS},
)
async def get_retention_policy(
    request: Request[Principal, Any, Any], runtime: NamedDependency[Runtime]
) -> RetentionPolicyView:
    principal = request.user
    require(principal, Action.RETENTION_POLICY_READ, None)
    return _view(await current_policy(runtime.store, principal.organisation_id))


@put(
    "/v1/retention-policy",
    operation_id="setRetentionPolicy",
    tags=TAGS,
    summary="Set the organisation's retention policy (administrator)",
    security=BEARER_SECURITY,
    responses={
        **REFUSALS,
        409: problem_spec("Another change was recorded meanwhile (`concurrent-change`)."),
        422: problem_spec("A number of days outside the bounds (`validation-error`)."),
    },
)
async def set_retention_policy(
    request: Request[Principal, Any, Any],
    runtime: NamedDependency[Runtime],
    data: Annotated[RetentionPolicyBody, Body(media_type=RequestEncodingType.JSON)],
) -> RetentionPolicyView:
    principal = request.user
    require(principal, Action.RETENTION_POLICY_SET, None)
    try:
        record = await set_policy(
            runtime.store, principal.organisation_id, data.erase_after_days, principal.user_id
        )
    except PolicyRefused as refused:
        raise InvalidRequest([(f"/{field}", rule) for field, rule in refused.faults]) from None
    return _view(record)


RETENTION_ROUTES = [get_retention_policy, set_retention_policy]
