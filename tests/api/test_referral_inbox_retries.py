"""Answering a referral in the inbox with an `Idempotency-Key`, as case commands take it: the
answer sent again with the same key and body (a lost response) gets the first answer and the
sending case records it once; the same key with another answer is refused; a malformed key is
refused. Control: without the key, the retry is refused as answered already.

Every value is synthetic.
"""

from __future__ import annotations

import httpx

from services.bootstrap import Runtime
from tests.api.test_case_routes import assert_problem
from tests.api.test_referral_inbox import (
    PARTNER,
    World,
    day,
    only_item,
    project,
    referral_of,
    referred,
    world,
)

__all__ = ["world"]  # the fixture, shared with the inbox's other tests


async def answers_on(cases: httpx.AsyncClient, people: World, case_id: str) -> list[str]:
    """The event types the recipient organisation recorded on the sending case."""
    history = await cases.get(f"/v1/cases/{case_id}/history", headers=people.worker)
    assert history.status_code == 200, history.text
    return [e["event_type"] for e in history.json() if e["actor_id"] == f"referral-to:{PARTNER}"]


async def test_an_acceptance_sent_again_with_its_key_is_answered_once(
    cases: httpx.AsyncClient, world: World, runtime: Runtime
) -> None:
    case_id, _ = await referred(cases, world, ["contact"])
    await project(runtime, "referral_inbox")
    path = f"/v1/inbox/{(await only_item(cases, world))['item_id']}/acceptance"
    keyed = {**world.partner_worker, "Idempotency-Key": "answer-0001"}
    first = await cases.post(path, json={"accepted_on": day(0)}, headers=keyed)
    assert first.status_code == 200, first.text
    await project(runtime, "referral_inbox")
    replay = await cases.post(path, json={"accepted_on": day(0)}, headers=keyed)
    assert replay.status_code == 200, replay.text
    assert replay.content == first.content and replay.json()["status"] == "accepted"
    assert replay.headers["cache-control"] == "no-store"
    assert replay.headers["x-content-type-options"] == "nosniff"
    assert len(await answers_on(cases, world, case_id)) == 1
    assert (await referral_of(cases, world, case_id))["status"] == "accepted"
    # the same key with another answer: another day, or a decline
    assert_problem(
        await cases.post(path, json={"accepted_on": day(-1)}, headers=keyed),
        422,
        "idempotency-key-reused",
    )
    decline = {"declined_on": day(0), "reason": "no_capacity"}
    assert_problem(
        await cases.post(path.replace("acceptance", "decline"), json=decline, headers=keyed),
        422,
        "idempotency-key-reused",
    )
    malformed = {**world.partner_worker, "Idempotency-Key": "\x7f"}
    refused = assert_problem(
        await cases.post(path, json={"accepted_on": day(0)}, headers=malformed),
        422,
        "validation-error",
    )
    assert [error["pointer"] for error in refused["errors"]] == ["#/header/Idempotency-Key"]
    # control: the same retry without the key is refused as answered already
    unkeyed = await cases.post(path, json={"accepted_on": day(0)}, headers=world.partner_worker)
    assert_problem(unkeyed, 409, "referral-not-open")
    assert len(await answers_on(cases, world, case_id)) == 1
    assert (await referral_of(cases, world, case_id))["status"] == "accepted"


async def test_a_decline_sent_again_with_its_key_is_answered_once(
    cases: httpx.AsyncClient, world: World, runtime: Runtime
) -> None:
    case_id, _ = await referred(cases, world, ["identity"])
    await project(runtime, "referral_inbox")
    path = f"/v1/inbox/{(await only_item(cases, world))['item_id']}/decline"
    keyed = {**world.partner_supervisor, "Idempotency-Key": "decline-0001"}
    body = {"declined_on": day(0), "reason": "no_capacity"}
    first = await cases.post(path, json=body, headers=keyed)
    assert first.status_code == 200, first.text
    await project(runtime, "referral_inbox")
    replay = await cases.post(path, json=body, headers=keyed)
    assert replay.status_code == 200 and replay.content == first.content, replay.text
    other_reason = {**body, "reason": "not_eligible"}
    assert_problem(
        await cases.post(path, json=other_reason, headers=keyed), 422, "idempotency-key-reused"
    )
    referral = await referral_of(cases, world, case_id)
    assert (referral["status"], referral["reason"]) == ("declined", "no_capacity")
    assert len(await answers_on(cases, world, case_id)) == 1
    # control: without the key the retry is refused as answered already
    assert_problem(
        await cases.post(path, json=body, headers=world.partner_supervisor),
        409,
        "referral-not-open",
    )
