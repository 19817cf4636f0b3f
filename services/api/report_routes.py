"""Federal reports over HTTP: `GET /v1/reports/federal` (reporters) and why releases were
refused, `GET /v1/reports/refusals` (privacy officers).

The report is the use case `services.reporting.release.federal_release` (also the console's):
the reporting job (`services.reporting.job`; `services.reporting.dp_report` with
`dp_epsilon`), the same path as `haven report federal`: one connection as role
`haven_reporting`, which can read only the de-identified reporting schema and the disclosure
ledger. A refused release answers one sentence with a reference, whatever the reason; the
reason goes only to `services.reporting.refusals`, for the privacy officer of the requesting
organisation. The parameters, answers and refusals are described in docs/api.md (Routes) and
docs/federal-reporting.md.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated, Any

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.exceptions import ValidationException
from litestar.params import QueryParameter

from services.api.errors import problem_response
from services.api.identity_routes import BEARER_SECURITY
from services.api.problems import PROBLEM_BASE_URI, Problem
from services.api.responses import REFUSALS as REFUSALS_SPEC
from services.api.responses import problem_spec
from services.authorisation import Action, require
from services.bootstrap import Runtime
from services.identity import Principal
from services.reporting.funder_fields import FieldError, answer_fields
from services.reporting.refusals import Refusal, refusals_of
from services.reporting.release import ReleaseInvalid, ReleaseUnanswered, federal_release
from services.settings import Settings

TAGS = ["reports"]


def _problem(slug: str, title: str, detail: str) -> Response[bytes]:
    return problem_response(
        Problem(type=PROBLEM_BASE_URI + slug, title=title, status=409, detail=detail)
    )


@get(
    "/v1/reports/federal",
    operation_id="federalReport",
    tags=TAGS,
    security=BEARER_SECURITY,
    summary="The de-identified federal report of a quarter "
    "(k=11, audited, with its disclosure certificate)",
    responses={
        **REFUSALS_SPEC,
        409: problem_spec(
            "The period is not available (`report-unavailable`), cannot be released "
            "safely (`report-refused`), or was released in the other mode "
            "(`report-mode-conflict`)."
        ),
        422: problem_spec("The period is not a quarter label such as 2026Q3 (`validation-error`)."),
    },
)
async def federal_report(
    request: Request[Principal, Any, Any],
    runtime: NamedDependency[Runtime],
    settings: NamedDependency[Settings],
    period: Annotated[
        str, QueryParameter(description="calendar quarter, e.g. 2026Q3", max_length=6)
    ],
    org: Annotated[
        str | None,
        QueryParameter(
            description="the caller's own organisation; default: the roll-up across organisations",
            max_length=256,
        ),
    ] = None,
    dp_epsilon: Annotated[
        float | None,
        QueryParameter(
            description="differential-privacy mode: noisy counts (OpenDP discrete Laplace) "
            "spending this epsilon per client, instead of suppressed ones; at most the disclosure "
            "policy's maximum per release (default 1), charged to the budget of the caller's "
            "organisation and role",
            gt=0,
        ),
    ] = None,
    field: Annotated[
        list[str] | None,
        QueryParameter(
            description="only the tables answering these funder fields: a codebook table, or an "
            "identifying field (client_id, name, ssn, date_of_birth, address, zip_code, phone, "
            "email, country_of_origin) answered with an aggregate",
            max_items=50,
        ),
    ] = None,
) -> Response[Any]:
    reporting_url = settings.reporting_url(settings.database_url or "")
    epsilon = None if dp_epsilon is None else Decimal(str(dp_epsilon))
    try:
        document = await federal_release(
            runtime.pool, reporting_url, request.user, period, org, epsilon
        )
    except ReleaseInvalid as error:
        raise ValidationException(
            extra=[{"key": error.key, "source": "query", "message": error.message}]
        ) from None
    except ReleaseUnanswered as error:
        return _problem(error.slug, error.title, error.detail)
    if field:
        try:
            document = answer_fields(document, field)
        except FieldError as error:  # names the field's position, not what was asked
            raise ValidationException(
                extra=[{"key": "field", "source": "query", "message": str(error)}]
            ) from None
    return Response(content=document, media_type="application/json")


@get(
    "/v1/reports/refusals",
    operation_id="reportRefusals",
    tags=TAGS,
    security=BEARER_SECURITY,
    summary="Why federal releases asked by your organisation were refused (privacy officer)",
    responses={
        **REFUSALS_SPEC,
        422: problem_spec("`reference` is not a UUID (`validation-error`)."),
    },
)
async def report_refusals(
    request: Request[Principal, Any, Any],
    runtime: NamedDependency[Runtime],
    reference: Annotated[
        uuid.UUID | None, QueryParameter(description="the reference the requester was given")
    ] = None,
) -> list[Refusal]:
    principal = request.user
    require(principal, Action.REPORT_REFUSALS, None)
    return await refusals_of(runtime.pool, principal.organisation_id, reference=reference)


REPORT_ROUTES = [federal_report, report_refusals]
