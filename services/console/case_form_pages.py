"""The submissions of the case page's command forms (`services.console.case_forms`): one
handler for every row of the table, going through the write path as the API's routes do.

A form that breaks its body's rules, a fault the write path names (`InvalidRequest`) and a
domain rule's refusal come back on the case page, next to the field or above the form; a
case changed since the form's version is the conflict page; authorisation's refusal of the
action, on a case the reader may see, is a message in the form too.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Request, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect

from domain.case.errors import DomainError
from services.authorisation import Forbidden, NotFound
from services.bootstrap import Runtime
from services.commands.refusals import InvalidRequest
from services.console import case_form_input, case_forms
from services.console.changes import conflict_page
from services.console.i18n import N_
from services.console.pages import case_page_again
from services.console.submit import CONFLICTS, submit
from services.console.web import PREFIX, Console, SignedIn, posted
from services.screening.reads import check_screenings_behind

NOT_PERMITTED = N_(
    "Not recorded: this account may not do this on this case (the case's assigned worker may)."
)


@post("/cases/{case_id:uuid}/forms/{name:str}", status_code=303)
async def case_form(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
    console: NamedDependency[Console],
    case_id: FromPath[uuid.UUID],
    name: FromPath[str],
) -> Any:
    declared = case_forms.FORMS_BY_NAME.get(name)
    if declared is None:
        raise NotFound()
    signed, form = await posted(request, console)

    async def again(errors: dict[str, str]) -> Any:
        """The case page again, this form filled in as sent and its faults shown in it."""
        return await case_page_again(
            request, runtime, console, signed, case_id,
            status=422, errors=errors, values=form, failed=name,
        )  # fmt: skip

    body, errors = case_form_input.parsed(declared, form)
    if body is None:
        return await again(errors)
    named = form.get(declared.named, "") if declared.named else None

    async def record() -> None:
        if name == "victim-status":  # as the API's: screenings of this case or standing alone
            principal = signed.session.principal()
            await check_screenings_behind(
                runtime, principal.organisation_id, case_id, body.screening_ids
            )
        await submit(
            request, runtime, console, signed, case_id, declared.action,
            declared.command_of(body, named, signed.session.principal()), body, form,
            # the path's id is part of what the form asks, as in the API's path
            f"{request.url.path}/{named or ''}",
        )  # fmt: skip

    return await recorded_or_again(
        request, runtime, console, signed, case_id, form.get("version", ""), declared, record, again
    )


async def recorded_or_again(
    request: Request[Any, Any, Any],
    runtime: Runtime,
    console: Console,
    signed: SignedIn,
    case_id: uuid.UUID,
    version: str,
    declared: case_forms.CaseForm,
    record: Callable[[], Awaitable[None]],
    again: Callable[[dict[str, str]], Awaitable[Any]],
) -> Any:
    """Run `record` (the form's command through `submit`): back to the case once recorded; the
    conflict page for a case changed since the form's version; otherwise the case page again
    (`again`) with what the form should correct."""
    try:
        await record()
    except CONFLICTS:
        return await conflict_page(request, runtime, console, signed, case_id, version)
    except InvalidRequest as refused:
        return await again(case_form_input.field_errors(declared, refused.faults))
    except Forbidden:  # the page below reads the case first: no one learns it exists
        return await again({"": NOT_PERMITTED})
    except DomainError as refused:  # its message names the rule, never the case's data
        return await again({"": f"Not recorded: {refused}"})
    return Redirect(f"{PREFIX}/cases/{case_id}", status_code=303)


CASE_FORM_PAGES = [case_form]
