"""Attacks on stored events, each detected on read and by `haven verify`.

Every test first shows the untampered stream reads and verifies (the control), then
tampers with the rows through plain SQL — what an attacker with database access could do —
and checks both detectors.
"""

from __future__ import annotations

import uuid

import pytest

from crypto.errors import DecryptionError
from crypto.keyring import Keyring
from crypto.providers import FileKeyProvider
from domain.event import EventMetadata
from events.errors import TamperDetected
from events.verify import verify_store
from tests.events.sample_events import NoteAdded

META = EventMetadata(actor_id="worker-1")
ORG = "org-a"


@pytest.fixture
async def victim(store, keyring):
    stream = uuid.uuid4()
    await store.append(ORG, stream, 0, [NoteAdded(text=f"note {i}") for i in range(1, 5)], META)
    assert len(await store.read_stream(ORG, stream)) == 4  # control: reads before tampering
    assert (await verify_store(store.pool, keyring)).ok  # control: verifies before tampering
    return stream


async def assert_detected(store, keyring, stream, *, org=ORG):
    with pytest.raises(TamperDetected):
        await store.read_stream(org, stream)
    report = await verify_store(store.pool, keyring)
    assert not report.ok
    assert any(f.stream_id == stream for f in report.findings)


async def test_flipped_ciphertext_byte_is_detected(store, keyring, victim):
    await store.pool.execute(
        """UPDATE haven.events
               SET ciphertext = set_byte(ciphertext, 20, get_byte(ciphertext, 20) # 1)
            WHERE stream_id = $1 AND version = 2""",
        victim,
    )
    await assert_detected(store, keyring, victim)


async def test_flipped_byte_is_detected_by_the_log_reader_too(store, keyring, victim):
    await store.pool.execute(
        """UPDATE haven.events
               SET ciphertext = set_byte(ciphertext, 20, get_byte(ciphertext, 20) # 1)
            WHERE stream_id = $1 AND version = 2""",
        victim,
    )
    with pytest.raises(TamperDetected):
        await store.read_all()


async def test_ciphertext_moved_to_another_row_is_detected(store, keyring, victim):
    await store.pool.execute(
        """UPDATE haven.events
               SET ciphertext = (SELECT ciphertext FROM haven.events
                                  WHERE stream_id = $1 AND version = 1)
            WHERE stream_id = $1 AND version = 3""",
        victim,
    )
    await assert_detected(store, keyring, victim)


async def test_ciphertext_moved_to_another_stream_is_detected(store, keyring, victim):
    other = uuid.uuid4()
    await store.append(ORG, other, 0, [NoteAdded(text="other 1"), NoteAdded(text="other 2")], META)
    # The attacker also recomputes the hash chain, so only the authentication tag can tell.
    await store.pool.execute(
        """UPDATE haven.events
               SET ciphertext = (SELECT ciphertext FROM haven.events
                                  WHERE stream_id = $2 AND version = 2)
            WHERE stream_id = $1 AND version = 2""",
        victim,
        other,
    )
    await _recompute_chain(store, victim)
    with pytest.raises(TamperDetected, match="authentication"):
        await store.read_stream(ORG, victim)
    report = await verify_store(store.pool, keyring)
    assert [f.problem for f in report.findings] == ["authentication tag does not verify"]


async def test_replayed_older_version_ciphertext_is_detected(store, keyring, victim):
    await store.pool.execute(
        """UPDATE haven.events
               SET ciphertext = (SELECT ciphertext FROM haven.events
                                  WHERE stream_id = $1 AND version = 2)
            WHERE stream_id = $1 AND version = 4""",
        victim,
    )
    await _recompute_chain(store, victim)
    await assert_detected(store, keyring, victim)


async def test_decrypting_with_another_organisations_key_fails(store, keyring, key_file, victim):
    row = await store.pool.fetchrow(
        "SELECT key_id, kek_id, wrapped_key FROM haven.streams WHERE stream_id = $1", victim
    )
    other_org = Keyring(FileKeyProvider(key_file))
    from crypto.keyring import WrappedDataKey

    wrapped = WrappedDataKey(row["key_id"], row["kek_id"], row["wrapped_key"])
    assert other_org.unwrap(ORG, str(victim), wrapped)  # control: the right organisation can
    other_org.clear()
    with pytest.raises(DecryptionError):
        other_org.unwrap("org-b", str(victim), wrapped)


