"""The referral inbox in the console: a referral org-harbor sent to its partner org-lantern is
listed on Lantern's inbox page, opened with only what the consent released, and accepted
there; org-harbor's worker, who knows the item's id, is refused it; the Spanish page."""

from __future__ import annotations

import datetime as dt
import re
import uuid

from msgspec.structs import replace

from domain.case import commands as cmd
from domain.case.values import Identity
from projections.catalog import projection_factories
from projections.rebuild import rebuild
from services.bootstrap import Runtime
from services.commands.inbox_delivery import InboxRouting
from services.commands.ports import Actor
from services.commands.use_cases import CaseUseCases
from tests.conftest import empty_log_and_read_models
from tests.console.support import HARBOR_PRIVACY, HARBOR_WORKER, LANTERN_WORKER, csrf_token
from tests.services.test_case_use_cases import opening

HARBOR, LANTERN = "org-harbor", "org-lantern"
TODAY = dt.datetime.now(dt.UTC).date()
ITEM = re.compile(r'href="/console/inbox/([0-9a-f-]{36})"')


async def partners(organisation_id: str, recipient: str) -> bool:
    return recipient == LANTERN


async def referred(runtime: Runtime) -> str:
    """A case of Harbor's, its identity released to Lantern, its contact not; the case id."""
    use_cases = CaseUseCases(runtime.store, inbox=InboxRouting(partners, 14))
    actor, case_id = Actor("worker-h", HARBOR), str(uuid.uuid4())
    day = TODAY - dt.timedelta(days=3)
    opened = opening(case_id, HARBOR, "worker-h")
    await use_cases.open_case(
        actor, replace(opened, identity=Identity(preferred_name="Client Inbox-Example"))
    )
    steps: list[cmd.Command] = [
        cmd.GrantConsent(
            consent_id="c-1",
            recipient_organisation=LANTERN,
            purpose="service_referral",
            data_categories=("identity",),
            starts_on=day,
            expires_on=day + dt.timedelta(days=90),
            signed_on=day,
            revocation_explained=True,
            written=True,
        ),
        cmd.ProposeReferral(
            referral_id="r-1",
            kind="external",
            category="legal_immigration",
            recipient=LANTERN,
            purpose="service_referral",
            proposed_on=day,
            consent_id="c-1",
            released_categories=("identity",),
        ),
        cmd.UpdateReferral(referral_id="r-1", status="sent", changed_on=TODAY),
    ]
    for step in steps:
        await use_cases.execute(actor, case_id, step)
    factories = projection_factories(runtime.keyring, runtime.store)
    await rebuild(runtime.store, runtime.pool, factories["referral_inbox"])
    return case_id


async def test_the_partner_opens_and_accepts_a_referral_and_no_one_else_sees_it(
    browser, runtime
) -> None:
    await empty_log_and_read_models(runtime.pool)
    case_id = await referred(runtime)
    async with browser() as lantern:
        await lantern.sign_in(LANTERN_WORKER)
        listed = await lantern.client.get("/console/inbox")
        assert listed.status_code == 200 and "Referral inbox" in listed.text
        assert "Client Inbox-Example" not in listed.text and case_id not in listed.text
        (item_id,) = ITEM.findall(listed.text)
        opened = await lantern.client.get(f"/console/inbox/{item_id}")
        assert "Client Inbox-Example" in opened.text and "Answer the referral" in opened.text
        assert "555-0142" not in opened.text  # the contact was not released

        async with browser() as harbor:  # the sender's own worker knows the item's id
            await harbor.sign_in(HARBOR_WORKER)
            assert (await harbor.client.get(f"/console/inbox/{item_id}")).status_code == 404
            home = await harbor.client.get("/console/")
            refused = await harbor.client.post(
                f"/console/inbox/{item_id}/acceptance",
                data={"csrf_token": csrf_token(home.text), "on": TODAY.isoformat()},
            )
            assert refused.status_code == 404
            assert "Client Inbox-Example" not in (await harbor.client.get("/console/inbox")).text

        async with browser() as privacy:  # the sender's accounting of the disclosure
            await privacy.sign_in(HARBOR_PRIVACY)
            log = (await privacy.client.get(f"/console/privacy/cases/{case_id}")).text
            assert "Disclosed to" in log and "org-lantern: Identity and names" in log
            assert "consent c-1" in log

        accepted = await lantern.client.post(
            f"/console/inbox/{item_id}/acceptance",
            data={"csrf_token": csrf_token(opened.text), "on": TODAY.isoformat()},
        )
        assert accepted.status_code == 303
        assert accepted.headers["location"] == f"/console/inbox/{item_id}?answer=accepted"
        shown = await lantern.client.get(accepted.headers["location"])
        assert "You accepted the referral" in shown.text
        state = await CaseUseCases(runtime.store).load(HARBOR, case_id)
        assert state.referrals["r-1"].status == "accepted"

        await lantern.client.post(
            "/console/language",
            data={"csrf_token": csrf_token(shown.text), "language": "es", "next": "/console/"},
        )
        spanish = await lantern.client.get("/console/inbox")
        assert "Bandeja de derivaciones" in spanish.text and 'lang="es"' in spanish.text
