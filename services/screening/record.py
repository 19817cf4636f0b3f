"""Recording a screening: authorise, score under its instrument, append its stream once.

A screening is a stream of its own in the organisation's tenant, holding one
`ScreeningRecorded` event, sealed by the store under its own data key like every stream. One
that names a case is authorised like a case command on that case (`Action.CASE_COMMAND`: its
worker, or its team under team access); one that stands alone needs the recording role only.
With an Idempotency-Key the append and the key's answer commit together, as for a case
command (`services.commands.unit_of_work`): a retry gets the first answer, never a second
screening. A screening of a case holds the case against erasure until it commits, so that
erasing the case erases it too (`services.screening.erasure`).
"""

from __future__ import annotations

import datetime as dt
import uuid

import msgspec

from domain.event import EventMetadata
from domain.screening.screening import RecordScreening, ScreeningRefused, record_screening
from events.erasure import hold_against_erasure
from events.store import Connection, utc_now
from services.authorisation import Action, CaseFacts, NotFound, require
from services.bootstrap import Runtime
from services.commands import case_reader
from services.commands.ports import Actor
from services.commands.refusals import (
    InvalidRequest,
)
from services.commands.unit_of_work import Answer, Idempotency, once_in_transaction
from services.identity import Principal
from services.screening.instruments import InstrumentCatalog

ENCODE = msgspec.json.Encoder().encode


class ScreeningAccepted(msgspec.Struct, frozen=True, kw_only=True):
    """The answer: ids and the version only, as it is stored in plain with an Idempotency-Key
    (the result is read with the screening, `GET /v1/screenings/{id}`)."""

    screening_id: str
    version: int


async def authorise_recording(
    runtime: Runtime, principal: Principal, case_id: str | None, team_access: bool
) -> None:
    """The recording role, and for a screening of a case, a case command on that case."""
    require(principal, Action.SCREENING_RECORD, None)
    if case_id is None:
        return
    try:
        stream = uuid.UUID(case_id)
    except ValueError:
        raise InvalidRequest([("/case_id", "case_id must be a case id (a UUID)")]) from None
    state = await case_reader.current_state(runtime, principal.organisation_id, stream)
    require(principal, Action.CASE_COMMAND, CaseFacts.of(state), team_access=team_access)


async def record(
    runtime: Runtime,
    catalog: InstrumentCatalog,
    principal: Principal,
    actor: Actor,
    command: RecordScreening,
    idempotent: Idempotency,
    *,
    team_access: bool = False,
    now: dt.datetime | None = None,
) -> Answer:
    """The screening recorded (201 with its id and version), or a refusal."""
    await authorise_recording(runtime, principal, command.case_id, team_access)
    instrument = catalog.find(
        principal.organisation_id, command.instrument_id, command.instrument_version
    )
    if instrument is None:
        raise InvalidRequest(
            [("/instrument_id", "instrument_id and instrument_version name no instrument here")]
        )
    try:
        event = record_screening(command, instrument, now or utc_now())
    except ScreeningRefused as refused:
        raise InvalidRequest([(f"/{field}", rule) for field, rule in refused.faults]) from None
    stream = uuid.UUID(command.screening_id)
    payload = ENCODE(ScreeningAccepted(screening_id=command.screening_id, version=1))
    metadata = EventMetadata(
        actor_id=actor.user_id, command_id=uuid.uuid4().hex, correlation_id=actor.request_id
    )
    tenant = actor.organisation_id

    async def write(conn: Connection) -> bytes:
        if command.case_id is not None:
            await _hold_case(conn, tenant, uuid.UUID(command.case_id))
        await runtime.store.append(tenant, stream, 0, [event], metadata, connection=conn)
        return payload

    return await once_in_transaction(runtime, actor, idempotent, 201, stream, write)


async def _hold_case(conn: Connection, tenant: str, case_id: uuid.UUID) -> None:
    """Hold the case against erasure until the screening commits, and refuse a case erased
    meanwhile: an erasure then either comes first (404 here) or waits and finds the screening
    (`services.screening.erasure`)."""
    await hold_against_erasure(conn, [(tenant, case_id)])
    alive = await conn.fetchval(
        "SELECT wrapped_key IS NOT NULL FROM haven.streams WHERE tenant_id = $1 AND stream_id = $2",
        tenant,
        case_id,
    )
    if not alive:
        raise NotFound()
