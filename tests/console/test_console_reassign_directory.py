"""The supervisor's reassignment form picks from the organisation's worker directory: its
active workers as a list to choose from, and a worker it does not know as active refused.
Every person here is synthetic."""

from __future__ import annotations

from domain.organisation.events import Team, Worker
from services.commands.ports import Actor
from services.organisations import command
from services.organisations.command import CURRENT
from tests.conftest import empty_log_and_read_models
from tests.console.support import HARBOR_SUPERVISOR
from tests.console.test_console_case_context_forms import REASSIGN_LINK, reassign
from tests.console.test_console_case_forms import signed_in_case
from tests.console.test_console_supervisor import project

ORG, TEAM = "org-harbor", "team-harbor-intake"


async def test_the_reassign_form_offers_the_active_workers_of_the_directory(browser, runtime):
    await empty_log_and_read_models(runtime.pool)
    admin = Actor("admin-harbor", ORG)
    await command.set_team(runtime.store, admin, CURRENT, Team(team_id=TEAM, name="Intake"))
    for worker_id, name, active in (
        ("worker-harbor-intake-2", "Example Ana", True),
        ("worker-harbor-intake-3", "Example Bo", False),
    ):
        entry = Worker(worker_id=worker_id, display_name=name, team_id=TEAM, active=active)
        await command.set_worker(runtime.store, admin, CURRENT, entry)
    async with browser() as worker, browser() as supervisor:
        case_id = await signed_in_case(worker)
        await project(runtime)
        await supervisor.sign_in(HARBOR_SUPERVISOR)
        team = (await supervisor.client.get("/console/team", params={"days": "0"})).text
        link = {found[2]: found[1] for found in REASSIGN_LINK.finditer(team)}[case_id]
        form = (await supervisor.client.get(link)).text
        assert '<select id="f-worker-id" name="worker_id"' in form
        assert f'<option value="worker-harbor-intake-2">Example Ana ({TEAM})</option>' in form
        assert "worker-harbor-intake-3" not in form  # inactive: not offered
        refused = await reassign(supervisor, link, "worker-harbor-intake-3")
        assert refused.status_code == 422
        assert "Choose an active worker of your organisation." in refused.text
        moved = await reassign(supervisor, link, "worker-harbor-intake-2")
        assert moved.status_code == 303, moved.text
