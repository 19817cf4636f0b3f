"""The trafficking context form of the case page (filled with the case's own context, which
it replaces whole), and the supervisor's reassignment of a team case from the team page."""

from __future__ import annotations

import re

from tests.conftest import empty_log_and_read_models
from tests.console.support import HARBOR_SUPERVISOR, LANTERN_WORKER, hidden_fields
from tests.console.test_console_case_forms import (
    case_page,
    field_error,
    signed_in_case,
    submit,
    timeline,
)
from tests.console.test_console_supervisor import project

OTHER_WORKER = "worker-harbor-intake-2"  # of the demo supervisor's own team


def selected(page: str, field_id: str) -> str:
    select = page[page.index(f'<select id="{field_id}"') :]
    select = select[: select.index("</select>")]
    return select.split(" selected>", 1)[0].rsplit('value="', 1)[1].split('"', 1)[0]


async def test_the_trafficking_context_form_starts_from_the_case_and_replaces_it(browser):
    async with browser() as user:
        case_id = await signed_in_case(user)
        page = await case_page(user, case_id)
        assert selected(page, "f-trafficking-context-trafficking-type") == "labor"
        typeless = await submit(user, case_id, "trafficking-context", page)
        assert field_error(typeless, "f-trafficking-context-trafficking-type")
        revised = await submit(
            user, case_id, "trafficking-context",
            trafficking_type="both",
            **{"recruitment.job_offer": "yes", "control_methods.debt_bondage": "yes"},
            narrative="Synthetic narrative, revised after a second interview.",
        )  # fmt: skip
        assert revised.status_code == 303, revised.text
        page = await case_page(user, case_id)
        assert timeline(page)[-1] == "Trafficking context updated"
        assert selected(page, "f-trafficking-context-trafficking-type") == "both"
        assert re.search(r'id="f-trafficking-context-recruitment-job_offer"[^>]* checked', page)
        assert "Synthetic narrative, revised after a second interview.</textarea>" in page


REASSIGN_LINK = re.compile(r'href="(/console/team/cases/([0-9a-f-]+)/reassign\?version=\d+)"')


async def reassign(supervisor, link: str, worker_id: str = OTHER_WORKER):
    """Follow a team page's reassign link and submit its form."""
    form = (await supervisor.client.get(link)).text
    action = link.split("?", 1)[0]
    return await supervisor.client.post(
        action,
        data={**hidden_fields(form, action), "worker_id": worker_id, "assigned_on": "2026-02-01"},
    )


async def test_a_supervisor_reassigns_a_team_case_from_the_team_page(browser, runtime):
    await empty_log_and_read_models(runtime.pool)
    async with browser() as worker, browser() as supervisor:
        case_id = await signed_in_case(worker)
        await project(runtime)
        await supervisor.sign_in(HARBOR_SUPERVISOR)
        team = (await supervisor.client.get("/console/team", params={"days": "0"})).text
        links = {found[2]: found[1] for found in REASSIGN_LINK.finditer(team)}
        assert set(links) == {case_id}
        moved = await reassign(supervisor, links[case_id])
        assert moved.status_code == 303, moved.text
        done = await supervisor.client.get(moved.headers["location"])
        assert f"Case {case_id} was reassigned." in done.text
        assert "Nothing here that you may see" in await case_page(worker, case_id)
        again = await reassign(supervisor, links[case_id], "worker-harbor-intake-3")
        assert again.status_code == 409  # the version the team page showed is gone
        assert "the case changed after the team page was drawn" in again.text


async def test_a_case_outside_the_supervisors_team_is_not_found(browser):
    async with browser() as elsewhere, browser() as supervisor:
        await elsewhere.sign_in(LANTERN_WORKER)
        foreign = await elsewhere.open_case("Synthetic Otherorg")
        await supervisor.sign_in(HARBOR_SUPERVISOR)
        refused = await reassign(supervisor, f"/console/team/cases/{foreign}/reassign?version=1")
        assert refused.status_code == 404
        assert "Case assigned" not in await case_page(elsewhere, foreign)
