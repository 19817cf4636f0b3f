"""The ``overload`` figure of `haven bench http`: commands offered open loop, at half and at
twice the server's measured capacity, while a probe asks `/health` on its own schedule.

The capacity is measured before and after the open loops, as the ``command`` figure is (a
closed loop, the same clients), but with an `Idempotency-Key` on every command as in the open
loop: a key costs a lookup, a claim and a completion, so the plain ``command`` rate would
overstate what keyed commands can reach. Each load is one run of the load generator in its
open-loop mode (`services.bench.openloop`): commands started on a fixed schedule, each with
`If-Match` and an `Idempotency-Key`, latencies from the scheduled start. During the run at
twice the capacity a second generator process starts `GET /health` `PROBE_RATE` times a
second. Afterwards the recorded services in the database are counted against the commands
answered 200: an acknowledged command must never be lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

import asyncpg

from services.bench.http_rounds import load_round
from services.bench.timing import percentile

HALF, TWICE = 0.5, 2.0  # offered load, as a fraction of the capacity
PROBE_RATE = 50.0  # GET /health per second during the overload
GOODPUT_TARGET = 0.9  # minimum successful commands/s at twice the capacity, / capacity
P99_RATIO_TARGET = 5.0  # maximum p99 of admitted commands at twice / p99 at half the capacity
HEALTH_P99_TARGET_MS = 50.0


async def _services_recorded(pool: asyncpg.Pool, event_type: str) -> int:
    return int(
        await pool.fetchval("SELECT count(*) FROM haven.events WHERE event_type = $1", event_type)
    )


async def overload_figure(
    base: Mapping[str, Any],
    token: str,
    cases: list[list[Any]],
    *,
    body: dict[str, Any],
    clients: int,
    pool: asyncpg.Pool,
    event_type: str,
    note: Callable[[str], None],
) -> dict[str, Any]:
    """Measure the capacity for keyed commands with `clients` closed-loop clients, offer
    `HALF`, then `TWICE` that many commands/s, each for `base["seconds"]` after
    `base["warmup"]`, on `cases` ([[case_id, version], ...]), then measure the capacity again:
    the ratios are against the mean of the two, so that a machine busier before than after (or
    the reverse) shows as two capacities apart instead of a flattering or unfair ratio.
    `event_type` is the tag of the event each command appends, counted in `pool`'s database
    before and after the open loops."""
    commands = {**base, "headers": {"Authorization": f"Bearer {token}"}, "body": body}

    async def closed_loop(cases: list[list[Any]]) -> dict[str, Any]:
        note(f"overload: capacity, {clients} clients, closed loop, with Idempotency-Key")
        result = await load_round(
            {
                **commands,
                "kind": "command",
                "idempotency": True,
                "cases": [cases[client::clients] for client in range(clients)],
            }
        )
        result["capacity"] = result["statuses"].get("200", 0) / result["elapsed"]
        if result["capacity"] <= 0:
            raise RuntimeError(f"no command succeeded in the closed loop: {result['statuses']}")
        result["cases"] = [case for owned in result["cases"] for case in owned]
        return result

    first = await closed_loop(cases)
    offered = first["capacity"]
    before = await _services_recorded(pool, event_type)  # the open loops' commands from here
    opened = {**commands, "kind": "open"}
    note(f"overload: {HALF * offered:,.0f} commands/s offered, open loop")
    half = await load_round({**opened, "rate": HALF * offered, "cases": first["cases"]})
    note(f"overload: {TWICE * offered:,.0f} commands/s offered, /health probed")
    probe = {**base, "kind": "open", "rate": PROBE_RATE, "path": "/health", "connections": 8}
    twice, health = await asyncio.gather(
        load_round({**opened, "rate": TWICE * offered, "cases": half["cases"]}),
        load_round(probe),
    )
    appended = await _services_recorded(pool, event_type) - before
    last = await closed_loop(twice["cases"])
    capacity = (first["capacity"] + last["capacity"]) / 2
    acknowledged = half["acknowledged"] + twice["acknowledged"]
    statuses = {
        code: half["statuses"].get(code, 0) + twice["statuses"].get(code, 0)
        for code in sorted({*half["statuses"], *twice["statuses"]})
    }
    half_p99 = percentile(half["ok_ms"], 0.99)
    twice_p99 = percentile(twice["ok_ms"], 0.99)
    return {
        "capacity": capacity,
        "capacity_before": first["capacity"],
        "capacity_after": last["capacity"],
        "capacity_p99_ms": percentile(first["latencies_ms"] + last["latencies_ms"], 0.99),
        "half": _load(half),
        "twice": _load(twice),
        "goodput_ratio": twice["goodput"] / capacity,
        "p99_ratio": twice_p99 / half_p99 if half_p99 else 0.0,
        "health_p50_ms": percentile(health["ok_ms"], 0.50),
        "health_p99_ms": percentile(health["ok_ms"], 0.99),
        "health_requests": health["requests"],
        "health_failed": health["requests"] - len(health["ok_ms"]),
        "health_behind": health["behind"],
        "shed": half["shed"] + twice["shed"],
        "bad_shed": half["bad_shed"] + twice["bad_shed"],
        "errors_500": sum(n for code, n in statuses.items() if code[0] == "5" and code != "503"),
        "statuses": statuses,
        "acknowledged": acknowledged,
        "appended": appended,
        "lost": max(0, acknowledged - appended),
    }


def _load(result: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "offered": float(result["offered_rate"]),
        "achieved": float(result["achieved_rate"]),
        "goodput": float(result["goodput"]),
        "requests": int(result["requests"]),
        "p50_ms": percentile(result["ok_ms"], 0.50),
        "p99_ms": percentile(result["ok_ms"], 0.99),
        "lag_p99_ms": float(result["lag_p99_ms"]),
        "behind": bool(result["behind"]),
        "generator_cpu": float(result["cpu"]),
        "waited_for_case": int(result["waited_for_case"]),
    }


def overload_checks(figure: Mapping[str, Any]) -> list[tuple[str, str, str, bool]]:
    """(measure, value, target, met) for each target of the overload figure."""
    half, twice = figure["half"], figure["twice"]
    all_503 = figure["bad_shed"] == 0
    return [
        (
            "goodput at 2x / capacity",
            f"{figure['goodput_ratio']:.2f} ({twice['goodput']:,.0f} / {figure['capacity']:,.0f}"
            " req/s)",
            f">= {GOODPUT_TARGET:g}",
            figure["goodput_ratio"] >= GOODPUT_TARGET,
        ),
        (
            "p99 admitted at 2x / at 0.5x",
            f"{figure['p99_ratio']:.2f} ({twice['p99_ms']:.1f} / {half['p99_ms']:.1f} ms)",
            f"<= {P99_RATIO_TARGET:g}",
            0 < figure["p99_ratio"] <= P99_RATIO_TARGET,
        ),
        (
            "/health p99 at 2x",
            f"{figure['health_p99_ms']:.1f} ms ({figure['health_requests']} probes, "
            f"{figure['health_failed']} failed)",
            f"< {HEALTH_P99_TARGET_MS:g} ms",
            figure["health_p99_ms"] < HEALTH_P99_TARGET_MS and figure["health_failed"] == 0,
        ),
        (
            "shed: 503 overloaded + Retry-After",
            f"{figure['shed']} shed, {figure['bad_shed']} other 503",
            "every 503",
            all_503,
        ),
        ("5xx answers other than 503", str(figure["errors_500"]), "0", figure["errors_500"] == 0),
        (
            "acknowledged commands lost",
            f"{figure['lost']} ({figure['acknowledged']} acknowledged, "
            f"{figure['appended']} recorded)",
            "0",
            figure["lost"] == 0,
        ),
    ]


def format_overload(figure: Mapping[str, Any]) -> str:
    """The overload figure: the two loads, then each measure next to its target."""
    lines = [
        f"overload capacity: {figure['capacity']:,.0f} commands/s answered 200 in a closed loop "
        f"with Idempotency-Key ({figure['capacity_before']:,.0f} before the open loops, "
        f"{figure['capacity_after']:,.0f} after; p99 {figure['capacity_p99_ms']:.1f} ms)"
    ]
    for name, load in (("0.5x", figure["half"]), ("2x", figure["twice"])):
        behind = "BEHIND its schedule" if load["behind"] else "on schedule"
        lines.append(
            f"overload {name}: offered {load['offered']:,.0f} req/s, sent {load['achieved']:,.0f} "
            f"req/s, {load['goodput']:,.0f} answered 200/s, admitted p50 {load['p50_ms']:.1f} ms "
            f"p99 {load['p99_ms']:.1f} ms; generator {behind} (send lag p99 "
            f"{load['lag_p99_ms']:.1f} ms, {load['generator_cpu']:.2f} of a core)"
        )
    lines.append(f"overload answers: {figure['statuses']}")
    checks = overload_checks(figure)
    widths = [max(len(str(row[i])) for row in checks) for i in range(3)]
    header = ("overload", "value", "target")
    widths = [max(w, len(h)) for w, h in zip(widths, header, strict=True)]
    lines.append("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    lines.append("  ".join("-" * w for w in widths))
    for measure, value, target, met in checks:
        cells = (measure.ljust(widths[0]), value.ljust(widths[1]), target.ljust(widths[2]))
        lines.append("  ".join(cells) + ("  pass" if met else "  MISS"))
    return "\n".join(lines)
