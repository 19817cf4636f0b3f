"""The demo organisations as their administrators keep them: a valid profile, every demo
person in the worker directory (so that demo assignments pick from it), and a partner of
the same deployment, whose inbox holds the demo's referral waiting for an answer."""

from __future__ import annotations

import datetime as dt

import asyncpg

from crypto.keyring import Keyring
from events.catalog import haven_registry
from events.store import PostgresEventStore
from projections.catalog import projection_factories
from projections.organisations import is_partner_in_deployment
from projections.rebuild import rebuild
from projections.referral_inbox import inbox_items
from services.demo.bulk import write_plan
from services.demo.generator import demo_plan
from services.demo.organisation_profiles import seed_organisations
from services.demo.organisations import (
    DEFAULT_ORGANISATIONS,
    demo_accounts,
    organisation_directory,
)
from services.demo.partner_referral import RELEASED, seed_partner_referral
from services.organisations.command import read_organisation
from tests.conftest import empty_log_and_read_models


async def test_the_demo_organisations_have_their_directory_and_a_partner(
    pool: asyncpg.Pool, keyring: Keyring
) -> None:
    await empty_log_and_read_models(pool)
    store = PostgresEventStore(pool, keyring, haven_registry())
    try:
        known = await seed_organisations(store, DEFAULT_ORGANISATIONS)
        harbor, lantern, _ = organisation_directory(DEFAULT_ORGANISATIONS)
        assert known == 3 * (len(harbor.teams) * len(harbor.workers[harbor.teams[0]]) + 1)
        organisation = await read_organisation(store, harbor.id)
        assert organisation.profile is not None and organisation.profile.state == "IL"
        for role, user_id, team in demo_accounts(harbor.id):
            if role in ("caseworker", "supervisor"):
                worker = organisation.active_worker(user_id)
                assert worker is not None and worker.team_id == team
        await rebuild(store, pool, projection_factories(keyring, store)["organisations"])
        assert await is_partner_in_deployment(pool, harbor.id, lantern.id)
        assert not await is_partner_in_deployment(pool, harbor.id, "org-outside")
    finally:
        await store.close()


async def test_the_demo_sends_a_referral_that_waits_in_the_partners_inbox(
    pool: asyncpg.Pool, keyring: Keyring
) -> None:
    await empty_log_and_read_models(pool)
    store = PostgresEventStore(pool, keyring, haven_registry())
    today = dt.date(2026, 9, 30)
    plan = demo_plan(seed=7, cases=6, today=today)
    try:
        await write_plan(store, plan)
        await seed_organisations(store, plan.organisations)
        referred = await seed_partner_referral(store, plan, answer_days=14)
        assert referred is not None
        harbor, lantern, meadow = DEFAULT_ORGANISATIONS
        assert (referred.sender, referred.recipient) == (meadow, harbor)
        factories = projection_factories(keyring, store)
        for name in ("organisations", "referral_inbox"):
            await rebuild(store, pool, factories[name])
        (item,) = await inbox_items(pool, harbor, today, waiting_only=True)
        assert (item.from_organisation, item.status, item.overdue) == (meadow, "sent", False)
        assert item.released_categories == list(RELEASED)
        assert item.answer_by == today + dt.timedelta(days=14)
        # control: no other organisation's inbox holds it
        for other in (lantern, meadow):
            assert await inbox_items(pool, other, today) == []
        # control: with one organisation there is no partner to refer to
        assert (
            await seed_partner_referral(store, demo_plan(cases=3, organisations=[harbor]), 14)
            is None
        )
    finally:
        await store.close()
