"""An organisation's blind-index secret, kept in ``haven.tenant_secrets`` wrapped by its KEK.

The secret is drawn once per organisation (32 random bytes), the first time a case of the
organisation is indexed, and wrapped by the key provider under the organisation's own KEK with
`BLIND_INDEX_CONTEXT` as associated data; `haven keys rotate` re-wraps it with the
organisation's other secrets (`events.key_rotation.SECRET_CONTEXTS`). It never leaves the
process unwrapped and is never shared between organisations.

Only the index's writer (`projections.case_finder`) creates it, inside its own transaction; a
secret created in a transaction that then rolls back must not outlive it, so a freshly
created secret is not cached: the next call reads it again, and caches it once it is found
committed. Readers (a search, the duplicate check at intake) never create one: an
organisation without a secret has no index entry to find.
"""

from __future__ import annotations

import os

import asyncpg

from crypto.blind_index import SECRET_BYTES, BlindIndexKey
from crypto.providers import KeyProvider
from events.store import Connection

BLIND_INDEX_PURPOSE = "blind-index"
BLIND_INDEX_CONTEXT = b"haven.secret.blind-index.v1"

_SELECT = "SELECT kek_id, wrapped FROM haven.tenant_secrets WHERE tenant_id = $1 AND purpose = $2"
_INSERT = (
    "INSERT INTO haven.tenant_secrets (tenant_id, purpose, kek_id, wrapped)"
    " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING"
)


class BlindIndexKeys:
    """The organisations' blind-index keys, unwrapped once per process."""

    def __init__(self, provider: KeyProvider) -> None:
        self._provider = provider
        self._keys: dict[str, BlindIndexKey] = {}

    async def existing(
        self, conn: asyncpg.Pool | Connection, tenant_id: str
    ) -> BlindIndexKey | None:
        """The organisation's key, or None when it has none yet (nothing is indexed)."""
        cached = self._keys.get(tenant_id)
        if cached is not None:
            return cached
        row = await conn.fetchrow(_SELECT, tenant_id, BLIND_INDEX_PURPOSE)
        if row is None:
            return None
        key = self._unwrap(tenant_id, row)
        self._keys[tenant_id] = key
        return key

    async def for_writing(self, conn: Connection, tenant_id: str) -> BlindIndexKey:
        """The organisation's key, created in `conn`'s transaction when it has none."""
        found = await self.existing(conn, tenant_id)
        if found is not None:
            return found
        kek_id, wrapped = self._provider.wrap(
            tenant_id, os.urandom(SECRET_BYTES), BLIND_INDEX_CONTEXT
        )
        await conn.execute(_INSERT, tenant_id, BLIND_INDEX_PURPOSE, kek_id, wrapped)
        row = await conn.fetchrow(_SELECT, tenant_id, BLIND_INDEX_PURPOSE)  # the first writer's
        return self._unwrap(tenant_id, row)  # not cached: the transaction may not commit

    def _unwrap(self, tenant_id: str, row: asyncpg.Record) -> BlindIndexKey:
        secret = self._provider.unwrap(
            tenant_id, row["kek_id"], bytes(row["wrapped"]), BLIND_INDEX_CONTEXT
        )
        return BlindIndexKey(secret)
