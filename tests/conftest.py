"""Shared fixtures: one real PostgreSQL for the session, a fresh database per test run.

The suite runs in one worker process per core (pytest-xdist, `-n auto --dist loadfile` in the
project's pytest options: a file's tests stay together, so a module's fixtures are built once);
"session" is then each worker's, with its own server (or database) and its own databases.

`HAVEN_TEST_DATABASE_URL` set: tests use that server (the external path). Unset: they start
Haven's embedded PostgreSQL in a temporary directory, exactly as `haven serve` would, so the
suite needs nothing but Python.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import tempfile
import uuid
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from crypto.keyring import Keyring
from crypto.providers import FileKeyProvider
from events.store import PostgresEventStore
from services.database import database_server, prepare_database, with_database
from services.settings import Settings
from tests.crypto.softhsm import SoftHsmToken, create_token, find_softhsm
from tests.events.sample_events import sample_registry
from tests.services.reporting.releases import Releases
from tests.tiers import tier

warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


# The files whose tests take tens of seconds each, longest first (the federal reports'
# releases and audits, a database taken away under load, the accessibility walk of every
# page, the browser, the served and crashed processes), then the rest of the reporting tests.
LONGEST_FIRST = (
    "tests/services/reporting/test_federal_report.py",
    "tests/services/reporting/test_revision.py",
    "tests/services/reporting/test_report_bench.py",
    "tests/services/reporting/test_quarterly_scenario.py",
    "tests/services/reporting/test_revision_attack.py",
    "tests/services/reporting/test_corrections.py",
    "tests/api/test_report_routes.py",
    "tests/console/test_console_accessibility.py",
    "tests/services/reporting/test_identification_report.py",
    "tests/services/reporting/test_linked_attacks.py",
    "tests/services/test_database_outage.py",
    "tests/services/reporting/",
    "tests/services/test_bench_http.py",
    "tests/services/test_failover.py",
    "tests/projections/test_crash.py",
    "tests/projections/test_two_workers.py",
    "tests/console/test_console_browser.py",
    "tests/console/test_console_reports.py",
)


def _rank(item: pytest.Item) -> int:
    return next(
        (i for i, prefix in enumerate(LONGEST_FIRST) if item.nodeid.startswith(prefix)),
        len(LONGEST_FIRST),
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest files first, longest of all first, the order within each file kept:
    pytest-xdist hands files to its workers in this order, so the short files fill in around
    the long ones rather than one long file running alone at the end."""
    items.sort(key=_rank)


def pytest_report_header() -> str:
    return f"haven test tier: {tier()} (HAVEN_TESTS=full runs every count in full)"


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    # The embedded cluster lives in a directory of its own, not under pytest's numbered
    # base temp: pytest sessions prune each other's old numbered directories, and a cluster
    # whose files vanish under it dies at its next checkpoint (seen when suites overlapped).
    external = os.environ.get("HAVEN_TEST_DATABASE_URL")
    with tempfile.TemporaryDirectory(prefix="haven-test-cluster-") as data_dir:
        settings = Settings.from_environ(
            {
                "HAVEN_DATA_DIR": data_dir,
                **({"HAVEN_DATABASE_URL": external} if external else {}),
            }
        )
        with database_server(settings) as url:
            yield url


@pytest.fixture(scope="session")
async def database_url(server_url: str) -> AsyncIterator[str]:
    name = f"haven_test_{uuid.uuid4().hex[:12]}"
    url = with_database(server_url, name)
    await prepare_database(url)
    yield url
    admin = await asyncpg.connect(with_database(server_url, "postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="session")
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    async with asyncpg.create_pool(database_url, min_size=2, max_size=30) as created:
        yield created


@pytest.fixture
async def clean_pool(pool: asyncpg.Pool) -> asyncpg.Pool:
    """The session pool, with the event store emptied first."""
    await pool.execute("TRUNCATE haven.events, haven.streams")
    return pool


@pytest.fixture(scope="session")
def listen(database_url: str):
    """How a subscription opens its own listening connection."""
    return functools.partial(asyncpg.connect, database_url)


@pytest.fixture(scope="session")
def releases(tmp_path_factory: pytest.TempPathFactory) -> Releases:
    """Federal releases made once per run and restored for the next test that needs them, in
    this worker or another (pytest-xdist gives each worker a base directory under the run's)."""
    base = tmp_path_factory.getbasetemp()
    run = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    return Releases(run / "federal-releases")


@pytest.fixture(scope="session")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keys") / "kek"


@pytest.fixture
def keyring(key_file: Path) -> Keyring:
    return Keyring(FileKeyProvider(key_file))


@pytest.fixture
async def store(clean_pool: asyncpg.Pool, keyring: Keyring) -> AsyncIterator[PostgresEventStore]:
    created = PostgresEventStore(clean_pool, keyring, sample_registry())
    yield created
    await created.close()


async def empty_log_and_read_models(pool: asyncpg.Pool) -> None:
    """No events, no checkpoints, no view or reporting tables: what a test that seeds its own
    data and builds its read models starts from, whatever ran before it in this worker."""
    await pool.execute("""
        TRUNCATE haven.events, haven.streams, haven.projection_checkpoints,
                 haven.projection_quarantine;
        DROP SCHEMA views CASCADE; CREATE SCHEMA views;
        DROP SCHEMA reporting CASCADE; CREATE SCHEMA reporting;
        SELECT reporting_ledger.grant_reporting_access()""")


@contextlib.asynccontextmanager
async def consuming(subscription) -> AsyncIterator[list]:
    """Run a subscription in the background, collecting what it delivers; stop it after."""
    received: list = []

    async def consume() -> None:
        async for recorded in subscription:
            received.append(recorded)

    task = asyncio.create_task(consume())
    try:
        yield received
    finally:
        await subscription.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def eventually(predicate, *, attempts: int = 200, delay: float = 0.05) -> None:
    """Wait for a condition without a wall-clock assertion: fail after many tries."""
    for _ in range(attempts):
        if await predicate():
            return
        await asyncio.sleep(delay)
    raise AssertionError("condition never became true")


@pytest.fixture(scope="session")
def softhsm_token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHsmToken]:
    """One SoftHSM2 token per test session (the module reads its config once per process)."""
    found = find_softhsm()
    if found is None:
        pytest.skip("SoftHSM2 is not installed (Debian package softhsm2); HSM tests need it")
    module_path, util = found
    token = create_token(tmp_path_factory.mktemp("softhsm"), module_path, util)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOFTHSM2_CONF", str(token.conf_path))
        yield token
