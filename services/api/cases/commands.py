"""The case commands over HTTP: intake, and one route per command, declared from one table.

Every command is `POST /v1/cases/{case_id}/<path>` with a strict JSON body, `If-Match` (428
missing, 412 stale, 409 lost race) and an optional `Idempotency-Key`; the answer is 200
`{case_id, version}` with `ETag`. A route names its body, its `Action` and how the body
becomes the domain's command; the write path (`services.commands`) does the rest.
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Callable
from typing import Annotated, Any, NamedTuple

import msgspec
from litestar import Request, Response, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.handlers import HTTPRouteHandler
from litestar.params import Body, FromPath

from domain.case import commands as cmd
from services.api.cases import http
from services.api.cases.intake_warning import OPENED_SPEC, with_duplicate_warning
from services.api.cases.openapi import (
    ASSIGN_RESPONSES,
    COMMAND_RESPONSES,
    TAGS,
    TRANSFER_RESPONSES,
    CommandOperation,
    IdempotentOperation,
)
from services.api.cases.schemas import examples as ex
from services.api.cases.schemas import requests as rq
from services.api.cases.schemas.views import CommandAccepted, TransferAsked
from services.api.identity_routes import BEARER_SECURITY
from services.api.responses import REFUSALS, problem_spec
from services.authorisation import Action
from services.bootstrap import Runtime
from services.commands import case_commands
from services.commands.case_commands import AnswerBody
from services.commands.refusals import OutsideOwnTeam
from services.identity import Principal
from services.organisations.assignable import check_assignable
from services.screening.reads import check_screenings_behind


class Prepared(NamedTuple):
    """A request's command, the route's own refusal (after authorisation) and its answer."""

    command: cmd.Command
    check: Callable[[], None] | None = None
    answer: AnswerBody | None = None


Prepare = Callable[[Any, Request[Principal, Any, Any], uuid.UUID, str | None, Runtime], Prepared]


def _plain(
    data: Any,
    request: Request[Principal, Any, Any],
    case_id: uuid.UUID,
    named: str | None,
    runtime: Runtime,
) -> Prepared:
    return Prepared(data.command() if named is None else data.command(named))


def _assignment(
    data: rq.AssignCaseBody,
    request: Request[Principal, Any, Any],
    case_id: uuid.UUID,
    named: str | None,
    runtime: Runtime,
) -> Prepared:
    team = request.user.team_id  # CASE_ASSIGN needs the case on the caller's own team
    organisation_id = request.user.organisation_id

    async def own_team_and_known_worker() -> None:
        if data.team_id is not None and data.team_id != team:
            raise OutsideOwnTeam()
        await check_assignable(runtime.store, organisation_id, data.worker_id)

    return Prepared(data.command(team), check=own_team_and_known_worker)


def _transfer(
    data: rq.TransferCaseBody,
    request: Request[Principal, Any, Any],
    case_id: uuid.UUID,
    named: str | None,
    runtime: Runtime,
) -> Prepared:
    transfer_id = str(uuid.uuid4())  # the receiving case's id, once accepted
    receiving = (runtime.store, data.recipient_organisation, data.receiving_worker_id)
    return Prepared(
        data.command(transfer_id),
        check=lambda: check_assignable(*receiving),
        answer=lambda version: TransferAsked(
            case_id=str(case_id), version=version, transfer_id=transfer_id
        ),
    )


def _victim_status(
    data: rq.VictimStatusBody,
    request: Request[Principal, Any, Any],
    case_id: uuid.UUID,
    named: str | None,
    runtime: Runtime,
) -> Prepared:
    organisation_id = request.user.organisation_id

    async def screenings_of_this_case() -> None:
        await check_screenings_behind(runtime, organisation_id, case_id, data.screening_ids)

    return Prepared(data.command(), check=screenings_of_this_case)


class CommandRoute(NamedTuple):
    path: str  # under /v1/cases/{case_id}/
    operation_id: str
    summary: str
    body: type[msgspec.Struct]
    example: tuple[str, dict[str, Any]]
    action: Action = Action.CASE_COMMAND
    named: str | None = None  # the path's own id (a consent, a referral, a goal)
    prepare: Prepare = _plain
    responses: dict[int, Any] | None = None


COMMANDS = (
    CommandRoute(
        "services",
        "recordService",
        "Record a service",
        rq.RecordServiceBody,
        ("A case-management session", ex.RECORD_SERVICE_EXAMPLE),
    ),
    CommandRoute(
        "consents",
        "grantConsent",
        "Record a written release of information",
        rq.GrantConsentBody,
        ("A release to a legal-aid partner", ex.GRANT_CONSENT_EXAMPLE),
    ),
    CommandRoute(
        "consents/{consent_id:str}/revocation",
        "revokeConsent",
        "Record the revocation of a consent",
        rq.RevokeConsentBody,
        ("A written revocation", ex.REVOKE_CONSENT_EXAMPLE),
        named="consent_id",
    ),
    CommandRoute(
        "referrals",
        "proposeReferral",
        "Propose a referral",
        rq.ProposeReferralBody,
        ("An external referral under consent", ex.PROPOSE_REFERRAL_EXAMPLE),
    ),
    CommandRoute(
        "referrals/{referral_id:str}/status",
        "updateReferral",
        "Change a referral's status",
        rq.UpdateReferralBody,
        ("The referral was sent", ex.UPDATE_REFERRAL_EXAMPLE),
        named="referral_id",
    ),
    CommandRoute(
        "closure",
        "closeCase",
        "Close a case",
        rq.CloseCaseBody,
        ("Goals met, client in rental housing", ex.CLOSE_CASE_EXAMPLE),
        Action.CASE_CLOSE,
    ),
    CommandRoute(
        "outcomes",
        "assessOutcome",
        "Record an outcome assessment",
        rq.AssessOutcomeBody,
        ("Safety and housing scored", ex.ASSESS_OUTCOME_EXAMPLE),
    ),
    CommandRoute(
        "immigration",
        "recordImmigrationStep",
        "Record a step of an immigration milestone (assigned worker only)",
        rq.ImmigrationStepBody,
        ("Continued Presence requested", ex.IMMIGRATION_STEP_EXAMPLE),
        Action.CASE_IMMIGRATION,
    ),
    CommandRoute(
        "assignment",
        "assignCase",
        "Reassign a case within the supervisor's team",
        rq.AssignCaseBody,
        ("To another worker of the team", ex.ASSIGN_CASE_EXAMPLE),
        Action.CASE_ASSIGN,
        prepare=_assignment,
        responses=ASSIGN_RESPONSES,
    ),
    CommandRoute(
        "reopening",
        "reopenCase",
        "Reopen a closed case",
        rq.ReopenCaseBody,
        ("The client came back", ex.REOPEN_CASE_EXAMPLE),
        Action.CASE_CLOSE,
    ),
    CommandRoute(
        "victim-status",
        "determineVictimStatus",
        "Record a (new) determination of victim status",
        rq.VictimStatusBody,
        ("Confirmed after a second interview", ex.VICTIM_STATUS_EXAMPLE),
        prepare=_victim_status,
    ),
    CommandRoute(
        "trafficking-context",
        "updateTraffickingContext",
        "Replace the case's trafficking context",
        rq.TraffickingContextBody,
        ("A revised labour-trafficking context", ex.TRAFFICKING_CONTEXT_EXAMPLE),
    ),
    CommandRoute(
        "needs",
        "assessNeeds",
        "Record a needs assessment",
        rq.AssessNeedsBody,
        ("Shelter and immigration advice", ex.ASSESS_NEEDS_EXAMPLE),
    ),
    CommandRoute(
        "goals",
        "setGoal",
        "Add a goal to the service plan",
        rq.SetGoalBody,
        ("A housing goal", ex.SET_GOAL_EXAMPLE),
    ),
    CommandRoute(
        "goals/{goal_id:str}/status",
        "changeGoalStatus",
        "Change a goal's status",
        rq.ChangeGoalStatusBody,
        ("Work on the goal started", ex.CHANGE_GOAL_STATUS_EXAMPLE),
        named="goal_id",
    ),
    CommandRoute(
        "statistics-consent",
        "recordStatisticsConsent",
        "Record whether the client agrees to be counted in de-identified statistics",
        rq.StatisticsConsentBody,
        ("The client agrees", ex.STATISTICS_CONSENT_EXAMPLE),
    ),
    CommandRoute(
        "transfer",
        "transferCase",
        "Ask another organisation to take the case over, under the client's consent "
        "(assigned worker only)",
        rq.TransferCaseBody,
        ("To a partner organisation in another city", ex.TRANSFER_CASE_EXAMPLE),
        Action.CASE_TRANSFER,
        prepare=_transfer,
        responses=TRANSFER_RESPONSES,
    ),
)


def command_route(route: CommandRoute) -> HTTPRouteHandler:
    """The litestar handler of one table row: its signature names the row's body type and
    path id, so validation and the OpenAPI document come from litestar as for any route."""

    async def handle(
        request: Request[Principal, Any, Any],
        runtime: Runtime,
        case_id: uuid.UUID,
        data: Any,
        **named: str,
    ) -> Response[bytes]:
        prepared = route.prepare(data, request, case_id, named.get(route.named or ""), runtime)
        return await http.case_command(
            request,
            runtime,
            case_id,
            route.action,
            data,
            prepared.command,
            answer=prepared.answer,
            check=prepared.check,
        )

    body = Annotated[
        route.body, Body(media_type=RequestEncodingType.JSON, examples=ex.example(*route.example))
    ]
    parameters = {
        "request": Request[Principal, Any, Any],
        "runtime": NamedDependency[Runtime],
        "case_id": FromPath[uuid.UUID],
        **({route.named: FromPath[str]} if route.named else {}),
        "data": body,
    }
    handle.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation)
            for name, annotation in parameters.items()
        ],
        return_annotation=Response[bytes],
    )
    handle.__annotations__ = {**parameters, "return": Response[bytes]}
    handle.__name__ = handle.__qualname__ = route.operation_id
    return post(
        f"/v1/cases/{{case_id:uuid}}/{route.path}",
        operation_id=route.operation_id,
        summary=route.summary,
        tags=TAGS,
        security=BEARER_SECURITY,
        status_code=200,
        operation_class=CommandOperation,
        responses=route.responses or COMMAND_RESPONSES,
    )(handle)


@post(
    "/v1/cases",
    operation_id="openCase",
    tags=TAGS,
    summary="Open a case (intake)",
    status_code=201,
    security=BEARER_SECURITY,
    operation_class=IdempotentOperation,
    responses={
        201: OPENED_SPEC,
        **REFUSALS,
        409: problem_spec("The Idempotency-Key is still in use (`idempotency-key-in-progress`)."),
        422: problem_spec(
            "Invalid body (`validation-error`), a domain rule refused a "
            "value, or the Idempotency-Key was used for another request "
            "(`idempotency-key-reused`)."
        ),
    },
)
async def open_case(
    request: Request[Principal, Any, Any],
    runtime: NamedDependency[Runtime],
    data: Annotated[
        rq.OpenCaseBody,
        Body(
            media_type=RequestEncodingType.JSON,
            examples=ex.example("A labour-trafficking intake", ex.OPEN_CASE_EXAMPLE),
        ),
    ],
) -> Response[bytes]:
    principal = request.user
    case_id = str(uuid.uuid4())
    command = data.command(
        case_id=case_id,
        organisation_id=principal.organisation_id,
        worker_id=principal.user_id,
        team_id=principal.team_id,
    )
    idempotent, faults = http.request_faults(request, data)
    answer = await case_commands.open_case(
        runtime,
        principal,
        http.actor_of(principal, request),
        command,
        idempotent,
        lambda version: CommandAccepted(case_id=case_id, version=version),
        faults,
    )
    opened = msgspec.json.decode(answer.body, type=CommandAccepted).case_id  # a replay's own
    answer = await with_duplicate_warning(request, runtime, principal, command, answer)
    return http.answer_response(answer, location=f"/v1/cases/{opened}")


COMMAND_ROUTES = [open_case, *(command_route(route) for route in COMMANDS)]
