"""The case routes: intake, reading a case, and the content commands on it.

Every route names one `Action` of `services.api.authorisation` and asks `require(...)`; a case
of another organisation is loaded as "no such case", so it answers exactly the 404 of a
random id.

Reading (`GET /v1/cases/{case_id}`) and every command take the case from the sealed case
view when it is at the stream's head version (`case_support.current_state`: one statement and
one decryption however long the stream), else from the stream, so neither is ever stale. A
command naming the version this process's last command on the case left is first decided on
that state without a read (`case_support.case_command`), and a case worker's read of a case
this process last saw is decided on that state, its access record guarded by the stream's
version (`_read_known`). A read fails closed: the access record (`events.access_log`) is one
INSERT in autocommit, and the case is returned only once it has committed; if it cannot be
recorded the answer is 503 with no content. `part` is "full" when
the view includes immigration milestones (the assigned worker) and "summary" when it does not
(team access, break-the-glass). Team access is the organisation's setting `HAVEN_TEAM_ACCESS`
(`services.settings`), passed to `require` for the caller's organisation on every case route
(`case_support.team_access`).

The shared machinery (preconditions, idempotency, the unit of work, OpenAPI declarations of
`If-Match` and `Idempotency-Key`) lives in `case_support`; the remaining commands (victim
status, trafficking context, needs, goals, statistics consent, transfer) in
`case_command_routes`.

Commands (`POST /v1/cases/{case_id}/...`):

* `If-Match: "<version>"` is required: missing -> 428 `precondition-required`; not the case's
  current version -> 412 `precondition-failed`; the case changed between our check and the
  append (a lost race) -> 409 `concurrent-change`. Never a silent overwrite. (A command
  decided on a state known here has no read, so no such window: when its append is refused,
  it is decided again on the stored case, which usually answers 412.)
* `Idempotency-Key` (optional, 1..100 printable characters; else 422 `validation-error`):
  `lookup` first (Replay -> the stored status and body; KeyReuse -> 422
  `idempotency-key-reused`; InProgress -> 409 `idempotency-key-in-progress`), then ONE unit of
  work (`store.transaction()`): the use case's append first, then `claim` + `complete`.
  `services/cases.py` appends through its store and takes no connection, so the use cases run
  over `case_support.UnitOfWorkStore`, an adapter that reads on the transaction's own
  connection (never a second pool connection while one is held) and appends on it (a use
  case's own transaction, the transfer's, is this one); the state the route read is handed to
  the use cases (`known`), so a case is read once per command. Key, events and
  result therefore
  commit together or not at all: a crash leaves no key, and a retry runs afresh (answered 412
  by the If-Match check if the first attempt had in fact committed — never a double append).
  The request hash covers method, path and the canonical JSON of the parsed body.
* Success: 200 `CommandAccepted{case_id, version}` with `ETag: "<version>"`.
* OpenAPI declares `If-Match` (required) and `Idempotency-Key` (optional) on every command, and
  `Idempotency-Key` on intake (`case_support.CommandOperation`, `IdempotentOperation`).

`POST /v1/cases` opens a case (201, `ETag: "1"`, `Location`), honouring `Idempotency-Key` the
same way (a retried intake does not open a second case).

Further routes (same patterns):

* `POST .../outcomes` (case.command), `POST .../immigration` (case.immigration: the assigned
  worker only), `POST .../reopening` (case.close: reopening is the closing worker's command),
  `POST .../assignment` (case.assign: the supervisor of the case's team). An assignment stays
  within the supervisor's team: `team_id` defaults to the supervisor's team, and naming another
  team answers 403 `forbidden` (decided after the 403/404 of authorisation, before If-Match;
  nothing is appended). Whether the new worker belongs to the team is not checked: there is no
  staff directory yet.
* `POST .../break-glass` (case.break_glass: the supervisor of the case's team): `{reason,
  minutes}` -> 201 `{grant_id, expires_at}`. The grant is its own audit record (its reason is
  sealed with the case's data key); no access record is written for it, but every read made
  with it is recorded with basis "break-glass" and the grant's id. A blank reason is 422.
* `GET .../history` (case.history): `[{version, recorded_at, event_type, actor_id}]`, never a
  payload; fail closed like the read, recorded with part "history".
* `GET .../access-log` (case.access_log: the privacy officer): the review is recorded first
  (part "access-log", basis "privacy-review") in the same transaction that then reads the access
  records (newest first, so the review itself leads) and opens the break-the-glass reasons;
  nothing is returned unless that transaction commits.
* `DELETE /v1/cases/{case_id}` (case.erase: the privacy officer): crypto-shreds the case's data
  key (`store.shred`) and records part "erasure" in the same transaction -> 204. The chain
  stays verifiable; from then on the case answers every route exactly like a missing one (404),
  its access log included. In the same transaction the case leaves every read model
  (`projections.rebuild.forget_case`) and its stored idempotent answers go
  (`events.idempotency.forget_case`); a projector batch racing with it skips the case when
  it writes (`projections.cases` checks for a destroyed key), and a rebuild purges any rest.

Route choices the contract left open: a revocation is
`POST /v1/cases/{case_id}/consents/{consent_id}/revocation` (the consent is named by the
path); a referral's status change is `POST /v1/cases/{case_id}/referrals/{referral_id}/status`.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

import asyncpg
import msgspec
from litestar import Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath

from domain.case import commands as cmd
from domain.case.state import CaseState, fold
from events import idempotency
from events.access_log import (
    AccessNotRecorded,
    BreakGlassGrant,
    access_log,
    active_grant,
    case_data_key,
    grant_break_glass,
    grant_reasons,
    record_access,
)
from events.errors import StreamErased, StreamNotFound
from events.store import Connection, utc_now
from projections.catalog import PROJECTION_TYPES
from projections.rebuild import forget_case
from services.api import observe
from services.api.authorisation import RULES, Action, Basis, CaseFacts, Decision, authorise, require
from services.api.case_schemas import (
    ASSESS_OUTCOME_EXAMPLE,
    ASSIGN_CASE_EXAMPLE,
    BREAK_GLASS_EXAMPLE,
    CLOSE_CASE_EXAMPLE,
    GRANT_CONSENT_EXAMPLE,
    IMMIGRATION_STEP_EXAMPLE,
    OPEN_CASE_EXAMPLE,
    PROPOSE_REFERRAL_EXAMPLE,
    RECORD_SERVICE_EXAMPLE,
    REOPEN_CASE_EXAMPLE,
    REVOKE_CONSENT_EXAMPLE,
    UPDATE_REFERRAL_EXAMPLE,
    AccessLogView,
    AccessRecordView,
    AssessOutcomeBody,
    AssignCaseBody,
    BreakGlassBody,
    BreakGlassGranted,
    CaseView,
    CloseCaseBody,
    CommandAccepted,
    GrantConsentBody,
    GrantView,
    HistoryEntry,
    ImmigrationStepBody,
    OpenCaseBody,
    ProposeReferralBody,
    RecordServiceBody,
    ReopenCaseBody,
    RevokeConsentBody,
    UpdateReferralBody,
    case_view,
    example,
)
from services.api.case_support import (
    COMMAND_RESPONSES,
    REFUSALS,
    TAGS,
    CommandOperation,
    IdempotentOperation,
    Refused,
    VersionedReadOperation,
    accepted_spec,
    actor_of,
    case_command,
    current_state,
    etag,
    load_for,
    problem_spec,
    run_command,
    team_access,
    text_refusal,
)
from services.api.errors import problem_response
from services.api.identity_routes import BEARER_SECURITY
from services.api.problems import ProblemError, problem
from services.bootstrap import Runtime
from services.identity import Principal


def _acting_role(principal: Principal, action: Action, basis: Basis | None) -> str:
    """The caller's role whose rule gave `basis` (for the access record)."""
    rule = RULES[action]
    for role in sorted(principal.roles):
        if any(grant.basis is basis for grant in rule.grants.get(role, ())):
            return role
    return sorted(principal.roles)[0]


