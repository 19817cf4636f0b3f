"""The transfer form's submission (`services.console.transfer_form`): through the write path
as `POST /v1/cases/{id}/transfer` goes (`Action.CASE_TRANSFER`: the case's assigned worker).

The receiving organisation must still be an active partner of this deployment, and, when it
keeps a worker directory, the worker one of its active workers, whose team the transfer names;
otherwise the case page comes back with the form at the step to correct, as it does for a
fault of the body, a domain rule's refusal or authorisation's refusal. A case changed since
the form's version is the conflict page.
"""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Request, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from services.authorisation import Action, authorise
from services.bootstrap import Runtime
from services.console import case_form_input
from services.console.case_form_pages import NOT_PERMITTED, recorded_or_again
from services.console.pages import case_page_again
from services.console.submit import submit
from services.console.transfer_form import (
    MOST_ID_LENGTH,
    NOT_A_PARTNER,
    RECIPIENT,
    TEAM,
    TRANSFER,
    UNKNOWN_WORKER,
    WORKER,
)
from services.console.web import Console, posted
from services.organisations.partner_workers import UnknownPartner, partner_directory


@post("/cases/{case_id:uuid}/transfer", status_code=303)
async def ask_for_transfer(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
    console: NamedDependency[Console],
    case_id: FromPath[uuid.UUID],
) -> Any:
    signed, form = await posted(request, console)
    principal = signed.session.principal()
    chosen = form.get(RECIPIENT, "").strip()

    async def again(errors: dict[str, str], step_two: bool = True) -> Any:
        """The case page again, the form at the step to correct, filled in as sent."""
        return await case_page_again(
            request, runtime, console, signed, case_id, status=422, errors=errors,
            values=form, failed=TRANSFER.name, transfer_to=chosen if step_two else None,
        )  # fmt: skip

    if not authorise(principal, Action.ORGANISATION_PARTNER_WORKERS, None).allowed:
        return await again({"": NOT_PERMITTED}, step_two=False)
    try:
        if len(chosen) > MOST_ID_LENGTH:
            raise UnknownPartner()
        theirs = await partner_directory(runtime.store, principal.organisation_id, chosen)
    except UnknownPartner:
        return await again({"/" + RECIPIENT: NOT_A_PARTNER}, step_two=False)
    values = dict(form)
    if theirs.has_worker_directory:
        worker = theirs.active_worker(form.get(WORKER, "").strip())
        if worker is None:
            return await again({"/" + WORKER: UNKNOWN_WORKER})
        values[TEAM] = worker.team_id  # the chosen worker's team, never one the form names
    body, errors = case_form_input.parsed(TRANSFER, values)
    if body is None:
        return await again(errors)

    async def record() -> None:
        await submit(
            request, runtime, console, signed, case_id, TRANSFER.action,
            TRANSFER.command_of(body, None, principal), body, form, request.url.path,
        )  # fmt: skip

    return await recorded_or_again(
        request, runtime, console, signed, case_id, form.get("version", ""), TRANSFER, record, again
    )


TRANSFER_PAGES = [ask_for_transfer]
