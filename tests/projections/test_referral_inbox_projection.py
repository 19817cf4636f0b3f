"""The `referral_inbox` projection: its rows equal what the sending cases say of their
referrals to partners' inboxes, built live or by a rebuild. Synthetic."""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import uuid

from domain.case import commands as cmd
from domain.case.errors import DomainError
from domain.case.state import CaseState
from domain.inbox.release import item_id
from events.store import PostgresEventStore
from projections.rebuild import rebuild
from projections.referral_inbox import INBOX
from services.commands.inbox_delivery import InboxRouting
from services.commands.ports import Actor
from services.commands.use_cases import CaseUseCases
from tests.projections.live_support import live_runner, projected_to_head
from tests.services.test_case_use_cases import INTAKE_ON, NOW, opening

SENDERS, PARTNERS = ["org-a", "org-b"], ["org-p", "org-q"]


async def partner(organisation_id: str, recipient: str) -> bool:
    return recipient in PARTNERS


def on(offset: int) -> dt.date:
    return INTAKE_ON + dt.timedelta(days=offset)


async def seed(store: PostgresEventStore, seed_value: int, cases: int) -> list[tuple[str, str]]:
    """Cases each sending one referral to a partner (or, sometimes, outside Haven), answered,
    revoked, expired or left waiting at random; (organisation, case id) of each."""
    rng = random.Random(seed_value)
    use_cases = CaseUseCases(store, clock=lambda: NOW, inbox=InboxRouting(partner, 14))
    seeded = []
    for _ in range(cases):
        org, case_id = rng.choice(SENDERS), str(uuid.uuid4())
        recipient = rng.choice([*PARTNERS, "org-outside"])
        actor = Actor("worker-1", org)
        await use_cases.open_case(actor, opening(case_id, org, "worker-1"))
        await use_cases.record_consent(
            actor,
            case_id,
            cmd.GrantConsent(
                consent_id="c-1",
                recipient_organisation=recipient,
                purpose="service_referral",
                data_categories=("identity", "contact"),
                starts_on=on(1),
                expires_on=on(200),
                signed_on=on(1),
                revocation_explained=True,
                written=True,
            ),
        )
        await use_cases.refer(
            actor,
            case_id,
            cmd.ProposeReferral(
                referral_id="r-1",
                kind="external",
                category="legal_immigration",
                recipient=recipient,
                purpose="service_referral",
                proposed_on=on(2),
                consent_id="c-1",
                released_categories=tuple(rng.sample(["identity", "contact"], rng.randint(1, 2))),
            ),
        )
        send = cmd.UpdateReferral(referral_id="r-1", status="sent", changed_on=on(3))
        await use_cases.update_referral(actor, case_id, send)
        ending = rng.choice(["accept", "decline", "revoke", "expire", "wait"])
        with contextlib.suppress(DomainError):  # outside Haven: no inbox answers
            if ending in ("accept", "decline"):
                answer = cmd.AnswerReferral(
                    referral_id="r-1",
                    status="accepted" if ending == "accept" else "declined",
                    answered_on=on(5),
                    reason="not_eligible" if ending == "decline" else None,
                )
                await use_cases.answer_referral(Actor("worker-p", recipient), org, case_id, answer)
            elif ending == "revoke":
                revoke = cmd.UpdateReferral(
                    referral_id="r-1", status="revoked", changed_on=on(6), reason="client_request"
                )
                await use_cases.update_referral(actor, case_id, revoke)
            elif ending == "expire":
                expire = cmd.ExpireReferral(referral_id="r-1", expired_on=on(18))
                await use_cases.execute(Actor("system:referral-expiry", org), case_id, expire)
        seeded.append((org, case_id))
    return seeded


async def expected_rows(store: PostgresEventStore, seeded: list[tuple[str, str]]) -> set[tuple]:
    rows = set()
    use_cases = CaseUseCases(store)
    for org, case_id in seeded:
        state: CaseState = await use_cases.load(org, case_id)
        referral = state.referrals["r-1"]
        if referral.answer_by is None:
            continue  # outside Haven: no inbox item
        p = referral.proposed
        rows.add(
            (p.recipient, uuid.UUID(item_id(org, case_id, "r-1")), org, uuid.UUID(case_id),
             "r-1", p.category, p.purpose, tuple(p.released_categories), on(3),
             referral.answer_by, referral.status, referral.last_changed_on, referral.reason)
        )  # fmt: skip
    return rows


async def projected_rows(store: PostgresEventStore) -> set[tuple]:
    return {
        (*row[:7], tuple(row[7]), *row[8:])
        for row in await store.pool.fetch(f"SELECT * FROM {INBOX}")
    }


async def test_a_rebuild_equals_the_live_projection_and_the_sending_cases(
    case_store, factories, listen
) -> None:
    seeded = await seed(case_store, 1, 4)
    await rebuild(case_store, case_store.pool, factories["referral_inbox"])
    async with live_runner(case_store, listen, factories["referral_inbox"]):
        seeded += await seed(case_store, 2, 10)
        assert await projected_to_head(case_store, "referral_inbox")
        live = await projected_rows(case_store)
    assert live == await expected_rows(case_store, seeded)
    assert len({row[10] for row in live}) >= 3  # several statuses, not one
    await rebuild(case_store, case_store.pool, factories["referral_inbox"])
    assert await projected_rows(case_store) == live