def _may_break_glass(principal: Principal) -> bool:
    """Only supervisors' rules count a break-the-glass grant."""
    return "supervisor" in principal.roles


async def _break_glass_grant(runtime: Runtime, principal: Principal, facts: CaseFacts | None,
                             case_id: uuid.UUID) -> BreakGlassGrant | None:
    """The supervisor's active grant on the case."""
    if not _may_break_glass(principal) or facts is None:
        return None
    return await active_grant(runtime.pool, principal.organisation_id, case_id, principal.user_id, utc_now())


@contextlib.asynccontextmanager
async def _fail_closed(runtime: Runtime, case_id: uuid.UUID) -> AsyncIterator[Connection]:
    """A transaction whose failure (the commit included) is `AccessNotRecorded` (503):
    whatever it records must have committed before anything is returned."""
    try:
        async with runtime.store.transaction() as conn:
            yield conn
    except AccessNotRecorded:
        raise
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as error:
        raise AccessNotRecorded(f"access to case {case_id} could not be recorded") from error


async def _record(conn: Connection | asyncpg.Pool, request: Request[Any, Any, Any], principal: Principal, case_id: uuid.UUID,
                  action: Action, basis: Basis | None, part: str, grant: BreakGlassGrant | None = None,
                  at_version: int | None = None) -> bool:
    return await record_access(
        conn, tenant_id=principal.organisation_id, case_id=case_id, actor_id=principal.user_id,
        role=_acting_role(principal, action, basis), part=part, basis=str(basis),
        grant_id=grant.grant_id if basis is Basis.BREAK_GLASS and grant else None,
        request_id=observe.request_id(request.scope), at_version=at_version)