async def test_stream_relabelled_as_another_organisation_is_detected(store, keyring, victim):
    await store.pool.execute(
        "UPDATE haven.streams SET tenant_id = 'org-b' WHERE stream_id = $1", victim
    )
    await store.pool.execute(
        "UPDATE haven.events SET tenant_id = 'org-b' WHERE stream_id = $1", victim
    )
    keyring.clear()
    await assert_detected(store, keyring, victim, org="org-b")


async def test_truncated_ciphertext_is_detected(store, keyring, victim):
    await store.pool.execute(
        "UPDATE haven.events SET ciphertext = substring(ciphertext FROM 1 FOR 10)"
        " WHERE stream_id = $1 AND version = 3",
        victim,
    )
    await assert_detected(store, keyring, victim)


async def test_truncated_stream_is_detected(store, keyring, victim):
    await store.pool.execute(
        "DELETE FROM haven.events WHERE stream_id = $1 AND version >= 3", victim
    )
    await assert_detected(store, keyring, victim)


async def test_deleted_middle_event_is_detected(store, keyring, victim):
    await store.pool.execute(
        "DELETE FROM haven.events WHERE stream_id = $1 AND version = 2", victim
    )
    await assert_detected(store, keyring, victim)


async def test_deleted_middle_event_with_renumbering_is_detected(store, keyring, victim):
    await store.pool.execute(
        "DELETE FROM haven.events WHERE stream_id = $1 AND version = 2", victim
    )
    await store.pool.execute(
        "UPDATE haven.events SET version = version - 1 WHERE stream_id = $1 AND version > 2", victim
    )
    await store.pool.execute("UPDATE haven.streams SET version = 3 WHERE stream_id = $1", victim)
    await _recompute_chain(store, victim)
    await assert_detected(store, keyring, victim)


async def test_deleted_newest_event_is_detected(store, keyring, victim):
    await store.pool.execute(
        "DELETE FROM haven.events WHERE stream_id = $1 AND version = 4", victim
    )
    await assert_detected(store, keyring, victim)


async def test_changed_event_type_is_detected(store, keyring, victim):
    await store.pool.execute(
        "UPDATE haven.events SET event_type = 'test.visit_counted'"
        " WHERE stream_id = $1 AND version = 2",
        victim,
    )
    await assert_detected(store, keyring, victim)


async def test_changed_schema_version_is_detected(store, keyring, victim):
    await store.pool.execute(
        "UPDATE haven.events SET schema_version = 2 WHERE stream_id = $1 AND version = 2", victim
    )
    await _recompute_chain(store, victim)
    await assert_detected(store, keyring, victim)


async def test_swapped_versions_are_detected(store, keyring, victim):
    for old, new in ((2, 100), (3, 2), (100, 3)):
        await store.pool.execute(
            "UPDATE haven.events SET version = $3 WHERE stream_id = $1 AND version = $2",
            victim,
            old,
            new,
        )
    await _recompute_chain(store, victim)
    await assert_detected(store, keyring, victim)


async def test_erased_stream_is_still_chain_checked_by_verify(store, keyring, victim):
    await store.shred(ORG, victim)
    report = await verify_store(store.pool, keyring)
    assert report.ok and report.erased_streams == 1  # control
    await store.pool.execute(
        "DELETE FROM haven.events WHERE stream_id = $1 AND version = 4", victim
    )
    report = await verify_store(store.pool, keyring)
    assert [f.problem for f in report.findings] == ["stream does not end at its recorded head"]


async def _recompute_chain(store, stream):
    """What a careful attacker does: rebuild the (keyless) hash chain and head over the
    tampered rows, so that only the authentication tags can catch the change."""
    from crypto.chain import GENESIS, next_link
    from events.recorded import header_of

    rows = await store.pool.fetch(
        "SELECT * FROM haven.events WHERE stream_id = $1 ORDER BY version", stream
    )
    link = GENESIS
    for row in rows:
        link = next_link(link, header_of(row), row["ciphertext"])
        await store.pool.execute(
            "UPDATE haven.events SET chain_hash = $3 WHERE stream_id = $1 AND version = $2",
            stream,
            row["version"],
            link,
        )
    await store.pool.execute(
        "UPDATE haven.streams SET head_hash = $2 WHERE stream_id = $1", stream, link
    )
