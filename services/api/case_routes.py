"""The case routes: intake, reading a case, and the content commands on it.

Every route names one `Action` of `services.api.authorisation` and asks `require(...)`; a case
of another organisation is loaded as "no such case", so it answers exactly the 404 of a
random id.

Reading (`GET /v1/cases/{case_id}`) fails closed: the access record (`events.access_log`) is
written in its own transaction, and the case is returned only once that transaction has
committed; if it cannot be recorded the answer is 503 with no content. `part` is "full" when
the view includes immigration milestones (the assigned worker) and "summary" when it does not
(team access, break-the-glass). The organisation's team-access setting does not exist yet:
`team_access=False` everywhere.

Commands (`POST /v1/cases/{case_id}/...`):

* `If-Match: "<version>"` is required: missing -> 428 `precondition-required`; not the case's
  current version -> 412 `precondition-failed`; the case changed between our check and the
  append (a lost race) -> 409 `concurrent-change`. Never a silent overwrite.
* `Idempotency-Key` (optional, 1..100 printable characters; else 422 `validation-error`):
  `lookup` first (Replay -> the stored status and body; KeyReuse -> 422
  `idempotency-key-reused`; InProgress -> 409 `idempotency-key-in-progress`), then ONE unit of
  work (`store.transaction()`): the use case's append first, then `claim` + `complete`.
  `services/cases.py` appends through its store and takes no connection, so the use cases run
  over `_UnitOfWorkStore`, a two-method adapter that reads through the pool (as the use cases
  always do) and appends on the transaction's connection. Key, events and result therefore
  commit together or not at all: a crash leaves no key, and a retry runs afresh (answered 412
  by the If-Match check if the first attempt had in fact committed — never a double append).
  The request hash covers method, path and the canonical JSON of the parsed body.
* Success: 200 `CommandAccepted{case_id, version}` with `ETag: "<version>"`.

`POST /v1/cases` opens a case (201, `ETag: "1"`, `Location`), honouring `Idempotency-Key` the
same way (a retried intake does not open a second case).

Route choices the contract left open: a revocation is
`POST /v1/cases/{case_id}/consents/{consent_id}/revocation` (the consent is named by the
path); a referral's status change is `POST /v1/cases/{case_id}/referrals/{referral_id}/status`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import asyncpg
import msgspec
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Body, FromPath

from domain.case import commands as cmd
from domain.case.state import CaseState
from events import idempotency
from events.access_log import AccessNotRecorded, active_grant, record_access
from events.errors import ConcurrencyConflict
from events.store import Connection, PostgresEventStore, utc_now
from services.api import observe
from services.api.authorisation import RULES, Action, Basis, CaseFacts, Decision, authorise, require
from services.api.case_schemas import (
    CLOSE_CASE_EXAMPLE,
    GRANT_CONSENT_EXAMPLE,
    OPEN_CASE_EXAMPLE,
    PROPOSE_REFERRAL_EXAMPLE,
    RECORD_SERVICE_EXAMPLE,
    REVOKE_CONSENT_EXAMPLE,
    UPDATE_REFERRAL_EXAMPLE,
    CaseView,
    CloseCaseBody,
    CommandAccepted,
    GrantConsentBody,
    OpenCaseBody,
    ProposeReferralBody,
    RecordServiceBody,
    RevokeConsentBody,
    UpdateReferralBody,
    case_view,
    example,
)
from services.api.errors import problem_response
from services.api.identity_routes import AUTH_RESPONSES, BEARER_SECURITY
from services.api.problems import PROBLEM_MEDIA_TYPE, Problem, ProblemError, problem
from services.bootstrap import Runtime
from services.cases import Actor, CaseUseCases
from services.identity import Principal

MAX_IDEMPOTENCY_KEY = 100
IDEMPOTENCY_HEADER = "idempotency-key"
_ETAG = re.compile(r'^"([1-9][0-9]{0,17})"$')
_JSON = "application/json"
_ENCODE = msgspec.json.Encoder().encode
TAGS = ["cases"]


def _problem_spec(description: str) -> ResponseSpec:
    return ResponseSpec(data_container=Problem, media_type=PROBLEM_MEDIA_TYPE, generate_examples=False,
                        description=description)


_REFUSALS = {
    **AUTH_RESPONSES,
    403: _problem_spec("The caller's role, assignment or team does not permit this (`forbidden`)."),
    404: _problem_spec("No such case for this caller, including another organisation's (`not-found`)."),
}
_COMMAND_RESPONSES = {
    **_REFUSALS,
    409: _problem_spec("The case's state refuses the command (`case-closed`...), the case changed meanwhile "
                       "(`concurrent-change`), or the Idempotency-Key is still in use."),
    412: _problem_spec("If-Match names an older version (`precondition-failed`)."),
    422: _problem_spec("Invalid body (`validation-error`), a domain rule refused a value, or the "
                       "Idempotency-Key was used for another request (`idempotency-key-reused`)."),
    428: _problem_spec("If-Match is missing (`precondition-required`)."),
}


class _Refused(Exception):
    """An answer decided before or inside the unit of work (rolls the unit back)."""

    def __init__(self, response: Response[bytes]) -> None:
        super().__init__("refused")
        self.response = response


class _UnitOfWorkStore:
    """The event store as `CaseUseCases` sees it, bound to one transaction: reads go through
    the pool (a consistent snapshot, as always), appends join the transaction (first write)."""

    def __init__(self, store: PostgresEventStore, conn: Connection) -> None:
        self._store = store
        self._conn = conn

    async def read_stream(self, tenant_id: str, stream_id: uuid.UUID) -> Any:
        return await self._store.read_stream(tenant_id, stream_id)

    async def append(self, *args: Any, **kwargs: Any) -> Any:
        return await self._store.append(*args, connection=self._conn, **kwargs)


def _actor(principal: Principal, request: Request[Any, Any, Any]) -> Actor:
    return Actor(principal.user_id, principal.organisation_id, observe.request_id(request.scope))


def _etag(version: int) -> str:
    return f'"{version}"'


def _acting_role(principal: Principal, action: Action, basis: Basis | None) -> str:
    """The caller's role whose rule gave `basis` (for the access record)."""
    rule = RULES[action]
    for role in sorted(principal.roles):
        if any(grant.basis is basis for grant in rule.grants.get(role, ())):
            return role
    return sorted(principal.roles)[0]


