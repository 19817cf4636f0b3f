"""`haven bench store`: event-store throughput against the raw PostgreSQL limit.

`run_store_bench` measures six figures in a throw-away database, each in events per second,
twice: through `PostgresEventStore` ("ours") and with plain asyncpg on a table `bench_raw` with
the columns, constraints and indexes of `haven.events`, filled with random bytes as long as our
ciphertexts, with the same commit pattern ("raw"). What each figure measures is in
docs/benchmarks.md; `print_table` shows them with the targets in `TARGETS`.

Everything written is synthetic: one organisation ``bench-org-01`` and one event type,
`BenchNoted`, registered only in the bench's own registry.
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from crypto.keyring import Keyring
from crypto.providers import FileKeyProvider
from events.registry import EventRegistry
from events.store import utc_now
from services.bench.report import format_table
from services.bench.scratch import scratch_database, scratch_pool
from services.bench.timing import Op, drive, in_parallel, percentile
from services.bench.workload import (
    RAW_INSERT,
    RAW_SCHEMA,
    STREAM_EVENTS,
    STREAMS_PER_TRANSACTION,
    TENANT,
    BenchNoted,
    StoreWorkload,
    bench_metadata,
)

FIGURES = (
    "append_single",
    "append_concurrent",
    "append_concurrent_64",
    "bulk_import",
    "read_stream",
    "catch_up",
)
TARGETS: dict[str, float] = {  # minimum ours/raw
    "append_concurrent": 1.0,
    "append_concurrent_64": 2.0,
    "catch_up": 0.5,
}


# -- timing ------------------------------------------------------------------------------


def _figure(ours: float, raw: float) -> dict[str, Any]:
    return {
        "value": float(ours),
        "unit": "ev/s",
        "raw": float(raw),
        "ratio": float(ours / raw) if raw else 0.0,
    }


def _timed(op: Op, latencies: list[float]) -> Op:
    """`op`, each call's duration appended to `latencies` (seconds)."""

    async def timed() -> int:
        start = time.perf_counter()
        done = await op()
        latencies.append(time.perf_counter() - start)
        return done

    return timed


def _with_latency(
    figure: dict[str, Any], ours: Sequence[float], raw: Sequence[float]
) -> dict[str, Any]:
    """The figure with both sides' p50 and p99 per operation, in milliseconds."""
    return {
        **figure,
        "p50_ms": percentile(ours, 0.5) * 1000,
        "p99_ms": percentile(ours, 0.99) * 1000,
        "raw_p50_ms": percentile(raw, 0.5) * 1000,
        "raw_p99_ms": percentile(raw, 0.99) * 1000,
    }


async def _compare(
    ours: Sequence[Op], raw: Sequence[Op], *, seconds: float, warmup: float, rounds: int
) -> dict[str, Any]:
    """Ours and raw alternately, `rounds` times, `seconds` in all for each side.

    The order flips every round (ours-raw, raw-ours, ...) so that drift in the machine's
    speed (other load, checkpoints, autovacuum) falls on both sides alike; each side warms up
    for `warmup` seconds before its first round only.
    """
    totals = {"ours": [0, 0.0], "raw": [0, 0.0]}
    sides = [("ours", ours), ("raw", raw)]
    for round_ in range(rounds):
        for side, ops in sides if round_ % 2 == 0 else sides[::-1]:
            events, elapsed = await drive(ops, seconds / rounds, warmup if round_ == 0 else 0.0)
            totals[side][0] += events
            totals[side][1] += elapsed
    return _figure(totals["ours"][0] / totals["ours"][1], totals["raw"][0] / totals["raw"][1])


