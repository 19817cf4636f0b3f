"""Attack: rewrite history with the database's own powers. A superuser (or the tables' owner)
deletes a stream's newest events and resets its head to match, deletes a whole stream, or
rolls a stream back and writes another event in its place. The hash chains still verify —
`haven verify` alone cannot tell (the controls below show it) — but a checkpoint signed
before, with a key outside the database, catches each one. Growth and erasure after the
checkpoint are not findings; an edited or re-signed checkpoint is refused.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import asyncpg
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from crypto.keyring import Keyring
from crypto.signing import open_signing_key, public_bytes
from domain.case import events as ev
from events.catalog import haven_registry
from events.checkpoint import CheckpointError, check_against, take_checkpoint
from events.store import EventMetadata, PostgresEventStore
from events.verify import verify_store
from tests.conftest import empty_log_and_read_models
from tests.domain.builders import opened_event
from tests.projections.fault_support import HavenWorker, worker_environment
from tests.projections.test_cli import haven

ORG = "org-history"


@pytest.fixture
async def store(pool: asyncpg.Pool, keyring: Keyring):  # noqa: ANN201
    await empty_log_and_read_models(pool)
    store = PostgresEventStore(pool, keyring, haven_registry())
    yield store
    await store.close()


@pytest.fixture
def key(tmp_path: Path) -> ed25519.Ed25519PrivateKey:
    return open_signing_key(tmp_path / "checkpoint-signing-key.pem", "checkpoint signing key")


async def _cases(store: PostgresEventStore, count: int, events: int = 3) -> list[uuid.UUID]:
    cases = []
    for _ in range(count):
        case = uuid.uuid4()
        opened = opened_event(case_id=str(case), organisation_id=ORG)
        later = [
            ev.CaseAssigned(
                worker_id=f"worker-{i}", team_id="team-a", assigned_on=opened.intake.intake_on
            )
            for i in range(events - 1)
        ]
        await store.append(
            ORG, case, 0, [opened, *later], EventMetadata(actor_id="synthetic-worker")
        )
        cases.append(case)
    return cases


async def _truncate(pool: asyncpg.Pool, case: uuid.UUID) -> None:
    """The superuser's rewrite: drop the newest event and point the head at the one before."""
    async with pool.acquire() as conn, conn.transaction():
        version = await conn.fetchval(
            "SELECT version FROM haven.streams WHERE stream_id = $1", case
        )
        await conn.execute(
            "DELETE FROM haven.events WHERE stream_id = $1 AND version = $2", case, version
        )
        await conn.execute(
            """UPDATE haven.streams SET version = $2, head_hash =
                   (SELECT chain_hash FROM haven.events WHERE stream_id = $1 AND version = $2)
                WHERE stream_id = $1""",
            case,
            version - 1,
        )


async def _delete_stream(pool: asyncpg.Pool, case: uuid.UUID) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("DELETE FROM haven.events WHERE stream_id = $1", case)
        await conn.execute("DELETE FROM haven.streams WHERE stream_id = $1", case)


async def test_truncation_deletion_and_rollback_escape_verify_but_not_a_checkpoint(
    store: PostgresEventStore, keyring: Keyring, key: ed25519.Ed25519PrivateKey
) -> None:
    pool = store.pool
    truncated, deleted, rewritten, untouched = await _cases(store, 4)
    checkpoint = await take_checkpoint(pool, key)
    assert checkpoint["streams"] == 4 and checkpoint["events"] == 12
    await _truncate(pool, truncated)
    await _delete_stream(pool, deleted)
    await _truncate(pool, rewritten)  # rolled back, then another event written in its place
    await store.append(
        ORG,
        rewritten,
        2,
        [
            ev.CaseAssigned(
                worker_id="worker-x", team_id="team-b", assigned_on=opened_event().intake.intake_on
            )
        ],
        EventMetadata(actor_id="synthetic-worker"),
    )
    assert (await verify_store(pool, keyring)).ok  # control: the chains alone cannot tell
    found = await check_against(pool, checkpoint, public_bytes(key))
    assert {(d.stream_id, d.problem) for d in found if d.stream_id} == {
        (str(truncated), "stream truncated below its checkpointed head"),
        (str(deleted), "stream deleted since the checkpoint"),
        (str(rewritten), "event at the checkpointed head rewritten"),
    }
    assert any("fewer events" in d.problem for d in found) and any(
        "fewer streams" in d.problem for d in found
    )
    assert str(untouched) not in {d.stream_id for d in found}


