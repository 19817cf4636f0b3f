"""What every bench smoke test checks last: the throw-away database it announced is gone."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from services.database import with_database


async def assert_scratch_database_dropped(database_url: str, notes: Sequence[str]) -> None:
    created = next(note.split()[-1] for note in notes if "creating database " in note)
    admin = await asyncpg.connect(with_database(database_url, "postgres"))
    try:
        assert not await admin.fetchval(
            "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", created
        )
    finally:
        await admin.close()