def _idempotency_key(request: Request[Any, Any, Any]) -> str | None:
    values = request.headers.getall(IDEMPOTENCY_HEADER, [])
    if not values:
        return None
    key = values[0]
    if len(values) != 1 or not 0 < len(key) <= MAX_IDEMPOTENCY_KEY or not key.isprintable() or key.isspace():
        raise _Refused(problem_response(problem("validation-error", errors=[ProblemError(
            detail=f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} printable characters",
            pointer="#/header/Idempotency-Key")])))
    return key


def _if_match(request: Request[Any, Any, Any]) -> int:
    value = request.headers.get("if-match")
    if value is None:
        raise _Refused(problem_response(problem("precondition-required")))
    matched = _ETAG.match(value.strip())
    if matched is None:  # "*", weak or malformed tags never match a case version
        raise _Refused(problem_response(problem("precondition-failed")))
    return int(matched.group(1))


def _answer(status: int, body: bytes, location: str | None = None) -> Response[bytes]:
    version = msgspec.json.decode(body, type=CommandAccepted)
    headers = {"ETag": _etag(version.version)}
    if location is not None:
        headers["Location"] = location
    return Response(content=body, status_code=status, media_type=_JSON, headers=headers)


def _outcome_response(outcome: idempotency.Outcome, location: Callable[[bytes], str | None]) -> Response[bytes]:
    if isinstance(outcome, idempotency.Replay):
        return _answer(outcome.status, outcome.body, location(outcome.body))
    if isinstance(outcome, idempotency.KeyReuse):
        return problem_response(problem("idempotency-key-reused"))
    return problem_response(problem("idempotency-key-in-progress"))


async def _run_command(
    request: Request[Any, Any, Any],
    runtime: Runtime,
    body: msgspec.Struct,
    status: int,
    execute: Callable[[CaseUseCases], Awaitable[int]],
    case_id: str,
    *,
    location: Callable[[bytes], str | None] = lambda body: None,
) -> Response[bytes]:
    """Run one command in one unit of work with its idempotency bookkeeping (module docstring)."""
    principal: Principal = request.user
    key = _idempotency_key(request)
    hashed = idempotency.request_hash(request.method, request.url.path, _ENCODE(body))
    pool = runtime.store.pool
    if key is not None:
        earlier = await idempotency.lookup(pool, principal.organisation_id, principal.user_id, key, hashed)
        if earlier is not None:
            return _outcome_response(earlier, location)
    try:
        async with runtime.store.transaction() as conn:
            version = await execute(CaseUseCases(_UnitOfWorkStore(runtime.store, conn)))  # type: ignore[arg-type]
            payload = _ENCODE(CommandAccepted(case_id=case_id, version=version))
            if key is not None:
                claimed = await idempotency.claim(conn, principal.organisation_id, principal.user_id, key, hashed)
                if not isinstance(claimed, idempotency.Claimed):
                    raise _Refused(_outcome_response(claimed, location))  # rolls the append back
                await idempotency.complete(conn, principal.organisation_id, principal.user_id, key, hashed,
                                           status, payload)
    except ConcurrencyConflict:
        if key is not None:  # an identical request may have committed meanwhile: its answer
            earlier = await idempotency.lookup(pool, principal.organisation_id, principal.user_id, key, hashed)
            if earlier is not None:
                return _outcome_response(earlier, location)
        return problem_response(problem("concurrent-change"))
    return _answer(status, payload, location(payload))


