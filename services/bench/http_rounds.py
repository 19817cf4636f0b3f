"""The measured rounds of `haven bench http`: each side of a figure, ours and raw, in turn,
and the commands offered open loop at half the measured command capacity.

Each round is one run of the load generator (`services.bench.loadgen`) in its own process,
sending the same requests to the API (ours) and to the raw app (`services.bench.raw_app`,
raw) on the same paths; this module needs no HTTP client of its own.
"""

from __future__ import annotations

import asyncio
import copy
import json
import sys
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from services.bench.timing import percentile

CpuClock = Callable[[], float]
LATENCY_LOAD = 0.5  # the open loop's offered rate, as a fraction of the command capacity
LATENCY_P50_LIMIT_MS = 10.0
LATENCY_P99_LIMIT_MS = 50.0


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
        self.statuses: Counter[str] = Counter()
        self.cpu: list[float] = []  # the load generator's share of a core, each round
        self.answered = 0  # every request answered, warm-ups included
        self.server_cpu = 0.0  # seconds of the server's CPU over its rounds

    def add(self, result: Mapping[str, Any]) -> None:
        self.answered += int(result["answered"])
        self.requests += int(result["requests"])
        self.failed += int(result["failed"])
        self.statuses.update(result["statuses"])
        self.cpu.append(float(result["cpu"]))
        self.elapsed += float(result["elapsed"])
        self.latencies.extend(result["latencies_ms"])

    @property
    def rate(self) -> float:
        return self.requests / self.elapsed if self.elapsed else 0.0

    @property
    def server_cpu_ms(self) -> float:
        """The server's CPU per request answered, in milliseconds."""
        return 1000 * self.server_cpu / self.answered if self.answered else 0.0


def figure_of(ours: Side, raw: Side) -> dict[str, Any]:
    """One figure of `run_http_bench`'s results: our rate and latencies against the raw's."""
    return {
        "value": float(ours.rate),
        "unit": "req/s",
        "raw": float(raw.rate),
        "ratio": float(ours.rate / raw.rate) if raw.rate else 0.0,
        "p50_ms": percentile(ours.latencies, 0.50),
        "p99_ms": percentile(ours.latencies, 0.99),
        "raw_p50_ms": percentile(raw.latencies, 0.50),
        "raw_p99_ms": percentile(raw.latencies, 0.99),
        "server_cpu_ms": ours.server_cpu_ms,
        "raw_server_cpu_ms": raw.server_cpu_ms,
        "generator_cpu": max(ours.cpu, default=0.0),
        "raw_generator_cpu": max(raw.cpu, default=0.0),
        "requests": ours.requests,
        "failed": ours.failed,
        "raw_failed": raw.failed,
    }


async def paired_figure(
    name: str,
    ours_spec: dict[str, Any],
    raw_spec: dict[str, Any],
    *,
    rounds: int,
    note: Callable[[str], None],
    cpu: tuple[CpuClock, CpuClock] = (lambda: 0.0, lambda: 0.0),
) -> dict[str, Any]:
    """Ours and raw in alternating rounds, the order flipped each round. A command spec's
    `cases` (each client's [case_id, version]) are carried from each round to the side's next,
    and `ours_spec["cases"]` is left holding the API's versions at the end. `cpu` reads each
    side's server's CPU seconds so far (`http_server.cpu_seconds`), before and after its
    rounds."""
    ours, raw = Side(), Side()
    sides = [(ours, ours_spec, cpu[0]), (raw, raw_spec, cpu[1])]
    for round_ in range(rounds):
        note(f"{name}: round {round_ + 1} of {rounds}")
        for side, spec, clock in sides if round_ % 2 == 0 else sides[::-1]:
            before = clock()
            result = await load_round(spec)
            side.server_cpu += clock() - before
            if spec["kind"] == "command":
                spec["cases"] = result["cases"]  # each client's versions, for the next round
            side.add(result)
    if raw.failed * 100 > raw.requests:  # a few (a connection refused at a spike): counted
        raise RuntimeError(f"the raw app failed {name} requests: {dict(raw.statuses)}")
    return figure_of(ours, raw)


