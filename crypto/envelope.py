"""The envelope of a stored event: the header its ciphertext is bound to, and how it is opened.

The header is the AEAD associated data, and the hash chain covers it too. It is a msgpack
array, so every field is length-delimited and no two different headers encode to the same
bytes:

    ["haven.event.v1", tenant, stream_id, version, event_type, schema_version, key_id,
     recorded_at_us]

It binds the ciphertext to its row: moving a ciphertext to another stream, organisation or
version, or changing its type, schema version, key id or timestamp fails authentication.
This module is the only one that knows the layout: writers and `haven verify` build headers
with `event_header`, readers open events with `opener`. The loop that opens every event a
reader reads (`events.recorded.open_rows`) does what an `opener` does inline, to save a Python
call per event, with this module's pieces: `encode_header` and `header_microseconds`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import msgspec

from crypto.aead import FORMAT_VERSION, NONCE_END, OVERHEAD, AuthenticationFailed
from crypto.errors import DecryptionError
from crypto.keyring import DataKey

LABEL = "haven.event.v1"
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

_encode = msgspec.msgpack.Encoder().encode

# The header of an event as bytes, from the tuple `(LABEL, tenant, stream id as text, version,
# event type, schema version, key id, recorded-at microseconds)`: for loops that build headers
# inline (see the module's docstring); everything else calls `event_header`.
encode_header: Callable[[tuple[Any, ...]], bytes] = _encode


def header_microseconds(moment: dt.datetime) -> int:
    """`moment` in microseconds since the epoch, as the header holds it: `(moment - EPOCH) //
    timedelta(microseconds=1)`, worked out with integers, which is cheaper than dividing one
    timedelta by another."""
    since = moment - EPOCH
    return (since.days * 86_400 + since.seconds) * 1_000_000 + since.microseconds


def event_header(
    tenant: str,
    stream_id: Any,
    version: int,
    event_type: str,
    schema_version: int,
    key_id: str,
    recorded_at: dt.datetime,
) -> bytes:
    """The header of one event; `stream_id` is anything whose `str()` is the stream's id."""
    us = header_microseconds(recorded_at)
    return _encode((LABEL, tenant, str(stream_id), version, event_type, schema_version, key_id, us))


class EnvelopeRejected(DecryptionError):
    """An event that does not open; `problem` says why in a few words, without content."""

    def __init__(self, problem: str) -> None:
        super().__init__()
        self.problem = problem


OpenEvent = Callable[[int, str, int, str, dt.datetime, bytes], bytes]


def opener(data_key: DataKey, tenant: str, stream_id: Any) -> OpenEvent:
    """A function that opens the events of one stream sealed with `data_key`.

    It takes an event's version, event type, schema version, key id, recorded-at time and
    sealed bytes, and returns the plaintext or raises `EnvelopeRejected`. Readers open
    events by the hundred thousand, so it is a closure over everything that stays the same
    within a stream: the cipher's own decrypt function (`crypto.aead.Aead.decryptor`), the
    key id every event must name, and the stream id as text. Consecutive events mostly share
    a timestamp (one append), so its microseconds are worked out only when it changes.
    """
    decrypt = data_key.aead.decryptor
    expected_key = data_key.key_id
    stream = str(stream_id)
    last_recorded: dt.datetime | None = None
    us = 0

    def open_event(
        version: int,
        event_type: str,
        schema_version: int,
        key_id: str,
        recorded_at: dt.datetime,
        sealed: bytes,
    ) -> bytes:
        nonlocal last_recorded, us
        if key_id != expected_key:
            raise EnvelopeRejected("names another key")
        if recorded_at != last_recorded:
            us = header_microseconds(recorded_at)
            last_recorded = recorded_at
        # `event_header`, inline: one Python call less per event
        header = _encode((LABEL, tenant, stream, version, event_type, schema_version, key_id, us))
        if len(sealed) < OVERHEAD or sealed[0] != FORMAT_VERSION:
            raise EnvelopeRejected("fails authentication")
        try:
            return decrypt(sealed[1:NONCE_END], sealed[NONCE_END:], header)
        except AuthenticationFailed:
            raise EnvelopeRejected("fails authentication") from None

    return open_event
