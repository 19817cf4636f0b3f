"""The referral inbox: a referral to a partner organisation of this deployment lands in its
inbox with only what the consent released; it accepts or declines there and the sending case
shows the answer; unanswered, it expires by rule. A referral to an organisation outside Haven
is sent as before.

Attacks, each with its control: another organisation (not the recipient) lists, reads or
answers the item; the recipient reads a category the consent did not release (the canary in
the client's name and narrative); the sender types in the recipient's answer by hand.

Every value is synthetic.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest

from events.store import utc_now
from projections.catalog import projection_factories
from projections.rebuild import rebuild
from services.bootstrap import Runtime
from services.identity import LocalIssuer
from services.inbox.expiry import EXPIRY_ACTOR, expire_overdue
from tests.api.conftest import ORG, OTHER_ORG, TEAM
from tests.api.test_case_routes import CANARY, assert_problem, open_case
from tests.conftest import empty_log_and_read_models

PARTNER, OUTSIDE = "org-river-legal", "org-outside-haven"
TODAY = utc_now().date()


def day(offset: int) -> str:
    return (TODAY + dt.timedelta(days=offset)).isoformat()


class World:
    def __init__(self, issuer: LocalIssuer) -> None:
        def mint(user: str, roles: list[str], org: str, team: str | None = TEAM) -> dict[str, str]:
            return {"Authorization": f"Bearer {issuer.mint(user, org, roles, team=team)}"}

        self.worker = mint("worker-1", ["caseworker"], ORG)
        self.admin = mint("admin-1", ["admin"], ORG)
        self.privacy = mint("privacy-1", ["privacy_officer"], ORG, None)
        self.partner_admin = mint("admin-p", ["admin"], PARTNER)
        self.partner_worker = mint("worker-p", ["caseworker"], PARTNER, "team-intake")
        self.partner_supervisor = mint("supervisor-p", ["supervisor"], PARTNER, "team-other")
        self.partner_privacy = mint("privacy-p", ["privacy_officer"], PARTNER, None)
        self.partner_reporter = mint("reporter-p", ["reporter"], PARTNER)
        self.other_admin = mint("admin-c", ["admin"], OTHER_ORG)
        self.other_worker = mint("worker-c", ["caseworker"], OTHER_ORG)
        self.other_supervisor = mint("supervisor-c", ["supervisor"], OTHER_ORG)


async def organisation(
    cases: httpx.AsyncClient, admin: dict[str, str], name: str, partners: list[str]
) -> None:
    """A profile (the organisation uses this deployment), and its partners."""
    version = 0
    steps: list[tuple[str, str, dict[str, Any]]] = [
        ("PUT", "/v1/organisation/profile", {"display_name": name})
    ]
    steps += [
        (
            "POST",
            "/v1/organisation/partners",
            {"partner_id": p, "display_name": f"Partner {p}", "direction": "both"},
        )
        for p in partners
    ]
    for method, path, body in steps:
        response = await cases.request(
            method, path, json=body, headers={**admin, "If-Match": f'"{version}"'}
        )
        assert response.status_code == 200, response.text
        version = response.json()["version"]


async def project(runtime: Runtime, *names: str) -> None:
    factories = projection_factories(runtime.keyring, runtime.store)
    for name in names:
        await rebuild(runtime.store, runtime.pool, factories[name])


@pytest.fixture
async def world(cases: httpx.AsyncClient, issuer: LocalIssuer, runtime: Runtime) -> World:
    await empty_log_and_read_models(runtime.pool)  # these tests rebuild from the whole log
    people = World(issuer)
    await organisation(cases, people.admin, "Harbor", [PARTNER, OUTSIDE])
    await organisation(cases, people.partner_admin, "River Legal", [ORG])
    await organisation(cases, people.other_admin, "Lantern", [ORG])
    await project(runtime, "organisations")
    return people


async def referred(
    cases: httpx.AsyncClient,
    people: World,
    released: list[str],
    *,
    recipient: str = PARTNER,
    sent: int = -1,
) -> tuple[str, str]:
    """A case with an external referral to `recipient` releasing `released`, sent `sent` days
    from today; (case id, referral id)."""
    case_id = await open_case(cases, people.worker)
    steps = [
        (
            "consents",
            {
                "consent_id": "consent-1",
                "recipient_organisation": recipient,
                "purpose": "service_referral",
                "data_categories": ["identity", "contact", "trafficking"],
                "starts_on": day(sent - 2),
                "expires_on": day(120),
                "signed_on": day(sent - 2),
                "signed_by": "client",
                "revocation_explained": True,
                "written": True,
            },
        ),
        (
            "referrals",
            {
                "referral_id": "referral-1",
                "kind": "external",
                "category": "legal_immigration",
                "recipient": recipient,
                "purpose": "service_referral",
                "proposed_on": day(sent - 1),
                "consent_id": "consent-1",
                "released_categories": released,
            },
        ),
        ("referrals/referral-1/status", {"status": "sent", "changed_on": day(sent)}),
    ]
    version = 1
    for path, body in steps:
        headers = {**people.worker, "If-Match": f'"{version}"'}
        if path.endswith("status"):  # the send, its inbox item and its disclosure: one unit
            headers["Idempotency-Key"] = f"send-{case_id}"
        response = await cases.post(f"/v1/cases/{case_id}/{path}", json=body, headers=headers)
        assert response.status_code == 200, response.text
        version = response.json()["version"]
    return case_id, "referral-1"


async def referral_of(cases: httpx.AsyncClient, people: World, case_id: str) -> dict[str, Any]:
    view = await cases.get(f"/v1/cases/{case_id}", headers=people.worker)
    assert view.status_code == 200, view.text
    (referral,) = view.json()["referrals"]
    return referral  # type: ignore[no-any-return]


async def only_item(cases: httpx.AsyncClient, people: World) -> dict[str, Any]:
    listed = await cases.get("/v1/inbox", headers=people.partner_worker)
    assert listed.status_code == 200, listed.text
    (item,) = listed.json()["items"]
    return item  # type: ignore[no-any-return]


async def test_a_referral_lands_in_the_partners_inbox_and_the_sender_sees_its_decline(
    cases: httpx.AsyncClient, world: World, runtime: Runtime
) -> None:
    case_id, _ = await referred(cases, world, ["contact"])
    await project(runtime, "referral_inbox")
    item = await only_item(cases, world)
    assert (item["from_organisation"], item["status"], item["overdue"]) == (ORG, "sent", False)
    assert item["released_categories"] == ["contact"]
    assert item["answer_by"] == day(-1 + 14)  # the default answer period
    listed = await cases.get("/v1/inbox", headers=world.partner_supervisor)
    assert CANARY not in listed.text and case_id not in listed.text  # ids and codes only
    opened = await cases.get(f"/v1/inbox/{item['item_id']}", headers=world.partner_worker)
    assert opened.status_code == 200, opened.text
    assert opened.headers["cache-control"] == "no-store"
    released = opened.json()["released"]
    assert released["contact"]["channels"][0]["detail"] == "555-0100"
    # attack: a category the consent did not release (the canary is the name and narrative)
    assert released["identity"] is None and released["trafficking"] is None
    assert CANARY not in opened.text and case_id not in opened.text
    # the read is in the recipient's own access log, the release in the sender's
    review = await cases.get(
        "/v1/access-log", headers=world.partner_privacy, params={"case_id": item["item_id"]}
    )
    (read,) = review.json()["records"]
    assert (read["actor_id"], read["part"], read["basis"]) == ("worker-p", "referral", "inbox")
    sender_log = await cases.get(f"/v1/cases/{case_id}/access-log", headers=world.privacy)
    (disclosure,) = [r for r in sender_log.json()["records"] if r["basis"] == "disclosure"]
    assert (disclosure["recipient"], disclosure["categories"]) == (PARTNER, ["contact"])
    # the recipient answers; the sending case shows it
    declined = await cases.post(
        f"/v1/inbox/{item['item_id']}/decline",
        json={"declined_on": day(0), "reason": "no_capacity"},
        headers=world.partner_supervisor,
    )
    assert declined.status_code == 200, declined.text
    assert declined.json() == {"item_id": item["item_id"], "status": "declined"}
    referral = await referral_of(cases, world, case_id)
    assert (referral["status"], referral["reason"]) == ("declined", "no_capacity")
    history = (await cases.get(f"/v1/cases/{case_id}/history", headers=world.worker)).json()
    assert history[-1]["actor_id"] == f"referral-to:{PARTNER}"  # not one of its staff
    await project(runtime, "referral_inbox")
    assert (await only_item(cases, world))["status"] == "declined"
    reread = await cases.get(f"/v1/inbox/{item['item_id']}", headers=world.partner_worker)
    assert reread.json()["released"] is None  # no longer the recipient's to work on
    again = await cases.post(
        f"/v1/inbox/{item['item_id']}/acceptance",
        json={"accepted_on": day(0)},
        headers=world.partner_worker,
    )
    assert_problem(again, 409, "referral-not-open")


async def test_attack_another_organisation_cannot_list_read_or_answer_the_item(
    cases: httpx.AsyncClient, world: World, runtime: Runtime
) -> None:
    case_id, _ = await referred(cases, world, ["identity"])
    await project(runtime, "referral_inbox")
    item = await only_item(cases, world)
    path = f"/v1/inbox/{item['item_id']}"
    listed = await cases.get("/v1/inbox", headers=world.other_worker)
    assert listed.status_code == 200 and listed.json() == {"items": []}
    for who in (world.other_worker, world.other_supervisor):
        assert_problem(await cases.get(path, headers=who), 404, "not-found")
        answered = await cases.post(f"{path}/acceptance", json={"accepted_on": day(0)}, headers=who)
        assert_problem(answered, 404, "not-found")
    # the recipient's roles without the inbox: forbidden, whatever the id
    for who in (world.partner_privacy, world.partner_reporter):
        assert_problem(await cases.get(path, headers=who), 403, "forbidden")
        assert_problem(await cases.get("/v1/inbox", headers=who), 403, "forbidden")
    # the sender's case still waits: nothing was answered
    assert (await referral_of(cases, world, case_id))["status"] == "sent"
    # control: the recipient reads the released identity, and accepts
    opened = await cases.get(path, headers=world.partner_worker)
    assert opened.json()["released"]["identity"]["preferred_name"] == f"Client {CANARY}"
    accepted = await cases.post(
        f"{path}/acceptance", json={"accepted_on": day(0)}, headers=world.partner_worker
    )
    assert accepted.status_code == 200, accepted.text
    assert (await referral_of(cases, world, case_id))["status"] == "accepted"


async def test_an_unanswered_referral_expires_by_rule_not_by_hand(
    cases: httpx.AsyncClient, world: World, runtime: Runtime
) -> None:
    case_id, referral_id = await referred(cases, world, ["contact"], sent=-20)
    status_path = f"/v1/cases/{case_id}/referrals/{referral_id}/status"
    by_hand = await cases.post(
        status_path,
        json={"status": "expired", "changed_on": day(0)},
        headers={**world.worker, "If-Match": '"4"'},
    )
    assert_problem(by_hand, 409, "answered-by-recipient")
    await project(runtime, "referral_inbox")
    item = await only_item(cases, world)
    assert item["overdue"] is True and item["answer_by"] == day(-20 + 14)
    late = await cases.post(
        f"/v1/inbox/{item['item_id']}/acceptance",
        json={"accepted_on": day(0)},
        headers=world.partner_worker,
    )
    assert_problem(late, 409, "referral-overdue")
    opened = await cases.get(f"/v1/inbox/{item['item_id']}", headers=world.partner_worker)
    assert opened.json()["released"] is None
    assert await expire_overdue(runtime, TODAY) == 1
    referral = await referral_of(cases, world, case_id)
    assert referral["status"] == "expired" and referral["history"][-1] == ["expired", day(-5)]
    history = (await cases.get(f"/v1/cases/{case_id}/history", headers=world.worker)).json()
    assert history[-1]["actor_id"] == EXPIRY_ACTOR
    await project(runtime, "referral_inbox")
    assert (await only_item(cases, world))["status"] == "expired"
    assert await expire_overdue(runtime, TODAY) == 0  # once


async def test_a_referral_outside_haven_is_sent_and_answered_as_before(
    cases: httpx.AsyncClient, world: World, runtime: Runtime
) -> None:
    case_id, referral_id = await referred(cases, world, ["contact"], recipient=OUTSIDE)
    await project(runtime, "referral_inbox")
    for who in (world.partner_worker, world.other_worker):
        assert (await cases.get("/v1/inbox", headers=who)).json() == {"items": []}
    assert (await referral_of(cases, world, case_id))["answer_by"] is None
    accepted = await cases.post(
        f"/v1/cases/{case_id}/referrals/{referral_id}/status",
        json={"status": "accepted", "changed_on": day(0)},
        headers={**world.worker, "If-Match": '"4"'},
    )
    assert accepted.status_code == 200, accepted.text
    # still a disclosure: the data left the organisation
    log = await cases.get(f"/v1/cases/{case_id}/access-log", headers=world.privacy)
    released = [r for r in log.json()["records"] if r["basis"] == "disclosure"]
    assert [r["recipient"] for r in released] == [OUTSIDE]
