"""The privacy officer's pages: the organisation's access log (filtered by actor, case and
basis, paged), a case's access log with its break-the-glass grants and their reasons, and a
case's erasure.

They run the API's use cases under the API's authorisation: the organisation's log is
`events.access_log.access_review` under `Action.ACCESS_REVIEW`, as `GET /v1/access-log`; a
case's log is `services.commands.case_privacy.review_access` (the review recorded first, as
`GET /v1/cases/{id}/access-log`); the erasure is `case_privacy.erase`, as
`DELETE /v1/cases/{id}`; a case's export (the survivor's own record, as a printable
document) is `services.commands.case_export.export_case`, as `GET /v1/cases/{id}/export`,
recorded before it is answered. An erasure needs its ground (a code, never free text) and
the case id typed again, posted with the session's CSRF token; without them nothing is
erased.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from domain.identifiers import is_identifier
from events.access_log import BASES, access_review
from services.api.cases.export_document import render_html
from services.api.cases.schemas.export import export_view
from services.authorisation import Action, require
from services.bootstrap import Runtime
from services.commands import case_export, case_privacy
from services.console.i18n import N_
from services.console.web import PREFIX, Console, SignedIn, page, posted, signed_in
from services.console.web import reader as console_reader

PAGE_SIZE = 50
GROUNDS = sorted(case_privacy.ERASURE_GROUNDS.items(), key=lambda item: item[1])


def _filters(query: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """The access log's filters from the query (an empty field is no filter), and what is
    wrong with them by field."""
    raw = {name: (query.get(name) or "").strip() for name in ("actor", "case_id", "basis")}
    chosen: dict[str, Any] = {}
    errors = {}
    if raw["actor"]:
        if is_identifier(raw["actor"]):
            chosen["actor"] = raw["actor"]
        else:
            errors["actor"] = N_("Enter a person's identifier.")
    if raw["case_id"]:
        try:
            chosen["case_id"] = uuid.UUID(raw["case_id"])
        except ValueError:
            errors["case_id"] = N_("Enter a case id (a UUID).")
    if raw["basis"]:
        if raw["basis"] in BASES:
            chosen["basis"] = raw["basis"]
        else:
            errors["basis"] = N_("Choose a basis from the list.")
    before = query.get("before") or ""
    if before.isdigit() and 0 < int(before) < 2**63:
        chosen["before"] = int(before)
    return chosen, errors


@get("/privacy/access-log", name="console-access-log")
async def access_log_page(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
    console: NamedDependency[Console],
) -> Template:
    signed = await signed_in(request, console)
    principal = signed.session.principal()
    require(principal, Action.ACCESS_REVIEW, None)
    chosen, errors = _filters(request.query_params)
    values = {k: str(v) for k, v in chosen.items() if k != "before"}
    if errors:
        return page(
            "access_log.html", signed.session, 422, records=[], values=values, errors=errors,
            bases=sorted(BASES), older=None,
        )  # fmt: skip
    records = await access_review(
        runtime.pool,
        principal.organisation_id,
        actor_id=chosen.get("actor"),
        case_id=chosen.get("case_id"),
        basis=chosen.get("basis"),
        before=chosen.get("before"),
        limit=PAGE_SIZE,
    )
    older = None
    if len(records) == PAGE_SIZE:
        older = f"{PREFIX}/privacy/access-log?" + urlencode(
            {**values, "before": records[-1].record_id}
        )
    return page(
        "access_log.html", signed.session, records=records, values=values, errors={},
        bases=sorted(BASES), older=older, grounds=case_privacy.ERASURE_GROUNDS,
    )  # fmt: skip


@get("/privacy/cases/{case_id:uuid}", name="console-case-access")
async def case_access_page(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
    console: NamedDependency[Console],
    case_id: FromPath[uuid.UUID],
) -> Template:
    signed = await signed_in(request, console)
    review = await case_privacy.review_access(
        runtime, console_reader(request, signed, console), case_id
    )
    return page(
        "case_access.html", signed.session, case_id=case_id, records=review.records,
        grants=review.grants, listings=review.listings, released=review.released,
    )  # fmt: skip


@get("/privacy/cases/{case_id:uuid}/export", name="console-case-export")
async def case_export_document(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
    console: NamedDependency[Console],
    case_id: FromPath[uuid.UUID],
) -> Response[bytes]:
    """The case's export as the printable document, downloaded (recorded first)."""
    signed = await signed_in(request, console)
    reader = console_reader(request, signed, console)
    export = await case_export.export_case(runtime, reader, case_id)
    return Response(
        content=render_html(export_view(export)).encode(),
        media_type="text/html; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="case-{case_id}-export.html"'},
    )


def _erase_page(
    signed: SignedIn, case_id: uuid.UUID, status: int = 200, **context: Any
) -> Template:
    return page(
        "erase.html", signed.session, status, case_id=case_id, grounds=GROUNDS,
        errors=context.pop("errors", {}), values=context.pop("values", {}), **context,
    )  # fmt: skip


@get("/privacy/cases/{case_id:uuid}/erase", name="console-erase-form")
async def erase_form(
    request: Request[Any, Any, Any],
    console: NamedDependency[Console],
    case_id: FromPath[uuid.UUID],
) -> Template:
    """The erasure form: only the case id, no case content (so nothing is read or recorded
    here); the erasure itself is authorised when it is posted."""
    signed = await signed_in(request, console)
    require(signed.session.principal(), Action.ACCESS_REVIEW, None)  # a privacy officer
    return _erase_page(signed, case_id)


@post("/privacy/cases/{case_id:uuid}/erase", status_code=303)
async def erase_case(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
    console: NamedDependency[Console],
    case_id: FromPath[uuid.UUID],
) -> Any:
    signed, form = await posted(request, console)
    errors = {}
    ground = form.get("ground", "")
    if ground not in case_privacy.ERASURE_GROUNDS:
        errors["ground"] = N_("Choose the ground of the erasure.")
    if form.get("confirm_case_id", "").strip().lower() != str(case_id):
        errors["confirm_case_id"] = N_("Type the case id exactly, to confirm the erasure.")
    if errors:
        values = {"ground": ground if ground in case_privacy.ERASURE_GROUNDS else ""}
        return _erase_page(signed, case_id, 422, errors=errors, values=values)
    await case_privacy.erase(runtime, console_reader(request, signed, console), case_id, ground)
    return Redirect(f"{PREFIX}/privacy/access-log?case_id={case_id}", status_code=303)


PRIVACY_PAGES = [access_log_page, case_access_page, case_export_document, erase_form, erase_case]