# -- routes -------------------------------------------------------------------------------------


@post("/v1/cases", operation_id="openCase", tags=TAGS, summary="Open a case (intake)", status_code=201,
      security=BEARER_SECURITY, operation_class=IdempotentOperation,
      responses={201: accepted_spec("The case was opened: `Location` names it, `ETag` its version."),
                 **REFUSALS,
                 409: problem_spec("The Idempotency-Key is still in use (`idempotency-key-in-progress`)."),
                 422: problem_spec("Invalid body (`validation-error`), a domain rule refused a value, or the "
                                   "Idempotency-Key was used for another request (`idempotency-key-reused`).")})
async def open_case(
    request: Request[Principal, Any, Any],
    runtime: NamedDependency[Runtime],
    data: Annotated[OpenCaseBody, Body(media_type=RequestEncodingType.JSON,
                                        examples=example("A labour-trafficking intake", OPEN_CASE_EXAMPLE))],
) -> Response[bytes]:
    principal = request.user
    require(principal, Action.CASE_OPEN, None)
    case_id = str(uuid.uuid4())
    command = data.command(case_id=case_id, organisation_id=principal.organisation_id,
                           worker_id=principal.user_id, team_id=principal.team_id)
    actor = actor_of(principal, request)

    def location(body: bytes) -> str:
        return f"/v1/cases/{msgspec.json.decode(body, type=CommandAccepted).case_id}"

    try:
        return await run_command(request, runtime, data, 201, lambda uc: uc.open_case(actor, command), case_id,
                                 location=location)
    except Refused as refused:
        return refused.response


@get("/v1/cases/{case_id:uuid}", operation_id="getCase", tags=TAGS, summary="Read a case",
     security=BEARER_SECURITY, operation_class=VersionedReadOperation,
     responses={**REFUSALS, 503: problem_spec("The access could not be recorded, so nothing is returned.")})
async def get_case(request: Request[Principal, Any, Any], runtime: NamedDependency[Runtime],
                   case_id: FromPath[uuid.UUID]) -> Response[CaseView]:
    principal = request.user
    known = runtime.recent.latest((principal.organisation_id, str(case_id))) if runtime.recent is not None else None
    if known is not None and not _may_break_glass(principal):  # a grant is looked up on the full path
        answer = await _read_known(request, runtime, principal, case_id, known)
        if answer is not None:
            return answer
    state = await current_state(runtime, principal, case_id)
    facts = CaseFacts.of(state)
    grant = await _break_glass_grant(runtime, principal, facts, case_id)
    decision: Decision = require(principal, Action.CASE_READ, facts, has_break_glass=grant is not None,
                                 team_access=team_access(request))
    answer = await _recorded_read(request, runtime, principal, case_id, state, facts, decision, grant)
    assert answer is not None  # (recorded unconditionally: without `at_version`, record or raise)
    return answer