async def test_growth_and_erasure_after_a_checkpoint_are_not_findings(
    store: PostgresEventStore, key: ed25519.Ed25519PrivateKey
) -> None:
    pool = store.pool
    grown, erased = await _cases(store, 2)
    checkpoint = await take_checkpoint(pool, key)
    await store.append(
        ORG,
        grown,
        3,
        [
            ev.CaseAssigned(
                worker_id="worker-9", team_id="team-a", assigned_on=opened_event().intake.intake_on
            )
        ],
        EventMetadata(actor_id="synthetic-worker"),
    )
    await _cases(store, 1)
    await store.shred(ORG, erased)
    assert await check_against(pool, checkpoint, public_bytes(key)) == []


async def test_an_edited_or_re_signed_checkpoint_is_refused(
    store: PostgresEventStore, key: ed25519.Ed25519PrivateKey
) -> None:
    pool = store.pool
    hidden, _ = await _cases(store, 2)
    checkpoint = await take_checkpoint(pool, key)
    await _delete_stream(pool, hidden)
    # the attacker removes the deleted stream from the file ...
    edited = {
        **checkpoint,
        "heads": [h for h in checkpoint["heads"] if h[1] != str(hidden)],
        "streams": 1,
    }
    with pytest.raises(CheckpointError, match="signature|root"):
        await check_against(pool, edited, public_bytes(key))
    # ... or takes a fresh checkpoint of the rewritten log with a key of their own
    forged = await take_checkpoint(pool, ed25519.Ed25519PrivateKey.generate())
    with pytest.raises(CheckpointError, match="another key"):
        await check_against(pool, forged, public_bytes(key))
    assert await check_against(
        pool, checkpoint, public_bytes(key)
    )  # control: the real one finds it


async def test_the_commands_and_the_worker_write_and_check_checkpoints(
    store: PostgresEventStore, database_url: str, key_file: Path, tmp_path: Path
) -> None:
    (case,) = await _cases(store, 1)
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    written = haven(database_url, key_file, tmp_path, "checkpoint", "--out", str(folder))
    assert written.returncode == 0, written.stderr
    [path] = folder.iterdir()
    assert path.stat().st_mode & 0o077 == 0 and json.loads(path.read_text())["streams"] == 1
    clean = haven(database_url, key_file, tmp_path, "verify", "--checkpoint", str(path))
    assert clean.returncode == 0, clean.stdout + clean.stderr
    await _truncate(store.pool, case)
    caught = haven(database_url, key_file, tmp_path, "verify", "--checkpoint", str(path))
    assert caught.returncode == 1
    assert (
        f"CHECKPOINT  {ORG}/{case} version 3: stream truncated below its checkpointed head"
        in caught.stdout
    )
    # the worker writes them on its own when told where
    periodic = tmp_path / "periodic"
    env = worker_environment(database_url, key_file, tmp_path) | {
        "HAVEN_CHECKPOINT_DIR": str(periodic),
        "HAVEN_CHECKPOINT_INTERVAL": "1",
    }
    worker = await HavenWorker.start(env, tmp_path / "worker.log")
    try:
        await worker.wait_running()
        for _ in range(300):
            if periodic.exists() and len(list(periodic.glob("checkpoint-*.json"))) >= 2:
                break
            await asyncio.sleep(0.1)
        assert len(list(periodic.glob("checkpoint-*.json"))) >= 2, worker.output()
    finally:
        await worker.kill()
