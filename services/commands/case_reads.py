"""Reading a case, for every edge that shows one (the API, the console): authorise, record
the access (fail closed), then hand back what the caller may see.

A case of another organisation is "no such case" (`NotFound`, like a random id). A read is
decided on the case as `case_reader` gives it; a case worker's read of a case this process
last saw is decided on that state, its access record guarded by the stream's version
(`_read_known`). The part read is "full" when it includes immigration milestones (the
assigned worker) and "summary" when it does not (team access, break-the-glass). A refusal is
a plain exception (`services.authorisation`, `events.access_log.AccessNotRecorded`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, NamedTuple

from domain.case.state import CaseState
from events.access_log import BreakGlassGrant, fail_closed
from services.authorisation import Action, CaseFacts, Decision, authorise, require
from services.bootstrap import Runtime
from services.commands import case_access, case_reader
from services.identity import Principal


class CaseRead(NamedTuple):
    """A recorded read: the case's state, and whether the reader may see its immigration
    milestones (the "full" part) or not (the "summary")."""

    state: CaseState
    include_immigration: bool

    @property
    def part(self) -> str:
        return "full" if self.include_immigration else "summary"


class Reader(NamedTuple):
    """Who reads, from which request, under which setting of their organisation."""

    principal: Principal
    request_id: str | None
    team_access: bool = False


async def read_case(runtime: Runtime, reader: Reader, case_id: uuid.UUID) -> CaseRead:
    principal = reader.principal
    known = case_reader.latest_known(runtime, principal.organisation_id, case_id)
    if known is not None and not case_access.may_break_glass(principal):  # grants: full path
        read = await _read_known(runtime, reader, case_id, known)
        if read is not None:
            return read
    state = await case_reader.current_state(runtime, principal.organisation_id, case_id)
    facts = CaseFacts.of(state)
    grant = await case_access.break_glass_grant(runtime, principal, facts, case_id)
    decision = require(
        principal,
        Action.CASE_READ,
        facts,
        has_break_glass=grant is not None,
        team_access=reader.team_access,
    )
    read = await _recorded_read(runtime, reader, case_id, state, facts, decision, grant)
    assert read is not None  # (recorded unconditionally: without `at_version`, record or raise)
    return read


async def _read_known(
    runtime: Runtime, reader: Reader, case_id: uuid.UUID, known: CaseState
) -> CaseRead | None:
    """The read decided on the state this process last saw of the case, in one statement:
    the access record, written only while the stream is still at that state's version (and
    not shredded), so a written record proves the decision was taken on the case as stored.
    None when the decision refuses or the case has moved on: nothing was recorded, and the
    read is decided again on the stored case, which gives the answer."""
    facts = CaseFacts.of(known)
    decision = authorise(reader.principal, Action.CASE_READ, facts, team_access=reader.team_access)
    if not decision.allowed:
        return None
    return await _recorded_read(
        runtime, reader, case_id, known, facts, decision, at_version=known.version
    )


async def _recorded_read(
    runtime: Runtime,
    reader: Reader,
    case_id: uuid.UUID,
    state: CaseState,
    facts: CaseFacts | None,
    decision: Decision,
    grant: BreakGlassGrant | None = None,
    *,
    at_version: int | None = None,
) -> CaseRead | None:
    """The read a `decision` allows, once its access record has committed: one INSERT in
    autocommit, so when it returns the record is durable (fail closed). With `at_version`,
    None when the stream has moved past that version (nothing was recorded)."""
    include_immigration = authorise(reader.principal, Action.CASE_READ_IMMIGRATION, facts).allowed
    read = CaseRead(state, include_immigration)
    recorded = await case_access.record(
        runtime.pool,
        reader.request_id,
        reader.principal,
        case_id,
        Action.CASE_READ,
        decision.basis,
        read.part,
        grant,
        at_version=at_version,
    )
    return read if recorded else None


async def read_history(
    runtime: Runtime, reader: Reader, case_id: uuid.UUID
) -> tuple[CaseState, Sequence[Any]]:
    """The case and its recorded events (the timeline: types and times, never content), once
    the read of the history is recorded."""
    principal = reader.principal
    state, recorded = await case_reader.read_history(
        runtime.store, principal.organisation_id, case_id
    )
    facts = CaseFacts.of(state)
    grant = await case_access.break_glass_grant(runtime, principal, facts, case_id)
    decision = require(
        principal,
        Action.CASE_HISTORY,
        facts,
        has_break_glass=grant is not None,
        team_access=reader.team_access,
    )
    async with fail_closed(runtime.store.transaction(), case_id) as conn:
        await case_access.record(
            conn,
            reader.request_id,
            principal,
            case_id,
            Action.CASE_HISTORY,
            decision.basis,
            "history",
            grant,
        )
    return state, recorded
