"""The data keys a reader needs to open the rows it has just read.

A key comes from the keyring's cache only while its stream still holds it: the check that
no stream among the rows was erased runs on the reader's connection, right after the read,
so nothing is decrypted after an erasure is visible (`events.erasure`). Keys not in the
cache are unwrapped from the streams' head rows.
"""

from __future__ import annotations

from typing import Any

from crypto.errors import DecryptionError
from crypto.keyring import DataKey, Keyring, WrappedDataKey
from events.errors import TamperDetected
from events.recorded import Connection, StreamKeys, stream_id_of

_ERASED_AMONG_SQL = """
SELECT s.tenant_id, s.stream_id
  FROM haven.streams s JOIN unnest($1::text[], $2::uuid[]) AS w(tenant_id, stream_id)
    ON s.tenant_id = w.tenant_id AND s.stream_id = w.stream_id
 WHERE s.wrapped_key IS NULL"""

_WRAPPED_KEYS_SQL = """
SELECT s.tenant_id, s.stream_id, s.key_id, s.kek_id, s.wrapped_key
  FROM haven.streams s JOIN unnest($1::text[], $2::uuid[]) AS w(tenant_id, stream_id)
    ON s.tenant_id = w.tenant_id AND s.stream_id = w.stream_id"""


def unwrap_stream_key(
    keyring: Keyring, tenant_id: str, stream: str, key_id: str, kek_id: str, wrapped_key: bytes
) -> DataKey:
    """The stream's data key from its head row's columns; `TamperDetected` if it does not
    unwrap."""
    try:
        return keyring.unwrap(tenant_id, stream, WrappedDataKey(key_id, kek_id, wrapped_key))
    except DecryptionError as error:
        raise TamperDetected(f"the data key of stream {stream} does not unwrap") from error


async def keys_for(keyring: Keyring, conn: Connection, rows: list[Any]) -> StreamKeys:
    """The data key of every stream among `rows` (selected as `READ_COLUMNS`), None for an
    erased one, looked up on `conn`."""
    keys: StreamKeys = {}
    missing: list[tuple[str, Any]] = []
    streams: dict[tuple[str, Any], str] = {}
    last_tenant = last_stream = None
    for row in rows:  # each stream once; consecutive rows mostly share one, and == beats hash
        tenant, stream = row[0], row[1]
        if stream != last_stream or tenant != last_tenant:
            # every row's key id is checked when opened
            streams[(tenant, stream_id_of(stream))] = row[7]
            last_tenant, last_stream = tenant, stream
    for ident, key_id in streams.items():
        cached = keyring.cached(ident[0], str(ident[1]))
        keys[ident] = cached
        if cached is None or cached.key_id != key_id:
            missing.append(ident)
    trusted = [ident for ident in streams if keys[ident] is not None and ident not in missing]
    if trusted:  # a cached key is used only while its stream still holds it
        for tenant_id, stream_id in await conn.fetch(
            _ERASED_AMONG_SQL, [t[0] for t in trusted], [t[1] for t in trusted]
        ):
            keys[(tenant_id, stream_id)] = None
            keyring.forget(tenant_id, str(stream_id))
    if missing:
        found = await conn.fetch(
            _WRAPPED_KEYS_SQL, [m[0] for m in missing], [m[1] for m in missing]
        )
        if len(found) != len(missing):
            raise TamperDetected("events exist for a stream that has no head")
        for tenant_id, stream_id, key_id, kek_id, wrapped_key in found:
            keys[(tenant_id, stream_id)] = (
                None
                if wrapped_key is None
                else unwrap_stream_key(
                    keyring, tenant_id, str(stream_id), key_id, kek_id, wrapped_key
                )
            )
    return keys
