"""Fixtures for the projection tests: an empty log, no checkpoints, no view tables."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from crypto.keyring import Keyring
from events.catalog import haven_registry
from events.store import PostgresEventStore
from projections.catalog import projection_factories
from projections.partitioned import Partitioning
from tests.conftest import empty_log_and_read_models


@pytest.fixture
async def empty_log(pool: asyncpg.Pool) -> asyncpg.Pool:
    await empty_log_and_read_models(pool)
    return pool


@pytest.fixture
async def case_store(
    empty_log: asyncpg.Pool, keyring: Keyring
) -> AsyncIterator[PostgresEventStore]:
    store = PostgresEventStore(empty_log, keyring, haven_registry())
    yield store
    await store.close()


@pytest.fixture
def factories(keyring: Keyring, case_store: PostgresEventStore):
    return projection_factories(keyring, case_store)


@pytest.fixture
def partitioning(database_url: str, key_file: Path) -> Partitioning:
    # split whatever the log's size: these tests' logs are far below `MIN_EVENTS`
    return Partitioning(database_url, f"file:{key_file}", workers=3, min_events=0)