async def _load_for(runtime: Runtime, principal: Principal, case_id: uuid.UUID) -> CaseState:
    """The case in the caller's organisation; empty when it is missing or another org's."""
    return await CaseUseCases(runtime.store).load(principal.organisation_id, str(case_id))


async def _case_command(
    request: Request[Any, Any, Any], runtime: Runtime, case_id: uuid.UUID, action: Action, body: msgspec.Struct,
    run: Callable[[CaseUseCases, Actor, int], Awaitable[int]],
) -> Response[bytes]:
    principal: Principal = request.user
    try:
        state = await _load_for(runtime, principal, case_id)
        require(principal, action, CaseFacts.of(state))  # refusals first: 403/404 before 428
        expected = _if_match(request)
        actor = _actor(principal, request)

        async def execute(use_cases: CaseUseCases) -> int:
            # Checked after the idempotency lookup: the retry of a command that committed names
            # the version it started from and must get the first answer, not a 412.
            if state.version != expected:
                raise _Refused(problem_response(problem("precondition-failed")))
            return await run(use_cases, actor, expected)

        return await _run_command(request, runtime, body, 200, execute, str(case_id))
    except _Refused as refused:
        return refused.response


# -- routes -------------------------------------------------------------------------------------


@post("/v1/cases", operation_id="openCase", tags=TAGS, summary="Open a case (intake)", status_code=201,
      security=BEARER_SECURITY,
      responses={**_REFUSALS,
                 422: _problem_spec("Invalid body (`validation-error`) or a domain rule refused a value.")})
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
                           worker_id=principal.user_id, team_id=principal.team_id or "")
    actor = _actor(principal, request)

    def location(body: bytes) -> str:
        return f"/v1/cases/{msgspec.json.decode(body, type=CommandAccepted).case_id}"

    try:
        return await _run_command(request, runtime, data, 201, lambda uc: uc.open_case(actor, command), case_id,
                                  location=location)
    except _Refused as refused:
        return refused.response


@get("/v1/cases/{case_id:uuid}", operation_id="getCase", tags=TAGS, summary="Read a case",
     security=BEARER_SECURITY,
     responses={**_REFUSALS, 503: _problem_spec("The access could not be recorded, so nothing is returned.")})
async def get_case(request: Request[Principal, Any, Any], runtime: NamedDependency[Runtime],
                   case_id: FromPath[uuid.UUID]) -> Response[CaseView]:
    principal = request.user
    state = await _load_for(runtime, principal, case_id)
    facts = CaseFacts.of(state)
    grant = None
    if "supervisor" in principal.roles and facts is not None:
        grant = await active_grant(runtime.pool, principal.organisation_id, case_id, principal.user_id, utc_now())
    decision: Decision = require(principal, Action.CASE_READ, facts, has_break_glass=grant is not None)
    include_immigration = authorise(principal, Action.CASE_READ_IMMIGRATION, facts).allowed
    basis = decision.basis
    try:
        async with runtime.store.transaction() as conn:
            await record_access(
                conn, tenant_id=principal.organisation_id, case_id=case_id, actor_id=principal.user_id,
                role=_acting_role(principal, Action.CASE_READ, basis), part="full" if include_immigration else "summary",
                basis=str(basis), grant_id=grant.grant_id if basis is Basis.BREAK_GLASS and grant else None,
                request_id=observe.request_id(request.scope))
    except AccessNotRecorded:
        raise
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as error:  # the commit itself failed
        raise AccessNotRecorded(f"access to case {case_id} could not be recorded") from error
    return Response(case_view(state, include_immigration=include_immigration),
                    headers={"ETag": _etag(state.version)})


@post("/v1/cases/{case_id:uuid}/services", operation_id="recordService", tags=TAGS, summary="Record a service",
      security=BEARER_SECURITY, status_code=200, responses=_COMMAND_RESPONSES)
