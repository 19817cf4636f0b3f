"""The measured rounds of `haven bench http`: each side of a figure, ours and raw, in turn.

Each round of ours is one run of the load generator (`services.bench.loadgen`) in its own
process; this module needs no HTTP client of its own.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Mapping
from typing import Any

from services.bench.timing import drive, percentile
from services.bench.workload import StoreWorkload


async def load_round(spec: Mapping[str, Any]) -> dict[str, Any]:
    """One round of `services.bench.loadgen` in its own process."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.bench.loadgen",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate(json.dumps(spec).encode())
    if process.returncode != 0:
        tail = err.decode(errors="replace")[-2000:]
        raise RuntimeError(f"the load generator failed ({process.returncode}): {tail}")
    return json.loads(out)


class Side:
    """Totals of one side of a figure over its rounds."""

    def __init__(self) -> None:
        self.requests = 0
        self.failed = 0
        self.elapsed = 0.0
        self.latencies: list[float] = []

    def add(self, result: Mapping[str, Any]) -> None:
        self.requests += int(result["requests"])
        self.failed += int(result["failed"])
        self.elapsed += float(result["elapsed"])
        self.latencies.extend(result["latencies_ms"])

    @property
    def rate(self) -> float:
        return self.requests / self.elapsed if self.elapsed else 0.0


def figure_of(ours: Side, raw: float) -> dict[str, Any]:
    """One figure of `run_http_bench`'s results: our rate and latencies against the raw rate."""
    return {
        "value": float(ours.rate),
        "unit": "req/s",
        "raw": float(raw),
        "ratio": float(ours.rate / raw) if raw else 0.0,
        "p50_ms": percentile(ours.latencies, 0.50),
        "p99_ms": percentile(ours.latencies, 0.99),
        "requests": ours.requests,
        "failed": ours.failed,
    }


async def case_read_figure(
    base: dict[str, Any],
    token: str,
    cases: list[list[list[Any]]],
    *,
    rounds: int,
    note: Callable[[str], None],
) -> dict[str, Any]:
    """``case_read``: `GET /v1/cases/{id}` by the assigned worker, against `GET /health` on the
    same server, measured by the same load generator; ours and raw alternate over `rounds`."""
    reads = {
        **base,
        "kind": "get",
        "headers": {"Authorization": f"Bearer {token}"},
        "paths": [[f"/v1/cases/{case_id}" for case_id, _ in owned] for owned in cases],
    }
    trivial = {**base, "kind": "get", "headers": {}, "paths": [["/health"] for _ in cases]}
    ours, raw = Side(), Side()
    sides = [(ours, reads), (raw, trivial)]
    for round_ in range(rounds):
        note(f"case_read: round {round_ + 1} of {rounds}")
        for side, spec in sides if round_ % 2 == 0 else sides[::-1]:
            side.add(await load_round(spec))
    if raw.failed:
        raise RuntimeError(f"GET /health failed {raw.failed} times")
    return figure_of(ours, raw.rate)


async def command_figure(
    base: dict[str, Any],
    token: str,
    cases: list[list[list[Any]]],
    bench: StoreWorkload,
    *,
    body: dict[str, Any],
    rounds: int,
    note: Callable[[str], None],
) -> dict[str, Any]:
    """``command``: `POST /v1/cases/{id}/services`, each client on its own cases with the
    `If-Match` version of its last answer, against plain single-row INSERTs by as many tasks
    (`bench`'s raw writers, warmed up before their first round only). `cases` is left holding
    each case's version at the end, for whatever runs next."""
    spec = {
        **base,
        "kind": "command",
        "headers": {"Authorization": f"Bearer {token}"},
        "body": body,
        "cases": cases,
    }
    writers = [bench.raw_writer() for _ in cases]
    ours, raw_rows, raw_elapsed = Side(), 0, 0.0
    for round_ in range(rounds):
        note(f"command: round {round_ + 1} of {rounds}")
        for side in ("ours", "raw") if round_ % 2 == 0 else ("raw", "ours"):
            if side == "ours":
                result = await load_round(spec)
                spec["cases"] = result["cases"]  # each client's versions, carried to the next round
                ours.add(result)
            else:
                warmup = base["warmup"] if round_ == 0 else 0.0
                rows, elapsed = await drive(writers, base["seconds"], warmup)
                raw_rows += rows
                raw_elapsed += elapsed
    cases[:] = spec["cases"]
    return figure_of(ours, raw_rows / raw_elapsed)
