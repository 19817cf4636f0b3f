"""The per-stream hash chain, and the chain the event store writes."""

from __future__ import annotations

import uuid

from crypto.chain import GENESIS, next_link
from domain.event import EventMetadata
from events.recorded import header_of
from events.store import PostgresEventStore
from tests.events.sample_events import NoteAdded

PREVIOUS = bytes(range(32))
HEADER = b"synthetic header"
CIPHERTEXT = b"synthetic ciphertext"


def test_next_link_is_deterministic() -> None:
    assert next_link(PREVIOUS, HEADER, CIPHERTEXT) == next_link(PREVIOUS, HEADER, CIPHERTEXT)
    assert len(next_link(PREVIOUS, HEADER, CIPHERTEXT)) == 32


def test_next_link_changes_with_the_previous_link() -> None:
    assert next_link(PREVIOUS, HEADER, CIPHERTEXT) != next_link(GENESIS, HEADER, CIPHERTEXT)


def test_next_link_changes_with_the_header() -> None:
    assert next_link(PREVIOUS, HEADER, CIPHERTEXT) != next_link(PREVIOUS, HEADER + b"!", CIPHERTEXT)


def test_next_link_changes_with_the_ciphertext() -> None:
    assert next_link(PREVIOUS, HEADER, CIPHERTEXT) != next_link(
        PREVIOUS, HEADER, CIPHERTEXT[:-1] + b"X"
    )


def test_attack_moving_bytes_between_header_and_ciphertext_changes_the_link() -> None:
    # control: the two splits concatenate to the very same bytes
    assert HEADER + CIPHERTEXT == HEADER[:-3] + (HEADER[-3:] + CIPHERTEXT)
    assert HEADER + CIPHERTEXT == (HEADER + CIPHERTEXT[:3]) + CIPHERTEXT[3:]
    original = next_link(PREVIOUS, HEADER, CIPHERTEXT)
    assert next_link(PREVIOUS, HEADER[:-3], HEADER[-3:] + CIPHERTEXT) != original
    assert next_link(PREVIOUS, HEADER + CIPHERTEXT[:3], CIPHERTEXT[3:]) != original
    assert next_link(PREVIOUS, b"", HEADER + CIPHERTEXT) != next_link(
        PREVIOUS, HEADER + CIPHERTEXT, b""
    )


async def test_stored_links_and_head_recompute_from_the_stored_columns(
    store: PostgresEventStore,
) -> None:
    tenant, stream = "org-chain", uuid.uuid4()
    metadata = EventMetadata(actor_id="synthetic-actor")
    await store.append(
        tenant, stream, 0, [NoteAdded(text="first"), NoteAdded(text="second")], metadata
    )
    await store.append(tenant, stream, 2, [NoteAdded(text="third")], metadata)

    rows = await store.pool.fetch(
        """SELECT version, event_type, schema_version, key_id, recorded_at, ciphertext, chain_hash,
                  tenant_id, stream_id
             FROM haven.events WHERE tenant_id = $1 AND stream_id = $2 ORDER BY version""",
        tenant,
        stream,
    )
    assert [row["version"] for row in rows] == [1, 2, 3]

    link = GENESIS
    for row in rows:
        link = next_link(link, header_of(row), row["ciphertext"])
        assert row["chain_hash"] == link
    head = await store.pool.fetchval(
        "SELECT head_hash FROM haven.streams WHERE tenant_id = $1 AND stream_id = $2",
        tenant,
        stream,
    )
    assert head == link

    # control: a tampered ciphertext would not match what the store wrote
    tampered = bytes([rows[0]["ciphertext"][0] ^ 1]) + rows[0]["ciphertext"][1:]
    assert next_link(GENESIS, header_of(rows[0]), tampered) != rows[0]["chain_hash"]
