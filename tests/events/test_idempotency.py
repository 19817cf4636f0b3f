"""Idempotency keys: claim, complete, replay; key reuse; caller scope; races; expiry."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import uuid

import asyncpg
import pytest

from domain.event import EventMetadata
from events.idempotency import (
    Claimed,
    IdempotencyError,
    InProgress,
    KeyHasher,
    KeyReuse,
    Replay,
    claim,
    complete,
    forget_case,
    lookup,
    purge_expired,
    request_hash,
)
from tests.events.sample_events import NoteAdded

ORG = "org-a"


def stored(key: str) -> str:
    """A stored key as `KeyHasher.stored` makes it (a 64-hex keyed hash); the secret is not
    the point here."""
    return hashlib.sha256(key.encode()).hexdigest()


K1 = stored("k1")
HASH = request_hash("POST", "/v1/cases", b'{"title": "x"}')
OTHER_HASH = request_hash("POST", "/v1/cases", b'{"title": "y"}')
BODY = b'{"case_id": "c1", "version": 1}'


@pytest.fixture
async def db(pool):
    await pool.execute("TRUNCATE haven.idempotency_keys")
    return pool


async def claim_and_complete(db, actor="worker-1", key=K1, hashed=HASH, body=BODY):
    async with db.acquire() as conn, conn.transaction():
        outcome = await claim(conn, ORG, actor, key, hashed)
        if isinstance(outcome, Claimed):
            await complete(conn, ORG, actor, key, hashed, 201, body)
        return outcome


def test_request_hash_depends_on_method_route_and_body() -> None:
    assert HASH == request_hash("post", "/v1/cases", b'{"title": "x"}')
    assert (
        len(
            {
                HASH,
                OTHER_HASH,
                request_hash("PUT", "/v1/cases", b'{"title": "x"}'),
                request_hash("POST", "/v1/case", b'{"title": "x"}'),
            }
        )
        == 4
    )


async def test_claim_complete_then_replay_returns_the_first_result(db) -> None:
    assert await lookup(db, ORG, "worker-1", K1, HASH) is None  # control: unused key
    assert await claim_and_complete(db) == Claimed()
    assert await lookup(db, ORG, "worker-1", K1, HASH) == Replay(201, BODY)
    assert await claim_and_complete(db, body=b"a second result") == Replay(201, BODY)
    assert await db.fetchval("SELECT count(*) FROM haven.idempotency_keys") == 1


async def test_same_key_with_a_different_request_is_key_reuse(db) -> None:
    await claim_and_complete(db)
    assert await claim_and_complete(db, hashed=OTHER_HASH) == KeyReuse()
    assert await lookup(db, ORG, "worker-1", K1, OTHER_HASH) == KeyReuse()


async def test_keys_are_scoped_to_the_caller(db) -> None:
    assert await claim_and_complete(db, actor="worker-1") == Claimed()
    assert await claim_and_complete(db, actor="worker-2", body=b"theirs") == Claimed()
    assert await lookup(db, ORG, "worker-2", K1, HASH) == Replay(201, b"theirs")
    assert await lookup(db, "org-b", "worker-1", K1, HASH) is None  # another organisation


async def test_a_rolled_back_claim_leaves_the_key_free(db) -> None:
    async with db.acquire() as conn:
        with pytest.raises(RuntimeError):
            async with conn.transaction():
                assert await claim(conn, ORG, "worker-1", K1, HASH) == Claimed()
                raise RuntimeError("the command failed")
    assert await lookup(db, ORG, "worker-1", K1, HASH) is None
    assert await claim_and_complete(db) == Claimed()


async def test_a_claim_committed_without_result_is_in_progress(db) -> None:
    async with db.acquire() as conn:
        assert await claim(conn, ORG, "worker-1", K1, HASH) == Claimed()  # autocommit: misuse
    assert await lookup(db, ORG, "worker-1", K1, HASH) == InProgress()
    assert await claim_and_complete(db) == InProgress()


async def test_complete_needs_a_claim(db) -> None:
    async with db.acquire() as conn, conn.transaction():
        with pytest.raises(IdempotencyError):
            await complete(conn, ORG, "worker-1", stored("never-claimed"), HASH, 201, BODY)


@pytest.mark.parametrize(
    ("key", "hashed"), [("", HASH), ("k1", HASH), (K1.upper(), HASH), (K1, b"short")]
)
async def test_malformed_keys_and_hashes_are_refused(db, key, hashed) -> None:
    with pytest.raises(ValueError):
        await lookup(db, ORG, "worker-1", key, hashed)


async def test_concurrent_identical_claims_let_exactly_one_through(db, database_url) -> None:
    one, two = await asyncpg.connect(database_url), await asyncpg.connect(database_url)
    try:
        first, second = one.transaction(), two.transaction()
        await first.start()
        await second.start()
        assert await claim(one, ORG, "worker-1", K1, HASH) == Claimed()
        waiting = asyncio.create_task(claim(two, ORG, "worker-1", K1, HASH))
        await asyncio.sleep(0.2)
        assert not waiting.done()  # the second waits for the first transaction
        await complete(one, ORG, "worker-1", K1, HASH, 201, BODY)
        await first.commit()
        assert await waiting == Replay(201, BODY)
        await second.rollback()
    finally:
        await one.close()
        await two.close()


async def test_concurrent_claims_after_a_rollback_let_the_waiter_through(db, database_url) -> None:
    one, two = await asyncpg.connect(database_url), await asyncpg.connect(database_url)
    try:
        first, second = one.transaction(), two.transaction()
        await first.start()
        await second.start()
        assert await claim(one, ORG, "worker-1", K1, HASH) == Claimed()
        waiting = asyncio.create_task(claim(two, ORG, "worker-1", K1, HASH))
        await asyncio.sleep(0.2)
        await first.rollback()
        assert await waiting == Claimed()
        await complete(two, ORG, "worker-1", K1, HASH, 201, b"second")
        await second.commit()
        assert await lookup(db, ORG, "worker-1", K1, HASH) == Replay(201, b"second")
    finally:
        await one.close()
        await two.close()


async def test_gathered_identical_requests_claim_exactly_once(db) -> None:
    results = await asyncio.gather(
        *(claim_and_complete(db, body=f"result {i}".encode()) for i in range(8))
    )
    assert sum(isinstance(r, Claimed) for r in results) == 1
    replays = [r for r in results if not isinstance(r, Claimed)]
    assert len(replays) == 7 and len(set(replays)) == 1 and isinstance(replays[0], Replay)
    assert await lookup(db, ORG, "worker-1", K1, HASH) == replays[0]


async def test_unit_of_work_appends_first_then_claims(db, store) -> None:
    case_id = uuid.uuid4()
    meta = EventMetadata(actor_id="worker-1")

    async def create_case() -> Replay:
        earlier = await lookup(store.pool, ORG, "worker-1", K1, HASH)
        if earlier is not None:
            return earlier
        async with store.transaction() as conn:
            result = await store.append(
                ORG, case_id, 0, [NoteAdded(text="opened")], meta, connection=conn
            )
            outcome = await claim(conn, ORG, "worker-1", K1, HASH)
            assert outcome == Claimed()
            body = f'{{"version": {result.version}}}'.encode()
            await complete(conn, ORG, "worker-1", K1, HASH, 201, body)
        return Replay(201, body)

    first = await create_case()
    assert await create_case() == first  # the retry replays: no second append attempted
    assert await store.stream_version(ORG, case_id) == 1


async def test_purge_removes_only_old_keys(db) -> None:
    old, fresh = stored("old"), stored("fresh")
    await claim_and_complete(db, key=old)
    await claim_and_complete(db, key=fresh)
    await db.execute(
        "UPDATE haven.idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = $1",
        old,
    )
    assert await purge_expired(db) == 1
    assert await lookup(db, ORG, "worker-1", old, HASH) is None
    assert await lookup(db, ORG, "worker-1", fresh, HASH) == Replay(201, BODY)
    assert await purge_expired(db, dt.timedelta(hours=1)) == 0
    with pytest.raises(ValueError):
        await purge_expired(db, dt.timedelta(0))


async def test_an_erasure_forgets_the_answers_about_the_case(db) -> None:
    case_id, other_case = uuid.uuid4(), uuid.uuid4()
    for key, case in ((K1, case_id), (stored("k2"), other_case)):
        async with db.acquire() as conn, conn.transaction():
            assert await claim(conn, ORG, "worker-1", key, HASH) == Claimed()
            await complete(conn, ORG, "worker-1", key, HASH, 200, BODY, case)
    async with db.acquire() as conn:
        await forget_case(conn, ORG, case_id)
    assert await lookup(db, ORG, "worker-1", K1, HASH) is None  # a retry now runs afresh
    assert await lookup(db, ORG, "worker-1", stored("k2"), HASH) == Replay(
        200, BODY
    )  # control: another case


async def test_attack_a_copy_of_the_database_does_not_hold_the_clients_key_text(
    db, keyring
) -> None:
    """An attacker with a dump tries the key a client used ("intake-<name>", say). The row holds an
    HMAC under the organisation's secret, which is stored wrapped by its KEK: neither the text nor
    its plain hash is there. Control: the same key and caller give the same stored key, and another
    organisation's secret gives another."""
    hasher = KeyHasher(keyring.provider)
    await db.execute(
        "DELETE FROM haven.tenant_secrets WHERE tenant_id = ANY($1::text[])", [ORG, "org-b"]
    )
    key = "intake-Client-Example"
    mine = await hasher.stored(db, ORG, "worker-1", key)
    await claim_and_complete(db, key=mine)
    dumped = [tuple(r) for r in await db.fetch("SELECT * FROM haven.idempotency_keys")]
    assert key not in repr(dumped) and stored(key) not in repr(dumped)
    assert mine == await KeyHasher(keyring.provider).stored(
        db, ORG, "worker-1", key
    )  # stable across processes
    assert mine != await hasher.stored(db, ORG, "worker-2", key)
    assert mine != await hasher.stored(db, "org-b", "worker-1", key)
    secret_rows = await db.fetch(
        "SELECT wrapped FROM haven.tenant_secrets WHERE tenant_id = $1", ORG
    )
    assert (
        len(secret_rows) == 1 and len(bytes(secret_rows[0]["wrapped"])) > 32
    )  # wrapped, not the bare secret
    with pytest.raises(asyncpg.CheckViolationError):  # the table refuses anything but a keyed hash
        await db.execute(
            "INSERT INTO haven.idempotency_keys (tenant_id, actor_id, key, request_hash) "
            "VALUES ($1, 'worker-1', 'plain-key', $2)",
            ORG,
            HASH,
        )
