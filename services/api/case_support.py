"""What every case command route shares: preconditions, idempotency, the unit of work, the
organisation's team-access setting, and the OpenAPI pieces that document them.

`case_routes` (intake, reads, the first commands) and `case_command_routes` (the remaining
commands) both build on this module; the behaviour is described in `case_routes`' docstring.

OpenAPI: a command route passes `operation_class=CommandOperation`, which declares the
`If-Match` request header (required; `"<version>"`) and the optional `Idempotency-Key`; intake
passes `IdempotentOperation` (Idempotency-Key only). The handler never declares these headers as
litestar parameters: litestar would answer a missing one with its own 400, while Haven answers
428 `precondition-required` (and 412 for a malformed tag), decided here.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIHeader, OpenAPIResponse, Operation, Parameter, Schema
from litestar.openapi.spec.enums import OpenAPIType

from domain.case.errors import DomainError
from domain.case.state import CaseState, fold
from domain.text import text_faults
from events import idempotency
from events.errors import ConcurrencyConflict, StreamErased, StreamNotFound, TamperDetected
from events.store import Connection, PostgresEventStore
from projections.cases import read_current_state
from services.api import observe
from services.api.authorisation import Action, AuthorisationError, CaseFacts, require
from services.api.case_schemas import CommandAccepted
from services.api.errors import problem_response
from services.api.identity_routes import AUTH_RESPONSES
from services.api.problems import PROBLEM_MEDIA_TYPE, Problem, ProblemError, problem
from services.bootstrap import Runtime
from services.cases import Actor, CaseUseCases
from services.identity import Principal
from services.observability.logging import get_logger
from services.settings import Settings

MAX_IDEMPOTENCY_KEY = 100
IDEMPOTENCY_HEADER = "idempotency-key"
MAX_VERSION_DIGITS = 18
_ETAG = re.compile(rf'^"([1-9][0-9]{{0,{MAX_VERSION_DIGITS - 1}}})"$')
JSON = "application/json"
ENCODE = msgspec.json.Encoder().encode
TAGS = ["cases"]


# -- OpenAPI ------------------------------------------------------------------------------------


def problem_spec(description: str) -> ResponseSpec:
    return ResponseSpec(data_container=Problem, media_type=PROBLEM_MEDIA_TYPE, generate_examples=False,
                        description=description)


def accepted_spec(description: str, container: type = CommandAccepted) -> ResponseSpec:
    return ResponseSpec(data_container=container, media_type=JSON, generate_examples=False,
                        description=description)


REFUSALS = {
    **AUTH_RESPONSES,
    400: problem_spec("The body or a parameter could not be parsed (`bad-request`)."),
    403: problem_spec("The caller's role, assignment or team does not permit this (`forbidden`)."),
    404: problem_spec("No such case for this caller, including another organisation's (`not-found`)."),
}
COMMAND_RESPONSES = {
    200: accepted_spec("The command was recorded; `ETag` names the case's new version."),
    **REFUSALS,
    409: problem_spec("The case's state refuses the command (`case-closed`...), the case changed meanwhile "
                      "(`concurrent-change`), or the Idempotency-Key is still in use."),
    412: problem_spec("If-Match names an older version, or is not a strong entity tag (`precondition-failed`)."),
    422: problem_spec("Invalid body (`validation-error`), a domain rule refused a value, or the "
                      "Idempotency-Key was used for another request (`idempotency-key-reused`)."),
    428: problem_spec("If-Match is missing (`precondition-required`)."),
}

IF_MATCH_PARAMETER = Parameter(
    name="If-Match", param_in="header", required=True,
    schema=Schema(type=OpenAPIType.STRING, pattern=rf'^"[1-9][0-9]{{0,{MAX_VERSION_DIGITS - 1}}}"$'),
    description="The case's current version as its strong entity tag (the `ETag` of the last answer), e.g. "
                '`"3"`. Missing: 428; another version, `*` or a weak tag: 412.',
    example='"1"')
IDEMPOTENCY_KEY_PARAMETER = Parameter(
    name="Idempotency-Key", param_in="header", required=False,
    schema=Schema(type=OpenAPIType.STRING, min_length=1, max_length=MAX_IDEMPOTENCY_KEY),
    description=f"Optional, 1 to {MAX_IDEMPOTENCY_KEY} printable characters, unique per request: a retry with "
                "the same key and body gets the first answer; the same key with another request is 422.",
    example="retry-0001")


def _with(parameters: list[Any] | None, *added: Parameter) -> list[Any]:
    names = {getattr(p, "name", None) for p in added}
    return [*(p for p in parameters or () if getattr(p, "name", None) not in names), *added]


ETAG_HEADER = OpenAPIHeader(schema=Schema(type=OpenAPIType.STRING), required=True, example='"2"',
                            description="The case's version after this answer, a strong entity tag: send it "
                                        "back as `If-Match` with the next command.")
LOCATION_HEADER = OpenAPIHeader(schema=Schema(type=OpenAPIType.STRING), required=True,
                                description="The new case: `/v1/cases/{case_id}`.")


def _with_headers(responses: dict[str, Any] | None, status: str, **headers: OpenAPIHeader) -> None:
    response = (responses or {}).get(status)
    if isinstance(response, OpenAPIResponse):
        response.headers = {**(response.headers or {}), **headers}


@dataclass
class CommandOperation(Operation):
    """A command's operation: declares If-Match (required) and Idempotency-Key (optional), and
    the ETag of its answer."""

    def __post_init__(self) -> None:
        self.parameters = _with(self.parameters, IF_MATCH_PARAMETER, IDEMPOTENCY_KEY_PARAMETER)
        _with_headers(self.responses, "200", ETag=ETAG_HEADER)


@dataclass
class IdempotentOperation(Operation):
    """Intake's operation: declares the optional Idempotency-Key, and the ETag and Location of
    its answer."""

    def __post_init__(self) -> None:
        self.parameters = _with(self.parameters, IDEMPOTENCY_KEY_PARAMETER)
        _with_headers(self.responses, "201", ETag=ETAG_HEADER, Location=LOCATION_HEADER)


@dataclass
class VersionedReadOperation(Operation):
    """A read of a case: declares the ETag of its answer (the version a command must name)."""

    def __post_init__(self) -> None:
        _with_headers(self.responses, "200", ETag=ETAG_HEADER)


# -- the organisation's setting -------------------------------------------------------------------


def team_access(request: Request[Principal, Any, Any]) -> bool:
    """Whether the caller's organisation lets case workers work their team's cases
    (`HAVEN_TEAM_ACCESS`, read once into `Settings` and handed to the app by `create_app`)."""
    settings: Settings = request.app.state.settings
    return settings.team_access_for(request.user.organisation_id)


# -- commands -----------------------------------------------------------------------------------


class Refused(Exception):
    """An answer decided before or inside the unit of work (rolls the unit back)."""

    def __init__(self, response: Response[bytes]) -> None:
        super().__init__("refused")
        self.response = response


class UnitOfWorkStore:
    """The event store as `CaseUseCases` sees it, bound to one transaction: reads run on the
    transaction's own connection (never a second pool connection while this one is held: with
    as many commands in flight as the pool has connections, that would wait forever; reads are
    not writes, so the append is still the transaction's first write), and appends join it. A
    use case that opens a transaction of its own (the transfer: two streams) gets this one:
    its appends and the idempotency record still commit together or not at all."""

    def __init__(self, store: PostgresEventStore, conn: Connection, *, in_transaction: bool = True) -> None:
        self._store = store
        self._conn = conn
        self._in_transaction = in_transaction

    async def read_stream(self, tenant_id: str, stream_id: uuid.UUID) -> Any:
        return await self._store.read_stream(tenant_id, stream_id, connection=self._conn)

    async def append(self, *args: Any, connection: Connection | None = None, **kwargs: Any) -> Any:
        if connection is not None and connection is not self._conn:
            raise RuntimeError("an append outside the unit of work")
        return await self._store.append(*args, connection=self._conn, **kwargs)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        if self._in_transaction:
            yield self._conn  # already inside the unit of work's transaction
            return
        async with self._conn.transaction():
            yield self._conn


def actor_of(principal: Principal, request: Request[Any, Any, Any]) -> Actor:
    return Actor(principal.user_id, principal.organisation_id, observe.request_id(request.scope))


def etag(version: int) -> str:
    return f'"{version}"'


def idempotency_key(request: Request[Any, Any, Any]) -> str | None:
    values = request.headers.getall(IDEMPOTENCY_HEADER, [])
    if not values:
        return None
    key = values[0]
    if len(values) != 1 or not 0 < len(key) <= MAX_IDEMPOTENCY_KEY or not key.isprintable() or key.isspace():
        raise Refused(problem_response(problem("validation-error", errors=[ProblemError(
            detail=f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} printable characters",
            pointer="#/header/Idempotency-Key")])))
    return key


def _tagged_version(value: str) -> int | None:
    """The version a strong entity tag `"<version>"` names; None for `*`, a weak or a
    malformed tag, which never match a case version."""
    matched = _ETAG.match(value.strip())
    return int(matched.group(1)) if matched is not None else None


def if_match(request: Request[Any, Any, Any]) -> int:
    value = request.headers.get("if-match")
    if value is None:
        raise Refused(problem_response(problem("precondition-required")))
    version = _tagged_version(value)
    if version is None:
        raise Refused(problem_response(problem("precondition-failed")))
    return version


def _answer(status: int, body: bytes, location: str | None = None) -> Response[bytes]:
    version = msgspec.json.decode(body, type=CommandAccepted)  # extra members (a transfer's) are ignored
    headers = {"ETag": etag(version.version)}
    if location is not None:
        headers["Location"] = location
    return Response(content=body, status_code=status, media_type=JSON, headers=headers)


def _outcome_response(outcome: idempotency.Outcome, location: Callable[[bytes], str | None]) -> Response[bytes]:
    if isinstance(outcome, idempotency.Replay):
        return _answer(outcome.status, outcome.body, location(outcome.body))
    if isinstance(outcome, idempotency.KeyReuse):
        return problem_response(problem("idempotency-key-reused"))
    return problem_response(problem("idempotency-key-in-progress"))


AcceptedBody = Callable[[int], msgspec.Struct]


def _accepted(accepted: AcceptedBody | None, case_id: str, version: int) -> msgspec.Struct:
    return accepted(version) if accepted is not None else CommandAccepted(case_id=case_id, version=version)


def text_refusal(body: msgspec.Struct) -> Response[bytes] | None:
    """422 `validation-error` naming each member of the body whose text breaks its rule
    (`domain.text`: ids, long text, other text), or None when every member keeps it."""
    errors = [ProblemError(detail=rule, pointer=pointer) for pointer, rule in text_faults(body)]
    return problem_response(problem("validation-error", errors=errors)) if errors else None


async def run_command(
    request: Request[Any, Any, Any],
    runtime: Runtime,
    body: msgspec.Struct,
    status: int,
    execute: Callable[[CaseUseCases], Awaitable[int]],
    case_id: str,
    *,
    location: Callable[[bytes], str | None] = lambda body: None,
    accepted: AcceptedBody | None = None,
    known: Mapping[tuple[str, str], CaseState] | None = None,
) -> Response[bytes]:
    """Run one command in one unit of work with its idempotency bookkeeping (`case_routes`).
    Without an Idempotency-Key the unit is the append alone: one statement in autocommit (a
    use case that appends twice, the transfer, opens its own transaction).

    `accepted(version)` is the answer's body (default `CommandAccepted`); it is stored in plain
    with the idempotency key, so it carries ids and versions only."""
    principal: Principal = request.user
    refused = text_refusal(body)
    if refused is not None:
        return refused
    key = idempotency_key(request)
    hashed = idempotency.request_hash(request.method, request.url.path, ENCODE(body))
    pool = runtime.store.pool
    if key is not None:  # from here on the stored key: a keyed hash, never the client's text
        key = await runtime.key_hasher().stored(pool, principal.organisation_id, principal.user_id, key)
    if key is not None:
        earlier = await idempotency.lookup(pool, principal.organisation_id, principal.user_id, key, hashed)
        if earlier is not None:
            return _outcome_response(earlier, location)
    try:
        if key is None:  # nothing to commit beside the events: an append is one atomic statement
            async with pool.acquire() as conn:
                use_cases = CaseUseCases(UnitOfWorkStore(runtime.store, conn, in_transaction=False),  # type: ignore[arg-type]
                                         known=known)
                version = await execute(use_cases)
            runtime.store.announce()
            payload = ENCODE(_accepted(accepted, case_id, version))
        else:
            async with runtime.store.transaction() as conn:
                use_cases = CaseUseCases(UnitOfWorkStore(runtime.store, conn), known=known)  # type: ignore[arg-type]
                version = await execute(use_cases)
                payload = ENCODE(_accepted(accepted, case_id, version))
                claimed = await idempotency.claim(conn, principal.organisation_id, principal.user_id, key, hashed)
                if not isinstance(claimed, idempotency.Claimed):
                    raise Refused(_outcome_response(claimed, location))  # rolls the append back
                await idempotency.complete(conn, principal.organisation_id, principal.user_id, key, hashed,
                                           status, payload, uuid.UUID(case_id))
    except ConcurrencyConflict:
        if key is not None:  # an identical request may have committed meanwhile: its answer
            earlier = await idempotency.lookup(pool, principal.organisation_id, principal.user_id, key, hashed)
            if earlier is not None:
                return _outcome_response(earlier, location)
        return problem_response(problem("concurrent-change"))
    if runtime.recent is not None:  # committed: the next command on the case need not read it again
        runtime.recent.remember(use_cases.appended)
    return _answer(status, payload, location(payload))


async def load_for(runtime: Runtime, principal: Principal, case_id: uuid.UUID) -> CaseState:
    """The case from its stream, in the caller's organisation; empty when it is missing,
    another org's, or erased (an erased case answers exactly like a missing one)."""
    try:
        recorded = await runtime.store.read_stream(principal.organisation_id, case_id)
    except (StreamNotFound, StreamErased):
        return CaseState()
    return fold((r.version, r.event) for r in recorded)


