"""Screenings and the instruments they use (docs/identification.md):

* `POST /v1/screenings` (screening.record: case workers and outreach staff; with `case_id`,
  also a case command on that case): a strict JSON body, an optional `Idempotency-Key`;
  201 `{screening_id, version}` with `ETag` and `Location`. Bad input is 422
  `validation-error` naming the member, never its value.
* `GET /v1/screenings/{id}` (screening.read): who recorded it; when it belongs to a case,
  whoever may read the case, and the read is recorded in the case's access log.
* `GET /v1/screenings/summary?from=&to=` (screening.summary: supervisors): counts by result,
  setting and month from the `screenings` read model; never an individual screening.
* `GET /v1/instruments` (instrument.list): the instruments and versions the organisation may
  screen with, each with its items and scoring rule.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Body, QueryParameter

from domain.screening.instrument import MAX_ITEMS, Instrument
from domain.screening.screening import Indicator, RecordScreening, ScreeningRecorded
from projections.screenings import ScreeningSummary, screening_summary
from services.api.caseload_routes import built
from services.api.cases import http
from services.api.cases.access import request_id
from services.api.cases.openapi import JSON, IdempotentOperation, VersionedReadOperation
from services.api.cases.schemas.examples import example
from services.api.identity_routes import BEARER_SECURITY
from services.api.responses import REFUSALS, problem_spec
from services.authorisation import Action, require
from services.bootstrap import Runtime
from services.commands.refusals import InvalidRequest
from services.identity import Principal
from services.screening import reads
from services.screening.instruments import instrument_catalog
from services.screening.record import ScreeningAccepted, record
from services.settings import Settings

TAGS = ["screenings"]
MAX_SUMMARY_DAYS = 3 * 366 + 31
MAX_INDICATORS = MAX_ITEMS

SCREENING_EXAMPLE: dict[str, Any] = {
    "instrument_id": "ilo-forced-labour",
    "instrument_version": 1,
    "screened_on": "2026-03-02",
    "setting": "clinic",
    "minor": "no",
    "indicators": [
        {"item": "doc_1", "answer": "yes"},
        {"item": "wag_1", "answer": "yes"},
        {"item": "mov_1", "answer": "unknown"},
        {"item": "sex_1", "answer": "no"},
    ],
}


class ScreeningBody(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """A screening: no name, date of birth, contact or place — only the instrument, the day,
    the setting, the answers and, for a screening of a case, the case's id."""

    instrument_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    instrument_version: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]
    screened_on: dt.date
    setting: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    indicators: tuple[Indicator, ...]  # at most MAX_INDICATORS
    minor: Annotated[str, msgspec.Meta(min_length=1, max_length=16)] = "unknown"
    case_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None


class ScreeningView(msgspec.Struct, frozen=True, kw_only=True):
    screening_id: str
    instrument_id: str
    instrument_version: int
    screened_on: dt.date
    screened_by: str
    setting: str
    indicators: tuple[Indicator, ...]
    minor: str
    result: str
    case_id: str | None


class InstrumentList(msgspec.Struct, frozen=True, kw_only=True):
    instruments: list[Instrument]


def _view(event: ScreeningRecorded) -> ScreeningView:
    return ScreeningView(
        screening_id=event.screening_id,
        instrument_id=event.instrument_id,
        instrument_version=event.instrument_version,
        screened_on=event.screened_on,
        screened_by=event.screened_by,
        setting=event.setting,
        indicators=event.indicators,
        minor=event.minor,
        result=event.result,
        case_id=event.case_id,
    )


