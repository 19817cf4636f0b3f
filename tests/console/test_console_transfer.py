"""The case page's transfer form over HTTP (`services.console.transfer_form`): the receiving
organisation is chosen first among the organisation's partners, then the receiving worker
among that partner's active workers, the team following the worker. A partner without a
worker directory takes typed ids, as the API does. Attack: name an organisation that is no
partner of this deployment, or a worker the partner does not list, by editing the form.
Every organisation and person here is synthetic."""

from __future__ import annotations

import re
import uuid

import httpx

from domain.organisation.events import Partner, Profile, Team, Worker
from services.bootstrap import Runtime
from services.commands.ports import Actor
from services.organisations import command
from services.organisations.command import CURRENT
from tests.conftest import empty_log_and_read_models
from tests.console.support import ConsoleUser, hidden_fields
from tests.console.test_console_case_forms import (
    CONSENT,
    case_page,
    signed_in_case,
    submit,
    timeline,
)

HARBOR = "org-harbor"  # the demo case worker's organisation
PARTNER, OTHER = "org-example-partner", "org-example-other"  # in this deployment
OUTSIDE, STRANGER = "org-example-outside", "org-example-stranger"  # no profile; no partner
TEAM = "team-partner-east"
ANA = Worker(worker_id="worker-partner-ana", display_name="Example Ana", team_id=TEAM)
BO = Worker(worker_id="worker-partner-bo", display_name="Example Bo", team_id=TEAM, active=False)
OPTION = re.compile(r'<option value="([^"]+)"[^>]*>([^<]+)</option>')


async def organisations(runtime: Runtime) -> None:
    """Harbor's partners: one with a worker directory, one without, one outside Haven."""

    async def record(org: str, *entries: object) -> None:
        admin = Actor(f"admin-{org}", org)
        setters = {Profile: command.set_profile, Team: command.set_team,
                   Partner: command.set_partner, Worker: command.set_worker}  # fmt: skip
        for entry in entries:
            await setters[type(entry)](runtime.store, admin, CURRENT, entry)

    def partner(org: str, name: str) -> Partner:
        return Partner(partner_id=org, display_name=name, direction="both")

    await record(HARBOR, partner(PARTNER, "Example Partner"), partner(OTHER, "Example Other"),
                 partner(OUTSIDE, "Example Outside"))  # fmt: skip
    await record(PARTNER, Profile(display_name="Example Partner"), Team(team_id=TEAM, name="East"),
                 ANA, BO)  # fmt: skip
    await record(OTHER, Profile(display_name="Example Other"))
    stranger = Worker(worker_id="worker-stranger", display_name="Example Cy", team_id="default")
    await record(STRANGER, Profile(display_name="Example Stranger"), stranger)


def options(page: str, select_id: str) -> list[tuple[str, str]]:
    start = page.index(f'<select id="{select_id}"')
    return OPTION.findall(page[start : page.index("</select>", start)])


async def step_two(user: ConsoleUser, case_id: str, partner: str) -> str:
    answer = await user.client.get(f"/console/cases/{case_id}", params={"transfer_to": partner})
    assert answer.status_code == 200, answer.text
    return answer.text


async def ask(user: ConsoleUser, case_id: str, page: str, **fields: str) -> httpx.Response:
    action = f"/console/cases/{case_id}/transfer"
    hidden = hidden_fields(page, f"{action}#form-transfer")
    return await user.client.post(action, data={**hidden, **fields})


async def case_with_consent(user: ConsoleUser, runtime: Runtime) -> tuple[str, str]:
    await empty_log_and_read_models(runtime.pool)
    await organisations(runtime)
    case_id = await signed_in_case(user)
    assert (await submit(user, case_id, "consent", **CONSENT)).status_code == 303
    page = await case_page(user, case_id)
    consent_id = re.search(r'<option value="(consent-[0-9a-f]+)"', page).group(1)
    return case_id, consent_id