async def current_state(runtime: Runtime, principal: Principal, case_id: uuid.UUID) -> CaseState:
    """The case as `load_for` gives it, from the sealed case view when that is at the stream's
    head version (one statement, one decryption, however long the stream), else from the
    stream — or, when the view is behind, from the state this process knows at the head's
    version (`services.recent_states`), which a command that just appended to the case left
    there. The view is authenticated with the case's key and bound to its version; a view that
    fails authentication is logged and passed over: a read model is rebuildable, the stream is
    the truth."""
    key = (principal.organisation_id, str(case_id))
    try:
        view = await read_current_state(runtime.pool, runtime.keyring, principal.organisation_id, case_id)
    except TamperDetected:
        get_logger("api").error("case view fails authentication", error_code="view-tampered")
    else:
        if view.state is not None:
            if runtime.recent is not None:  # (an empty state, no such case, is not kept)
                runtime.recent.remember({key: view.state})
            return view.state
        known = runtime.recent.at_version(key, view.head_version) if runtime.recent is not None else None
        if known is not None:
            return known
    state = await load_for(runtime, principal, case_id)
    if runtime.recent is not None:
        runtime.recent.remember({key: state})
    return state


Run = Callable[[CaseUseCases, Actor, int], Awaitable[int]]

# What a command decided on a state known here raises when that state does not carry it through:
# the caller's refusal, a domain rule, a stream erased meanwhile. Nothing was committed; the
# command is decided again on the stored state, which gives the answer.
_NOT_CARRIED = (AuthorisationError, DomainError, StreamErased, StreamNotFound)


