"""The `case_finder` projection: the names a caseload shows, and the blind index a search uses.

Two tables, both filled from a case's intake (`CaseOpened`, the only event that sets its
identity and contact):

* ``views.case_names``: per case, its preferred name and aliases, msgpack-encoded and sealed
  with the case's own data key (associated data `names_header`: organisation, case, key id),
  so a worker's caseload can show names without opening every case's whole document, and no
  name is ever in a plain column. Erasing the case's key erases them.
* ``views.blind_index``: per case, one row per search term (`domain.case.search_terms`) —
  organisation, field, HMAC-SHA-256 of the normalised value under the organisation's own
  blind-index secret (`crypto.blind_index`, `events.organisation_secrets`), case id. No value,
  no plaintext; a hash means nothing without the secret, and one organisation's hash of a name
  is unrelated to another's.

Erasure removes both with every other view (`projections.rebuild.forget_case`: every table
carries ``tenant_id`` and ``case_id``); a batch takes its cases' erasure locks shared and skips
those erased meanwhile, as `projections.cases` does. The rows depend on the intake alone
(`stream_local`), so a rebuild equals the live projection.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, ClassVar

import asyncpg
import msgspec

from crypto.errors import DecryptionError
from crypto.keyring import Keyring, WrappedDataKey
from domain.case.events import CaseOpened
from domain.case.search_terms import Criterion, case_terms
from events.access_log import cached_case_data_key
from events.erasure import erased_streams, hold_against_erasure
from events.organisation_secrets import BlindIndexKeys
from events.store import Connection, RecordedEvent
from projections.base import BuffersUntilFlush, Tables, delete_streams, let_others_run
from projections.queries import reads_view

CASE_NAMES = "views.case_names"
BLIND_INDEX = "views.blind_index"
MAX_MATCHES = 50

_encode = msgspec.msgpack.Encoder().encode


class CaseNames(msgspec.Struct, frozen=True, array_like=True):
    preferred_name: str
    aliases: tuple[str, ...] = ()


_decode_names = msgspec.msgpack.Decoder(CaseNames).decode


def names_header(tenant_id: str, case_id: uuid.UUID, key_id: str) -> bytes:
    """The associated data of a case's sealed names."""
    return _encode(("haven.view.case-names/1", tenant_id, str(case_id), key_id))


class CaseFinderProjection(BuffersUntilFlush):
    name: ClassVar[str] = "case_finder"
    version: ClassVar[int] = 1
    stream_local: ClassVar[bool] = True  # a case's rows come from its own intake alone
    tables: ClassVar[dict[str, str]] = {
        CASE_NAMES: """CREATE TABLE {table} (
            tenant_id text  NOT NULL,
            case_id   uuid  NOT NULL,
            key_id    text  NOT NULL,
            sealed    bytea NOT NULL,  -- CaseNames, sealed with the case's data key
            PRIMARY KEY (tenant_id, case_id))""",
        BLIND_INDEX: """CREATE TABLE {table} (
            tenant_id text  NOT NULL,
            field     text  NOT NULL,
            term_hash bytea NOT NULL CHECK (length(term_hash) = 32),  -- HMAC-SHA-256, keyed
            case_id   uuid  NOT NULL,
            PRIMARY KEY (tenant_id, field, term_hash, case_id));
            CREATE INDEX {plain}_by_case ON {table} (tenant_id, case_id)""",
    }

    def __init__(self, keyring: Keyring, index_keys: BlindIndexKeys | None = None) -> None:
        self._keyring = keyring
        self._index_keys = index_keys or BlindIndexKeys(keyring.provider)
        self._pending: dict[tuple[str, uuid.UUID], CaseOpened] = {}

    async def apply(self, conn: Connection, batch: Sequence[RecordedEvent], tables: Tables) -> None:
        for recorded in batch:
            if isinstance(recorded.event, CaseOpened):
                self._pending[(recorded.tenant_id, recorded.stream_id)] = recorded.event

    async def flush(self, conn: Connection, tables: Tables) -> None:
        if not self._pending:
            return
        pending, self._pending = self._pending, {}
        await hold_against_erasure(conn, pending)  # an erasure now waits for this transaction
        erased = await erased_streams(conn, pending)
        names, entries = [], []
        for (tenant_id, case_id), opened in pending.items():
            if (tenant_id, case_id) in erased:
                continue
            await let_others_run()
            if opened.identity is not None:
                key = await cached_case_data_key(conn, self._keyring, tenant_id, case_id)
                sealed = key.aead.seal(
                    _encode(CaseNames(opened.identity.preferred_name, opened.identity.aliases)),
                    names_header(tenant_id, case_id, key.key_id),
                )
                names.append((tenant_id, case_id, key.key_id, sealed))
            terms = case_terms(opened.identity, opened.contact)
            if terms:
                index_key = await self._index_keys.for_writing(conn, tenant_id)
                entries += [
                    (tenant_id, field, index_key.term_hash(field, value), case_id)
                    for field, value in sorted(terms)
                ]
        await self.forget(conn, tables, [k for k in pending if k not in erased])
        await conn.executemany(
            f"INSERT INTO {tables[CASE_NAMES]} (tenant_id, case_id, key_id, sealed)"
            " VALUES ($1, $2, $3, $4)",
            names,
        )
        await conn.executemany(
            f"INSERT INTO {tables[BLIND_INDEX]} (tenant_id, field, term_hash, case_id)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            entries,
        )

    async def forget(
        self, conn: Connection, tables: Tables, keys: Sequence[tuple[str, uuid.UUID]]
    ) -> None:
        for key in keys:
            self._pending.pop(key, None)
        for logical in (CASE_NAMES, BLIND_INDEX):
            await delete_streams(conn, tables[logical], keys)


