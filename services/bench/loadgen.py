"""The HTTP load generator of `haven bench http`, run in its own process.

    python -m services.bench.loadgen < spec.json > result.json

It runs apart from both the server under test and the bench that drives it (its own event
loop and interpreter), so the client's own Python work competes with the server only for the
CPU, as a remote client's would not at all. The spec and the result are described at `run`
(closed loop: each client sends its next request when the last is answered) and at
`services.bench.openloop.open_loop` (kind ``open``: requests started on a fixed schedule); a
request without an answer for `REQUEST_TIMEOUT` seconds ends the run with exit status 3.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from collections import Counter
from typing import Any

import aiohttp

from services.bench.openloop import open_loop

REQUEST_TIMEOUT = 30.0  # seconds without an answer: the server is stuck, the run fails


class _Tally:
    def __init__(self) -> None:
        self.counting = False
        self.stop_at = float("inf")
        self.latencies: list[float] = []
        self.statuses: Counter[int] = Counter()
        self.failed = 0
        self.answered = 0  # every answer, warm-up included


async def _get_client(session: aiohttp.ClientSession, paths: list[str], tally: _Tally) -> None:
    turn, timed = 0, False
    while time.perf_counter() < tally.stop_at or not timed:
        path = paths[turn % len(paths)]
        turn += 1
        counted = tally.counting
        start = time.perf_counter()
        async with session.get(path) as response:
            await response.read()
            status = response.status
        tally.answered += 1
        if counted:
            timed = True
            tally.latencies.append(time.perf_counter() - start)
            tally.statuses[status] += 1
            tally.failed += status != 200


async def _command_client(
    session: aiohttp.ClientSession,
    cases: list[list[Any]],
    body: dict[str, Any],
    tally: _Tally,
    keyed: bool,
) -> None:
    turn, timed = 0, False
    while time.perf_counter() < tally.stop_at or not timed:
        case = cases[turn % len(cases)]
        turn += 1
        payload = {**body, "service_id": f"bench-service-{uuid.uuid4().hex}"}
        headers = {"If-Match": f'"{case[1]}"'}
        if keyed:
            headers["Idempotency-Key"] = uuid.uuid4().hex
        counted = tally.counting
        start = time.perf_counter()
        async with session.post(
            f"/v1/cases/{case[0]}/services", json=payload, headers=headers
        ) as response:
            await response.read()
            status, etag = response.status, response.headers.get("ETag", "")
        tally.answered += 1
        if counted:
            timed = True
            tally.latencies.append(time.perf_counter() - start)
            tally.statuses[status] += 1
        if status == 200:
            case[1] = int(etag.strip('"'))
            continue
        tally.failed += counted
        async with session.get(f"/v1/cases/{case[0]}") as response:  # learn the version again
            await response.read()
            if response.status == 200:
                case[1] = int(response.headers["ETag"].strip('"'))


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    """Run the clients of `spec` (JSON on standard input); the result, for standard output.

    The spec::

        {"base_url": "http://127.0.0.1:PORT", "seconds": 3.0, "warmup": 1.0,
         "headers": {"Authorization": "Bearer ..."},
         "kind": "get",      "paths": [[path, ...], ...]                  # one list per client
         "kind": "command",  "cases": [[[case_id, version], ...], ...],   # one list per client
                             "body": {...}, "idempotency": false}

    Each client is one task on its own keep-alive connection, going round its paths or cases.
    A command records a service with `If-Match` set to the version last seen of the case and a
    fresh `service_id` (and, given ``"idempotency": true``, a fresh `Idempotency-Key`); after
    any answer but 200 the client fetches the case again (not timed) to learn its version.
    After `warmup` seconds uncounted, every request started within `seconds` is timed and
    counted, and every client times at least one. The result::

        {"requests": N, "failed": F, "statuses": {"200": N, ...}, "elapsed": seconds,
         "latencies_ms": [...], "cases": [[[case_id, version], ...], ...],
         "cpu": the generator's CPU time over the run's (warm-up included; 1.0: a whole core),
         "answered": every request answered, warm-up included}

    `cases` holds each command client's versions at the end, for the next round.

    Kind ``open`` (`services.bench.openloop`) runs on up to ``"connections"`` connections.
    """
    if spec["kind"] == "open":
        connector = aiohttp.TCPConnector(limit=int(spec.get("connections", 512)))
        opened = [0]

        async def on_connection(*_: Any) -> None:
            opened[0] += 1

        trace = aiohttp.TraceConfig()
        trace.on_connection_create_end.append(on_connection)
        async with aiohttp.ClientSession(
            spec["base_url"],
            connector=connector,
            trace_configs=[trace],
            timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT),
            headers=spec.get("headers") or {},
        ) as session:
            return {**await open_loop(session, spec), "connections_opened": opened[0]}
    clients = spec["paths"] if spec["kind"] == "get" else spec["cases"]
    tally = _Tally()
    connector = aiohttp.TCPConnector(limit=len(clients), force_close=False)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    async with aiohttp.ClientSession(
        spec["base_url"], connector=connector, timeout=timeout, headers=spec.get("headers") or {}
    ) as session:
        if spec["kind"] == "get":
            tasks = [_get_client(session, paths, tally) for paths in clients]
        else:
            keyed = bool(spec.get("idempotency", False))
            tasks = [
                _command_client(session, cases, spec["body"], tally, keyed) for cases in clients
            ]
        tally.stop_at = time.perf_counter() + spec["warmup"] + spec["seconds"]

        async def clock() -> float:
            await asyncio.sleep(spec["warmup"])
            tally.counting = True
            start = time.perf_counter()
            tally.stop_at = start + spec["seconds"]
            return start

        cpu_start, wall_start = time.process_time(), time.perf_counter()
        started, *_ = await asyncio.gather(clock(), *tasks)
        elapsed = time.perf_counter() - started
        cpu = (time.process_time() - cpu_start) / max(time.perf_counter() - wall_start, 1e-9)
    return {
        "cpu": cpu,
        "answered": tally.answered,
        "requests": len(tally.latencies),
        "failed": tally.failed,
        "statuses": {str(code): n for code, n in sorted(tally.statuses.items())},
        "elapsed": elapsed,
        "latencies_ms": [round(seconds * 1000, 4) for seconds in tally.latencies],
        "cases": clients if spec["kind"] == "command" else [],
    }


def main() -> int:
    spec = json.load(sys.stdin)
    try:
        result = asyncio.run(run(spec))
    except TimeoutError:
        print(
            f"loadgen: a request got no answer within {REQUEST_TIMEOUT:g} s: the server is stuck",
            file=sys.stderr,
        )
        return 3
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