async def _read_known(request: Request[Principal, Any, Any], runtime: Runtime, principal: Principal,
                      case_id: uuid.UUID, known: CaseState) -> Response[CaseView] | None:
    """`get_case` decided on the state this process last saw of the case, in one statement:
    the access record, written only while the stream is still at that state's version (and
    not shredded), so a written record proves the decision was taken on the case as stored.
    None when the decision refuses or the case has moved on: nothing was recorded, and the
    read is decided again on the stored case, which gives the answer."""
    facts = CaseFacts.of(known)
    decision = authorise(principal, Action.CASE_READ, facts, team_access=team_access(request))
    if not decision.allowed:
        return None
    return await _recorded_read(request, runtime, principal, case_id, known, facts, decision, at_version=known.version)


async def _recorded_read(request: Request[Principal, Any, Any], runtime: Runtime, principal: Principal,
                         case_id: uuid.UUID, state: CaseState, facts: CaseFacts, decision: Decision,
                         grant: BreakGlassGrant | None = None, *, at_version: int | None = None,
                         ) -> Response[CaseView] | None:
    """The case view a read `decision` allows, once its access record has committed: one INSERT
    in autocommit, so when it returns the record is durable (fail closed). With `at_version`,
    None when the stream is no longer at that version (nothing was recorded)."""
    include_immigration = authorise(principal, Action.CASE_READ_IMMIGRATION, facts).allowed
    if not await _record(runtime.pool, request, principal, case_id, Action.CASE_READ, decision.basis,
                         "full" if include_immigration else "summary", grant, at_version=at_version):
        return None
    return Response(case_view(state, include_immigration=include_immigration), headers={"ETag": etag(state.version)})


@post("/v1/cases/{case_id:uuid}/services", operation_id="recordService", tags=TAGS, summary="Record a service",
      security=BEARER_SECURITY, status_code=200, operation_class=CommandOperation, responses=COMMAND_RESPONSES)
async def record_service(
    request: Request[Principal, Any, Any], runtime: NamedDependency[Runtime], case_id: FromPath[uuid.UUID],
    data: Annotated[RecordServiceBody, Body(media_type=RequestEncodingType.JSON,
                                             examples=example("A case-management session", RECORD_SERVICE_EXAMPLE))],
) -> Response[bytes]:
    command = data.command()
    return await case_command(request, runtime, case_id, Action.CASE_COMMAND, data,
                              lambda uc, actor, v: uc.record_service(actor, str(case_id), command, v))


@post("/v1/cases/{case_id:uuid}/consents", operation_id="grantConsent", tags=TAGS,
      summary="Record a written release of information", security=BEARER_SECURITY,
      status_code=200, operation_class=CommandOperation, responses=COMMAND_RESPONSES)
async def grant_consent(
    request: Request[Principal, Any, Any], runtime: NamedDependency[Runtime], case_id: FromPath[uuid.UUID],
    data: Annotated[GrantConsentBody, Body(media_type=RequestEncodingType.JSON,
                                            examples=example("A release to a legal-aid partner", GRANT_CONSENT_EXAMPLE))],
) -> Response[bytes]:
    command = data.command()
    return await case_command(request, runtime, case_id, Action.CASE_COMMAND, data,
                              lambda uc, actor, v: uc.record_consent(actor, str(case_id), command, v))


@post("/v1/cases/{case_id:uuid}/consents/{consent_id:str}/revocation", operation_id="revokeConsent", tags=TAGS,
      summary="Record the revocation of a consent", security=BEARER_SECURITY,
      status_code=200, operation_class=CommandOperation, responses=COMMAND_RESPONSES)
async def revoke_consent(
    request: Request[Principal, Any, Any], runtime: NamedDependency[Runtime], case_id: FromPath[uuid.UUID],
    consent_id: FromPath[str],
    data: Annotated[RevokeConsentBody, Body(media_type=RequestEncodingType.JSON,
                                             examples=example("A written revocation", REVOKE_CONSENT_EXAMPLE))],
) -> Response[bytes]:
    command: cmd.RevokeConsent = data.command(consent_id)
    return await case_command(request, runtime, case_id, Action.CASE_COMMAND, data,
                              lambda uc, actor, v: uc.record_consent(actor, str(case_id), command, v))


