"""How an event is sealed: the header that is bound as associated data and chained.

The header is a msgpack array, so every field is length-delimited and no two different
headers encode to the same bytes:

    ["haven.event.v1", tenant, stream_id, version, event_type, schema_version, key_id,
     recorded_at_us]

It binds the ciphertext to its row: moving a ciphertext to another stream, organisation or
version, or changing its type, schema version, key id or timestamp fails authentication.
"""

from __future__ import annotations

import msgspec

_encode = msgspec.msgpack.Encoder().encode
LABEL = "haven.event.v1"

# `encode_header((LABEL, tenant, stream_id, ...))` is `event_header(tenant, stream_id, ...)`
# without the extra Python call, for readers that build headers in a hot loop.
encode_header = _encode


def event_header(
    tenant: str,
    stream_id: str,
    version: int,
    event_type: str,
    schema_version: int,
    key_id: str,
    recorded_at_us: int,
) -> bytes:
    return _encode((LABEL, tenant, stream_id, version, event_type, schema_version, key_id, recorded_at_us))
