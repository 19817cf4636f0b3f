"""What the key-lifecycle tests share: a database of their own, seeded cases, `haven keys`.

Each test gets a fresh database (a rotation walks every organisation's keys, and retiring a
key file's version counts references across organisations) and its own key file.
"""

from __future__ import annotations

import base64
import contextlib
import json
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg

from crypto.keyring import Keyring
from crypto.providers import FileKeyProvider, KeyProvider
from domain.event import EventMetadata
from events.store import PostgresEventStore
from services.database import prepare_database, with_database
from tests.events.sample_events import NoteAdded, sample_registry
from tests.services.test_database_paths import REPOSITORY, haven_env

NOTE = "synthetic-note-for-key-rotation"


@contextlib.asynccontextmanager
async def fresh_database(server_url: str) -> AsyncIterator[tuple[str, asyncpg.Pool]]:
    """A migrated database of the test's own, its URL and a pool on it; dropped after."""
    name = f"haven_keys_{uuid.uuid4().hex[:12]}"
    url = with_database(server_url, name)
    await prepare_database(url)
    try:
        async with asyncpg.create_pool(url, min_size=2, max_size=10) as pool:
            yield url, pool
    finally:
        admin = await asyncpg.connect(with_database(server_url, "postgres"))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


def open_store(pool: asyncpg.Pool, provider: KeyProvider) -> PostgresEventStore:
    return PostgresEventStore(pool, Keyring(provider), sample_registry())


async def seed_cases(store: PostgresEventStore, tenant: str, count: int) -> list[uuid.UUID]:
    streams = [uuid.uuid4() for _ in range(count)]
    for index, stream in enumerate(streams):
        await store.append(
            tenant, stream, 0, [NoteAdded(text=f"{NOTE}-{index}")], EventMetadata(actor_id="w-1")
        )
    return streams


async def assert_all_read(
    pool: asyncpg.Pool,
    kek_path: Path,
    tenant: str,
    streams: list[uuid.UUID],
    *,
    erased: set[uuid.UUID] | None = None,
) -> None:
    """Every case reads back, through a provider that has never seen them (cold caches)."""
    provider = FileKeyProvider(kek_path, create=False)
    store = open_store(pool, provider)
    try:
        for index, stream in enumerate(streams):
            if stream in (erased or set()):
                continue
            events = await store.read_stream(tenant, stream)
            assert events[0].event == NoteAdded(text=f"{NOTE}-{index}")
    finally:
        await store.close()


async def kek_ids(pool: asyncpg.Pool, tenant: str) -> dict[str, int]:
    rows = await pool.fetch(
        "SELECT kek_id, count(*) FROM haven.streams"
        " WHERE tenant_id = $1 AND wrapped_key IS NOT NULL GROUP BY 1",
        tenant,
    )
    return {row[0]: row[1] for row in rows}


def key_material(kek_path: Path) -> list[str]:
    """Every master key in the file, as base64 and as hex: what output must never contain."""
    document = json.loads(kek_path.read_bytes())
    keys = [base64.b64decode(value) for value in document["keys"].values()]
    return [base64.b64encode(key).decode() for key in keys] + [key.hex() for key in keys]


def haven_keys(
    url: str, kek: Path | str, tmp_path: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    """`haven keys ARGS` in a process of its own; `kek` a key file's path or a `pkcs11:` URI."""
    return subprocess.run(
        [sys.executable, "-m", "services.cli", "keys", *args],
        cwd=REPOSITORY,
        env=keys_env(url, kek, tmp_path),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def keys_env(url: str, kek: Path | str, tmp_path: Path) -> dict[str, str]:
    uri = kek if isinstance(kek, str) else f"file:{kek}"
    return haven_env(HAVEN_DATABASE_URL=url, HAVEN_KEK=uri, HAVEN_DATA_DIR=str(tmp_path))