@post("/v1/cases/{case_id:uuid}/referrals", operation_id="proposeReferral", tags=TAGS,
      summary="Propose a referral", security=BEARER_SECURITY, status_code=200,
      operation_class=CommandOperation,
      responses=COMMAND_RESPONSES)
async def propose_referral(
    request: Request[Principal, Any, Any], runtime: NamedDependency[Runtime], case_id: FromPath[uuid.UUID],
    data: Annotated[ProposeReferralBody, Body(media_type=RequestEncodingType.JSON,
                                               examples=example("An external referral under consent",
                                                                PROPOSE_REFERRAL_EXAMPLE))],
) -> Response[bytes]:
    command = data.command()
    return await case_command(request, runtime, case_id, Action.CASE_COMMAND, data,
                              lambda uc, actor, v: uc.refer(actor, str(case_id), command, v))


@post("/v1/cases/{case_id:uuid}/referrals/{referral_id:str}/status", operation_id="updateReferral", tags=TAGS,
      summary="Change a referral's status", security=BEARER_SECURITY, status_code=200,
      operation_class=CommandOperation,
      responses=COMMAND_RESPONSES)
async def update_referral(
    request: Request[Principal, Any, Any], runtime: NamedDependency[Runtime], case_id: FromPath[uuid.UUID],
    referral_id: FromPath[str],
    data: Annotated[UpdateReferralBody, Body(media_type=RequestEncodingType.JSON,
                                              examples=example("The referral was sent", UPDATE_REFERRAL_EXAMPLE))],
) -> Response[bytes]:
    command = data.command(referral_id)
    return await case_command(request, runtime, case_id, Action.CASE_COMMAND, data,
                              lambda uc, actor, v: uc.update_referral(actor, str(case_id), command, v))


@post("/v1/cases/{case_id:uuid}/closure", operation_id="closeCase", tags=TAGS, summary="Close a case",
      security=BEARER_SECURITY, status_code=200, operation_class=CommandOperation, responses=COMMAND_RESPONSES)
async def close_case(
    request: Request[Principal, Any, Any], runtime: NamedDependency[Runtime], case_id: FromPath[uuid.UUID],
    data: Annotated[CloseCaseBody, Body(media_type=RequestEncodingType.JSON,
                                         examples=example("Goals met, client in rental housing", CLOSE_CASE_EXAMPLE))],
) -> Response[bytes]:
    command = data.command()
    return await case_command(request, runtime, case_id, Action.CASE_CLOSE, data,
                              lambda uc, actor, v: uc.close_case(actor, str(case_id), command, v))


@post("/v1/cases/{case_id:uuid}/outcomes", operation_id="assessOutcome", tags=TAGS,
      summary="Record an outcome assessment", security=BEARER_SECURITY, status_code=200,
      operation_class=CommandOperation,
      responses=COMMAND_RESPONSES)
async def assess_outcome(
    request: Request[Principal, Any, Any], runtime: NamedDependency[Runtime], case_id: FromPath[uuid.UUID],
    data: Annotated[AssessOutcomeBody, Body(media_type=RequestEncodingType.JSON,
                                             examples=example("Safety and housing scored", ASSESS_OUTCOME_EXAMPLE))],
) -> Response[bytes]:
    command = data.command()
    return await case_command(request, runtime, case_id, Action.CASE_COMMAND, data,
                              lambda uc, actor, v: uc.assess_outcome(actor, str(case_id), command, v))


@post("/v1/cases/{case_id:uuid}/immigration", operation_id="recordImmigrationStep", tags=TAGS,
      summary="Record a step of an immigration milestone (assigned worker only)", security=BEARER_SECURITY,
      status_code=200, operation_class=CommandOperation, responses=COMMAND_RESPONSES)
async def record_immigration_step(
    request: Request[Principal, Any, Any], runtime: NamedDependency[Runtime], case_id: FromPath[uuid.UUID],
    data: Annotated[ImmigrationStepBody, Body(media_type=RequestEncodingType.JSON,
                                               examples=example("Continued Presence requested",
                                                                IMMIGRATION_STEP_EXAMPLE))],
) -> Response[bytes]:
    command = data.command()
    return await case_command(request, runtime, case_id, Action.CASE_IMMIGRATION, data,
                              lambda uc, actor, v: uc.record_immigration_step(actor, str(case_id), command, v))


