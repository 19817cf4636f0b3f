"""A supervisor's reassignment of a case within their team, from a row of the team page:
`GET /console/team/cases/{id}/reassign?version=N` is the form, its `POST` goes through the
write path as `POST /v1/cases/{id}/assignment` does (`Action.CASE_ASSIGN`: a case of the
supervisor's own team; the team is theirs, never one the form names).

When the organisation keeps a worker directory (`services.organisations`), the form offers
its active workers to choose from, and a worker it does not know as active is refused.

The version is the one the team page showed (the API's If-Match): a case changed since is
refused, and the supervisor chooses it again from the team page. A case that is not one of
the team's is the console's not-found page, whether it exists or not.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template

from domain.case.errors import DomainError
from services.authorisation import Action, require
from services.bootstrap import Runtime
from services.commands.refusals import InvalidRequest, UnknownWorker
from services.console import case_form_input, case_forms, forms
from services.console.i18n import N_
from services.console.submit import CONFLICTS, submit
from services.console.web import PREFIX, Console, SignedIn, page, posted, signed_in
from services.organisations.assignable import check_assignable
from services.organisations.command import read_organisation

CHANGED = N_(
    "Not recorded: the case changed after the team page was drawn. "
    "Choose it again from the team page."
)


UNKNOWN_WORKER = N_("Choose an active worker of your organisation.")


async def _workers(runtime: Runtime, organisation_id: str) -> list[tuple[str, str]]:
    """(id, "name (team)") of the organisation's active workers; none without a directory."""
    organisation = await read_organisation(runtime.store, organisation_id)
    active = sorted(
        (w for w in organisation.workers.values() if w.active),
        key=lambda w: (w.display_name, w.worker_id),
    )
    return [(w.worker_id, f"{w.display_name} ({w.team_id})") for w in active]


def _form_page(
    signed: SignedIn,
    case_id: uuid.UUID,
    version: str,
    workers: list[tuple[str, str]],
    status: int = 200,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Template:
    fresh = case_forms.defaults(case_forms.ASSIGNMENT, forms.today())
    return page(
        "team_reassign.html",
        signed.session,
        status,
        form=case_forms.ASSIGNMENT,
        case_id=case_id,
        version=version,
        workers=workers,
        values={**fresh, "idempotency_key": forms.new_key(), **(values or {})},
        errors=errors or {},
    )


@get("/team/cases/{case_id:uuid}/reassign")
async def reassign_form(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
    console: NamedDependency[Console],
    case_id: FromPath[uuid.UUID],
    version: Annotated[int, QueryParameter(ge=1)],
) -> Template:
    signed = await signed_in(request, console)
    principal = signed.session.principal()
    require(principal, Action.CASELOAD_TEAM, None)
    workers = await _workers(runtime, principal.organisation_id)
    return _form_page(signed, case_id, str(version), workers)


@post("/team/cases/{case_id:uuid}/reassign", status_code=303)
async def reassign(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
    console: NamedDependency[Console],
    case_id: FromPath[uuid.UUID],
) -> Any:
    signed, form = await posted(request, console)
    version = form.get("version", "")
    declared = case_forms.ASSIGNMENT
    body, errors = case_form_input.parsed(declared, form)
    principal = signed.session.principal()
    require(principal, Action.CASELOAD_TEAM, None)
    workers = await _workers(runtime, principal.organisation_id)
    if body is None:
        return _form_page(signed, case_id, version, workers, 422, form, errors)
    try:
        await check_assignable(runtime.store, principal.organisation_id, body.worker_id)
        await submit(
            request, runtime, console, signed, case_id, declared.action,
            declared.command_of(body, None, signed.session.principal()), body, form,
            f"{PREFIX}/cases/{case_id}/assignment",
        )  # fmt: skip
    except CONFLICTS:
        return _form_page(signed, case_id, version, workers, 409, form, {"": CHANGED})
    except UnknownWorker:
        return _form_page(
            signed, case_id, version, workers, 422, form, {"/worker_id": UNKNOWN_WORKER}
        )
    except InvalidRequest as refused:
        faults = case_form_input.field_errors(declared, refused.faults)
        return _form_page(signed, case_id, version, workers, 422, form, faults)
    except DomainError as refused:  # its message names the rule, never the case's data
        message = f"Not recorded: {refused}"
        return _form_page(signed, case_id, version, workers, 422, form, {"": message})
    return Redirect(f"{PREFIX}/team?reassigned={case_id}", status_code=303)


REASSIGN_PAGES = [reassign_form, reassign]
