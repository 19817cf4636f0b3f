"""`haven keys status | rotate | retire` end to end: real PostgreSQL, real key files, SoftHSM2."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from crypto.keyring import Keyring
from crypto.pkcs11 import Pkcs11KeyProvider
from crypto.providers import FileKeyProvider
from domain.event import EventMetadata
from events.errors import StreamErased
from events.idempotency import KeyHasher
from events.key_rotation import rewrap_organisation
from tests.crypto.softhsm import SoftHsmToken
from tests.events.sample_events import NoteAdded
from tests.services.keys_support import (
    assert_all_read,
    fresh_database,
    haven_keys,
    kek_ids,
    key_material,
    open_store,
    seed_cases,
)
from tests.tiers import scaled

ORG = "org-keys-a"


@pytest.fixture
async def db(server_url: str) -> AsyncIterator[tuple[str, asyncpg.Pool]]:
    async with fresh_database(server_url) as created:
        yield created


@pytest.mark.slow  # runs `haven keys` as processes
async def test_status_counts_keys_per_version_and_prints_no_key_material(
    db: tuple[str, asyncpg.Pool], tmp_path: Path
) -> None:
    url, pool = db
    kek_path = tmp_path / "kek"
    provider = FileKeyProvider(kek_path)
    store = open_store(pool, provider)
    streams = await seed_cases(store, ORG, 3)
    await store.shred(ORG, streams[0])
    await KeyHasher(provider).stored(pool, ORG, "w-1", "idem-1")
    await store.close()

    shown = haven_keys(url, kek_path, tmp_path, "status")
    as_json = haven_keys(url, kek_path, tmp_path, "status", "--json")

    assert shown.returncode == 0 and as_json.returncode == 0, shown.stderr + as_json.stderr
    assert f"organisation {ORG}" in shown.stdout
    (org,) = json.loads(as_json.stdout)["organisations"]
    assert org["organisation"] == ORG
    (version,) = org["versions"]
    assert version["kek_id"] == "file:k1" and version["provider"] == "file"
    assert (version["state"], version["data_keys"], version["secrets"], version["erased"]) == (
        "active",
        2,
        1,
        1,
    )
    material = key_material(kek_path)
    assert material  # control: there is key material the output could have shown
    for secret in material:
        assert secret not in shown.stdout + shown.stderr + as_json.stdout + as_json.stderr


@pytest.mark.slow  # runs `haven keys` as processes
async def test_rotate_rewraps_every_key_and_retire_refuses_until_none_is_left(
    db: tuple[str, asyncpg.Pool], tmp_path: Path
) -> None:
    url, pool = db
    kek_path = tmp_path / "kek"
    provider = FileKeyProvider(kek_path)
    store = open_store(pool, provider)
    streams = await seed_cases(store, ORG, scaled(default=12, full=400))
    await KeyHasher(provider).stored(pool, ORG, "w-1", "idem-1")
    ciphertexts = await pool.fetch("SELECT ciphertext FROM haven.events ORDER BY position")
    await store.close()

    refused = haven_keys(url, kek_path, tmp_path, "retire", "file:k1")
    assert refused.returncode == 1  # the attack: removing a KEK that still wraps data keys
    assert f"wraps {len(streams) + 1} data keys or secrets" in refused.stderr
    assert "k1" in json.loads(kek_path.read_bytes())["keys"]

    rotated = haven_keys(url, kek_path, tmp_path, "rotate", "--batch", "5")
    assert rotated.returncode == 0, rotated.stderr
    assert f"{len(streams)} data keys and 1 secrets re-wrapped under file:k2" in rotated.stdout
    assert await kek_ids(pool, ORG) == {"file:k2": len(streams)}
    assert await pool.fetchval("SELECT kek_id FROM haven.tenant_secrets") == "file:k2"
    assert await pool.fetch("SELECT ciphertext FROM haven.events ORDER BY position") == ciphertexts

    retired = haven_keys(url, kek_path, tmp_path, "retire")
    assert retired.returncode == 0, retired.stderr
    assert "retired file:k1" in retired.stdout
    assert list(json.loads(kek_path.read_bytes())["keys"]) == ["k2"]
    await assert_all_read(pool, kek_path, ORG, streams)
    fresh = KeyHasher(FileKeyProvider(kek_path, create=False))
    assert await fresh.stored(pool, ORG, "w-1", "idem-1")  # the secret unwraps under k2
    status = json.loads(haven_keys(url, kek_path, tmp_path, "status", "--json").stdout)
    assert [(v["kek_id"], v["state"]) for v in status["organisations"][0]["versions"]] == [
        ("file:k2", "active"),
        ("file:k1", "retired"),
    ]


async def test_rotate_while_commands_and_reads_run(
    db: tuple[str, asyncpg.Pool], tmp_path: Path
) -> None:
    """Every append acknowledged during the rotation reads back after it; nothing fails."""
    _, pool = db
    kek_path = tmp_path / "kek"
    serving = FileKeyProvider(kek_path)  # the API's process, started before the rotation
    store = open_store(pool, serving)
    streams = await seed_cases(store, ORG, scaled(default=30, full=600))
    administrator = FileKeyProvider(kek_path)
    admin_store = open_store(pool, administrator)
    administrator.rotate(ORG)
    acknowledged: list[uuid.UUID] = []
    rotation_done = asyncio.Event()

    async def serve() -> None:
        rounds = 0
        while not rotation_done.is_set() or rounds < 5:
            rounds += 1
            stream = uuid.uuid4()
            await store.append(
                ORG, stream, 0, [NoteAdded(text=f"during-{rounds}")], EventMetadata(actor_id="w")
            )
            acknowledged.append(stream)
            existing = streams[rounds % len(streams)]
            version = await store.stream_version(ORG, existing)
            await store.append(
                ORG, existing, version, [NoteAdded(text="more")], EventMetadata(actor_id="w")
            )
            assert len(await store.read_stream(ORG, existing)) == version + 1

    async def rotate() -> None:
        try:
            await rewrap_organisation(pool, Keyring(administrator), administrator, ORG, batch=3)
        finally:
            rotation_done.set()

    await asyncio.gather(serve(), rotate())
    await rewrap_organisation(pool, Keyring(administrator), administrator, ORG, batch=3)

    assert len(acknowledged) >= 5
    assert set(await kek_ids(pool, ORG)) == {"file:k2"}
    reader = open_store(pool, FileKeyProvider(kek_path, create=False))
    for stream in acknowledged:
        assert len(await reader.read_stream(ORG, stream)) == 1
    for store_ in (store, admin_store, reader):
        await store_.close()


async def test_attack_an_erasure_racing_the_rotation_stays_erased(
    db: tuple[str, asyncpg.Pool], tmp_path: Path
) -> None:
    """The rotation read the key before the erasure committed; its write must not bring the
    key back."""
    _, pool = db
    kek_path = tmp_path / "kek"
    provider = FileKeyProvider(kek_path)
    store = open_store(pool, provider)
    streams = await seed_cases(store, ORG, 4)
    victim = random.Random(11).choice(streams)
    provider.rotate(ORG)
    async with pool.acquire() as eraser:
        erasure = eraser.transaction()
        await erasure.start()
        await store.shred(ORG, victim, connection=eraser)  # not committed yet: the row is held
        rotation = asyncio.create_task(
            rewrap_organisation(pool, Keyring(provider), provider, ORG, batch=10)
        )
        while not await pool.fetchval(  # the rotation has read the key and waits on the row
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ):
            assert not rotation.done()
        await erasure.commit()
        result = await rotation

    assert result.skipped == 1
    assert result.data_keys == len(streams) - 1  # control: the other keys were re-wrapped
    row = await pool.fetchrow(
        "SELECT wrapped_key, shredded_at FROM haven.streams WHERE stream_id = $1", victim
    )
    assert row["wrapped_key"] is None and row["shredded_at"] is not None
    with pytest.raises(StreamErased):
        await open_store(pool, FileKeyProvider(kek_path, create=False)).read_stream(ORG, victim)
    await store.close()


@pytest.mark.slow  # runs `haven keys` as processes
async def test_rotate_status_and_retire_in_softhsm(
    db: tuple[str, asyncpg.Pool], softhsm_token: SoftHsmToken, tmp_path: Path
) -> None:
    url, pool = db
    org = f"org-hsm-{uuid.uuid4().hex[:8]}"
    provider = Pkcs11KeyProvider.from_uri(softhsm_token.uri())
    store = open_store(pool, provider)
    streams = await seed_cases(store, org, scaled(default=8, full=200))
    await KeyHasher(provider).stored(pool, org, "w-1", "idem-1")
    old = provider.active_kek_id(org)
    await store.close()
    provider.close()
    uri = softhsm_token.uri()

    refused = haven_keys(url, uri, tmp_path, "retire", "--org", org, old)
    assert refused.returncode == 1 and f"wraps {len(streams) + 1} data keys" in refused.stderr
    rotated = haven_keys(url, uri, tmp_path, "rotate", "--org", org, "--batch", "3")
    assert rotated.returncode == 0, rotated.stderr
    status = json.loads(haven_keys(url, uri, tmp_path, "status", "--json").stdout)
    (listed,) = status["organisations"]
    (new,) = [v["kek_id"] for v in listed["versions"] if v["state"] == "active"]
    assert new != old and await kek_ids(pool, org) == {new: len(streams)}
    assert [(v["kek_id"], v["provider"], v["data_keys"]) for v in listed["versions"]] == [
        (old, "pkcs11", 0),
        (new, "pkcs11", len(streams)),
    ]
    retired = haven_keys(url, uri, tmp_path, "retire", "--org", org)
    assert retired.returncode == 0 and f"retired {old}" in retired.stdout, retired.stderr

    fresh = Pkcs11KeyProvider.from_uri(uri)
    assert [(v.kek_id, v.state) for v in fresh.versions(org)] == [
        (new, "active"),
        (old, "retired"),
    ]
    reader = open_store(pool, fresh)
    for stream in streams:
        assert len(await reader.read_stream(org, stream)) == 1
    assert await KeyHasher(fresh).stored(pool, org, "w-1", "idem-1")
    await reader.close()
    fresh.close()