@post("/v1/cases/{case_id:uuid}/assignment", operation_id="assignCase", tags=TAGS,
      summary="Reassign a case within the supervisor's team", security=BEARER_SECURITY, status_code=200,
      operation_class=CommandOperation,
      responses={**COMMAND_RESPONSES,
                 403: problem_spec("Not the supervisor of the case's team, or `team_id` names another team "
                                   "(`forbidden`).")})
async def assign_case(
    request: Request[Principal, Any, Any], runtime: NamedDependency[Runtime], case_id: FromPath[uuid.UUID],
    data: Annotated[AssignCaseBody, Body(media_type=RequestEncodingType.JSON,
                                          examples=example("To another worker of the team", ASSIGN_CASE_EXAMPLE))],
) -> Response[bytes]:
    team = request.user.team_id  # CASE_ASSIGN needs the case on the caller's own team

    def own_team_only() -> None:
        if data.team_id is not None and data.team_id != team:
            raise Refused(problem_response(problem("forbidden", detail="a supervisor assigns within their own team")))

    command = data.command(team)
    return await case_command(request, runtime, case_id, Action.CASE_ASSIGN, data,
                              lambda uc, actor, v: uc.assign(actor, str(case_id), command, v), check=own_team_only)


@post("/v1/cases/{case_id:uuid}/reopening", operation_id="reopenCase", tags=TAGS, summary="Reopen a closed case",
      security=BEARER_SECURITY, status_code=200, operation_class=CommandOperation, responses=COMMAND_RESPONSES)
async def reopen_case(
    request: Request[Principal, Any, Any], runtime: NamedDependency[Runtime], case_id: FromPath[uuid.UUID],
    data: Annotated[ReopenCaseBody, Body(media_type=RequestEncodingType.JSON,
                                          examples=example("The client came back", REOPEN_CASE_EXAMPLE))],
) -> Response[bytes]:
    command = data.command()
    return await case_command(request, runtime, case_id, Action.CASE_CLOSE, data,
                              lambda uc, actor, v: uc.reopen_case(actor, str(case_id), command, v))


@post("/v1/cases/{case_id:uuid}/break-glass", operation_id="breakGlass", tags=TAGS,
      summary="Request time-limited emergency access to a case of the supervisor's team",
      security=BEARER_SECURITY, status_code=201,
      responses={**REFUSALS, 422: problem_spec("Invalid body: a blank or over-long reason, minutes outside "
                                                "1..240 (`validation-error`).")})
async def break_glass(
    request: Request[Principal, Any, Any], runtime: NamedDependency[Runtime], case_id: FromPath[uuid.UUID],
    data: Annotated[BreakGlassBody, Body(media_type=RequestEncodingType.JSON,
                                          examples=example("A safety emergency", BREAK_GLASS_EXAMPLE))],
) -> Response[BreakGlassGranted]:
    principal = request.user
    state = await load_for(runtime, principal, case_id)
    require(principal, Action.CASE_BREAK_GLASS, CaseFacts.of(state), team_access=team_access(request))
    if not data.reason.strip():
        return problem_response(problem("validation-error", errors=[ProblemError(  # type: ignore[return-value]
            detail="the reason must not be blank", pointer="/reason")]))
    refused = text_refusal(data)
    if refused is not None:
        return refused  # type: ignore[return-value]
    async with runtime.store.transaction() as conn:  # StreamNotFound/StreamErased (erased meanwhile) -> 404
        key = await case_data_key(conn, runtime.keyring, principal.organisation_id, case_id)
        grant = await grant_break_glass(conn, tenant_id=principal.organisation_id, case_id=case_id,
                                        actor_id=principal.user_id, reason=data.reason, minutes=data.minutes,
                                        data_key=key, now=utc_now())
    return Response(BreakGlassGranted(grant_id=grant.grant_id, expires_at=grant.expires_at), status_code=201)


@get("/v1/cases/{case_id:uuid}/history", operation_id="getCaseHistory", tags=TAGS,
     summary="The case's timeline: event types and times, no content", security=BEARER_SECURITY,
     responses={**REFUSALS, 503: problem_spec("The access could not be recorded, so nothing is returned.")})
