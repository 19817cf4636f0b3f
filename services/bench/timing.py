"""How the bench suites time their work: operations driven for a while, jobs run a few at a
time, and nearest-rank percentiles of the latencies.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Sequence

Op = Callable[[], Awaitable[int]]  # does some work, returns the number of events it handled


async def drive(ops: Sequence[Op], seconds: float, warmup: float) -> tuple[int, float]:
    """Run every op in its own task, in a loop: `warmup` seconds uncounted, then `seconds`
    counted. Returns (events, elapsed seconds of the counted part)."""

    async def loop(op: Op, deadline: float) -> int:
        done = 0
        while time.perf_counter() < deadline:
            done += await op()
        return done

    if warmup > 0:
        deadline = time.perf_counter() + warmup
        await asyncio.gather(*(loop(op, deadline) for op in ops))
    start = time.perf_counter()
    counts = await asyncio.gather(*(loop(op, start + seconds) for op in ops))
    return sum(counts), time.perf_counter() - start


async def in_parallel(jobs: Sequence[Callable[[], Awaitable[int]]], workers: int) -> int:
    """Run the jobs with at most `workers` at a time; returns the sum of their results."""
    queue = list(reversed(jobs))
    total = 0

    async def worker() -> None:
        nonlocal total
        while queue:
            done = await queue.pop()()
            total += done

    await asyncio.gather(*(worker() for _ in range(workers)))
    return total


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of `values` (0 when empty)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return float(ordered[max(0, math.ceil(fraction * len(ordered)) - 1)])
