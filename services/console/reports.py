"""The reporter's federal report pages: a form (period, scope, mode) sent with GET, so a
report's page can be bookmarked; the report as tables with every suppressed, withheld or noisy
cell marked in words; and its downloads — one CSV, the JSON document, the certificate.

Page and downloads call the API's use case, `services.reporting.release.federal_release`,
under the same authorisation (`Action.REPORT_FEDERAL`, the roll-up or the reporter's own
organisation) and with the same answers: a refusal is the one sentence with its reference,
an unavailable period the API's sentence. Every release is recorded in the disclosure ledger;
asking again for the same period, scope and mode returns the release already made (the job
returns a released period as stored, a DP release is cached), so each download is the very
document the page shows.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple
from urllib.parse import urlencode

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.response import Template
from litestar.serialization import encode_json

from services.authorisation import Action, require
from services.bootstrap import Runtime
from services.console import report_views as views
from services.console.i18n import N_
from services.console.web import PREFIX, Console, SignedIn, page, signed_in
from services.identity import Principal
from services.reporting.document import render_csv
from services.reporting.release import (
    MODE_CONFLICT,
    REFUSED,
    UNAVAILABLE,
    ReleaseInvalid,
    ReleaseUnanswered,
    federal_release,
)

SUPPRESSION, DP = "suppression", "dp"
ALL, OWN = "all", "own"
DEFAULT_EPSILON = "1"
HEADINGS = {
    REFUSED: N_("This report was refused"),
    UNAVAILABLE: N_("This report is not available"),
    MODE_CONFLICT: N_("This period was released in the other mode"),
}
PERIOD_MESSAGE = N_("Enter a quarter as a year and quarter number, such as 2026Q3.")
EPSILON_MESSAGE = N_("Enter a number greater than 0, such as 1.")
EPSILON_LIMIT = N_("At most %(most)s per release under this deployment's disclosure policy.")


class Asked(NamedTuple):
    """The form's fields as given (`values`) and what they ask for."""

    values: dict[str, str]
    period: str
    org: str | None
    epsilon: Decimal | None

    @property
    def dp(self) -> bool:
        return self.epsilon is not None

    def query(self) -> str:
        return urlencode(self.values)


class Message(NamedTuple):
    """A message for a field: its text (translated by the template) and the text's values."""

    text: str
    values: dict[str, str]


def read_form(query: Any, principal: Principal) -> tuple[Asked, dict[str, Message]]:
    """What the form asks for, and what is wrong with it by field."""
    period = (query.get("period") or "").strip()
    scope = OWN if query.get("scope") == OWN else ALL
    mode = DP if query.get("mode") == DP else SUPPRESSION
    raw_epsilon = (query.get("epsilon") or "").strip() or DEFAULT_EPSILON
    values = {"period": period, "scope": scope, "mode": mode}
    errors: dict[str, Message] = {}
    if not period or len(period) > 6:
        errors["period"] = Message(PERIOD_MESSAGE, {})
    epsilon = None
    if mode == DP:
        values["epsilon"] = raw_epsilon
        try:
            epsilon = Decimal(str(float(raw_epsilon))) if len(raw_epsilon) <= 20 else None
        except (ValueError, InvalidOperation):
            epsilon = None
        if epsilon is None or not epsilon.is_finite() or epsilon <= 0:
            errors["epsilon"] = Message(EPSILON_MESSAGE, {})
    org = principal.organisation_id if scope == OWN else None
    return Asked(values, period, org, epsilon), errors


def invalid(error: ReleaseInvalid) -> dict[str, Message]:
    if error.key == "dp_epsilon":
        if error.most is not None:
            return {"epsilon": Message(EPSILON_LIMIT, {"most": str(error.most)})}
        return {"epsilon": Message(EPSILON_MESSAGE, {})}
    return {"period": Message(PERIOD_MESSAGE, {})}


def reports_page(
    signed: SignedIn,
    asked: Asked | None,
    status: int = 200,
    **context: Any,
) -> Template:
    principal = signed.session.principal()
    values = asked.values if asked is not None else {"scope": ALL, "mode": SUPPRESSION}
    return page(
        "reports.html",
        signed.session,
        status,
        values=values,
        epsilon_default=DEFAULT_EPSILON,
        organisation=principal.organisation_id,
        errors=context.pop("errors", {}),
        unanswered=context.pop("unanswered", None),
        **context,
    )