async def record_service(
    request: Request[Principal, Any, Any], runtime: NamedDependency[Runtime], case_id: FromPath[uuid.UUID],
    data: Annotated[RecordServiceBody, Body(media_type=RequestEncodingType.JSON,
                                             examples=example("A case-management session", RECORD_SERVICE_EXAMPLE))],
) -> Response[bytes]:
    command = data.command()
    return await _case_command(request, runtime, case_id, Action.CASE_COMMAND, data,
                               lambda uc, actor, v: uc.record_service(actor, str(case_id), command, v))


@post("/v1/cases/{case_id:uuid}/consents", operation_id="grantConsent", tags=TAGS,
      summary="Record a written release of information", security=BEARER_SECURITY,
      status_code=200, responses=_COMMAND_RESPONSES)
async def grant_consent(
    request: Request[Principal, Any, Any], runtime: NamedDependency[Runtime], case_id: FromPath[uuid.UUID],
    data: Annotated[GrantConsentBody, Body(media_type=RequestEncodingType.JSON,
                                            examples=example("A release to a legal-aid partner", GRANT_CONSENT_EXAMPLE))],
) -> Response[bytes]:
    command = data.command()
    return await _case_command(request, runtime, case_id, Action.CASE_COMMAND, data,
                               lambda uc, actor, v: uc.record_consent(actor, str(case_id), command, v))


@post("/v1/cases/{case_id:uuid}/consents/{consent_id:str}/revocation", operation_id="revokeConsent", tags=TAGS,
      summary="Record the revocation of a consent", security=BEARER_SECURITY,
      status_code=200, responses=_COMMAND_RESPONSES)
async def revoke_consent(
    request: Request[Principal, Any, Any], runtime: NamedDependency[Runtime], case_id: FromPath[uuid.UUID],
    consent_id: FromPath[str],
    data: Annotated[RevokeConsentBody, Body(media_type=RequestEncodingType.JSON,
                                             examples=example("A written revocation", REVOKE_CONSENT_EXAMPLE))],
) -> Response[bytes]:
    command: cmd.RevokeConsent = data.command(consent_id)
    return await _case_command(request, runtime, case_id, Action.CASE_COMMAND, data,
                               lambda uc, actor, v: uc.record_consent(actor, str(case_id), command, v))


@post("/v1/cases/{case_id:uuid}/referrals", operation_id="proposeReferral", tags=TAGS,
      summary="Propose a referral", security=BEARER_SECURITY, status_code=200,
      responses=_COMMAND_RESPONSES)
async def propose_referral(
    request: Request[Principal, Any, Any], runtime: NamedDependency[Runtime], case_id: FromPath[uuid.UUID],
    data: Annotated[ProposeReferralBody, Body(media_type=RequestEncodingType.JSON,
                                               examples=example("An external referral under consent",
                                                                PROPOSE_REFERRAL_EXAMPLE))],
) -> Response[bytes]:
    command = data.command()
    return await _case_command(request, runtime, case_id, Action.CASE_COMMAND, data,
                               lambda uc, actor, v: uc.refer(actor, str(case_id), command, v))


@post("/v1/cases/{case_id:uuid}/referrals/{referral_id:str}/status", operation_id="updateReferral", tags=TAGS,
      summary="Change a referral's status", security=BEARER_SECURITY, status_code=200,
      responses=_COMMAND_RESPONSES)
async def update_referral(
    request: Request[Principal, Any, Any], runtime: NamedDependency[Runtime], case_id: FromPath[uuid.UUID],
    referral_id: FromPath[str],
    data: Annotated[UpdateReferralBody, Body(media_type=RequestEncodingType.JSON,
                                              examples=example("The referral was sent", UPDATE_REFERRAL_EXAMPLE))],
) -> Response[bytes]:
    command = data.command(referral_id)
    return await _case_command(request, runtime, case_id, Action.CASE_COMMAND, data,
                               lambda uc, actor, v: uc.update_referral(actor, str(case_id), command, v))


@post("/v1/cases/{case_id:uuid}/closure", operation_id="closeCase", tags=TAGS, summary="Close a case",
      security=BEARER_SECURITY, status_code=200, responses=_COMMAND_RESPONSES)
async def close_case(
    request: Request[Principal, Any, Any], runtime: NamedDependency[Runtime], case_id: FromPath[uuid.UUID],
    data: Annotated[CloseCaseBody, Body(media_type=RequestEncodingType.JSON,
                                         examples=example("Goals met, client in rental housing", CLOSE_CASE_EXAMPLE))],
) -> Response[bytes]:
    command = data.command()
    return await _case_command(request, runtime, case_id, Action.CASE_CLOSE, data,
                               lambda uc, actor, v: uc.close_case(actor, str(case_id), command, v))


CASE_ROUTES = [open_case, get_case, record_service, grant_consent, revoke_consent, propose_referral,
               update_referral, close_case]
