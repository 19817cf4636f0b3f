"""Reading a case: its view, and its timeline (event types and times, never content).

Authorisation and the access record (fail closed) are the read use case's
(`services.commands.case_reads`), shared with the console; this module turns its answer into
the response. A case of another organisation is "no such case" (404, like a random id).
"""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from services.api.cases import access
from services.api.cases.http import etag, team_access
from services.api.cases.openapi import TAGS, VersionedReadOperation
from services.api.cases.schemas.views import CaseView, HistoryEntry, case_view
from services.api.identity_routes import BEARER_SECURITY
from services.api.responses import REFUSALS, problem_spec
from services.bootstrap import Runtime
from services.commands import case_reads
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
    read = await case_reads.read_case(runtime, _reader(request), case_id)
    return Response(
        case_view(read.state, include_immigration=read.include_immigration),
        headers={"ETag": etag(read.state.version)},
    )


def _reader(request: Request[Principal, Any, Any]) -> case_reads.Reader:
    return case_reads.Reader(request.user, access.request_id(request), team_access(request))


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
    state, recorded = await case_reads.read_history(runtime, _reader(request), case_id)
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
