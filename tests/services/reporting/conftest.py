"""Fixtures for the federal reporting job: demo data, the inputs projection, an empty ledger.

The demo generator's clock stands at `TODAY` (mid-October 2026), so the log's horizon is
2026Q4: 2026Q3 — the last quarter of federal fiscal year 2026 — is final and reportable.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator

import asyncpg
import msgspec
import pytest

from crypto.keyring import Keyring
from crypto.providers import FileKeyProvider
from domain.reporting.policy import DEFAULT_POLICY
from events.catalog import haven_registry
from events.store import PostgresEventStore
from projections.catalog import projection_factories
from projections.rebuild import rebuild
from services.demo.bulk import seed_demo_bulk
from services.reporting.job import FederalReportJob
from services.reporting.solver import HighsSolver
from services.settings import login_as
from tests.conftest import empty_log_and_read_models
from tests.services.reporting.releases import empty_ledger

TODAY = dt.date(2026, 10, 15)
CASES = 900
SOLVER = HighsSolver(time_limit=20.0)


async def reset_reporting(pool: asyncpg.Pool) -> None:
    """Other tests drop and recreate the reporting schema: re-apply the role's grants."""
    await pool.execute("SELECT reporting_ledger.grant_reporting_access()")


@pytest.fixture(scope="module")
async def demo_store(pool: asyncpg.Pool, key_file) -> AsyncIterator[PostgresEventStore]:
    async with seeded_demo(pool, key_file) as store:
        yield store


@contextlib.asynccontextmanager
async def seeded_demo(
    pool: asyncpg.Pool, key_file, cases: int = CASES, seed: int = 5
) -> AsyncIterator[PostgresEventStore]:
    """An empty log seeded with the demo data, and its reporting inputs projected."""
    await empty_log_and_read_models(pool)
    keyring = Keyring(FileKeyProvider(key_file))
    store = PostgresEventStore(pool, keyring, haven_registry())
    await seed_demo_bulk(store, cases=cases, seed=seed, today=TODAY)
    factories = projection_factories(keyring, store)
    await rebuild(store, pool, factories["federal_inputs"])
    await rebuild(
        store, pool, factories["cases"]
    )  # the case views the reporting role must not read
    yield store
    await store.close()


@pytest.fixture
async def job(
    demo_store: PostgresEventStore, pool: asyncpg.Pool, reporting_url: str
) -> FederalReportJob:
    await reset_reporting(pool)
    await empty_ledger(pool)
    return FederalReportJob(reporting_url, solver=SOLVER)


@pytest.fixture
def reporting_url(database_url: str) -> str:
    """The test database as haven_reporting (the servers the tests use trust local logins)."""
    return login_as(database_url, "haven_reporting")


@contextlib.asynccontextmanager
async def disclosure_policy(pool: asyncpg.Pool, **numbers: object) -> AsyncIterator[None]:
    """The stored disclosure policy with these numbers changed (as its owner, the test's
    superuser, would), and the default back afterwards."""
    assignments = "".join(f"{name} = ${i}, " for i, name in enumerate(numbers, 1))
    await pool.execute(f"UPDATE dp.policy SET {assignments}set_by = 'tests'", *numbers.values())
    try:
        yield
    finally:
        await pool.execute(
            "UPDATE dp.policy SET lifetime_epsilon = $1, max_epsilon_per_release = $2, "
            "requester_budget = $3, noise_floor = $4, set_by = 'default'",
            *msgspec.structs.astuple(DEFAULT_POLICY),
        )


PERMISSIVE = {
    "lifetime_epsilon": 1000,
    "max_epsilon_per_release": 1000,
    "requester_budget": 1000,
    "noise_floor": 0,
}