async def case_history(request: Request[Principal, Any, Any], runtime: NamedDependency[Runtime],
                       case_id: FromPath[uuid.UUID]) -> Response[list[HistoryEntry]]:
    principal = request.user
    try:
        recorded = await runtime.store.read_stream(principal.organisation_id, case_id)
    except (StreamNotFound, StreamErased):
        recorded = []
    state = fold((r.version, r.event) for r in recorded if r.event is not None)
    facts = CaseFacts.of(state)
    grant = await _break_glass_grant(runtime, principal, facts, case_id)
    decision = require(principal, Action.CASE_HISTORY, facts, has_break_glass=grant is not None,
                       team_access=team_access(request))
    async with _fail_closed(runtime, case_id) as conn:
        await _record(conn, request, principal, case_id, Action.CASE_HISTORY, decision.basis, "history", grant)
    timeline = [HistoryEntry(version=r.version, recorded_at=r.recorded_at, event_type=r.event_type,
                             actor_id=r.metadata.actor_id if r.metadata is not None else None) for r in recorded]
    return Response(timeline, headers={"ETag": etag(state.version)})


@get("/v1/cases/{case_id:uuid}/access-log", operation_id="getCaseAccessLog", tags=TAGS,
     summary="Who read the case, and the break-the-glass grants with their reasons (privacy officer)",
     security=BEARER_SECURITY,
     responses={**REFUSALS, 503: problem_spec("The review could not be recorded, so nothing is returned.")})
async def case_access_log(request: Request[Principal, Any, Any], runtime: NamedDependency[Runtime],
                          case_id: FromPath[uuid.UUID]) -> Response[AccessLogView]:
    principal = request.user
    state = await load_for(runtime, principal, case_id)
    decision = require(principal, Action.CASE_ACCESS_LOG, CaseFacts.of(state), team_access=team_access(request))
    tenant = principal.organisation_id
    async with _fail_closed(runtime, case_id) as conn:
        # Recorded first, in the same transaction: the review itself is the newest record.
        await _record(conn, request, principal, case_id, Action.CASE_ACCESS_LOG, decision.basis, "access-log")
        records = await access_log(conn, tenant, case_id)
        key = await case_data_key(conn, runtime.keyring, tenant, case_id)
        reasons = await grant_reasons(conn, tenant, case_id, key)
    return Response(AccessLogView(
        case_id=str(case_id),
        records=[AccessRecordView(accessed_at=r.accessed_at, actor_id=r.actor_id, role=r.role, part=r.part,
                                  basis=r.basis, grant_id=r.grant_id, request_id=r.request_id) for r in records],
        grants=[GrantView(grant_id=g.grant.grant_id, actor_id=g.grant.actor_id, granted_at=g.grant.granted_at,
                          expires_at=g.grant.expires_at, reason=g.reason) for g in reasons]))


@delete("/v1/cases/{case_id:uuid}", operation_id="eraseCase", tags=TAGS,
        summary="Erase a case by crypto-shredding its data key (privacy officer)", security=BEARER_SECURITY,
        status_code=204,
        responses={**REFUSALS, 503: problem_spec("The erasure could not be recorded, so nothing was erased.")})
async def erase_case(request: Request[Principal, Any, Any], runtime: NamedDependency[Runtime],
                     case_id: FromPath[uuid.UUID]) -> None:
    principal = request.user
    state = await load_for(runtime, principal, case_id)
    decision = require(principal, Action.CASE_ERASE, CaseFacts.of(state), team_access=team_access(request))
    async with _fail_closed(runtime, case_id) as conn:  # the erasure and its record commit together
        await runtime.store.shred(principal.organisation_id, case_id, connection=conn)
        await forget_case(conn, PROJECTION_TYPES, principal.organisation_id, case_id)
        await idempotency.forget_case(conn, principal.organisation_id, case_id)
        await _record(conn, request, principal, case_id, Action.CASE_ERASE, decision.basis, "erasure")
    if runtime.recent is not None:  # committed: no plaintext of the case stays in this process's memory
        runtime.recent.forget((principal.organisation_id, str(case_id)))


CASE_ROUTES = [open_case, get_case, record_service, grant_consent, revoke_consent, propose_referral,
               update_referral, close_case, assess_outcome, record_immigration_step, assign_case, reopen_case,
               break_glass, case_history, case_access_log, erase_case]
