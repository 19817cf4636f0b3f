"""A command on a case, from the caller's request to its answer: authorisation, the version
the caller saw, the request's own faults, then one unit of work (`unit_of_work.run_once`).

The refusals come in a fixed order: 403/404 (who may act on this case), the route's own rule,
the version (missing, then malformed), the request's faults, the idempotency key, and only
then the version check against the case. Each is a plain exception (`refusals`, `services
.authorisation`, `domain.case.errors`) that the API maps to its problem in one place.

When this process knows the case's state at the version the caller names, the command is
first decided on that state without reading the case (one round trip instead of two). Only
a success is answered from it, and a success proves the state was current: the append
commits only if the stream is still at that version with the same chain head, and its key
not shredded. Any other outcome committed nothing, and the command is decided again on the
case read from the database, which gives the same answer as without the shortcut.
"""

from __future__ import annotations

import contextlib
import inspect
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import NamedTuple

import msgspec

from domain.case import commands as cmd
from domain.case.errors import DomainError
from domain.case.state import CaseState
from events.errors import StreamErased, StreamNotFound
from services.authorisation import Action, AuthorisationError, CaseFacts, require
from services.bootstrap import Runtime
from services.commands import case_reader
from services.commands.ports import Actor
from services.commands.refusals import (
    CommandRefused,
    InvalidRequest,
    PreconditionFailed,
    PreconditionRequired,
)
from services.commands.unit_of_work import Answer, Idempotency, run_once
from services.commands.use_cases import CaseUseCases
from services.identity import Principal

AnswerBody = Callable[[int], msgspec.Struct]

# What a command decided on a state known here raises when that state does not carry it
# through; nothing was committed, and the command is decided again on the stored state.
_NOT_CARRIED = (AuthorisationError, DomainError, StreamErased, StreamNotFound, CommandRefused)


class CaseCommandRequest(NamedTuple):
    """One command on an existing case, as the caller asked for it."""

    principal: Principal
    actor: Actor
    case_id: uuid.UUID
    action: Action
    command: cmd.Command
    expected_version: int | None  # None: names none; below 1: names no version a case has
    idempotency: Idempotency
    answer: AnswerBody
    faults: Sequence[tuple[str, str]] = ()  # (pointer, rule) the request's members break
    team_access: bool = False
    # the route's own refusal, after authorisation (awaited when it is a coroutine function)
    check: Callable[[], None | Awaitable[None]] | None = None


async def run_case_command(runtime: Runtime, request: CaseCommandRequest) -> Answer:
    known = case_reader.known_at(
        runtime, request.principal.organisation_id, request.case_id, request.expected_version
    )
    if known is not None:
        with contextlib.suppress(*_NOT_CARRIED):
            return await _decided_on(runtime, request, known)
    state = await case_reader.current_state(
        runtime, request.principal.organisation_id, request.case_id
    )
    return await _decided_on(runtime, request, state)


async def _decided_on(runtime: Runtime, request: CaseCommandRequest, state: CaseState) -> Answer:
    require(request.principal, request.action, CaseFacts.of(state), team_access=request.team_access)
    if request.check is not None:
        checked = request.check()
        if inspect.isawaitable(checked):
            await checked
    expected = request.expected_version
    if expected is None:
        raise PreconditionRequired()
    if expected < 1:
        raise PreconditionFailed()
    if request.faults:
        raise InvalidRequest(request.faults)
    case_id = str(request.case_id)

    async def execute(use_cases: CaseUseCases) -> int:
        # The use case checks the version after the idempotency lookup: the retry of a command
        # that committed names the version it started from and must get the first answer.
        return await use_cases.execute(request.actor, case_id, request.command, expected)

    return await run_once(
        runtime,
        request.actor,
        request.idempotency,
        200,
        execute,
        request.answer,
        case_id,
        known={(request.principal.organisation_id, case_id): state},
    )


async def open_case(
    runtime: Runtime,
    principal: Principal,
    actor: Actor,
    command: cmd.OpenCase,
    idempotent: Idempotency,
    answer: AnswerBody,
    faults: Sequence[tuple[str, str]] = (),
) -> Answer:
    """Intake: a new case in the caller's organisation, answered 201."""
    require(principal, Action.CASE_OPEN, None)
    if faults:
        raise InvalidRequest(faults)
    return await run_once(
        runtime,
        actor,
        idempotent,
        201,
        lambda use_cases: use_cases.open_case(actor, command),
        answer,
        command.case_id,
    )
