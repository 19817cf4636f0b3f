"""The envelope of a stored event: its header's bytes, and opening what was sealed under it."""

from __future__ import annotations

import datetime as dt
import uuid

import msgspec
import pytest

from crypto.aead import Aead, random_key
from crypto.envelope import EnvelopeRejected, event_header, opener
from crypto.errors import DecryptionError
from crypto.keyring import DataKey

TENANT = "org-a"
STREAM = uuid.UUID("3f2504e0-4f89-41d3-9a0c-0305e82c3301")
AT = dt.datetime(2023, 11, 14, 22, 13, 20, 1, tzinfo=dt.UTC)  # 1_700_000_000_000_001 us
FIELDS = (3, "test.note_added", 2, "k1", AT)  # version, type, schema version, key id, time
OPAQUE_MESSAGE = "ciphertext could not be authenticated"


@pytest.fixture
def data_key() -> DataKey:
    return DataKey("k1", Aead(random_key()))


Fields = tuple[int, str, int, str, dt.datetime]


def seal(data_key: DataKey, plaintext: bytes, fields: Fields) -> bytes:
    return data_key.aead.seal(plaintext, event_header(TENANT, STREAM, *fields))


def test_the_header_bytes_are_the_stored_format() -> None:
    # Every stored ciphertext is bound to these bytes: they must never change.
    expected = bytes.fromhex(
        "98ae686176656e2e6576656e742e7631a56f72672d61d92433663235303465302d346638392d343164"
        "332d396130632d30333035653832633333303103af746573742e6e6f74655f616464656402a26b31cf"
        "00060a24181e4001"
    )
    assert event_header(TENANT, STREAM, *FIELDS) == expected
    assert msgspec.msgpack.decode(expected) == [
        "haven.event.v1",
        TENANT,
        str(STREAM),
        3,
        "test.note_added",
        2,
        "k1",
        1_700_000_000_000_001,
    ]


@pytest.mark.parametrize(
    "moment",
    [
        AT,
        AT.astimezone(dt.timezone(dt.timedelta(hours=5, minutes=30))),
        dt.datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=dt.UTC),
        dt.datetime(2999, 12, 31, 23, 59, 59, 999_999, tzinfo=dt.timezone(-dt.timedelta(hours=9))),
    ],
)
def test_the_time_is_framed_as_microseconds_since_the_epoch(moment: dt.datetime) -> None:
    expected = (moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)
    header = event_header(TENANT, STREAM, 3, "test.note_added", 2, "k1", moment)
    assert msgspec.msgpack.decode(header)[-1] == expected


def test_a_stream_id_as_text_frames_the_same_header() -> None:
    assert event_header(TENANT, str(STREAM), *FIELDS) == event_header(TENANT, STREAM, *FIELDS)


def test_the_opener_opens_every_event_sealed_under_its_header(data_key: DataKey) -> None:
    later = AT + dt.timedelta(microseconds=1)
    events = [(1, AT), (2, AT), (3, later), (4, AT)]  # the timestamp changes, and changes back
    sealed = [seal(data_key, f"note {v}".encode(), (v, "t.note", 1, "k1", at)) for v, at in events]
    open_event = opener(data_key, TENANT, STREAM)
    opened = [
        open_event(v, "t.note", 1, "k1", at, s) for (v, at), s in zip(events, sealed, strict=True)
    ]
    assert opened == [b"note 1", b"note 2", b"note 3", b"note 4"]


@pytest.mark.parametrize(
    "changed",
    [
        (4, "test.note_added", 2, "k1", AT),
        (3, "test.other", 2, "k1", AT),
        (3, "test.note_added", 3, "k1", AT),
        (3, "test.note_added", 2, "k1", AT + dt.timedelta(microseconds=1)),
    ],
)
def test_attack_a_changed_header_field_fails_authentication(
    data_key: DataKey, changed: Fields
) -> None:
    sealed = seal(data_key, b"synthetic note", FIELDS)
    open_event = opener(data_key, TENANT, STREAM)
    assert open_event(*FIELDS, sealed) == b"synthetic note"  # control
    with pytest.raises(EnvelopeRejected) as caught:
        open_event(*changed, sealed)
    assert caught.value.problem == "fails authentication"


def test_attack_an_event_naming_another_key_is_refused(data_key: DataKey) -> None:
    sealed = seal(data_key, b"synthetic note", FIELDS)
    other = DataKey("k2", data_key.aead)  # the same key material under another id
    with pytest.raises(EnvelopeRejected) as caught:
        opener(other, TENANT, STREAM)(*FIELDS, sealed)
    assert caught.value.problem == "names another key"


def test_attack_an_event_moved_to_another_stream_or_organisation_fails(data_key: DataKey) -> None:
    sealed = seal(data_key, b"synthetic note", FIELDS)
    for tenant, stream in (("org-b", STREAM), (TENANT, uuid.uuid4())):
        with pytest.raises(EnvelopeRejected):
            opener(data_key, tenant, stream)(*FIELDS, sealed)


@pytest.mark.parametrize("damage", ["truncated", "empty", "format", "tag"])
def test_attack_damaged_bytes_are_rejected_opaquely(data_key: DataKey, damage: str) -> None:
    sealed = seal(data_key, b"synthetic note", FIELDS)
    damaged = {
        "truncated": sealed[:20],
        "empty": b"",
        "format": b"\x02" + sealed[1:],
        "tag": sealed[:-1] + bytes([sealed[-1] ^ 1]),
    }[damage]
    with pytest.raises(EnvelopeRejected) as caught:
        opener(data_key, TENANT, STREAM)(*FIELDS, damaged)
    assert isinstance(caught.value, DecryptionError)
    assert str(caught.value) == OPAQUE_MESSAGE and caught.value.problem == "fails authentication"
    assert caught.value.__cause__ is None  # nothing from the cipher underneath
    assert caught.value.__suppress_context__ or caught.value.__context__ is None