def specs(
    base: Mapping[str, Any], raw_url: str, token: str, cases: list[list[list[Any]]], body: Any
) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """The load generator's spec of each figure, (ours, raw): the same requests, the raw app's
    without the token it does not read, on a copy of the cases."""
    reads = {
        **base,
        "kind": "get",
        "headers": {"Authorization": f"Bearer {token}"},
        "paths": [[f"/v1/cases/{case_id}" for case_id, _ in owned] for owned in cases],
    }
    commands = {
        **base,
        "kind": "command",
        "headers": {"Authorization": f"Bearer {token}"},
        "body": body,
        "cases": cases,
    }
    raw = {"base_url": raw_url, "headers": {}}
    return {
        "case_read": (reads, {**reads, **raw}),
        "command": (commands, {**commands, **raw, "cases": copy.deepcopy(cases)}),
    }


async def latency_figure(
    base: Mapping[str, Any],
    token: str,
    cases: list[list[Any]],
    *,
    capacity: float,
    body: Any,
    note: Callable[[str], None],
) -> dict[str, Any]:
    """``command_latency``: commands (as in ``command``, no Idempotency-Key) started open
    loop at `LATENCY_LOAD` x `capacity` per second for `base["seconds"]` after
    `base["warmup"]`, each on a case not in flight, latencies from the scheduled start.
    `cases` ([case_id, version], ...) are updated to their versions at the end."""
    rate = LATENCY_LOAD * capacity
    note(f"command_latency: {rate:,.0f} commands/s offered, open loop")
    result = await load_round(
        {
            **base,
            "kind": "open",
            "rate": rate,
            "cases": cases,
            "body": body,
            "idempotency": False,
            "headers": {"Authorization": f"Bearer {token}"},
        }
    )
    cases[:] = result["cases"]
    return {
        "capacity": float(capacity),
        "offered": float(result["offered_rate"]),
        "achieved": float(result["achieved_rate"]),
        "goodput": float(result["goodput"]),
        "requests": int(result["requests"]),
        "failed": int(result["requests"]) - len(result["ok_ms"]),
        "p50_ms": percentile(result["ok_ms"], 0.50),
        "p99_ms": percentile(result["ok_ms"], 0.99),
        "lag_p99_ms": float(result["lag_p99_ms"]),
        "behind": bool(result["behind"]),
        "generator_cpu": float(result["cpu"]),
    }


def latency_checks(figure: Mapping[str, Any]) -> list[tuple[str, str, str, bool]]:
    """(measure, value, target, met) for the open loop's latency targets."""
    return [
        (
            "p50",
            f"{figure['p50_ms']:.1f} ms",
            f"< {LATENCY_P50_LIMIT_MS:g} ms",
            figure["p50_ms"] < LATENCY_P50_LIMIT_MS and figure["failed"] == 0,
        ),
        (
            "p99",
            f"{figure['p99_ms']:.1f} ms",
            f"< {LATENCY_P99_LIMIT_MS:g} ms",
            figure["p99_ms"] < LATENCY_P99_LIMIT_MS and figure["failed"] == 0,
        ),
    ]


def format_latency(figure: Mapping[str, Any]) -> str:
    """The open loop: offered and achieved rates, whether the generator kept its schedule,
    then p50 and p99 against their targets."""
    behind = (
        "BEHIND its schedule: the figures measure the generator too"
        if figure["behind"]
        else "on schedule"
    )
    lines = [
        f"command_latency: open loop at {LATENCY_LOAD:g} x {figure['capacity']:,.0f} "
        f"commands/s: offered {figure['offered']:,.0f} req/s, sent {figure['achieved']:,.0f} "
        f"req/s, {figure['goodput']:,.0f} answered 200/s, {figure['failed']} of "
        f"{figure['requests']} not 200; generator {behind} (send lag p99 "
        f"{figure['lag_p99_ms']:.1f} ms, {figure['generator_cpu']:.2f} of a core)"
    ]
    for measure, value, target, met in latency_checks(figure):
        lines.append(
            f"command_latency {measure}: {value} (target {target})  " + ("pass" if met else "MISS")
        )
    return "\n".join(lines)
