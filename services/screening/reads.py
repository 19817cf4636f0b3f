"""Reading one screening: who recorded it reads it, or, when it belongs to a case, whoever may
read that case — and then the read is recorded in the case's access log (part ``screening``)
before anything is returned, as every read of a case is (fail closed).

A screening of another organisation, one that does not exist, one erased, and a standalone
screening somebody else recorded all answer the same: no such screening (404).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from domain.screening.screening import ScreeningRecorded
from events.errors import StreamErased, StreamNotFound
from services.authorisation import Action, CaseFacts, NotFound, require
from services.bootstrap import Runtime
from services.commands import case_access, case_reader
from services.commands.refusals import InvalidRequest
from services.identity import Principal

ACCESS_PART = "screening"


async def screening_event(
    runtime: Runtime, organisation_id: str, screening_id: uuid.UUID
) -> ScreeningRecorded | None:
    """The screening's event, or None when there is no such screening in the organisation."""
    try:
        recorded = await runtime.store.read_stream(organisation_id, screening_id)
    except (StreamNotFound, StreamErased):
        return None
    event = recorded[0].event if recorded else None
    return event if isinstance(event, ScreeningRecorded) else None


async def read_screening(
    runtime: Runtime,
    principal: Principal,
    screening_id: uuid.UUID,
    *,
    request_id: str | None = None,
    team_access: bool = False,
) -> ScreeningRecorded:
    require(principal, Action.SCREENING_READ, None)
    event = await screening_event(runtime, principal.organisation_id, screening_id)
    if event is None:
        raise NotFound()
    if event.case_id is None:
        if event.screened_by != principal.user_id:
            raise NotFound()
        return event
    case_id = uuid.UUID(event.case_id)
    state = await case_reader.current_state(runtime, principal.organisation_id, case_id)
    decision = require(principal, Action.CASE_READ, CaseFacts.of(state), team_access=team_access)
    await case_access.record(
        runtime.pool, request_id, principal, case_id, Action.CASE_READ, decision.basis, ACCESS_PART
    )
    return event


async def check_screenings_behind(
    runtime: Runtime,
    organisation_id: str,
    case_id: uuid.UUID,
    screening_ids: Sequence[str],
) -> None:
    """`InvalidRequest` naming each of `screening_ids` (a victim status's) that is not a
    screening of the organisation standing alone or of this case. An id that is not a UUID is
    left to the domain's rule."""
    faults = []
    for index, screening_id in enumerate(screening_ids):
        try:
            stream = uuid.UUID(screening_id)
        except ValueError:
            continue
        event = await screening_event(runtime, organisation_id, stream)
        if event is None or event.case_id not in (None, str(case_id)):
            faults.append(
                (
                    f"/screening_ids/{index}",
                    "must name a screening of the organisation, standing alone or of this case",
                )
            )
    if faults:
        raise InvalidRequest(faults)
