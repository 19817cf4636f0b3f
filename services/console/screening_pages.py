"""Recording and reading screenings in the console (docs/identification.md).

* `GET /console/screenings/new[?instrument=id:version]`: the form for a screening standing
  alone (case workers and outreach staff); `POST /console/screenings` records it.
* `GET /console/cases/{id}/screenings/new`, `POST /console/cases/{id}/screenings`: the same
  for a screening of the case, authorised as a command on the case (its worker).
* `GET /console/screenings/{id}`: the screening and the result its instrument's rule gave, to
  who may read it (`services.screening.reads`: its recorder, or for a screening of a case who
  may read the case, the read recorded in the case's access log). A supervisor sees counts
  only, never a screening: anyone else, and an unknown id, get the console's 404 page.

Recording goes through `services.screening.record` as `POST /v1/screenings` does, with the
form's own idempotency key: a second submission of the same form records nothing twice.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import msgspec
from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template

from domain.screening.instrument import Instrument
from domain.screening.screening import RecordScreening, ScreeningRecorded
from services.api import observe
from services.authorisation import Action, NotFound, Outcome, authorise, require
from services.bootstrap import Runtime
from services.commands.ports import Actor
from services.commands.refusals import InvalidRequest
from services.console import forms, screening_form
from services.console.web import PREFIX, Console, SignedIn, page, posted, signed_in
from services.identity import Principal
from services.screening import reads
from services.screening.erasure import screenings_of_case
from services.screening.instruments import InstrumentCatalog, instrument_catalog
from services.screening.record import ScreeningAccepted, authorise_recording, record


def _catalog(console: Console) -> InstrumentCatalog:
    return instrument_catalog(console.settings.instrument_dir)


def _form_page(
    signed: SignedIn,
    console: Console,
    instrument_key: str | None,
    case_id: uuid.UUID | None,
    *,
    status: int = 200,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Template:
    principal = signed.session.principal()
    offered = _catalog(console).available(principal.organisation_id)
    instrument = screening_form.chosen(offered, instrument_key)
    if instrument is None:
        raise NotFound()
    fresh = {"screened_on": forms.today(), "idempotency_key": forms.new_key()}
    return page(
        "screening_form.html",
        signed.session,
        status,
        instrument=instrument,
        instrument_key=screening_form.instrument_key(instrument),
        instruments=[(screening_form.instrument_key(i), i) for i in offered],
        groups=screening_form.grouped(instrument),
        case_id=str(case_id) if case_id else None,
        values=fresh if values is None else values,
        errors=errors or {},
        settings=list(screening_form.SETTING_LABELS.items()),
        answers=screening_form.ANSWERS,
        item_prefix=screening_form.ITEM_PREFIX,
    )


@get("/screenings/new")
async def screening_form_page(
    request: Request[Any, Any, Any],
    console: NamedDependency[Console],
    instrument: Annotated[str | None, QueryParameter()] = None,
) -> Template:
    signed = await signed_in(request, console)
    require(signed.session.principal(), Action.SCREENING_RECORD, None)
    return _form_page(signed, console, instrument, None)


@get("/cases/{case_id:uuid}/screenings/new")
async def case_screening_form_page(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
    console: NamedDependency[Console],
    case_id: FromPath[uuid.UUID],
    instrument: Annotated[str | None, QueryParameter()] = None,
) -> Template:
    signed = await signed_in(request, console)
    principal = signed.session.principal()
    team_access = console.settings.team_access_for(principal.organisation_id)
    await authorise_recording(runtime, principal, str(case_id), team_access)
    return _form_page(signed, console, instrument, case_id)


async def _record(
    request: Request[Any, Any, Any],
    runtime: Runtime,
    console: Console,
    case_id: uuid.UUID | None,
) -> Any:
    signed, form = await posted(request, console)
    principal = signed.session.principal()
    team_access = console.settings.team_access_for(principal.organisation_id)
    if case_id is None:
        require(principal, Action.SCREENING_RECORD, None)
    else:
        await authorise_recording(runtime, principal, str(case_id), team_access)
    key = form.get("instrument", "")
    instrument: Instrument | None = screening_form.chosen(
        _catalog(console).available(principal.organisation_id), key
    )
    if instrument is None or not key:
        raise NotFound()

    def again(errors: dict[str, str]) -> Template:
        return _form_page(signed, console, key, case_id, status=422, values=form, errors=errors)

    body, errors = screening_form.parsed(instrument, form, str(case_id) if case_id else None)
    if body is None:
        return again(errors)
    command = RecordScreening(
        screening_id=str(uuid.uuid4()),
        organisation_id=principal.organisation_id,
        screened_by=principal.user_id,
        instrument_id=body.instrument_id,
        instrument_version=body.instrument_version,
        screened_on=body.screened_on,
        setting=body.setting,
        indicators=body.indicators,
        minor=body.minor,
        case_id=body.case_id,
    )
    actor = Actor(principal.user_id, principal.organisation_id, observe.request_id(request.scope))
    try:
        answer = await record(
            runtime, _catalog(console), principal, actor, command,
            forms.form_idempotency(form, request.url.path, body), team_access=team_access,
        )  # fmt: skip
    except InvalidRequest as refused:
        return again(screening_form.field_errors(body.indicators, refused.faults))
    recorded = msgspec.json.decode(answer.body, type=ScreeningAccepted)  # a replay's own
    return Redirect(f"{PREFIX}/screenings/{recorded.screening_id}", status_code=303)


@post("/screenings", status_code=303)
async def record_standalone(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
    console: NamedDependency[Console],
) -> Any:
    return await _record(request, runtime, console, None)


@post("/cases/{case_id:uuid}/screenings", status_code=303)
async def record_of_case(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
    console: NamedDependency[Console],
    case_id: FromPath[uuid.UUID],
) -> Any:
    return await _record(request, runtime, console, case_id)


@get("/screenings/{screening_id:uuid}")
async def screening_page(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
    console: NamedDependency[Console],
    screening_id: FromPath[uuid.UUID],
) -> Template:
    signed = await signed_in(request, console)
    principal = signed.session.principal()
    event = await reads.read_screening(
        runtime, principal, screening_id,
        request_id=observe.request_id(request.scope),
        team_access=console.settings.team_access_for(principal.organisation_id),
    )  # fmt: skip
    instrument = _catalog(console).find(
        principal.organisation_id, event.instrument_id, event.instrument_version
    )
    answers = {indicator.item: indicator.answer for indicator in event.indicators}
    return page(
        "screening.html",
        signed.session,
        screening=event,
        instrument=instrument,
        groups=screening_form.grouped(instrument) if instrument else [],
        answers=answers,
        answer_labels=dict(screening_form.ANSWERS),
        setting_label=screening_form.SETTING_LABELS.get(event.setting, event.setting),
        result_label=screening_form.RESULT_LABELS.get(event.result, event.result),
    )


def may_record_screenings(signed: SignedIn) -> bool:
    return permitted(signed.session.principal(), Action.SCREENING_RECORD)


async def case_screenings(
    runtime: Runtime, signed: SignedIn, console: Console, request_id: str | None, case_id: uuid.UUID
) -> list[ScreeningRecorded]:
    """The case's screenings, oldest day first, each read as `GET /v1/screenings/{id}` reads
    it (the read recorded in the case's access log); for a reader who may read the case."""
    principal = signed.session.principal()
    if not permitted(principal, Action.SCREENING_READ):  # a supervisor: counts only
        return []
    async with runtime.pool.acquire() as conn:
        found = await screenings_of_case(runtime.store, conn, principal.organisation_id, case_id)
    team_access = console.settings.team_access_for(principal.organisation_id)
    events = [
        await reads.read_screening(
            runtime, principal, screening_id, request_id=request_id, team_access=team_access
        )
        for screening_id in found
    ]
    return sorted(events, key=lambda e: (e.screened_on, e.screening_id))


def permitted(principal: Principal, action: Action) -> bool:
    """Whether the principal's roles may take an action that is not about one case."""
    return authorise(principal, action, None).outcome is Outcome.ALLOW


SCREENING_PAGES = [
    screening_form_page,
    case_screening_form_page,
    record_standalone,
    record_of_case,
    screening_page,
]
