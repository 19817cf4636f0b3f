"""The HTTP load generator of `haven bench http`, run in its own process.

    python -m services.bench.loadgen < spec.json > result.json

It runs in a separate process (and so on its own event loop and interpreter) from both the
server under test and the bench that drives it, so the client's own Python work competes with
the server only for the CPU, as a remote client's would not at all (see the README).

The spec (JSON on standard input)::

    {"base_url": "http://127.0.0.1:PORT", "seconds": 3.0, "warmup": 1.0,
     "headers": {"Authorization": "Bearer ..."},
     "kind": "get",      "paths": [[path, ...], ...]                      # one list per client
     "kind": "command",  "cases": [[[case_id, version], ...], ...],       # one list per client
                         "body": {...}, "today": "YYYY-MM-DD"}

Each client (one list in `paths` or `cases`) is one asyncio task with its own keep-alive
connection (an `aiohttp` connector limited to as many connections as clients). A `get` client
requests its paths round robin and expects 200. A `command` client records a service on its
own cases round robin: `POST /v1/cases/{id}/services` with `If-Match` set to the version it
last saw of that case (from seeding, then from each answer's `ETag`) and a fresh `service_id`;
it expects 200. A client that gets anything else counts a failure and, for a command, fetches
the case to learn its version again (not timed).

For `warmup` seconds the clients run uncounted; then for `seconds` every request *started*
is timed (from just before sending to the end of reading the body) and counted; in-flight
requests finish after the deadline and `elapsed` runs until the last one has. Every client
times at least one request, however slow the machine (so a very short run still measures
something). The result
(JSON on standard output)::

    {"requests": N, "failed": F, "statuses": {"200": N, ...}, "elapsed": seconds,
     "latencies_ms": [...], "cases": [[[case_id, version], ...], ...]}

`cases` gives each command client's versions at the end, for the next round. A request
without an answer for `REQUEST_TIMEOUT` seconds ends the run: exit status 3, and a line on
standard error.
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

REQUEST_TIMEOUT = 30.0  # seconds without an answer: the server is stuck, the run fails


class _Tally:
    def __init__(self) -> None:
        self.counting = False
        self.stop_at = float("inf")
        self.latencies: list[float] = []
        self.statuses: Counter[int] = Counter()
        self.failed = 0


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
        if counted:
            timed = True
            tally.latencies.append(time.perf_counter() - start)
            tally.statuses[status] += 1
            tally.failed += status != 200


async def _command_client(
    session: aiohttp.ClientSession, cases: list[list[Any]], body: dict[str, Any], tally: _Tally
) -> None:
    turn, timed = 0, False
    while time.perf_counter() < tally.stop_at or not timed:
        case = cases[turn % len(cases)]
        turn += 1
        payload = {**body, "service_id": f"bench-service-{uuid.uuid4().hex}"}
        counted = tally.counting
        start = time.perf_counter()
        async with session.post(
            f"/v1/cases/{case[0]}/services", json=payload, headers={"If-Match": f'"{case[1]}"'}
        ) as response:
            await response.read()
            status, etag = response.status, response.headers.get("ETag", "")
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
            tasks = [_command_client(session, cases, spec["body"], tally) for cases in clients]
        tally.stop_at = time.perf_counter() + spec["warmup"] + spec["seconds"]

        async def clock() -> float:
            await asyncio.sleep(spec["warmup"])
            tally.counting = True
            start = time.perf_counter()
            tally.stop_at = start + spec["seconds"]
            return start

        started, *_ = await asyncio.gather(clock(), *tasks)
        elapsed = time.perf_counter() - started
    return {
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
