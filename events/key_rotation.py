"""Re-wrapping an organisation's data keys and secrets (idempotency, blind index) under its
active KEK.

`rewrap_organisation` walks the organisation's stream heads in `stream_id` order, a batch at a
time, and takes each row whose key is not under `active` (and not erased): unwrap with the
old KEK, wrap with the active one, same context, then one UPDATE per batch that changes a row
only while it still holds exactly the wrapped key that was read (a compare-and-set on
`kek_id` and `wrapped_key`). So an erasure that commits first (wrapped key NULL) stays erased,
a concurrent re-wrap is not wrapped twice, and every batch commits on its own: killed at any
point, a run loses at most the batch in flight, and the next run skips what is done. Events
are never touched (their data keys do not change), and keys cached by running processes stay
valid. A walk that changed anything is followed by another, which picks up streams created
under the old KEK by a process that had not yet seen the rotation.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Callable
from typing import Any, NamedTuple

import asyncpg

from crypto.errors import DecryptionError
from crypto.keyring import Keyring, WrappedDataKey
from crypto.providers import KekAdministration
from events.organisation_secrets import BLIND_INDEX_CONTEXT, BLIND_INDEX_PURPOSE

SECRET_CONTEXTS = {
    "idempotency": b"haven.secret.idempotency.v1",
    BLIND_INDEX_PURPOSE: BLIND_INDEX_CONTEXT,
}

_STREAMS_TO_REWRAP = """
SELECT stream_id, key_id, kek_id, wrapped_key FROM haven.streams
 WHERE tenant_id = $1 AND stream_id {after} $2 AND stream_id <= $5
   AND wrapped_key IS NOT NULL AND kek_id <> $3
 ORDER BY stream_id LIMIT $4"""
_FIRST_BATCH = _STREAMS_TO_REWRAP.format(after=">=")
_NEXT_BATCH = _STREAMS_TO_REWRAP.format(after=">")

# The compare-and-set: a row changes only while it holds the very wrapped key that was read
# (its random nonce makes it unique) under a KEK other than the one it is re-wrapped under.
_SWAP_STREAM_KEYS = """
UPDATE haven.streams s SET kek_id = $2, wrapped_key = u.new_wrapped
  FROM unnest($3::uuid[], $4::bytea[], $5::bytea[]) AS u(stream_id, old_wrapped, new_wrapped)
 WHERE s.tenant_id = $1 AND s.stream_id = u.stream_id
   AND s.wrapped_key = u.old_wrapped AND s.kek_id <> $2"""

_SECRETS_TO_REWRAP = """
SELECT purpose, kek_id, wrapped FROM haven.tenant_secrets WHERE tenant_id = $1 AND kek_id <> $2"""

_SWAP_SECRET = """
UPDATE haven.tenant_secrets SET kek_id = $4, wrapped = $5
 WHERE tenant_id = $1 AND purpose = $2 AND kek_id = $3 AND wrapped = $6"""

_USAGE = """
SELECT kek_id, count(*) FILTER (WHERE wrapped_key IS NOT NULL) AS live,
       count(*) FILTER (WHERE wrapped_key IS NULL) AS erased
  FROM haven.streams WHERE tenant_id = $1 GROUP BY kek_id"""

_SECRET_USAGE = "SELECT kek_id, count(*) FROM haven.tenant_secrets WHERE tenant_id = $1 GROUP BY 1"

_TO_REWRAP = """
SELECT (SELECT count(*) FROM haven.streams
         WHERE tenant_id = $1 AND wrapped_key IS NOT NULL AND kek_id <> $2)
     + (SELECT count(*) FROM haven.tenant_secrets WHERE tenant_id = $1 AND kek_id <> $2)"""

_REFERENCES = """
SELECT (SELECT count(*) FROM haven.streams
         WHERE ($1::text IS NULL OR tenant_id = $1) AND kek_id = $2 AND wrapped_key IS NOT NULL)
     + (SELECT count(*) FROM haven.tenant_secrets
         WHERE ($1::text IS NULL OR tenant_id = $1) AND kek_id = $2)"""

_ID_SPACE = 1 << 128


class KekUsage(NamedTuple):
    data_keys: int  # stream heads whose data key this KEK wraps
    secrets: int  # organisation secrets (idempotency) it wraps
    erased: int  # erased streams last wrapped under it (nothing left to unwrap)


class RewrapResult(NamedTuple):
    data_keys: int  # re-wrapped by this run
    secrets: int
    skipped: int  # changed by someone else between read and write (erased, re-wrapped)
    failed: int  # did not unwrap: tampered, or under a KEK the provider lacks


async def organisations(pool: asyncpg.Pool) -> list[str]:
    rows = await pool.fetch(
        "SELECT DISTINCT tenant_id FROM haven.streams"
        " UNION SELECT tenant_id FROM haven.tenant_secrets ORDER BY 1"
    )
    return [row[0] for row in rows]


async def kek_usage(pool: asyncpg.Pool, tenant: str) -> dict[str, KekUsage]:
    """Per kek id that the organisation's rows name: what it wraps, and erased streams."""
    usage: dict[str, KekUsage] = {}
    for kek_id, live, erased in await pool.fetch(_USAGE, tenant):
        usage[kek_id] = KekUsage(live, 0, erased)
    for kek_id, count in await pool.fetch(_SECRET_USAGE, tenant):
        usage[kek_id] = usage.get(kek_id, KekUsage(0, 0, 0))._replace(secrets=count)
    return usage


