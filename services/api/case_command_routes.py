"""The remaining case-worker commands: victim status, trafficking context, needs,
goals, the statistics flag, and the transfer to another organisation.

Same patterns as `case_routes` (whose docstring describes them), through the same helpers
(`case_support.case_command`): one `Action` per route asked of `require(...)` (another
organisation's case is the 404 of a missing one); `If-Match: "<version>"` required (428
missing, 412 stale, 409 lost race); `Idempotency-Key` optional, its record committed in the
same unit of work as the events; strict bodies (`case_schemas`, 422 on an unknown member);
every refusal `application/problem+json`; 200 `{case_id, version}` with `ETag`.

Routes (all `POST /v1/cases/{case_id}/...`; chosen here, the contract left them open):

* `victim-status` -> `determine_victim_status` (case.command): the status itself,
  `{status, determined_on, determined_by}`;
* `trafficking-context` -> `update_trafficking_context` (case.command): the whole context,
  replacing the previous one;
* `needs` -> `assess_needs` (case.command): one assessment `{assessment_id, assessed_on, needs,
  notes?}`;
* `goals` -> `plan_goal` with `SetGoal` (case.command): `{goal_id, category, description,
  set_on, target_on?}`;
* `goals/{goal_id}/status` -> `plan_goal` with `ChangeGoalStatus` (case.command):
  `{status, changed_on}`, the goal named by the path as a referral's is for its status;
* `statistics-consent` -> `record_consent` with `RecordStatisticsConsent` (case.command):
  `{agrees, recorded_on}`, accepted on a closed case too (the domain allows it: a client may
  change their mind at any time);
* `transfer` -> `request_transfer` (case.transfer), below.

Each appends events, so each is a `POST` like every other command, under the same If-Match
rule; the trafficking context is replaced as a whole (not patched), and its earlier revisions
stay in the case's history.

Transfer: `{recipient_organisation, consent_id, requested_on, receiving_worker_id,
receiving_team_id, living_situation?}` asks the receiving organisation to take the case over.
The server chooses the transfer's id (which the receiving case will have); the answer is 200
`{case_id, version, transfer_id}` (ids only, so it can be stored with the Idempotency-Key and a
retry gets the same id). Nothing leaves the case yet: the receiving organisation accepts or
declines (`transfer_routes`), and only an acceptance closes this case as transferred and
opens theirs with what the consent released. The consent is checked when asked and again
when accepted. Only the assigned worker may ask (`authorisation`: it would release data
outside the organisation); one request at a time (409 `transfer-pending`).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Request, Response, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath

from services.api.authorisation import Action
from services.api.case_schemas import (
    ASSESS_NEEDS_EXAMPLE,
    CHANGE_GOAL_STATUS_EXAMPLE,
    SET_GOAL_EXAMPLE,
    STATISTICS_CONSENT_EXAMPLE,
    TRAFFICKING_CONTEXT_EXAMPLE,
    TRANSFER_CASE_EXAMPLE,
    VICTIM_STATUS_EXAMPLE,
    AssessNeedsBody,
    ChangeGoalStatusBody,
    SetGoalBody,
    StatisticsConsentBody,
    TraffickingContextBody,
    TransferAsked,
    TransferCaseBody,
    VictimStatusBody,
    example,
)
from services.api.case_support import (
    COMMAND_RESPONSES,
    TAGS,
    CommandOperation,
    accepted_spec,
    case_command,
    problem_spec,
)
from services.api.identity_routes import BEARER_SECURITY
from services.bootstrap import Runtime
from services.identity import Principal

_COMMAND = {"tags": TAGS, "security": BEARER_SECURITY, "status_code": 200, "operation_class": CommandOperation,
            "responses": COMMAND_RESPONSES}


def _json(body_example: list[Any]) -> Any:
    return Body(media_type=RequestEncodingType.JSON, examples=body_example)


@post("/v1/cases/{case_id:uuid}/victim-status", operation_id="determineVictimStatus",
      summary="Record a (new) determination of victim status", **_COMMAND)
async def determine_victim_status(
    request: Request[Principal, Any, Any], runtime: NamedDependency[Runtime], case_id: FromPath[uuid.UUID],
    data: Annotated[VictimStatusBody, _json(example("Confirmed after a second interview", VICTIM_STATUS_EXAMPLE))],
) -> Response[bytes]:
    command = data.command()
    return await case_command(request, runtime, case_id, Action.CASE_COMMAND, data,
                              lambda uc, actor, v: uc.determine_victim_status(actor, str(case_id), command, v))


@post("/v1/cases/{case_id:uuid}/trafficking-context", operation_id="updateTraffickingContext",
      summary="Replace the case's trafficking context", **_COMMAND)
async def update_trafficking_context(
    request: Request[Principal, Any, Any], runtime: NamedDependency[Runtime], case_id: FromPath[uuid.UUID],
    data: Annotated[TraffickingContextBody, _json(example("A revised labour-trafficking context",
                                                          TRAFFICKING_CONTEXT_EXAMPLE))],
) -> Response[bytes]:
    command = data.command()
    return await case_command(request, runtime, case_id, Action.CASE_COMMAND, data,
                              lambda uc, actor, v: uc.update_trafficking_context(actor, str(case_id), command, v))


@post("/v1/cases/{case_id:uuid}/needs", operation_id="assessNeeds", summary="Record a needs assessment",
      **_COMMAND)
async def assess_needs(
    request: Request[Principal, Any, Any], runtime: NamedDependency[Runtime], case_id: FromPath[uuid.UUID],
    data: Annotated[AssessNeedsBody, _json(example("Shelter and immigration advice", ASSESS_NEEDS_EXAMPLE))],
) -> Response[bytes]:
    command = data.command()
    return await case_command(request, runtime, case_id, Action.CASE_COMMAND, data,
                              lambda uc, actor, v: uc.assess_needs(actor, str(case_id), command, v))


@post("/v1/cases/{case_id:uuid}/goals", operation_id="setGoal", summary="Add a goal to the service plan",
      **_COMMAND)
async def set_goal(
    request: Request[Principal, Any, Any], runtime: NamedDependency[Runtime], case_id: FromPath[uuid.UUID],
    data: Annotated[SetGoalBody, _json(example("A housing goal", SET_GOAL_EXAMPLE))],
) -> Response[bytes]:
    command = data.command()
    return await case_command(request, runtime, case_id, Action.CASE_COMMAND, data,
                              lambda uc, actor, v: uc.plan_goal(actor, str(case_id), command, v))


@post("/v1/cases/{case_id:uuid}/goals/{goal_id:str}/status", operation_id="changeGoalStatus",
      summary="Change a goal's status", **_COMMAND)
async def change_goal_status(
    request: Request[Principal, Any, Any], runtime: NamedDependency[Runtime], case_id: FromPath[uuid.UUID],
    goal_id: FromPath[str],
    data: Annotated[ChangeGoalStatusBody, _json(example("Work on the goal started", CHANGE_GOAL_STATUS_EXAMPLE))],
) -> Response[bytes]:
    command = data.command(goal_id)
    return await case_command(request, runtime, case_id, Action.CASE_COMMAND, data,
                              lambda uc, actor, v: uc.plan_goal(actor, str(case_id), command, v))


@post("/v1/cases/{case_id:uuid}/statistics-consent", operation_id="recordStatisticsConsent",
      summary="Record whether the client agrees to be counted in de-identified statistics", **_COMMAND)
async def record_statistics_consent(
    request: Request[Principal, Any, Any], runtime: NamedDependency[Runtime], case_id: FromPath[uuid.UUID],
    data: Annotated[StatisticsConsentBody, _json(example("The client agrees", STATISTICS_CONSENT_EXAMPLE))],
) -> Response[bytes]:
    command = data.command()
    return await case_command(request, runtime, case_id, Action.CASE_COMMAND, data,
                              lambda uc, actor, v: uc.record_consent(actor, str(case_id), command, v))


@post("/v1/cases/{case_id:uuid}/transfer", operation_id="transferCase",
      summary="Ask another organisation to take the case over, under the client's consent (assigned worker only)",
      **{**_COMMAND, "responses": {
          **COMMAND_RESPONSES,
          200: accepted_spec("The request was recorded; the receiving organisation accepts or declines it "
                             "(`/v1/transfers`). `ETag` names this case's new version.", TransferAsked),
          422: problem_spec("Invalid body (`validation-error`, also for a receiving id that is not printable "
                            "text), a domain rule refused a value, or the Idempotency-Key was used for another "
                            "request (`idempotency-key-reused`).")}})
async def transfer_case(
    request: Request[Principal, Any, Any], runtime: NamedDependency[Runtime], case_id: FromPath[uuid.UUID],
    data: Annotated[TransferCaseBody, _json(example("To a partner organisation in another city",
                                                    TRANSFER_CASE_EXAMPLE))],
) -> Response[bytes]:
    transfer_id = str(uuid.uuid4())
    command = data.command(transfer_id)

    return await case_command(
        request, runtime, case_id, Action.CASE_TRANSFER, data,
        lambda uc, actor, v: uc.request_transfer(actor, str(case_id), command, v),
        accepted=lambda version: TransferAsked(case_id=str(case_id), version=version, transfer_id=transfer_id))


CASE_COMMAND_ROUTES = [determine_victim_status, update_trafficking_context, assess_needs, set_goal,
                       change_goal_status, record_statistics_consent, transfer_case]