async def test_the_receiving_worker_is_chosen_from_the_partners_active_workers(browser, runtime):
    async with browser() as user:
        case_id, consent_id = await case_with_consent(user, runtime)
        first = await case_page(user, case_id)
        assert options(first, "f-transfer-recipient-organisation") == [
            (OTHER, "Example Other"), (OUTSIDE, "Example Outside"), (PARTNER, "Example Partner"),
        ]  # fmt: skip
        assert 'name="receiving_worker_id"' not in first  # the worker comes with its partner
        page = await step_two(user, case_id, PARTNER)
        assert options(page, "f-transfer-receiving-worker-id") == [
            (ANA.worker_id, "Example Ana (East)")
        ]  # the inactive worker is not offered
        assert 'name="receiving_team_id"' not in page  # the team is the worker's
        hidden = hidden_fields(page, f"/console/cases/{case_id}/transfer#form-transfer")
        assert hidden["recipient_organisation"] == PARTNER
        fields = {"consent_id": consent_id, "requested_on": "2026-02-01"}
        asked = await ask(user, case_id, page, receiving_worker_id=ANA.worker_id, **fields)
        assert asked.status_code == 303, asked.text
        shown = await case_page(user, case_id)
        assert timeline(shown)[-1] == "Transfer requested"
        assert (
            f"Of {PARTNER} on 2026-02-01, to worker {ANA.worker_id} (team {TEAM}), "
            "awaiting its answer" in shown
        )


async def test_attack_a_form_edited_to_name_no_partner_or_an_unlisted_worker(browser, runtime):
    """The organisation and the worker are checked again when the form is sent: an
    organisation outside Haven, one that is no partner, an inactive worker or another
    organisation's are refused and nothing is recorded. Control: the listed worker is."""
    async with browser() as user:
        case_id, consent_id = await case_with_consent(user, runtime)
        for probed in (OUTSIDE, STRANGER, "org-example-nobody"):
            page = await step_two(user, case_id, probed)
            assert "Choose one of your organisation&#39;s partner organisations" in page
            assert 'name="receiving_worker_id"' not in page and "Example Cy" not in page
        page = await step_two(user, case_id, PARTNER)
        fields = {"consent_id": consent_id, "requested_on": "2026-02-01"}
        for org, worker in ((STRANGER, "worker-stranger"), (OUTSIDE, ANA.worker_id)):
            edited = await ask(user, case_id, page, recipient_organisation=org,
                               receiving_worker_id=worker, **fields)  # fmt: skip
            assert edited.status_code == 422
            assert 'id="f-transfer-recipient-organisation-error" role="alert"' in edited.text
        for worker in (BO.worker_id, "worker-stranger", ""):
            unlisted = await ask(user, case_id, page, receiving_worker_id=worker, **fields)
            assert unlisted.status_code == 422
            assert "Choose an active worker of the receiving organisation." in unlisted.text
            assert 'aria-invalid="true"' in unlisted.text.split('id="form-transfer"', 1)[1]
        assert "Transfer requested" not in timeline(await case_page(user, case_id))
        assert (await ask(user, case_id, page, receiving_worker_id=ANA.worker_id,
                          **fields)).status_code == 303  # fmt: skip


async def test_a_partner_without_a_directory_takes_typed_ids_and_the_consent_rules(
    browser, runtime
):
    """The consent names the other partner: the domain refuses, above the form."""
    async with browser() as user:
        case_id, consent_id = await case_with_consent(user, runtime)
        page = await step_two(user, case_id, OTHER)
        assert '<input id="f-transfer-receiving-worker-id"' in page
        assert '<input id="f-transfer-receiving-team-id"' in page
        typed = {
            "consent_id": consent_id,
            "requested_on": "2026-02-01",
            "receiving_worker_id": "worker-other-1",
            "receiving_team_id": "team-other",
        }
        refused = await ask(user, case_id, page, **typed)
        assert refused.status_code == 422
        assert "Not recorded: the consent names another recipient or purpose" in refused.text
        assert "Transfer requested" not in timeline(await case_page(user, case_id))


async def test_another_organisations_worker_learns_nothing_of_the_partners(browser, runtime):
    """A case worker of another organisation signs in and probes the form: no case of
    theirs, so 404; Harbor's own worker is offered partners (the control)."""
    async with browser() as user:
        case_id, _ = await case_with_consent(user, runtime)
        page = await case_page(user, case_id)
        assert options(page, "f-transfer-recipient-organisation")  # control
    async with browser() as other:
        await other.sign_in("2")  # Lantern's case worker
        answer = await other.client.get(
            f"/console/cases/{case_id}", params={"transfer_to": PARTNER}
        )
        assert answer.status_code == 404 and "Example Ana" not in answer.text
        missing = await other.client.get(
            f"/console/cases/{uuid.uuid4()}", params={"transfer_to": PARTNER}
        )
        assert missing.status_code == 404 and "Example Ana" not in missing.text
