"""The privacy officer's pages over HTTP: the organisation's access log and its filters, a
case's grants with the review recorded first, and an erasure that needs its confirmation and,
once confirmed, leaves the case answering 404 in the console and the API."""

from __future__ import annotations

import uuid

import pytest

from services.commands import case_privacy
from services.console import privacy
from services.demo.organisations import demo_accounts
from tests.console.support import HARBOR_PRIVACY, csrf_token, hidden_fields

ORG = "org-harbor"
PEOPLE = {role: (user, team) for role, user, team in demo_accounts(ORG)}
WORKER, PRIVACY = PEOPLE["caseworker"][0], PEOPLE["privacy_officer"][0]
NAME = "Synthetic Marrowby"
REASON = "Synthetic emergency: the client was reported missing"


def bearer(issuer, role: str) -> dict[str, str]:
    user, team = PEOPLE[role]
    return {"Authorization": f"Bearer {issuer.mint(user, ORG, [role], team)}"}


async def read_case(browser) -> str:
    """A case opened by the Harbor worker and read through the console."""
    async with browser() as worker:
        await worker.sign_in()
        case_id = await worker.open_case(NAME)
        assert (await worker.client.get(f"/console/cases/{case_id}")).status_code == 200
    return case_id


async def access_parts(runtime, case_id: str) -> list[tuple[str, str, str | None]]:
    rows = await runtime.pool.fetch(
        "SELECT actor_id, part, reason FROM haven.access_records WHERE case_id = $1"
        " ORDER BY record_id",
        uuid.UUID(case_id),
    )
    return [(row["actor_id"], row["part"], row["reason"]) for row in rows]


async def test_the_sign_in_page_lists_the_privacy_officers_and_the_navigation_their_page(browser):
    async with browser() as officer:
        page = (await officer.client.get("/console/sign-in")).text
        assert f"{PRIVACY} — privacy_officer, {ORG}" in page
        await officer.sign_in(HARBOR_PRIVACY)
        home = (await officer.client.get("/console/")).text
        assert f"Signed in as {PRIVACY}" in home
        assert 'href="/console/privacy/access-log"' in home and 'href="/console/team"' not in home


async def test_the_access_log_lists_a_read_made_through_the_console_and_filters(browser):
    case_id = await read_case(browser)
    async with browser() as officer:
        await officer.sign_in(HARBOR_PRIVACY)
        log = officer.client.get
        page = await log("/console/privacy/access-log", params={"case_id": case_id})
        assert page.status_code == 200
        rows = page.text.split("<tbody>")[1]
        assert rows.count(f">{case_id}</a>") == 2  # the case page's "full" and "history"
        assert f"<td>{WORKER}</td>" in rows and "<td>full</td>" in rows
        assert NAME not in page.text
        for params, listed in (
            ({"actor": WORKER}, True),
            ({"actor": "worker-nobody"}, False),
            ({"basis": "assignment"}, True),
            ({"basis": "break-glass"}, False),
            ({"actor": "", "basis": ""}, True),  # empty fields filter nothing
        ):
            page = await log("/console/privacy/access-log", params={"case_id": case_id, **params})
            assert page.status_code == 200
            assert (f">{case_id}</a>" in page.text) is listed, params
        for params in ({"case_id": "not-a-uuid"}, {"basis": "whim"}):
            refused = await log("/console/privacy/access-log", params=params)
            assert refused.status_code == 422 and 'role="alert"' in refused.text


async def test_the_access_log_is_paged(browser, monkeypatch):
    case_id = await read_case(browser)
    monkeypatch.setattr(privacy, "PAGE_SIZE", 1)
    async with browser() as officer:
        await officer.sign_in(HARBOR_PRIVACY)
        first = await officer.client.get("/console/privacy/access-log", params={"case_id": case_id})
        assert "<td>history</td>" in first.text and "<td>full</td>" not in first.text
        older = first.text.split('<a href="')[-1].split('">Older records')[0]
        second = await officer.client.get(older.replace("&amp;", "&"))
        assert "<td>full</td>" in second.text and "<td>history</td>" not in second.text


