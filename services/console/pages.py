"""The console's pages: a case (summary, timeline, and the forms to log a service and
propose a referral) and intake (the caseload: `services.console.caseload_page`; signing in
and out: `services.console.sign_in`).

Every command goes through the write path's use cases (`services.commands`), and every read
of a case through the read use case (`services.commands.case_reads`), which authorises it
and records the access first: the console is another edge of the same use cases, with no
path of its own to the data. A form carries the case version it was rendered from (the
API's If-Match) and an idempotency key of its own; a case changed since is the conflict
page, never an overwrite.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import msgspec
from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template

from domain.case.errors import DomainError
from services.api import observe
from services.api.cases.schemas import requests as rq
from services.api.cases.schemas.views import CommandAccepted, case_view
from services.authorisation import Action, require
from services.bootstrap import Runtime
from services.commands import case_commands, case_reads
from services.commands.ports import Actor
from services.console import case_forms, forms, intake_fields
from services.console.changes import conflict_page
from services.console.event_names import event_name
from services.console.intake_warning import intake_duplicates
from services.console.screening_form import RESULT_LABELS, SETTING_LABELS
from services.console.screening_pages import case_screenings, may_record_screenings
from services.console.submit import CONFLICTS, submit
from services.console.transfer_form import TRANSFER, transfer_step
from services.console.web import PREFIX, Console, SignedIn, page, posted, signed_in
from services.console.web import reader as console_reader


async def case_page_again(
    request: Request[Any, Any, Any],
    runtime: Runtime,
    console: Console,
    signed: SignedIn,
    case_id: uuid.UUID,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    failed: str | None = None,
    message: str | None = None,
    transfer_to: str | None = None,
    **shown_with: Any,
) -> Template:
    """The case page, read through the read use case (authorised, access recorded);
    `transfer_to`: the receiving organisation chosen at the transfer form's first step;
    `shown_with`: more of the page's context (the directory's suggestions)."""
    reader = console_reader(request, signed, console)
    read = await case_reads.read_case(runtime, reader, case_id)
    _, recorded = await case_reads.read_history(runtime, reader, case_id)
    timeline = [(r.version, r.recorded_at, event_name(r.event_type)) for r in recorded]
    case = case_view(read.state, include_immigration=read.include_immigration)
    screenings = await case_screenings(
        runtime, signed, console, observe.request_id(request.scope), case_id
    )
    return page(
        "case.html",
        signed.session,
        status,
        case=case,
        timeline=timeline,
        failed=failed,
        errors=errors or {},
        values=values or {},
        message=message,
        fresh={
            "key": forms.new_key(),
            "service_id": forms.new_id("service"),
            "referral_id": forms.new_id("referral"),
            "today": forms.today(),
        },
        service_categories=forms.choices("service_category"),
        purposes=forms.choices("consent_purpose"),
        screenings=screenings,
        label_of_setting=lambda code: SETTING_LABELS.get(code, code),
        label_of_result=lambda code: RESULT_LABELS.get(code, code),
        may_screen=may_record_screenings(signed),
        transfer_form=TRANSFER,
        transfer_defaults=case_forms.defaults(TRANSFER, forms.today()),
        transfer=await transfer_step(runtime, signed.session.principal(), transfer_to),
        **case_forms.page_context(case, screenings),
        **shown_with,
    )


@get("/cases/{case_id:uuid}")
async def case_page(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
    console: NamedDependency[Console],
    case_id: FromPath[uuid.UUID],
    transfer_to: Annotated[str | None, QueryParameter(description="a partner chosen")] = None,
) -> Template:
    signed = await signed_in(request, console)
    return await case_page_again(
        request, runtime, console, signed, case_id, transfer_to=transfer_to
    )


async def _command(
    request: Request[Any, Any, Any],
    runtime: Runtime,
    console: Console,
    case_id: uuid.UUID,
    form_name: str,
    body_type: type[Any],
    fields: tuple[str, ...],
    id_member: str,
) -> Any:
    signed, form = await posted(request, console)
    body, errors = forms.parsed(body_type, form, fields, **{id_member: form.get(id_member, "")})
    if body is None:
        return await case_page_again(
            request, runtime, console, signed, case_id,
            status=422, errors=errors, values=form, failed=form_name,
        )  # fmt: skip
    try:
        await submit(
            request, runtime, console, signed, case_id, Action.CASE_COMMAND, body.command(),
            body, form, request.url.path,
        )  # fmt: skip
    except CONFLICTS:
        return await conflict_page(
            request, runtime, console, signed, case_id, form.get("version", "")
        )
    except DomainError as refused:  # its message names the rule, never the case's data
        return await case_page_again(
            request, runtime, console, signed, case_id,
            status=422, values=form, failed=form_name, message=str(refused),
        )  # fmt: skip
    return Redirect(f"{PREFIX}/cases/{case_id}", status_code=303)


@post("/cases/{case_id:uuid}/services", status_code=303)
async def log_service(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
    console: NamedDependency[Console],
    case_id: FromPath[uuid.UUID],
) -> Any:
    return await _command(
        request, runtime, console, case_id, "service", rq.RecordServiceBody,
        forms.SERVICE_FIELDS, "service_id",
    )  # fmt: skip


@post("/cases/{case_id:uuid}/referrals", status_code=303)
async def propose_referral(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
    console: NamedDependency[Console],
    case_id: FromPath[uuid.UUID],
) -> Any:
    return await _command(
        request, runtime, console, case_id, "referral", rq.ProposeReferralBody,
        forms.REFERRAL_FIELDS, "referral_id",
    )  # fmt: skip


def _intake_page(
    signed: SignedIn,
    status: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    message: str | None = None,
) -> Template:
    principal = signed.session.principal()
    defaults = {
        **case_forms.defaults(intake_fields.INTAKE, forms.today()),
        "victim_status.determined_by": principal.user_id,
        "idempotency_key": forms.new_key(),
    }
    return page(
        "intake.html",
        signed.session,
        status,
        values=defaults if values is None else values,
        errors=errors or {},
        message=message,
        sections=intake_fields.SECTIONS,
        form_options=lambda field, language: case_forms.options(field, {}, language),
        yes_no=case_forms.YES_NO,
    )


@get("/cases/new")
async def intake_form(
    request: Request[Any, Any, Any], console: NamedDependency[Console]
) -> Template:
    signed = await signed_in(request, console)
    require(signed.session.principal(), Action.CASE_OPEN, None)
    return _intake_page(signed)


@post("/cases", status_code=303)
async def open_case(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
    console: NamedDependency[Console],
) -> Any:
    signed, form = await posted(request, console)
    principal = signed.session.principal()
    require(principal, Action.CASE_OPEN, None)
    body, errors = intake_fields.parsed(form)
    if body is None:
        return _intake_page(signed, 422, errors, form)
    case_id = str(uuid.uuid4())
    try:
        answer = await case_commands.open_case(
            runtime,
            principal,
            Actor(principal.user_id, principal.organisation_id, observe.request_id(request.scope)),
            body.command(
                case_id=case_id,
                organisation_id=principal.organisation_id,
                worker_id=principal.user_id,
                team_id=principal.team_id,
            ),
            forms.form_idempotency(form, request.url.path, body),
            lambda version: CommandAccepted(case_id=case_id, version=version),
        )
    except DomainError as refused:  # its message names the rule, never the case's data
        return _intake_page(signed, 422, values=form, message=str(refused))
    opened = msgspec.json.decode(answer.body, type=CommandAccepted).case_id  # a replay's own
    warning = await intake_duplicates(request, runtime, console, signed, body, opened)
    if warning is not None:  # opened all the same: say which cases it resembles
        return page("intake_warning.html", signed.session, case_id=opened, warning=warning)
    return Redirect(f"{PREFIX}/cases/{opened}", status_code=303)


PAGES = [
    case_page,
    log_service,
    propose_referral,
    intake_form,
    open_case,
]
