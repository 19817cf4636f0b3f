"""Access records (append-only, per tenant, fail closed) and break-the-glass grants."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg
import pytest

from crypto.keyring import Keyring
from crypto.providers import FileKeyProvider
from domain.event import EventMetadata
from events.access_log import (
    AccessNotRecorded,
    access_log,
    active_grant,
    case_data_key,
    grant_break_glass,
    grant_reasons,
    record_access,
)
from events.errors import StreamErased, StreamNotFound, TamperDetected
from tests.events.sample_events import NoteAdded

ORG, OTHER = "org-a", "org-b"
META = EventMetadata(actor_id="worker-1")
NOW = dt.datetime(2030, 5, 1, 12, 0, tzinfo=dt.UTC)
CANARY = "CANARY-survivor-Zq7xK mentioned in reason"


@pytest.fixture
async def db(store):
    """The store's pool with the event store and this module's tables emptied."""
    await store.pool.execute("TRUNCATE haven.access_records, haven.break_glass_grants")
    return store.pool


async def new_case(store, org: str = ORG):
    case_id = uuid.uuid4()
    await store.append(org, case_id, 0, [NoteAdded(text="opened")], META)
    return case_id, store._keyring.cached(org, str(case_id))


async def record(
    conn, case_id, *, org=ORG, actor="worker-1", part="full", basis="assignment", grant_id=None
):
    await record_access(
        conn,
        tenant_id=org,
        case_id=case_id,
        actor_id=actor,
        role="case-worker",
        part=part,
        basis=basis,
        grant_id=grant_id,
        request_id=f"req-{part}",
    )


async def test_records_are_listed_newest_first(db) -> None:
    case_id = uuid.uuid4()
    for part in ("summary", "full", "history"):
        async with db.acquire() as conn, conn.transaction():
            await record(conn, case_id, part=part)
    log = await access_log(db, ORG, case_id)
    assert [r.part for r in log] == ["history", "full", "summary"]
    assert (
        log[0].actor_id == "worker-1"
        and log[0].basis == "assignment"
        and log[0].request_id == "req-history"
    )
    assert log[0].accessed_at >= log[-1].accessed_at
    assert [r.part for r in await access_log(db, ORG, case_id, limit=2)] == ["history", "full"]


async def test_another_organisations_records_are_invisible(db) -> None:
    case_id = uuid.uuid4()
    async with db.acquire() as conn:
        await record(conn, case_id, org=ORG)
        await record(conn, case_id, org=OTHER, actor="someone-else")
    assert [r.actor_id for r in await access_log(db, ORG, case_id)] == ["worker-1"]
    assert [r.actor_id for r in await access_log(db, OTHER, case_id)] == ["someone-else"]
    assert await access_log(db, ORG, uuid.uuid4()) == []


async def test_access_records_cannot_be_updated_or_deleted(db) -> None:
    case_id = uuid.uuid4()
    async with db.acquire() as conn:
        await record(conn, case_id)  # control: INSERT works
        assert len(await access_log(conn, ORG, case_id)) == 1
        with pytest.raises(asyncpg.PostgresError, match="append-only") as updated:
            await conn.execute("UPDATE haven.access_records SET actor_id = 'nobody'")
        assert updated.value.sqlstate == "HV010"
        with pytest.raises(asyncpg.PostgresError, match="append-only"):
            await conn.execute("DELETE FROM haven.access_records")
    assert [r.actor_id for r in await access_log(db, ORG, case_id)] == ["worker-1"]


async def test_grants_cannot_be_updated_or_deleted(db, store) -> None:
    case_id, key = await new_case(store)
    async with db.acquire() as conn:
        await grant_break_glass(
            conn,
            tenant_id=ORG,
            case_id=case_id,
            actor_id="sup-1",
            reason="r",
            minutes=5,
            data_key=key,
            now=NOW,
        )
        with pytest.raises(asyncpg.PostgresError, match="append-only"):
            await conn.execute(
                "UPDATE haven.break_glass_grants SET expires_at = expires_at + interval '1 minute'"
            )
        with pytest.raises(asyncpg.PostgresError, match="append-only"):
            await conn.execute("DELETE FROM haven.break_glass_grants")


@pytest.mark.parametrize(
    "change",
    [
        {"basis": "curiosity"},
        {"part": "Full; DROP"},
        {"basis": "break-glass"},  # without a grant
        {"grant_id": uuid.uuid4()},  # a grant with a basis other than break-glass
        {"basis": "break-glass", "grant_id": uuid.uuid4()},  # a grant that does not exist
    ],
)
async def test_an_access_that_cannot_be_recorded_raises(db, change) -> None:
    case_id = uuid.uuid4()
    async with db.acquire() as conn:
        with pytest.raises(AccessNotRecorded):
            async with conn.transaction():
                await record(conn, case_id, **change)
    assert await access_log(db, ORG, case_id) == []


async def test_recording_on_a_closed_connection_raises(db, database_url) -> None:
    conn = await asyncpg.connect(database_url)
    await record(conn, uuid.uuid4())  # control: the same call on an open connection works
    await conn.close()
    with pytest.raises(AccessNotRecorded):
        await record(conn, uuid.uuid4())


async def test_break_glass_access_must_name_the_actors_grant_for_the_case(db, store) -> None:
    case_id, key = await new_case(store)
    other_case, _ = await new_case(store)
    async with db.acquire() as conn:
        grant = await grant_break_glass(
            conn,
            tenant_id=ORG,
            case_id=case_id,
            actor_id="sup-1",
            reason="r",
            minutes=5,
            data_key=key,
            now=NOW,
        )
        await record(
            conn, case_id, actor="sup-1", basis="break-glass", grant_id=grant.grant_id
        )  # control
        with pytest.raises(AccessNotRecorded):
            await record(conn, case_id, actor="sup-2", basis="break-glass", grant_id=grant.grant_id)
        with pytest.raises(AccessNotRecorded):
            await record(
                conn, other_case, actor="sup-1", basis="break-glass", grant_id=grant.grant_id
            )
    assert [(r.basis, r.grant_id) for r in await access_log(db, ORG, case_id)] == [
        ("break-glass", grant.grant_id)
    ]


async def test_break_glass_reason_is_sealed_and_opens_only_with_the_cases_key(db, store) -> None:
    case_id, key = await new_case(store)
    _, other_key = await new_case(store)
    async with db.acquire() as conn:
        grant = await grant_break_glass(
            conn,
            tenant_id=ORG,
            case_id=case_id,
            actor_id="sup-1",
            reason=CANARY,
            minutes=30,
            data_key=key,
            now=NOW,
        )
    raw = await db.fetchval(
        "SELECT reason_sealed FROM haven.break_glass_grants WHERE grant_id = $1", grant.grant_id
    )
    assert CANARY.encode() not in raw and b"Zq7xK" not in raw
    opened = await grant_reasons(db, ORG, case_id, key)
    assert [(g.grant, g.reason) for g in opened] == [(grant, CANARY)]
    with pytest.raises(TamperDetected):
        await grant_reasons(db, ORG, case_id, other_key)


async def test_a_reason_moved_to_another_grant_fails_to_open(db, store) -> None:
    case_id, key = await new_case(store)
    async with db.acquire() as conn:
        for reason in ("first", "second"):
            await grant_break_glass(
                conn,
                tenant_id=ORG,
                case_id=case_id,
                actor_id="sup-1",
                reason=reason,
                minutes=5,
                data_key=key,
                now=NOW,
            )
        assert sorted(g.reason for g in await grant_reasons(conn, ORG, case_id, key)) == [
            "first",
            "second",
        ]
        # an attacker with database access swaps the sealed reasons (bypassing the trigger as owner)
        await conn.execute(
            "ALTER TABLE haven.break_glass_grants DISABLE TRIGGER break_glass_grants_append_only"
        )
        try:
            await conn.execute(
                """
                UPDATE haven.break_glass_grants g SET reason_sealed = o.reason_sealed
                  FROM haven.break_glass_grants o WHERE g.case_id = $1 AND o.case_id = $1
                   AND g.grant_id <> o.grant_id""",
                case_id,
            )
        finally:
            await conn.execute(
                "ALTER TABLE haven.break_glass_grants ENABLE TRIGGER break_glass_grants_append_only"
            )
        with pytest.raises(TamperDetected):
            await grant_reasons(conn, ORG, case_id, key)


async def test_grant_is_active_within_its_window_only(db, store) -> None:
    case_id, key = await new_case(store)
    async with db.acquire() as conn:
        grant = await grant_break_glass(
            conn,
            tenant_id=ORG,
            case_id=case_id,
            actor_id="sup-1",
            reason="safety check",
            minutes=15,
            data_key=key,
            now=NOW,
        )
    assert grant.expires_at == NOW + dt.timedelta(minutes=15)
    minute = dt.timedelta(minutes=1)
    assert await active_grant(db, ORG, case_id, "sup-1", NOW) == grant
    assert await active_grant(db, ORG, case_id, "sup-1", NOW + 14 * minute) == grant
    assert await active_grant(db, ORG, case_id, "sup-1", NOW + 15 * minute) is None
    assert await active_grant(db, ORG, case_id, "sup-1", NOW - minute) is None
    assert await active_grant(db, ORG, case_id, "sup-2", NOW) is None  # another actor
    assert await active_grant(db, OTHER, case_id, "sup-1", NOW) is None  # another organisation


@pytest.mark.parametrize(
    ("reason", "minutes"),
    [
        ("", 10),
        ("   ", 10),
        ("ok", 0),
        ("ok", 241),
        ("ok", -5),
        ("ok", True),
        ("x" * 2001, 10),
    ],
)
async def test_grant_needs_a_reason_and_bounded_minutes(db, store, reason, minutes) -> None:
    case_id, key = await new_case(store)
    async with db.acquire() as conn:
        with pytest.raises(ValueError):
            await grant_break_glass(
                conn,
                tenant_id=ORG,
                case_id=case_id,
                actor_id="sup-1",
                reason=reason,
                minutes=minutes,
                data_key=key,
                now=NOW,
            )
        for bound in (1, 240):  # control: the bounds themselves are accepted
            await grant_break_glass(
                conn,
                tenant_id=ORG,
                case_id=case_id,
                actor_id="sup-1",
                reason="ok",
                minutes=bound,
                data_key=key,
                now=NOW,
            )
    assert await db.fetchval("SELECT count(*) FROM haven.break_glass_grants") == 2


async def test_grant_needs_an_existing_case_and_its_current_key(db, store) -> None:
    case_id, key = await new_case(store)
    _, other_key = await new_case(store)
    async with db.acquire() as conn:
        with pytest.raises(StreamNotFound):
            await grant_break_glass(
                conn,
                tenant_id=ORG,
                case_id=uuid.uuid4(),
                actor_id="sup-1",
                reason="r",
                minutes=5,
                data_key=key,
                now=NOW,
            )
        with pytest.raises(StreamNotFound):
            await grant_break_glass(
                conn,
                tenant_id=ORG,
                case_id=case_id,
                actor_id="sup-1",
                reason="r",
                minutes=5,
                data_key=other_key,
                now=NOW,
            )
        with pytest.raises(StreamNotFound):
            await grant_break_glass(
                conn,
                tenant_id=OTHER,
                case_id=case_id,
                actor_id="sup-1",
                reason="r",
                minutes=5,
                data_key=key,
                now=NOW,
            )
    assert await db.fetchval("SELECT count(*) FROM haven.break_glass_grants") == 0


async def test_grant_and_access_record_follow_an_append_in_one_unit_of_work(db, store) -> None:
    case_id, key = await new_case(store)
    async with store.transaction() as conn:
        await store.append(
            ORG, case_id, 1, [NoteAdded(text="break-glass opened")], META, connection=conn
        )
        grant = await grant_break_glass(
            conn,
            tenant_id=ORG,
            case_id=case_id,
            actor_id="sup-1",
            reason="r",
            minutes=5,
            data_key=key,
            now=NOW,
        )
        await record(conn, case_id, actor="sup-1", basis="break-glass", grant_id=grant.grant_id)
    assert await store.stream_version(ORG, case_id) == 2
    assert len(await access_log(db, ORG, case_id)) == 1


async def test_a_rolled_back_request_leaves_no_record(db) -> None:
    case_id = uuid.uuid4()
    async with db.acquire() as conn:
        with pytest.raises(RuntimeError):
            async with conn.transaction():
                await record(conn, case_id)
                raise RuntimeError("content could not be returned")
    assert await access_log(db, ORG, case_id) == []


async def test_case_data_key_unwraps_the_cases_key_for_the_privacy_officer(
    db, store, key_file
) -> None:
    case_id, key = await new_case(store)
    async with db.acquire() as conn:
        await grant_break_glass(
            conn,
            tenant_id=ORG,
            case_id=case_id,
            actor_id="sup-1",
            reason=CANARY,
            minutes=5,
            data_key=key,
            now=NOW,
        )
    fresh = Keyring(FileKeyProvider(key_file))  # nothing cached: the key is unwrapped from the row
    unwrapped = await case_data_key(db, fresh, ORG, case_id)
    assert unwrapped.key_id == key.key_id
    assert [g.reason for g in await grant_reasons(db, ORG, case_id, unwrapped)] == [CANARY]
    with pytest.raises(StreamNotFound):
        await case_data_key(db, fresh, ORG, uuid.uuid4())
    await store.shred(ORG, case_id)
    with pytest.raises(StreamErased):
        await case_data_key(db, Keyring(FileKeyProvider(key_file)), ORG, case_id)
