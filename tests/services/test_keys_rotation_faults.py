"""`haven keys rotate` killed (SIGKILL) part-way, then run again: it resumes, loses nothing.

The kill point is a seeded random row: the test holds that row locked, so the rotation
commits every batch before the one holding it and then waits; it is killed while it waits.
What must hold afterwards: those batches (and the one in flight, if the server finished it)
are under the rotated KEK, the rest under the old one, no key lost or wrapped twice; a
second run creates no further version, finishes the rest, leaves an erasure made in between
erased, and every case reads.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from crypto.providers import FileKeyProvider
from events.errors import StreamErased
from tests.services.keys_support import (
    assert_all_read,
    fresh_database,
    haven_keys,
    kek_ids,
    keys_env,
    open_store,
    seed_cases,
)
from tests.services.test_database_paths import REPOSITORY
from tests.tiers import scaled, tiered

BATCH = 5


async def waiting_backend(pool: asyncpg.Pool) -> int | None:
    """The pid of a backend of this database that waits for a lock (the rotation's UPDATE)."""
    return await pool.fetchval(
        "SELECT pid FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock' LIMIT 1"
    )


@pytest.mark.fault
@pytest.mark.parametrize("seed", tiered(default=[20261207], full=[1, 2, 3, 4, 5, 20261207]))
async def test_a_rotation_killed_at_a_random_row_resumes_and_loses_nothing(
    server_url: str, tmp_path: Path, seed: int
) -> None:
    org, kek_path = f"org-kill-{seed}", tmp_path / "kek"
    rng = random.Random(seed)
    async with fresh_database(server_url) as (url, pool):
        store = open_store(pool, FileKeyProvider(kek_path))
        streams = await seed_cases(store, org, scaled(default=40, full=1_000))
        await store.close()
        ordered = sorted(streams)  # the rotation walks stream ids in order
        held = rng.randrange(BATCH, len(ordered))
        committed = held // BATCH * BATCH

        async with pool.acquire() as locker:
            hold = locker.transaction()
            await hold.start()
            await locker.execute(
                "SELECT 1 FROM haven.streams WHERE tenant_id = $1 AND stream_id = $2 FOR UPDATE",
                org,
                ordered[held],
            )
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "services.cli",
                    "keys",
                    "rotate",
                    "--org",
                    org,
                    "--batch",
                    str(BATCH),
                    "--walkers",
                    "1",  # one walk in stream-id order: the held row decides what committed
                ],
                cwd=REPOSITORY,
                env=keys_env(url, kek_path, tmp_path),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            try:
                while (orphan := await waiting_backend(pool)) is None:
                    assert process.poll() is None, process.communicate()
                process.send_signal(signal.SIGKILL)
                process.communicate(timeout=60)
            finally:
                if process.poll() is None:
                    process.kill()
            await hold.rollback()
        # The statement the killed process had sent still runs to its end on the server
        # (its batch commits, or not): wait for that backend to go before counting.
        while await pool.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", orphan):
            pass

        assert process.returncode == -signal.SIGKILL
        under = await kek_ids(pool, org)
        done = under.get("file:k2", 0)
        assert done in (committed, min(committed + BATCH, len(streams)))
        assert under == {
            k: n for k, n in {"file:k2": done, "file:k1": len(streams) - done}.items() if n
        }
        left = len(streams) - done
        if not left:
            return  # the whole rotation committed before the kill: nothing to resume
        # the attack: retiring the old KEK half-way would make `left` cases unreadable
        refused = haven_keys(url, kek_path, tmp_path, "retire", "file:k1")
        assert refused.returncode == 1
        assert f"file:k1 still wraps {left} data keys or secrets" in refused.stderr
        assert "k1" in json.loads(kek_path.read_bytes())["keys"]
        erased = await pool.fetchval(  # a case still under the old KEK
            "SELECT stream_id FROM haven.streams WHERE tenant_id = $1 AND kek_id = 'file:k1'"
            " LIMIT 1",
            org,
        )
        eraser = open_store(pool, FileKeyProvider(kek_path, create=False))
        await eraser.shred(org, erased)
        await eraser.close()

        resumed = haven_keys(url, kek_path, tmp_path, "rotate", "--org", org, "--batch", "7")

        assert resumed.returncode == 0, resumed.stderr
        assert "resuming" in resumed.stderr
        assert f"{left - 1} data keys and 0 secrets re-wrapped under file:k2" in resumed.stdout
        assert list(json.loads(kek_path.read_bytes())["keys"]) == ["k1", "k2"]  # no third
        assert await kek_ids(pool, org) == {"file:k2": len(streams) - 1}
        assert await pool.fetchval(
            "SELECT wrapped_key IS NULL FROM haven.streams WHERE stream_id = $1", erased
        )
        reader = open_store(pool, FileKeyProvider(kek_path, create=False))
        with pytest.raises(StreamErased):
            await reader.read_stream(org, erased)
        await reader.close()
        retired = haven_keys(url, kek_path, tmp_path, "retire", "file:k1")  # the control
        assert retired.returncode == 0, retired.stderr
        assert list(json.loads(kek_path.read_bytes())["keys"]) == ["k2"]
        await assert_all_read(pool, kek_path, org, streams, erased={erased})