async def release(
    runtime: Runtime, console: Console, principal: Principal, asked: Asked
) -> dict[str, Any]:
    settings = console.settings
    return await federal_release(
        runtime.pool,
        settings.reporting_url(settings.database_url or ""),
        principal,
        asked.period,
        asked.org,
        asked.epsilon,
    )


class Released(NamedTuple):
    signed: SignedIn
    asked: Asked
    document: dict[str, Any]


async def asked_release(
    request: Request[Any, Any, Any], runtime: Runtime, console: Console
) -> Released | Template:
    """The release the signed-in reporter asked for, or the page that says why there is none
    (the form alone when nothing was asked)."""
    signed = await signed_in(request, console)
    principal = signed.session.principal()
    require(principal, Action.REPORT_FEDERAL, None)
    if "period" not in request.query_params:
        return reports_page(signed, None)
    asked, errors = read_form(request.query_params, principal)
    if errors:
        return reports_page(signed, asked, 422, errors=errors)
    try:
        document = await release(runtime, console, principal, asked)
    except ReleaseInvalid as error:
        return reports_page(signed, asked, 422, errors=invalid(error))
    except ReleaseUnanswered as error:
        unanswered = {"heading": HEADINGS[error.slug], "detail": error.detail}
        return reports_page(signed, asked, 409, unanswered=unanswered)
    return Released(signed, asked, document)


@get("/reports", name="console-reports")
async def reports(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
    console: NamedDependency[Console],
) -> Template:
    answer = await asked_release(request, runtime, console)
    if isinstance(answer, Template):
        return answer
    signed, asked, document = answer
    shown = views.tables(document, asked.dp)
    certificate = document.get("certificate") or {}
    query = asked.query()
    return reports_page(
        signed,
        asked,
        document=document,
        dp=asked.dp,
        tables=shown,
        statuses=views.summary_counts(shown),
        facts=views.certificate_facts(certificate, asked.dp),
        withheld=views.withheld(certificate),
        downloads={
            "csv": f"{PREFIX}/reports/download.csv?{query}",
            "json": f"{PREFIX}/reports/download.json?{query}",
            "certificate": f"{PREFIX}/reports/certificate.json?{query}",
        },
    )


async def _download(
    request: Request[Any, Any, Any],
    runtime: Runtime,
    console: Console,
    suffix: str,
    extension: str,
    media_type: str,
    content: Callable[[dict[str, Any], Any], bytes],
) -> Response[Any]:
    """The asked release as an attachment (`content` of the document and what was asked),
    or the page that says why there is none."""
    answer = await asked_release(request, runtime, console)
    if isinstance(answer, Template):
        return answer
    _, asked, document = answer
    name = views.file_name(document["period"], asked.org, asked.dp, suffix, extension)
    return Response(
        content=content(document, asked),
        media_type=media_type,
        headers={"content-disposition": views.attachment(name)},
    )


@get("/reports/download.csv", name="console-report-csv")
async def report_csv(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
    console: NamedDependency[Console],
) -> Response[Any]:
    return await _download(
        request, runtime, console, "", "csv", "text/csv; charset=utf-8",
        lambda document, asked: views.csv_text(document, asked.dp).encode(),
    )  # fmt: skip


@get("/reports/download.json", name="console-report-json")
async def report_json(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
    console: NamedDependency[Console],
) -> Response[Any]:
    return await _download(
        request, runtime, console, "", "json", "application/json",
        lambda document, _: encode_json(document),
    )  # fmt: skip


@get("/reports/certificate.json", name="console-report-certificate")
async def report_certificate(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
    console: NamedDependency[Console],
) -> Response[Any]:
    return await _download(
        request, runtime, console, "certificate", "json", "application/json",
        lambda document, _: render_csv(document)["certificate.json"].encode(),
    )  # fmt: skip


REPORT_PAGES = [reports, report_csv, report_json, report_certificate]
