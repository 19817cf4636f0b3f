"""`haven bench keys`: data keys re-wrapped per second by `haven keys rotate`.

Seeds `keys` stream heads of one organisation (each with a real data key wrapped under the
key file's first KEK, written with COPY), rotates the KEK and times `rewrap_organisation`
over all of them: read in batches, unwrap, wrap, compare-and-set UPDATE, as the command
runs it. Raw limit, measured in the same run on the same keys: the provider alone unwrapping
and wrapping each key in a loop (no database), i.e. the rate rotation could reach if the
database cost nothing. Target: ours / raw >= 0.5.
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from crypto.keyring import Keyring, stream_wrap_context
from crypto.providers import FileKeyProvider
from events.key_rotation import rewrap_organisation
from services.bench.report import print_table as print_figures
from services.bench.scratch import scratch_database, scratch_pool
from services.bench.workload import TENANT

TARGETS = {"key_rewrap": 0.5}
_COLUMNS = ("tenant_id", "stream_id", "version", "head_hash", "key_id", "kek_id", "wrapped_key")


async def run_keys_bench(
    database_url: str,
    *,
    keys: int = 100_000,
    batch: int = 500,
    walkers: int = 2,
    progress: Callable[[str], None] | None = None,
) -> dict[str, dict[str, Any]]:
    if keys < 1:
        raise ValueError("keys must be positive")
    note = progress or (lambda _line: None)
    async with (
        scratch_database(database_url, note) as url,
        scratch_pool(url, min_size=2, max_size=max(4, walkers + 1)) as pool,
    ):
        with tempfile.TemporaryDirectory(prefix="haven-bench-") as folder:
            provider = FileKeyProvider(Path(folder) / "kek")
            keyring = Keyring(provider)
            note(f"seeding {keys:,} stream heads with wrapped data keys")
            records = []
            for _ in range(keys):
                stream = uuid.uuid4()
                _, wrapped = keyring.create(TENANT, str(stream))
                records.append(
                    (TENANT, stream, 1, os.urandom(32), *wrapped)  # key_id, kek_id, wrapped
                )
            await pool.copy_records_to_table(
                "streams", schema_name="haven", columns=_COLUMNS, records=records
            )
            await pool.execute("VACUUM ANALYZE haven.streams")
            note("raw: the provider unwrapping and wrapping every key, no database")
            started = time.perf_counter()
            for _, stream, _, _, key_id, kek_id, wrapped_key in records:
                context = stream_wrap_context(str(stream), key_id)
                material = provider.unwrap(TENANT, kek_id, wrapped_key, context)
                provider.wrap(TENANT, material, context)
            raw = keys / (time.perf_counter() - started)
            active = provider.rotate(TENANT)
            note(f"ours: rotating to {active} and re-wrapping every key, batches of {batch}")
            started = time.perf_counter()
            result = await rewrap_organisation(
                pool, keyring, provider, TENANT, batch=batch, walkers=walkers
            )
            ours = keys / (time.perf_counter() - started)
            provider.close()
    if result.data_keys != keys:
        raise RuntimeError(f"re-wrapped {result.data_keys} of {keys} keys")
    return {
        "key_rewrap": {
            "value": ours,
            "unit": "keys/s",
            "raw": raw,
            "ratio": ours / raw,
            "keys": keys,
        }
    }


def print_table(results: Mapping[str, Mapping[str, Any]]) -> None:
    print_figures(results, TARGETS)