def _known_at_if_match(runtime: Runtime, principal: Principal, case_id: uuid.UUID,
                       request: Request[Any, Any, Any]) -> CaseState | None:
    """The state of the case at the version `If-Match` names, if this process knows it
    (`services.recent_states`: what its own last command on the case left); no I/O."""
    value = request.headers.get("if-match")
    if value is None or runtime.recent is None:
        return None
    version = _tagged_version(value)
    return None if version is None else runtime.recent.at_version((principal.organisation_id, str(case_id)), version)


async def case_command(
    request: Request[Any, Any, Any], runtime: Runtime, case_id: uuid.UUID, action: Action, body: msgspec.Struct,
    run: Run,
    check: Callable[[], None] | None = None,
    accepted: AcceptedBody | None = None,
) -> Response[bytes]:
    """One command on an existing case: authorisation (403/404), the route's own `check`,
    If-Match (428/412), then `run_command`'s unit of work.

    When this process knows the case's state at the version `If-Match` names, the command is
    first decided on that state without reading the case (one round trip instead of two). Only
    a success is answered from it, and a success proves the state was current: the append
    commits only if the stream is still at that version with the same chain head, and its
    key not shredded, so the authorisation and the domain decided on the case as stored. Any
    other outcome (a refusal, a domain rule, a lost race) committed nothing, and the command
    is decided again on the case read from the database, which gives the answer: the same
    answer as without the shortcut, however stale the state known here. Another
    organisation's case is never known under the caller's organisation.
    """
    principal: Principal = request.user
    known = _known_at_if_match(runtime, principal, case_id, request)
    if known is not None:
        with contextlib.suppress(*_NOT_CARRIED):
            answer = await _decided_on(known, request, runtime, case_id, action, body, run, check, accepted)
            if answer.status_code < 300:
                return answer
    state = await current_state(runtime, principal, case_id)
    return await _decided_on(state, request, runtime, case_id, action, body, run, check, accepted)


async def _decided_on(
    state: CaseState, request: Request[Any, Any, Any], runtime: Runtime, case_id: uuid.UUID, action: Action,
    body: msgspec.Struct, run: Run, check: Callable[[], None] | None, accepted: AcceptedBody | None,
) -> Response[bytes]:
    """`case_command` on `state`: the refusals in their order, then the unit of work."""
    principal: Principal = request.user
    try:
        # refusals first: 403/404 before 428
        require(principal, action, CaseFacts.of(state), team_access=team_access(request))
        if check is not None:  # a route's own refusal, still before the preconditions
            check()
        expected = if_match(request)
        actor = actor_of(principal, request)

        async def execute(use_cases: CaseUseCases) -> int:
            # Checked after the idempotency lookup: the retry of a command that committed names
            # the version it started from and must get the first answer, not a 412.
            if state.version != expected:
                raise Refused(problem_response(problem("precondition-failed")))
            return await run(use_cases, actor, expected)

        return await run_command(request, runtime, body, 200, execute, str(case_id), accepted=accepted,
                                 known={(principal.organisation_id, str(case_id)): state})
    except Refused as refused:
        return refused.response
