"""The conflict page: a form's case changed after the form was rendered. It lists what was
recorded after the form's version (event types and dates, from the case's history as the read
use case gives it to this reader), and links back to the current case."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Request
from litestar.response import Template

from services.authorisation import Forbidden, NotFound
from services.bootstrap import Runtime
from services.commands import case_reads
from services.console.event_names import event_name
from services.console.web import Console, SignedIn, page
from services.console.web import reader as console_reader

MAX_VERSION_DIGITS = 18


def form_version(text: str) -> int:
    """The case version a form names (its hidden `version` field); 0 when it names none."""
    return int(text) if text.isdigit() and len(text) <= MAX_VERSION_DIGITS else 0


async def conflict_page(
    request: Request[Any, Any, Any],
    runtime: Runtime,
    console: Console,
    signed: SignedIn,
    case_id: uuid.UUID,
    version: str,
) -> Template:
    """409: nothing was recorded; what happened since `version`, when the reader may see it."""
    reader = console_reader(request, signed, console)
    since = form_version(version)
    try:
        _, recorded = await case_reads.read_history(runtime, reader, case_id)
    except (NotFound, Forbidden):  # the history is not this reader's to see: no list
        changes = None
    else:
        changes = [
            (r.version, r.recorded_at.date(), event_name(r.event_type))
            for r in recorded
            if r.version > since
        ]
    return page("conflict.html", signed.session, 409, case_id=case_id, changes=changes)