async def to_rewrap(pool: asyncpg.Pool, tenant: str, active: str) -> int:
    return int(await pool.fetchval(_TO_REWRAP, tenant, active))


async def references(pool: asyncpg.Pool, tenant: str | None, kek_id: str) -> int:
    """Data keys and secrets wrapped under `kek_id` (of `tenant`, or of every organisation)."""
    return int(await pool.fetchval(_REFERENCES, tenant, kek_id))


async def rewrap_organisation(
    pool: asyncpg.Pool,
    keyring: Keyring,
    admin: KekAdministration,
    tenant: str,
    *,
    batch: int = 500,
    walkers: int = 2,
    progress: Callable[[int], None] = lambda _done: None,
) -> RewrapResult:
    """Re-wrap every live data key and secret of `tenant` under the provider's active KEK.

    `walkers` walk equal slices of the stream-id space side by side, each on a connection of
    its own, so that one's UPDATE runs while another unwraps and wraps."""
    if batch < 1 or walkers < 1:
        raise ValueError("batch and walkers must be positive")
    totals = [0, 0, 0, 0]
    starts = [_ID_SPACE * index // walkers for index in range(walkers)] + [_ID_SPACE]
    slices = [
        (uuid.UUID(int=low), uuid.UUID(int=high - 1)) for low, high in itertools.pairwise(starts)
    ]
    while True:
        active = admin.active_kek_id(tenant)
        walked = await asyncio.gather(
            *(
                _rewrap_streams(pool, keyring, tenant, active, ids, batch, progress, totals)
                for ids in slices
            )
        )
        changed = sum(walked)
        changed += await _rewrap_secrets(pool, keyring, tenant, active, progress, totals)
        if not changed:
            return RewrapResult(*totals)


async def _rewrap_streams(
    pool: asyncpg.Pool,
    keyring: Keyring,
    tenant: str,
    active: str,
    ids: tuple[uuid.UUID, uuid.UUID],
    batch: int,
    progress: Callable[[int], None],
    totals: list[int],
) -> int:
    """One walker: the streams with `ids[0] <= stream_id <= ids[1]`, in order."""
    (after, last), query, changed = ids, _FIRST_BATCH, 0
    while rows := await pool.fetch(query, tenant, after, active, batch, last):
        query = _NEXT_BATCH
        after = rows[-1]["stream_id"]
        swaps: dict[str, tuple[list[Any], list[bytes], list[bytes]]] = {}
        for stream_id, key_id, kek_id, wrapped in rows:
            try:
                new = keyring.rewrap(
                    tenant, str(stream_id), WrappedDataKey(key_id, kek_id, wrapped)
                )
            except DecryptionError:
                totals[3] += 1
                continue
            ids_, olds, news = swaps.setdefault(new.kek_id, ([], [], []))
            ids_.append(stream_id)
            olds.append(wrapped)
            news.append(new.wrapped)
        for new_kek, (ids_, olds, news) in swaps.items():  # one KEK, unless it rotated meanwhile
            status = await pool.execute(_SWAP_STREAM_KEYS, tenant, new_kek, ids_, olds, news)
            done = int(status.split()[-1])
            totals[0] += done
            totals[2] += len(ids_) - done
            changed += done
        progress(len(rows))
    return changed


async def _rewrap_secrets(
    pool: asyncpg.Pool,
    keyring: Keyring,
    tenant: str,
    active: str,
    progress: Callable[[int], None],
    totals: list[int],
) -> int:
    provider, changed = keyring.provider, 0
    for purpose, kek_id, wrapped in await pool.fetch(_SECRETS_TO_REWRAP, tenant, active):
        context = SECRET_CONTEXTS.get(purpose)
        try:
            if context is None:
                raise DecryptionError()
            material = provider.unwrap(tenant, kek_id, bytes(wrapped), context)
        except DecryptionError:
            totals[3] += 1
            continue
        new_kek, new_wrapped = provider.wrap(tenant, material, context)
        status = await pool.execute(
            _SWAP_SECRET, tenant, purpose, kek_id, new_kek, new_wrapped, wrapped
        )
        done = int(status.split()[-1])
        totals[1] += done
        totals[2] += 1 - done
        changed += done
        progress(1)
    return changed
