"""Federal reports: `GET /v1/reports/federal?period=2026Q3[&org=O]` (report.federal: reporters).

The route runs the reporting job (`services.reporting.job`) — the same path as
`haven report federal`: one connection as role `haven_reporting`, which can read only the
de-identified reporting schema and the disclosure ledger. The answer is the release's JSON
document (`count: null` for a suppressed cell) with its disclosure certificate; a period
already released is answered from the ledger, identical, and nothing is written.

* No `org`: the roll-up across organisations. `org` may name only the caller's own
  organisation (another one is 403, like any action the caller may not take).
* 422 `validation-error`: the period is not a quarter label (2026Q3).
* 409 `report-unavailable`: the period is after the inputs' horizon or still running, or
  the organisation has no data in that fiscal year.
* 409 `report-refused`: today's counts contradict the ledger in a way no late record,
  erasure or correction explains (a manual review), or the ledger gives a small count away
  on its own, or (DP mode) a budget would be exceeded. A cell that cannot be published
  safely is withheld, never the whole release. The answer is the same
  sentence whatever the reason, with a reference (`services.reporting.refusals`): the reason
  says something about the data, so only the privacy officer of the requesting organisation
  reads it, with `GET /v1/reports/refusals[?reference=...]`.
* 409 `report-mode-conflict`: the period was released in the other mode (suppression or
  differential privacy); one period is released in one mode only, since the two would
  combine into counts neither protects.
* `dp_epsilon`: the differential-privacy mode of `services.reporting.dp_report` instead of
  suppression (noisy counts, the client as privacy unit, a per-client budget, cached releases).
  The deployment's disclosure policy bounds it (`domain.reporting.policy`, in ``dp.policy``,
  set only by the administrator with `haven report policy set`): above its maximum per
  release it is 422 `validation-error`; each fresh release is charged to the caller's
  organisation and role and recorded with the caller in ``dp.requester_spends``, and past
  the policy's requester budget it is 409 `report-refused`. A cached release (the same one
  again) charges nothing.
* `field` (repeatable): only the tables that answer a funder template's fields
  (`services.reporting.funder_fields`): a codebook table by name, or an identifying field
  (`date_of_birth`, `client_id`...) answered with its aggregate and logged as refused; 422
  `validation-error` for any other name (the body gives its position, not the text).
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
from services.authorisation import Action, Forbidden, require
from services.bootstrap import Runtime
from services.identity import Principal
from services.reporting.access import (
    InvalidPeriod,
    ModeConflict,
    PeriodUnavailable,
    ReportError,
)
from services.reporting.dp import Requester
from services.reporting.dp_report import run_dp_report
from services.reporting.funder_fields import FieldError, answer_fields
from services.reporting.job import ROLL_UP, FederalReportJob
from services.reporting.policy import current_policy
from services.reporting.refusals import (
    REFUSALS,
    Refusal,
    public_text,
    record_refusal,
    refusals_of,
)
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
    principal = request.user
    require(principal, Action.REPORT_FEDERAL, None)
    if org is not None and org != principal.organisation_id:
        raise Forbidden()
    if dp_epsilon is not None:
        most = (await current_policy(runtime.pool)).max_epsilon_per_release
        if Decimal(str(dp_epsilon)) > most:
            raise ValidationException(
                extra=[
                    {
                        "key": "dp_epsilon",
                        "source": "query",
                        "message": (
                            f"at most {most.normalize()} per release "
                            "under this deployment's disclosure policy"
                        ),
                    }
                ]
            )
    reporting_url = settings.reporting_url(settings.database_url or "")
    job = FederalReportJob(reporting_url)
    requester = Requester(
        principal.organisation_id, ",".join(sorted(principal.roles)), principal.user_id
    )
    try:
        if dp_epsilon is not None:
            document = await run_dp_report(
                reporting_url, period, org, epsilon=Decimal(str(dp_epsilon)), requester=requester
            )
        else:
            document = await job.run(period, org)
    except (
        REFUSALS
    ) as error:  # why goes to the privacy officer; the requester gets a reference only
        reference = await record_refusal(
            runtime.pool,
            error,
            period=period,
            scope=org or ROLL_UP,  # type: ignore[arg-type]
            requester=requester,
        )
        return _problem("report-refused", "Report refused", public_text(reference))
    except InvalidPeriod as error:
        raise ValidationException(
            extra=[{"key": "period", "source": "query", "message": str(error)}]
        ) from None
    except PeriodUnavailable as error:
        return _problem("report-unavailable", "Report not available", str(error))
    except ModeConflict as error:
        return _problem("report-mode-conflict", "Released in the other mode", str(error))
    except ReportError as error:
        return _problem("report-refused", "Report refused", str(error).split(":", 1)[0])
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
