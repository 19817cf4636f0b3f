"""The console's pages: sign-in and sign-out, my caseload, a case (summary, timeline, and
the forms to log a service and propose a referral), and intake.

Every command goes through the write path's use cases (`services.commands`), and every read
of a case through the read use case (`services.commands.case_reads`), which authorises it
and records the access first: the console is another edge of the same use cases, with no
path of its own to the data. A form carries the case version it was rendered from (the
API's If-Match) and an idempotency key of its own; a case changed since is the conflict
page, never an overwrite.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import msgspec
from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from domain.case.errors import DomainError
from projections.caseload import my_caseload
from projections.queries import ViewNotBuilt
from services.api import observe
from services.api.cases.schemas import requests as rq
from services.api.cases.schemas.views import CommandAccepted, case_view
from services.authorisation import Action, require
from services.bootstrap import Runtime
from services.commands import case_commands, case_reads
from services.commands.ports import Actor
from services.console import case_forms, forms, i18n
from services.console.changes import conflict_page
from services.console.event_names import event_name
from services.console.sessions import CSRF_FIELD, clear_cookie, csrf_valid, set_cookie
from services.console.submit import CONFLICTS, submit
from services.console.web import PREFIX, Console, CsrfRefused, SignedIn, page, posted, signed_in
from services.demo.organisations import DEFAULT_ORGANISATIONS, demo_accounts
from services.identity import LocalIssuer, Principal

SIGN_IN_TTL = dt.timedelta(minutes=1)  # the token lives only to be verified into a session


def sign_in_accounts() -> list[tuple[str, str, str, str | None]]:
    """(organisation, role, user, team) of the demo people one may sign in as: the case
    workers and supervisors, then the privacy officers, then the reporters (listed after
    the others, so those keep their places)."""
    return [
        (org, role, user, team)
        for roles in (("caseworker", "supervisor"), ("privacy_officer",), ("reporter",))
        for org in DEFAULT_ORGANISATIONS[:2]
        for role, user, team in demo_accounts(org)
        if role in roles
    ]


@get("/", name="console-home")
async def caseload(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
    console: NamedDependency[Console],
) -> Template:
    signed = await signed_in(request, console)
    principal = signed.session.principal()
    cases = None
    if "caseworker" in principal.roles:
        require(principal, Action.CASE_LIST_MINE, None)
        try:
            cases = await my_caseload(
                runtime.pool,
                principal.organisation_id,
                principal.user_id,
                dt.datetime.now(dt.UTC).date(),
            )
        except ViewNotBuilt:
            cases = None
    return page("caseload.html", signed.session, cases=cases)


@get("/sign-in")
async def sign_in_form(request: Request[Any, Any, Any], console: NamedDependency[Console]) -> Any:
    if not console.signs_in:
        return page("sign_in.html", None, accounts=[], offered=False)
    found = await console.sessions.current(request)
    language = (
        found[1].language
        if found is not None
        else i18n.from_accept_language(request.headers.get("accept-language"))
    )
    session_id, session = await console.sessions.start(None, language)
    response = page("sign_in.html", session, accounts=sign_in_accounts(), offered=True)
    set_cookie(request, response, session_id)
    return response


@post("/sign-in", status_code=303)
async def sign_in(request: Request[Any, Any, Any], console: NamedDependency[Console]) -> Any:
    form = await request.form()
    found = await console.sessions.current(request)
    if found is None or not csrf_valid(found[1], form.get(CSRF_FIELD)) or not console.signs_in:
        raise CsrfRefused()
    accounts = sign_in_accounts()
    chosen = form.get("account", "")
    if not (isinstance(chosen, str) and chosen.isdigit() and int(chosen) < len(accounts)):
        session = found[1]
        return page(
            "sign_in.html",
            session,
            422,
            accounts=accounts,
            offered=True,
            error="Choose whom to sign in as.",
        )
    org, role, user, team = accounts[int(chosen)]
    issuer = LocalIssuer.open(console.settings.data_dir)
    principal = await console.verifier.verify(issuer.mint(user, org, [role], team, ttl=SIGN_IN_TTL))
    await console.sessions.end(found[0])
    await console.sessions.forget_expired()
    language = await console.preferences.language(principal) or found[1].language
    session_id, _ = await console.sessions.start(principal, language)
    response = Redirect(f"{PREFIX}/", status_code=303)
    set_cookie(request, response, session_id)
    return response


@post("/sign-out", status_code=303)
async def sign_out(request: Request[Any, Any, Any], console: NamedDependency[Console]) -> Any:
    signed, _ = await posted(request, console)
    await console.sessions.end(signed.session_id)
    response = Redirect(f"{PREFIX}/sign-in", status_code=303)
    clear_cookie(request, response)
    return response


def _reader(
    request: Request[Any, Any, Any], principal: Principal, console: Console
) -> case_reads.Reader:
    return case_reads.Reader(
        principal,
        observe.request_id(request.scope),
        console.settings.team_access_for(principal.organisation_id),
    )


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
) -> Template:
    """The case page, read through the read use case (authorised, access recorded)."""
    reader = _reader(request, signed.session.principal(), console)
    read = await case_reads.read_case(runtime, reader, case_id)
    _, recorded = await case_reads.read_history(runtime, reader, case_id)
    timeline = [(r.version, r.recorded_at, event_name(r.event_type)) for r in recorded]
    case = case_view(read.state, include_immigration=read.include_immigration)
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
        **case_forms.page_context(case),
    )


@get("/cases/{case_id:uuid}")
async def case_page(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
    console: NamedDependency[Console],
    case_id: FromPath[uuid.UUID],
) -> Template:
    signed = await signed_in(request, console)
    return await case_page_again(request, runtime, console, signed, case_id)


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
        "intake.intake_on": forms.today(),
        "victim_status.determined_on": forms.today(),
        "victim_status.determined_by": principal.user_id,
        "idempotency_key": forms.new_key(),
    }
    return page(
        "intake.html",
        signed.session,
        status,
        values={**defaults, **(values or {})},
        errors=errors or {},
        message=message,
        intake_types=forms.choices("intake_type"),
        statuses=forms.choices("victim_status"),
        trafficking_types=forms.choices("trafficking_type"),
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
    body, errors = forms.parsed(rq.OpenCaseBody, form, forms.INTAKE_FIELDS)
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
    return Redirect(f"{PREFIX}/cases/{opened}", status_code=303)


PAGES = [
    caseload,
    sign_in_form,
    sign_in,
    sign_out,
    case_page,
    log_service,
    propose_referral,
    intake_form,
    open_case,
]
