"""The demo organisations as their administrators keep them: a valid profile, every demo
person in the worker directory (so that demo assignments pick from it), and a partner of
the same deployment."""

from __future__ import annotations

import asyncpg

from crypto.keyring import Keyring
from events.catalog import haven_registry
from events.store import PostgresEventStore
from projections.catalog import projection_factories
from projections.organisations import is_partner_in_deployment
from projections.rebuild import rebuild
from services.demo.organisation_profiles import seed_organisations
from services.demo.organisations import (
    DEFAULT_ORGANISATIONS,
    demo_accounts,
    organisation_directory,
)
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
