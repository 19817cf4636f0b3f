"""The referral inbox in the console: referrals partner organisations of this deployment sent
to the signed-in worker's organisation (`services.inbox.items`, as `GET /v1/inbox`).

`GET /console/inbox` lists them (ids, codes, dates and status only); `GET /console/inbox/{id}`
shows one with what the survivor's consent released, recorded in the organisation's access
log before it is shown; `POST …/acceptance` and `POST …/decline` (`reason`) answer it through
the same use case as the API, and come back to the item with a sentence saying what happened.
Another organisation's item, or none, is the console's not-found page.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from domain.case.errors import DomainError, ReferralNotOpen, ReferralOverdue
from domain.codebook import CURRENT
from projections.queries import ViewNotBuilt
from services.api import observe
from services.bootstrap import Runtime
from services.console.i18n import N_
from services.console.web import PREFIX, Console, page, posted, signed_in
from services.inbox import items

OUTCOMES = {
    "accepted": N_("You accepted the referral; the sending organisation sees it."),
    "declined": N_("You declined the referral; the sending organisation sees why."),
    "answered": N_("The referral was answered already."),
    "overdue": N_("The referral was not answered in time and has expired."),
    "refused": N_("The answer could not be recorded: choose a reason and a day not in the future."),
    "unavailable": N_("The inbox is being built; try again in a moment."),
}


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


@get("/inbox", name="console-inbox")
async def inbox(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
    console: NamedDependency[Console],
) -> Template:
    signed = await signed_in(request, console)
    try:
        listed = await items.list_items(runtime, signed.session.principal(), _today())
    except ViewNotBuilt:
        return page("inbox.html", signed.session, 503, items=[], message=OUTCOMES["unavailable"])
    return page("inbox.html", signed.session, items=listed, message=None)


@get("/inbox/{item_id:uuid}", name="console-inbox-item")
async def inbox_item(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
    console: NamedDependency[Console],
    item_id: FromPath[uuid.UUID],
) -> Template:
    signed = await signed_in(request, console)
    opened = await items.read_item(
        runtime, signed.session.principal(), observe.request_id(request.scope), item_id, _today()
    )
    outcome = request.query_params.get("answer")
    return page(
        "inbox_item.html",
        signed.session,
        item=opened.item,
        released=opened.released,
        reasons=list(CURRENT.lists["decline_reason"].items()),
        message=OUTCOMES.get(outcome) if outcome else None,
        today=_today().isoformat(),
    )


async def _answered(
    request: Request[Any, Any, Any],
    runtime: Runtime,
    console: Console,
    item_id: uuid.UUID,
    status: str,
) -> Redirect:
    signed, form = await posted(request, console)
    reason = form.get("reason") or None if status == "declined" else None
    try:
        on = dt.date.fromisoformat(form.get("on", ""))
        await items.answer_item(
            runtime,
            signed.session.principal(),
            observe.request_id(request.scope),
            item_id,
            status,
            on,
            reason,
        )
        outcome = status
    except ReferralOverdue:
        outcome = "overdue"
    except ReferralNotOpen:
        outcome = "answered"
    except (DomainError, ValueError):
        outcome = "refused"
    except ViewNotBuilt:
        outcome = "unavailable"
    return Redirect(f"{PREFIX}/inbox/{item_id}?answer={outcome}", status_code=303)


@post("/inbox/{item_id:uuid}/acceptance", status_code=303)
async def accept(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
    console: NamedDependency[Console],
    item_id: FromPath[uuid.UUID],
) -> Redirect:
    return await _answered(request, runtime, console, item_id, "accepted")


@post("/inbox/{item_id:uuid}/decline", status_code=303)
async def decline(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
    console: NamedDependency[Console],
    item_id: FromPath[uuid.UUID],
) -> Redirect:
    return await _answered(request, runtime, console, item_id, "declined")


INBOX_PAGES = [inbox, inbox_item, accept, decline]