def _import_plan(events: int) -> list[list[int]]:
    """Transactions (lists of stream sizes) that write exactly `events` events."""
    sizes = [STREAM_EVENTS] * (events // STREAM_EVENTS)
    if events % STREAM_EVENTS:
        sizes.append(events % STREAM_EVENTS)
    return [
        sizes[i : i + STREAMS_PER_TRANSACTION]
        for i in range(0, len(sizes), STREAMS_PER_TRANSACTION)
    ]


# -- the figures ------------------------------------------------------------------------


async def _catch_up(
    bench: StoreWorkload, events: int, *, rounds: int, loaders: int, note: Callable[[str], None]
) -> dict[str, Any]:
    await bench.pool.execute("TRUNCATE haven.events, haven.streams, bench_raw")
    plan = _import_plan(events)
    note(f"catch_up: loading {events:,} events into haven.events")
    loaded = await in_parallel(
        [lambda sizes=sizes: bench.our_import(sizes) for sizes in plan], loaders
    )
    note(f"catch_up: loading {events:,} rows into bench_raw")
    await in_parallel([lambda sizes=sizes: bench.raw_import(sizes) for sizes in plan], loaders)
    await bench.pool.execute("VACUUM (ANALYZE) haven.events, haven.streams, bench_raw")
    # warm the buffer cache the same way for both tables (heap and log-order index)
    await bench.raw_catch_up("haven.events")
    await bench.raw_catch_up("bench_raw")
    totals = {"ours": [0, 0.0], "raw": [0, 0.0]}

    async def ours() -> int:
        bench.keyring.clear()  # a projector starting cold unwraps every stream's key
        return await bench.our_catch_up()

    sides = [("ours", ours), ("raw", bench.raw_catch_up)]
    for round_ in range(rounds):
        note(f"catch_up: round {round_ + 1} of {rounds}")
        for side, read_all in sides if round_ % 2 == 0 else sides[::-1]:
            start = time.perf_counter()
            read = await read_all()
            totals[side][1] += time.perf_counter() - start
            totals[side][0] += read
            if read != loaded:
                raise RuntimeError(f"catch_up ({side}) read {read} of {loaded} events")
    return _figure(totals["ours"][0] / totals["ours"][1], totals["raw"][0] / totals["raw"][1])


async def _run(
    bench: StoreWorkload,
    *,
    events_for_catch_up: int,
    seconds: float,
    warmup: float,
    rounds: int,
    writers: int,
    many_writers: int,
    catch_up_rounds: int,
    note: Callable[[str], None],
) -> dict[str, dict[str, Any]]:
    timing = {"seconds": seconds, "warmup": warmup, "rounds": rounds}
    results: dict[str, dict[str, Any]] = {}

    note("append_single")
    ours_ms: list[float] = []
    raw_ms: list[float] = []
    single = await _compare(
        [_timed(bench.our_writer(), ours_ms)], [_timed(bench.raw_writer(), raw_ms)], **timing
    )
    results["append_single"] = _with_latency(single, ours_ms, raw_ms)

    for figure, count in (("append_concurrent", writers), ("append_concurrent_64", many_writers)):
        note(f"{figure} ({count} writers)")
        results[figure] = await _compare(
            [bench.our_writer() for _ in range(count)],
            [bench.raw_writer() for _ in range(count)],
            **timing,
        )

    note("bulk_import")
    results["bulk_import"] = await _compare([bench.our_import], [bench.raw_import], **timing)

    note("read_stream")
    our_stream, raw_stream = uuid.uuid4(), uuid.uuid4()
    await bench.store.append(
        TENANT, our_stream, 0, bench.our_events(STREAM_EVENTS), bench_metadata()
    )
    await bench.pool.executemany(
        RAW_INSERT, bench.raw_rows(raw_stream, os.urandom(8).hex(), 1, STREAM_EVENTS, utc_now())
    )
    results["read_stream"] = await _compare(
        [bench.our_reader(our_stream)], [bench.raw_reader(raw_stream)], **timing
    )

    results["catch_up"] = await _catch_up(
        bench, events_for_catch_up, rounds=catch_up_rounds, loaders=4, note=note
    )
    return {name: results[name] for name in FIGURES}


async def run_store_bench(
    database_url: str,
    *,
    events_for_catch_up: int = 200_000,
    seconds: float = 4.5,
    warmup: float = 0.5,
    rounds: int = 3,
    writers: int = 16,
    many_writers: int = 64,
    catch_up_rounds: int = 2,
    progress: Callable[[str], None] | None = None,
) -> dict[str, dict[str, Any]]:
    """Measure the event store against raw asyncpg; returns ``{figure: {"value": ours, "unit":
    "ev/s", "raw": raw, "ratio": ours/raw}}``, `append_single` also with both sides' p50 and
    p99 per append (``"p50_ms"``, ``"p99_ms"``, ``"raw_p50_ms"``, ``"raw_p99_ms"``).

    `database_url` names any database on the server to use (the `haven` one is fine): the
    bench creates its own database `haven_bench_<hex>` next to it, with the same user, and
    drops it at the end. Each timed figure runs `seconds` per side (ours, raw), split into
    `rounds` alternating rounds, after `warmup` seconds per side; `catch_up` reads the whole
    log of `events_for_catch_up` events `catch_up_rounds` times per side. The concurrent
    figures run `writers` and `many_writers` writers a side. `progress`, if
    given, is called with a short line as each step starts.
    """
    counts = (events_for_catch_up, rounds, writers, many_writers, catch_up_rounds)
    if min(counts) < 1 or seconds <= 0:
        raise ValueError(
            "events_for_catch_up, seconds, rounds, writers, many_writers and catch_up_rounds"
            " must be positive"
        )
    note = progress or (lambda _line: None)
    async with (
        scratch_database(database_url, note) as url,
        scratch_pool(url, min_size=writers + 4, max_size=max(writers, many_writers) + 4) as pool,
    ):
        await pool.execute(RAW_SCHEMA)
        with tempfile.TemporaryDirectory(prefix="haven-bench-") as folder:
            provider = FileKeyProvider(Path(folder) / "kek")
            try:
                keyring = Keyring(provider)
                bench = StoreWorkload(pool, keyring, EventRegistry([BenchNoted]))
                note(f"events of {bench.mean_ciphertext:.0f} bytes of ciphertext on average")
                return await _run(
                    bench,
                    events_for_catch_up=events_for_catch_up,
                    seconds=seconds,
                    warmup=warmup,
                    rounds=rounds,
                    writers=writers,
                    many_writers=many_writers,
                    catch_up_rounds=catch_up_rounds,
                    note=note,
                )
            finally:
                provider.close()


def print_table(results: Mapping[str, Mapping[str, Any]]) -> None:
    """Print the results of `run_store_bench` as a table, with targets and pass/MISS markers,
    then the single writer's latency next to raw's."""
    print(format_table(results, TARGETS))
    single = results.get("append_single", {})
    if "p50_ms" in single:
        print(
            "append_single latency per append: "
            f"ours p50 {single['p50_ms']:.2f} ms, p99 {single['p99_ms']:.2f} ms; "
            f"raw p50 {single['raw_p50_ms']:.2f} ms, p99 {single['raw_p99_ms']:.2f} ms"
        )
