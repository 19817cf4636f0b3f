"""After an intake in the console: the cases of the organisation it likely duplicates
(`services.case_finding.finding.likely_duplicates`), shown on a page of its own before the
new case's page — the case is opened all the same."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Request

from events.access_log import AccessNotRecorded
from projections.queries import ViewNotBuilt
from services.bootstrap import Runtime
from services.case_finding.finding import DuplicateWarning, likely_duplicates
from services.console.web import Console, SignedIn, reader


async def intake_duplicates(
    request: Request[Any, Any, Any],
    runtime: Runtime,
    console: Console,
    signed: SignedIn,
    body: Any,
    opened: str,
) -> DuplicateWarning | None:
    """The warning for the intake `body` that opened case `opened`; None when nothing alike
    is indexed (or the index is not built yet)."""
    who = reader(request, signed, console)
    try:
        return await likely_duplicates(
            runtime,
            who.principal,
            who.request_id,
            who.team_access,
            body.identity,
            body.contact,
            uuid.UUID(opened),
        )
    except (ViewNotBuilt, AccessNotRecorded):  # no index yet; or not shown unrecorded
        return None