@post(
    "/v1/screenings",
    operation_id="recordScreening",
    tags=TAGS,
    summary="Record a screening (case worker, outreach staff)",
    status_code=201,
    security=BEARER_SECURITY,
    operation_class=IdempotentOperation,
    responses={
        201: ResponseSpec(
            data_container=ScreeningAccepted,
            media_type=JSON,
            generate_examples=False,
            description="Recorded: `Location` names the screening, `ETag` its version.",
        ),
        **REFUSALS,
        409: problem_spec("The Idempotency-Key is still in use (`idempotency-key-in-progress`)."),
        422: problem_spec(
            "Invalid body (`validation-error`: an unknown instrument, item, setting or answer, "
            "a day in the future), or the Idempotency-Key was used for another request."
        ),
    },
)
async def record_screening(
    request: Request[Principal, Any, Any],
    runtime: NamedDependency[Runtime],
    settings: NamedDependency[Settings],
    data: Annotated[
        ScreeningBody,
        Body(
            media_type=RequestEncodingType.JSON,
            examples=example("A screening at a clinic, standing alone", SCREENING_EXAMPLE),
        ),
    ],
) -> Response[bytes]:
    principal = request.user
    idempotent, faults = http.request_faults(request, data)
    if len(data.indicators) > MAX_INDICATORS:
        faults = [*faults, ("/indicators", f"indicators must list at most {MAX_INDICATORS}")]
    if faults:
        require(principal, Action.SCREENING_RECORD, None)
        raise InvalidRequest(faults)
    screening_id = str(uuid.uuid4())
    command = RecordScreening(
        screening_id=screening_id,
        organisation_id=principal.organisation_id,
        screened_by=principal.user_id,
        instrument_id=data.instrument_id,
        instrument_version=data.instrument_version,
        screened_on=data.screened_on,
        setting=data.setting,
        indicators=data.indicators,
        minor=data.minor,
        case_id=data.case_id,
    )
    answer = await record(
        runtime,
        instrument_catalog(settings.instrument_dir),
        principal,
        http.actor_of(principal, request),
        command,
        idempotent,
        team_access=http.team_access(request),
    )
    accepted = msgspec.json.decode(answer.body, type=ScreeningAccepted)  # a replay's own
    return Response(
        content=answer.body,
        status_code=answer.status,
        media_type=JSON,
        headers={
            "ETag": http.etag(accepted.version),
            "Location": f"/v1/screenings/{accepted.screening_id}",
        },
    )


@get(
    "/v1/screenings/summary",
    operation_id="summariseScreenings",
    tags=TAGS,
    summary="Screenings counted by result, setting and month (supervisor)",
    security=BEARER_SECURITY,
    responses={**REFUSALS, 422: problem_spec("A query parameter is invalid (`validation-error`).")},
)
async def summarise_screenings(
    request: Request[Principal, Any, Any],
    runtime: NamedDependency[Runtime],
    first: Annotated[
        dt.date, QueryParameter(name="from", description="the first day (its month counts)")
    ],
    last: Annotated[
        dt.date, QueryParameter(name="to", description="the last day (its month counts)")
    ],
) -> ScreeningSummary:
    principal = request.user
    require(principal, Action.SCREENING_SUMMARY, None)
    if last < first:
        raise InvalidRequest([("#/query/to", "to must not be before from")])
    if (last - first).days > MAX_SUMMARY_DAYS:
        raise InvalidRequest([("#/query/to", "from and to must be at most three years apart")])
    async with built():
        return await screening_summary(runtime.pool, principal.organisation_id, first, last)


@get(
    "/v1/screenings/{screening_id:uuid}",
    operation_id="getScreening",
    tags=TAGS,
    summary="One screening (who recorded it, or the workers of its case)",
    security=BEARER_SECURITY,
    operation_class=VersionedReadOperation,
    responses={**REFUSALS},
)
async def get_screening(
    request: Request[Principal, Any, Any],
    runtime: NamedDependency[Runtime],
    screening_id: uuid.UUID,
) -> Response[ScreeningView]:
    event = await reads.read_screening(
        runtime,
        request.user,
        screening_id,
        request_id=request_id(request),
        team_access=http.team_access(request),
    )
    return Response(content=_view(event), headers={"ETag": http.etag(1)})


@get(
    "/v1/instruments",
    operation_id="listInstruments",
    tags=TAGS,
    summary="The screening instruments and versions available (case worker, outreach, supervisor)",
    security=BEARER_SECURITY,
    responses={**REFUSALS},
)
async def list_instruments(
    request: Request[Principal, Any, Any], settings: NamedDependency[Settings]
) -> InstrumentList:
    principal = request.user
    require(principal, Action.INSTRUMENT_LIST, None)
    catalog = instrument_catalog(settings.instrument_dir)
    return InstrumentList(instruments=catalog.available(principal.organisation_id))


SCREENING_ROUTES = [record_screening, summarise_screenings, get_screening, list_instruments]
