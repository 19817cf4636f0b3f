"""Reading a case: its view, and its timeline (event types and times, never content).

A case of another organisation is "no such case" (404, like a random id). A read is decided
on the case as `services.commands.case_reader` gives it; a case worker's read of a case this
process last saw is decided on that state, its access record guarded by the stream's version
(`_read_known`). `part` is "full" when the view includes immigration milestones (the assigned
worker) and "summary" when it does not (team access, break-the-glass).
"""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from domain.case.state import CaseState
from events.access_log import fail_closed
from services.api.cases import access
from services.api.cases.http import etag, team_access
from services.api.cases.openapi import TAGS, VersionedReadOperation
from services.api.cases.schemas.views import CaseView, HistoryEntry, case_view
from services.api.identity_routes import BEARER_SECURITY
from services.api.responses import REFUSALS, problem_spec
from services.authorisation import Action, CaseFacts, Decision, authorise, require
from services.bootstrap import Runtime
from services.commands import case_reader
from services.identity import Principal

_READ_RESPONSES = {
    **REFUSALS,
    503: problem_spec("The access could not be recorded, so nothing is returned."),
}


@get(
    "/v1/cases/{case_id:uuid}",
    operation_id="getCase",
    tags=TAGS,
    summary="Read a case",
    security=BEARER_SECURITY,
    operation_class=VersionedReadOperation,
    responses=_READ_RESPONSES,
)
async def get_case(
    request: Request[Principal, Any, Any],
    runtime: NamedDependency[Runtime],
    case_id: FromPath[uuid.UUID],
) -> Response[CaseView]:
    principal = request.user
    known = case_reader.latest_known(runtime, principal.organisation_id, case_id)
    if known is not None and not access.may_break_glass(principal):  # grants: the full path
        answer = await _read_known(request, runtime, principal, case_id, known)
        if answer is not None:
            return answer
    state = await case_reader.current_state(runtime, principal.organisation_id, case_id)
    facts = CaseFacts.of(state)
    grant = await access.break_glass_grant(runtime, principal, facts, case_id)
    decision: Decision = require(
        principal,
        Action.CASE_READ,
        facts,
        has_break_glass=grant is not None,
        team_access=team_access(request),
    )
    answer = await _recorded_read(
        request, runtime, principal, case_id, state, facts, decision, grant
    )
    assert answer is not None  # (recorded unconditionally: without `at_version`, record or raise)
    return answer


async def _read_known(
    request: Request[Principal, Any, Any],
    runtime: Runtime,
    principal: Principal,
    case_id: uuid.UUID,
    known: CaseState,
) -> Response[CaseView] | None:
    """`get_case` decided on the state this process last saw of the case, in one statement:
    the access record, written only while the stream is still at that state's version (and
    not shredded), so a written record proves the decision was taken on the case as stored.
    None when the decision refuses or the case has moved on: nothing was recorded, and the
    read is decided again on the stored case, which gives the answer."""
    facts = CaseFacts.of(known)
    decision = authorise(principal, Action.CASE_READ, facts, team_access=team_access(request))
    if not decision.allowed:
        return None
    return await _recorded_read(
        request, runtime, principal, case_id, known, facts, decision, at_version=known.version
    )


async def _recorded_read(
    request: Request[Principal, Any, Any],
    runtime: Runtime,
    principal: Principal,
    case_id: uuid.UUID,
    state: CaseState,
    facts: CaseFacts,
    decision: Decision,
    grant: Any = None,
    *,
    at_version: int | None = None,
) -> Response[CaseView] | None:
    """The case view a read `decision` allows, once its access record has committed: one
    INSERT in autocommit, so when it returns the record is durable (fail closed). With
    `at_version`, None when the stream is no longer at that version (nothing was recorded)."""
    include_immigration = authorise(principal, Action.CASE_READ_IMMIGRATION, facts).allowed
    if not await access.record(
        runtime.pool,
        access.request_id(request),
        principal,
        case_id,
        Action.CASE_READ,
        decision.basis,
        "full" if include_immigration else "summary",
        grant,
        at_version=at_version,
    ):
        return None
    return Response(
        case_view(state, include_immigration=include_immigration),
        headers={"ETag": etag(state.version)},
    )


@get(
    "/v1/cases/{case_id:uuid}/history",
    operation_id="getCaseHistory",
    tags=TAGS,
    summary="The case's timeline: event types and times, no content",
    security=BEARER_SECURITY,
    responses=_READ_RESPONSES,
)
async def case_history(
    request: Request[Principal, Any, Any],
    runtime: NamedDependency[Runtime],
    case_id: FromPath[uuid.UUID],
) -> Response[list[HistoryEntry]]:
    principal = request.user
    state, recorded = await case_reader.read_history(
        runtime.store, principal.organisation_id, case_id
    )
    facts = CaseFacts.of(state)
    grant = await access.break_glass_grant(runtime, principal, facts, case_id)
    decision = require(
        principal,
        Action.CASE_HISTORY,
        facts,
        has_break_glass=grant is not None,
        team_access=team_access(request),
    )
    async with fail_closed(runtime.store.transaction(), case_id) as conn:
        await access.record(
            conn,
            access.request_id(request),
            principal,
            case_id,
            Action.CASE_HISTORY,
            decision.basis,
            "history",
            grant,
        )
    timeline = [
        HistoryEntry(
            version=r.version,
            recorded_at=r.recorded_at,
            event_type=r.event_type,
            actor_id=r.metadata.actor_id if r.metadata is not None else None,
        )
        for r in recorded
    ]
    return Response(timeline, headers={"ETag": etag(state.version)})


READ_ROUTES = [get_case, case_history]
