"""Does the key material belong to this database?

A database restored without its key material (a key file created afresh on a new host, another
deployment's file, the wrong HSM token) holds wrapped data keys that nothing here unwraps. That
must be said plainly, before the service answers, rather than found one failed read at a time.
`key_mismatches` unwraps one live data key of each organisation and returns the organisations
whose key did not unwrap; the server refuses to start when any did (`KeyMaterialMismatch`,
`kek-mismatch`: `services.api.asgi`, `haven serve`). What it says names no key and counts the
organisations without naming them.
"""

from __future__ import annotations

from crypto.errors import DecryptionError, KeyProviderError
from crypto.keyring import Keyring, WrappedDataKey
from events.recorded import Connection

# one live data key of each organisation: a skip scan of the primary key, one probe per
# organisation, whatever the number of cases
_ONE_KEY_PER_ORGANISATION = """
    WITH RECURSIVE organisations AS (
        (SELECT tenant_id FROM haven.streams ORDER BY tenant_id LIMIT 1)
        UNION ALL
        SELECT (SELECT s.tenant_id FROM haven.streams s
                 WHERE s.tenant_id > o.tenant_id ORDER BY s.tenant_id LIMIT 1)
          FROM organisations o WHERE o.tenant_id IS NOT NULL
    )
    SELECT k.tenant_id, k.stream_id, k.key_id, k.kek_id, k.wrapped_key
      FROM organisations o CROSS JOIN LATERAL (
           SELECT tenant_id, stream_id, key_id, kek_id, wrapped_key FROM haven.streams s
            WHERE s.tenant_id = o.tenant_id AND s.wrapped_key IS NOT NULL LIMIT 1) k
     WHERE o.tenant_id IS NOT NULL"""


class KeyMaterialMismatch(KeyProviderError):
    """The key provider opens, but does not unwrap this database's data keys."""

    code = "kek-mismatch"

    def __init__(self, organisations: int) -> None:
        super().__init__(
            f"the key material does not match the database ({self.code}): the data keys of "
            f"{organisations} organisation(s) do not unwrap; use the key file or HSM backup "
            "that belongs to this database (docs/operations.md, Backup and restore)"
        )


def refuse_mismatched(mismatches: tuple[str, ...]) -> None:
    """Raise `KeyMaterialMismatch` when any organisation's data keys do not unwrap."""
    if mismatches:
        raise KeyMaterialMismatch(len(mismatches))


async def key_mismatches(conn: Connection, keyring: Keyring) -> tuple[str, ...]:
    """The organisations (ids, sorted) with a live data key the key provider cannot unwrap."""
    rows = await conn.fetch(_ONE_KEY_PER_ORGANISATION)
    failed: set[str] = set()
    for row in rows:
        wrapped = WrappedDataKey(row["key_id"], row["kek_id"], bytes(row["wrapped_key"]))
        try:
            keyring.unwrap(row["tenant_id"], str(row["stream_id"]), wrapped)
        except (DecryptionError, KeyProviderError):
            failed.add(row["tenant_id"])
    return tuple(sorted(failed))
