"""The open loop of the load generator (`services.bench.loadgen`, kind ``open``).

A closed loop (a client sends its next request when the last is answered) slows down with the
server it measures, and so hides the waits a slowed server causes (coordinated omission). Here
the requests start on a fixed schedule instead, at `rate` per second whatever the server does,
and each latency runs from the request's scheduled start: a request the server (or the
generator) held back is counted with all of its delay. The generator shares the machine with
the server, so it reports its own lateness too: how long after its scheduled start each
request was sent; beyond `BEHIND_MS` at the 99th percentile the figures measure the generator.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from typing import Any

import aiohttp

from services.bench.timing import percentile

BEHIND_MS = 10.0  # p99 send lateness above which the generator fell behind its schedule
OVERLOADED_SUFFIX = "/overloaded"


class _Tally:
    def __init__(self) -> None:
        self.ok_ms: list[float] = []  # answered 200, from the scheduled start
        self.lag_ms: list[float] = []  # sent this long after the scheduled start
        self.statuses: Counter[str] = Counter()  # the measured window's answers
        self.sent = 0
        self.shed = 0  # 503 overloaded with Retry-After
        self.bad_shed = 0  # any other 503: another type, or no Retry-After
        self.acknowledged = 0  # every 200, warm-up too: what the database must hold
        self.waited_for_case = 0
        self.last_sent = 0.0
        self.last_answer = 0.0


def _is_shed(status: int, headers: Any, body: bytes) -> bool:
    if status != 503 or not headers.get("Retry-After"):
        return False
    try:
        return str(json.loads(body).get("type", "")).endswith(OVERLOADED_SUFFIX)
    except ValueError:
        return False


async def _version(session: aiohttp.ClientSession, case: list[Any]) -> None:
    """Learn a case's version again after an answer that may or may not have changed it."""
    async with session.get(f"/v1/cases/{case[0]}") as response:
        await response.read()
        if response.status == 200:
            case[1] = int(response.headers["ETag"].strip('"'))


async def _command(
    session: aiohttp.ClientSession,
    spec: dict[str, Any],
    free: asyncio.Queue[list[Any]],
    tally: _Tally,
    counted: bool,
    scheduled: float,
) -> None:
    """One `POST .../services` with `If-Match` and an `Idempotency-Key`, on a case no other
    request of this run has in flight (waiting for one is counted)."""
    if free.empty():
        tally.waited_for_case += 1
    case = await free.get()
    try:
        payload = {**spec["body"], "service_id": f"bench-service-{uuid.uuid4().hex}"}
        headers = {"If-Match": f'"{case[1]}"'}
        if spec.get("idempotency", True):
            headers["Idempotency-Key"] = uuid.uuid4().hex
        sent = time.perf_counter()
        async with session.post(
            f"/v1/cases/{case[0]}/services", json=payload, headers=headers
        ) as response:
            body = await response.read()
            status, answer_headers = response.status, response.headers
        _answered(tally, counted, scheduled, sent, status, answer_headers, body)
        if status == 200:
            tally.acknowledged += 1
            case[1] = int(answer_headers["ETag"].strip('"'))
        elif not _is_shed(status, answer_headers, body):  # a shed request did nothing
            await _version(session, case)
    finally:
        free.put_nowait(case)


async def _get(
    session: aiohttp.ClientSession, path: str, tally: _Tally, counted: bool, scheduled: float
) -> None:
    sent = time.perf_counter()
    async with session.get(path) as response:
        body = await response.read()
        _answered(tally, counted, scheduled, sent, response.status, response.headers, body)


def _answered(
    tally: _Tally,
    counted: bool,
    scheduled: float,
    sent: float,
    status: int,
    headers: Any,
    body: bytes,
) -> None:
    if not counted:
        return
    now = time.perf_counter()
    tally.sent += 1
    tally.last_sent = max(tally.last_sent, sent)
    tally.last_answer = max(tally.last_answer, now)
    tally.lag_ms.append((sent - scheduled) * 1000)
    tally.statuses[str(status)] += 1
    if status == 200:
        tally.ok_ms.append((now - scheduled) * 1000)
    elif _is_shed(status, headers, body):
        tally.shed += 1
    elif status == 503:
        tally.bad_shed += 1


async def open_loop(session: aiohttp.ClientSession, spec: dict[str, Any]) -> dict[str, Any]:
    """Start requests at `spec["rate"]` per second for `warmup` + `seconds`; count those
    scheduled after the warm-up. With `spec["cases"]` ([[case_id, version], ...]) each request
    is a command (`spec["body"]` and a fresh `service_id`) on a case not in flight, with an
    `Idempotency-Key` unless ``"idempotency": false``; else a `GET spec["path"]`.

    The result::

        {"offered_rate", "achieved_rate": counted requests sent per second,
         "goodput": counted 200 answers per second (to the last counted answer),
         "requests", "statuses": {"200": N, "503": N, ...}, "shed", "bad_shed",
         "acknowledged": every 200 (warm-up too), "waited_for_case",
         "lag_p99_ms", "lag_max_ms", "behind": lag_p99_ms > BEHIND_MS,
         "cpu": the generator's CPU time over the run's time (1.0: a whole core),
         "ok_ms": [latency of each counted 200 from its scheduled start], "cases": [...]}
    """
    rate, warmup, seconds = float(spec["rate"]), float(spec["warmup"]), float(spec["seconds"])
    cases: list[list[Any]] = spec.get("cases") or []
    free: asyncio.Queue[list[Any]] = asyncio.Queue()
    for case in cases:
        free.put_nowait(case)
    tally = _Tally()
    total, first_counted = round((warmup + seconds) * rate), round(warmup * rate)
    pending: set[asyncio.Task[None]] = set()
    cpu_start = time.process_time()
    start = time.perf_counter() + 0.01
    window = start + first_counted / rate
    turn = 0
    while turn < total:
        now = time.perf_counter()
        while turn < total and start + turn / rate <= now:  # everything due, late or not
            scheduled, counted = start + turn / rate, turn >= first_counted
            job = (
                _command(session, spec, free, tally, counted, scheduled)
                if cases
                else _get(session, spec["path"], tally, counted, scheduled)
            )
            task = asyncio.create_task(job)
            pending.add(task)
            task.add_done_callback(pending.discard)
            turn += 1
        if turn < total:
            await asyncio.sleep(max(0.0, start + turn / rate - time.perf_counter()))
    await asyncio.gather(*pending)
    cpu = (time.process_time() - cpu_start) / max(time.perf_counter() - start, 1e-9)
    sent_for = max(tally.last_sent - window, 1 / rate)
    answered_for = max(tally.last_answer - window, 1 / rate)
    lag_p99 = percentile(tally.lag_ms, 0.99)
    return {
        "offered_rate": rate,
        "achieved_rate": tally.sent / sent_for,
        "goodput": len(tally.ok_ms) / answered_for,
        "requests": tally.sent,
        "statuses": dict(sorted(tally.statuses.items())),
        "shed": tally.shed,
        "bad_shed": tally.bad_shed,
        "acknowledged": tally.acknowledged,
        "waited_for_case": tally.waited_for_case,
        "lag_p99_ms": lag_p99,
        "lag_max_ms": max(tally.lag_ms, default=0.0),
        "behind": lag_p99 > BEHIND_MS,
        "cpu": cpu,
        "ok_ms": [round(ms, 4) for ms in tally.ok_ms],
        "cases": cases,
    }