# -- reads ---------------------------------------------------------------------------------

# The names of the cases, with their stream's current wrapped key read in the same statement:
# a case erased (key destroyed) is not returned, whatever a cache still holds.
_NAMES_SQL = f"""
SELECT n.case_id, n.key_id, n.sealed, s.key_id, s.kek_id, s.wrapped_key
  FROM {CASE_NAMES} n
  JOIN haven.streams s ON s.tenant_id = n.tenant_id AND s.stream_id = n.case_id
 WHERE n.tenant_id = $1 AND n.case_id = ANY($2::uuid[]) AND s.wrapped_key IS NOT NULL"""


@reads_view
async def read_case_names(
    conn: Connection | asyncpg.Pool,
    keyring: Keyring,
    tenant_id: str,
    case_ids: Sequence[uuid.UUID],
) -> dict[uuid.UUID, CaseNames]:
    """The names of those of the cases that have them (not erased, not of another
    organisation). A row that fails to open is left out, never shown in part."""
    found: dict[uuid.UUID, CaseNames] = {}
    if not case_ids:
        return found
    for case_id, key_id, sealed, stream_key_id, kek_id, wrapped in await conn.fetch(
        _NAMES_SQL, tenant_id, list(case_ids)
    ):
        if key_id != stream_key_id:
            continue  # sealed under a key the stream no longer uses
        try:
            key = keyring.unwrap(
                tenant_id, str(case_id), WrappedDataKey(stream_key_id, kek_id, bytes(wrapped))
            )
            found[case_id] = _decode_names(
                key.aead.open(sealed, names_header(tenant_id, case_id, key_id))
            )
        except (DecryptionError, msgspec.DecodeError):
            continue
    return found


class Match(msgspec.Struct, frozen=True, kw_only=True):
    """A case a search found, with what authorisation needs to know of it."""

    case_id: uuid.UUID
    worker_id: str | None
    team_id: str | None
    is_open: bool


_FIND_SQL = f"""
SELECT b.case_id, c.worker_id, c.team_id, c.is_open
  FROM {BLIND_INDEX} b
  JOIN unnest($2::int[], $3::text[], $4::bytea[]) AS q(criterion, field, term_hash)
       ON q.field = b.field AND q.term_hash = b.term_hash
  JOIN views.caseload c ON c.tenant_id = b.tenant_id AND c.case_id = b.case_id
 WHERE b.tenant_id = $1
 GROUP BY b.case_id, c.worker_id, c.team_id, c.is_open
HAVING count(DISTINCT q.criterion) = $5
 ORDER BY c.is_open DESC, b.case_id
 LIMIT $6"""


@reads_view
async def find_cases(
    conn: Connection | asyncpg.Pool,
    index_keys: BlindIndexKeys,
    tenant_id: str,
    criteria: Sequence[Criterion],
    *,
    limit: int = MAX_MATCHES,
) -> list[Match]:
    """The organisation's cases that meet every criterion (one of its terms each), open
    cases first; none when the organisation has no blind-index secret (nothing is indexed)."""
    index_key = await index_keys.existing(conn, tenant_id)
    if index_key is None or not criteria:
        return []
    numbers: list[int] = []
    fields: list[str] = []
    hashes: list[bytes] = []
    for number, (_, terms) in enumerate(criteria):
        for field, value in sorted(terms):
            numbers.append(number)
            fields.append(field)
            hashes.append(index_key.term_hash(field, value))
    rows: list[Any] = await conn.fetch(
        _FIND_SQL, tenant_id, numbers, fields, hashes, len(criteria), limit
    )
    return [Match(case_id=row[0], worker_id=row[1], team_id=row[2], is_open=row[3]) for row in rows]