async def test_a_case_worker_is_refused_the_privacy_pages(browser):
    case_id = await read_case(browser)
    async with browser() as worker:
        await worker.sign_in()
        for path in (
            "/console/privacy/access-log",
            f"/console/privacy/cases/{case_id}",
            f"/console/privacy/cases/{case_id}/erase",
        ):
            page = await worker.client.get(path)
            assert page.status_code == 404 and "Nothing here that you may see" in page.text


async def test_a_cases_grants_page_shows_the_reasons_and_records_the_review_first(
    browser, runtime, issuer
):
    case_id = await read_case(browser)
    async with browser() as officer:
        granted = await officer.client.post(
            f"/v1/cases/{case_id}/break-glass",
            json={"reason": REASON, "minutes": 15},
            headers=bearer(issuer, "supervisor"),
        )
        assert granted.status_code == 201, granted.text
        await officer.sign_in(HARBOR_PRIVACY)
        page = await officer.client.get(f"/console/privacy/cases/{case_id}")
        assert page.status_code == 200
        assert REASON in page.text and NAME not in page.text
        first_row = page.text.split('<table id="case-records">')[1].split("<tbody>")[1]
        first_row = first_row.split("</tr>")[0]
        assert f"<td>{PRIVACY}</td>" in first_row and "<td>access-log</td>" in first_row
        assert "<td>privacy-review</td>" in first_row
    assert (await access_parts(runtime, case_id))[-1] == (PRIVACY, "access-log", None)


async def test_an_erasure_needs_its_confirmation_then_the_case_is_gone_everywhere(
    browser, runtime, issuer
):
    case_id = await read_case(browser)
    async with browser() as officer:
        await officer.sign_in(HARBOR_PRIVACY)
        action = f"/console/privacy/cases/{case_id}/erase"
        form = (await officer.client.get(action)).text
        assert NAME not in form
        fields = hidden_fields(form, action)
        for missing in (
            {"ground": "survivor-request"},  # no confirmation
            {"ground": "survivor-request", "confirm_case_id": str(uuid.uuid4())},
            {"ground": "", "confirm_case_id": case_id},
            {"ground": "because I said so", "confirm_case_id": case_id},
        ):
            refused = await officer.client.post(action, data={**fields, **missing})
            assert refused.status_code == 422 and "Nothing was erased" in refused.text
        no_token = await officer.client.post(
            action, data={"ground": "survivor-request", "confirm_case_id": case_id}
        )
        assert no_token.status_code == 403
        api_read = await officer.client.get(
            f"/v1/cases/{case_id}", headers=bearer(issuer, "caseworker")
        )
        assert api_read.status_code == 200  # nothing was erased so far
        erased = await officer.client.post(
            action, data={**fields, "ground": "survivor-request", "confirm_case_id": case_id}
        )
        assert erased.status_code == 303
        log = await officer.client.get(erased.headers["location"])
        assert "<td>erasure</td>" in log.text and "<td>survivor-request</td>" in log.text
        assert (await officer.client.get(f"/console/privacy/cases/{case_id}")).status_code == 404
        again = await officer.client.post(
            action,
            data={
                "csrf_token": csrf_token(log.text),
                "ground": "survivor-request",
                "confirm_case_id": case_id,
            },
        )
        assert again.status_code == 404
        for path in (f"/v1/cases/{case_id}", f"/v1/cases/{case_id}/history"):
            answer = await officer.client.get(path, headers=bearer(issuer, "caseworker"))
            assert answer.status_code == 404, path
    async with browser() as worker:
        await worker.sign_in()
        page = await worker.client.get(f"/console/cases/{case_id}")
        assert page.status_code == 404 and NAME not in page.text
    assert (await access_parts(runtime, case_id))[-1] == (PRIVACY, "erasure", "survivor-request")


async def test_the_erasure_use_case_refuses_a_ground_it_does_not_list():
    with pytest.raises(ValueError):  # before it reads or writes anything
        await case_privacy.erase(None, None, uuid.uuid4(), "because I said so")
