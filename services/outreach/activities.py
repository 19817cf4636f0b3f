"""The commands on an organisation's activities: record, correct, withdraw.

Each activity is a stream of its own (a random id) in its organisation's tenant, sealed,
hash-chained and audited like a case's (`domain.outreach`). A command runs as a case command
does (`services.commands.unit_of_work`): an optional Idempotency-Key is looked up first, and
the append, the key's claim and its answer commit in one transaction; a correction or a
withdrawal names the version it was decided on (If-Match), checked after the key's lookup,
so that the retry of a command that committed gets its first answer. Who may act is decided
before (`services.authorisation`); the record's rules (`domain.outreach.activity`) are
checked before anything is read, and answered as `InvalidRequest` with their pointers.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from typing import NamedTuple

import msgspec

from domain.event import DomainEvent, EventMetadata
from domain.outreach.activity import Activity, activity_faults
from domain.outreach.state import ActivityRefused, ActivityState, correct, record, withdraw
from events.errors import ConcurrencyConflict
from events.store import Connection, PostgresEventStore
from services.authorisation import NotFound
from services.bootstrap import Runtime
from services.commands.ports import Actor
from services.commands.refusals import (
    ConcurrentChange,
    InvalidRequest,
    PreconditionFailed,
    PreconditionRequired,
    StaleVersion,
)
from services.commands.unit_of_work import Answer, Idempotency, once_in_transaction
from services.outreach.reads import read_activity

ENCODE = msgspec.json.Encoder().encode


class ActivityVersionRequired(PreconditionRequired):
    detail = "Send If-Match with the activity's current version (its ETag)."


class ActivityVersionFailed(PreconditionFailed):
    detail = "The activity is no longer at the version named in If-Match; read it again and retry."


class ActivityChanged(ConcurrentChange):
    detail = "The activity changed while this request was handled; read it again and retry."


Decide = Callable[[ActivityState], list[DomainEvent]]
AnswerBody = Callable[[int], msgspec.Struct]


class ActivityCommand(NamedTuple):
    actor: Actor
    activity_id: uuid.UUID
    decide: Decide
    expected_version: int  # 0: a recording (the stream must not exist)
    idempotency: Idempotency
    answer: AnswerBody
    status: int = 200


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def _refused_as_request(faults: Sequence[tuple[str, str]]) -> InvalidRequest:
    return InvalidRequest(list(faults))


async def _decide_and_append(
    store: PostgresEventStore, conn: Connection, command: ActivityCommand
) -> int:
    tenant = command.actor.organisation_id
    state = await read_activity(store, tenant, command.activity_id, connection=conn)
    if command.expected_version > 0:
        if not state.exists:
            raise NotFound()
        if state.version != command.expected_version:
            raise StaleVersion(str(command.activity_id), command.expected_version)
    try:
        events = command.decide(state)
    except ActivityRefused as refused:
        raise _refused_as_request(refused.faults) from None
    metadata = EventMetadata(
        actor_id=command.actor.user_id,
        command_id=uuid.uuid4().hex,
        correlation_id=command.actor.request_id,
    )
    result = await store.append(
        tenant, command.activity_id, state.version, events, metadata, connection=conn
    )
    return result.version


async def run_activity_command(runtime: Runtime, command: ActivityCommand) -> Answer:
    """The command once, with its idempotency bookkeeping (`services.commands.unit_of_work`)."""

    async def write(conn: Connection) -> bytes:
        version = await _decide_and_append(runtime.store, conn, command)
        return ENCODE(command.answer(version))

    try:
        return await once_in_transaction(
            runtime,
            command.actor,
            command.idempotency,
            command.status,
            command.activity_id,
            write,
        )
    except StaleVersion:
        raise ActivityVersionFailed() from None
    except ConcurrencyConflict:
        raise ActivityChanged() from None


def _named_version(expected_version: int | None) -> int:
    """The version If-Match names: 428 when it names none, 412 when it names none an
    activity has."""
    if expected_version is None:
        raise ActivityVersionRequired()
    if expected_version < 1:
        raise ActivityVersionFailed()
    return expected_version


async def record_activity(
    runtime: Runtime,
    actor: Actor,
    activity: Activity,
    idempotent: Idempotency,
    answer: Callable[[str, int], msgspec.Struct],
    faults: Sequence[tuple[str, str]] = (),
) -> Answer:
    """Record an activity of the actor's organisation, answered 201."""
    faults = [*faults, *activity_faults(activity, today())]
    if faults:
        raise _refused_as_request(faults)
    activity_id = uuid.uuid4()
    return await run_activity_command(
        runtime,
        ActivityCommand(
            actor=actor,
            activity_id=activity_id,
            decide=lambda state: record(str(activity_id), actor.organisation_id, activity, today()),
            expected_version=0,
            idempotency=idempotent,
            answer=lambda version: answer(str(activity_id), version),
            status=201,
        ),
    )


async def correct_activity(
    runtime: Runtime,
    actor: Actor,
    activity_id: uuid.UUID,
    activity: Activity,
    expected_version: int | None,
    idempotent: Idempotency,
    answer: AnswerBody,
    faults: Sequence[tuple[str, str]] = (),
) -> Answer:
    """The whole record replaced by its correction, at the version the caller saw."""
    expected = _named_version(expected_version)
    faults = [*faults, *activity_faults(activity, today())]
    if faults:
        raise _refused_as_request(faults)
    return await run_activity_command(
        runtime,
        ActivityCommand(
            actor,
            activity_id,
            lambda state: correct(state, activity, today()),
            expected,
            idempotent,
            answer,
        ),
    )


async def patch_activity(
    runtime: Runtime,
    actor: Actor,
    activity_id: uuid.UUID,
    patched: Callable[[Activity], Activity],
    expected_version: int | None,
    idempotent: Idempotency,
    answer: AnswerBody,
    faults: Sequence[tuple[str, str]] = (),
) -> Answer:
    """A correction of some members: `patched(record)` is the whole corrected record, held to
    the record's rules once the activity is read (so 404 and 412 come before its 422)."""
    expected = _named_version(expected_version)
    if faults:
        raise _refused_as_request(faults)

    def decide(state: ActivityState) -> list[DomainEvent]:
        assert state.activity is not None  # `run_activity_command` answered 404 otherwise
        return correct(state, patched(state.activity), today())

    return await run_activity_command(
        runtime, ActivityCommand(actor, activity_id, decide, expected, idempotent, answer)
    )


async def withdraw_activity(
    runtime: Runtime,
    actor: Actor,
    activity_id: uuid.UUID,
    reason: str,
    expected_version: int | None,
    idempotent: Idempotency,
    answer: AnswerBody,
    faults: Sequence[tuple[str, str]] = (),
) -> Answer:
    """The activity recorded in error leaves every list and summary."""
    expected = _named_version(expected_version)
    if faults:
        raise _refused_as_request(faults)
    return await run_activity_command(
        runtime,
        ActivityCommand(
            actor,
            activity_id,
            lambda state: withdraw(state, reason),
            expected,
            idempotent,
            answer,
        ),
    )
