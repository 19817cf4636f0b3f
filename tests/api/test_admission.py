"""Admission: a worker works on at most `HAVEN_MAX_IN_FLIGHT` requests; beyond them, after
`HAVEN_ADMISSION_WAIT`, it answers 503 `overloaded` at once, and its probes never wait.

The served tests hold the places deterministically: a separate connection takes an ACCESS
EXCLUSIVE lock on the caseload view, so each `GET /v1/cases` waits inside PostgreSQL, holding
its place, until the lock is released; `pg_stat_activity` shows when they all wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from services.api.admission import UNHELD_PATHS, Admission
from services.api.problems import RETRY_AFTER_SECONDS
from services.bench.scratch import scratch_database
from services.identity import LocalIssuer
from tests.api.test_served import free_port, granian, until_ready

pytestmark = pytest.mark.slow

HELD = 2  # requests that wait on the lock
POLLS = 300  # x 0.05 s: bounded, never a timing assertion
LOCKED_VIEW = "views.caseload"
HELD_PATH = "/v1/cases"  # the caller's caseload: a read of LOCKED_VIEW


# -- Admission alone -------------------------------------------------------------------


class Gate:
    """An ASGI app that answers 200 once `opened` is set; counts the requests it entered."""

    def __init__(self) -> None:
        self.opened = asyncio.Event()
        self.entered = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.entered += 1
        await self.opened.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


async def call(admission: Admission, app: Any, path: str) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    await admission(app, {"type": "http", "path": path}, receive, send)
    return sent


async def until(condition: Any) -> None:
    for _ in range(POLLS):
        if condition():
            return
        await asyncio.sleep(0.01)
    pytest.fail("the condition never held")


async def test_a_request_beyond_the_places_is_shed_and_a_probe_is_never_held() -> None:
    counted: list[None] = []
    admission = Admission(limit=1, wait=0.01, on_shed=lambda: counted.append(None))
    gate = Gate()
    held = asyncio.create_task(call(admission, gate, "/v1/cases"))
    await until(lambda: gate.entered == 1)
    assert admission.in_progress == 1

    shed = await call(admission, gate, "/v1/cases")
    start, body = shed
    assert start["status"] == 503 and gate.entered == 1  # never reached the app
    headers = dict(start["headers"])
    assert headers[b"retry-after"] == str(RETRY_AFTER_SECONDS).encode()
    assert headers[b"cache-control"] == b"no-store"
    assert headers[b"content-type"] == b"application/problem+json"
    assert int(headers[b"content-length"]) == len(body["body"])
    assert b"/overloaded" in body["body"]
    assert len(counted) == 1  # the shed request is counted (haven_http_requests_shed_total)

    probes = [asyncio.create_task(call(admission, gate, path)) for path in sorted(UNHELD_PATHS)]
    await until(lambda: gate.entered == 1 + len(UNHELD_PATHS))  # entered beside the held one
    gate.opened.set()
    for answered in [held, *probes]:
        assert (await answered)[0]["status"] == 200
    assert admission.in_progress == 0


async def test_a_request_that_waits_gets_the_place_freed_within_its_wait() -> None:
    admission, gate = Admission(limit=1, wait=30.0), Gate()
    held = asyncio.create_task(call(admission, gate, "/v1/cases"))
    await until(lambda: gate.entered == 1)
    waiting = asyncio.create_task(call(admission, gate, "/v1/cases"))
    await asyncio.sleep(0)
    assert not waiting.done() and gate.entered == 1  # waits for the place, not shed
    gate.opened.set()
    assert (await held)[0]["status"] == 200
    assert (await waiting)[0]["status"] == 200
    assert gate.entered == 2 and admission.in_progress == 0


class Tagged(Gate):
    """A gate that records the order in which requests entered, by their path."""

    def __init__(self) -> None:
        super().__init__()
        self.order: list[str] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.order.append(scope["path"])
        await super().__call__(scope, receive, send)


async def admitted_order(limit: int, waiters: int) -> list[str]:
    """Fill `limit` places, queue `waiters` more (one at a time, in order), then free them."""
    admission, gate = Admission(limit=limit, wait=30.0), Tagged()
    tasks = [asyncio.create_task(call(admission, gate, f"/held/{n}")) for n in range(limit)]
    await until(lambda: gate.entered == limit)
    for n in range(waiters):
        tasks.append(asyncio.create_task(call(admission, gate, f"/waiting/{n}")))
        await until(lambda n=n: admission.waiting == n + 1)
    gate.opened.set()
    for task in tasks:
        assert (await task)[0]["status"] == 200
    assert admission.in_progress == 0 and admission.waiting == 0
    return gate.order[limit:]


async def test_waiters_no_more_than_the_places_are_admitted_in_order() -> None:
    assert await admitted_order(limit=2, waiters=2) == ["/waiting/0", "/waiting/1"]


async def test_more_waiters_than_places_admit_the_newest_first() -> None:
    """Overloaded: the place goes to the request that waited least; the control above, with
    as many waiters as places, shows the same queue served oldest first."""
    assert await admitted_order(limit=1, waiters=3) == ["/waiting/2", "/waiting/1", "/waiting/0"]


async def test_a_waiter_cancelled_leaves_no_trace() -> None:
    admission, gate = Admission(limit=1, wait=30.0), Gate()
    held = asyncio.create_task(call(admission, gate, "/v1/cases"))
    await until(lambda: gate.entered == 1)
    waiting = asyncio.create_task(call(admission, gate, "/v1/cases"))
    await until(lambda: admission.waiting == 1)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert admission.waiting == 0 and admission.in_progress == 1
    gate.opened.set()
    await held
    assert admission.in_progress == 0 and gate.entered == 1


async def test_a_request_whose_app_fails_frees_its_place() -> None:
    admission = Admission(limit=1, wait=0.0)

    async def failing(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await call(admission, failing, "/v1/cases")
    assert admission.in_progress == 0
    gate = Gate()
    gate.opened.set()
    assert (await call(admission, gate, "/v1/cases"))[0]["status"] == 200  # the place is free


def test_a_limit_below_one_and_a_negative_wait_are_refused() -> None:
    with pytest.raises(ValueError):
        Admission(limit=0, wait=0.1)
    with pytest.raises(ValueError):
        Admission(limit=1, wait=-1.0)


# -- the real server -------------------------------------------------------------------


@contextlib.asynccontextmanager
async def served(
    server_url: str, tmp_path: Path, max_in_flight: int
) -> AsyncIterator[tuple[httpx.AsyncClient, asyncpg.Connection, dict[str, str]]]:
    """granian with `max_in_flight` places, ready, its caseload read once; yields a client, a
    connection of the test's own to the server's database and a case worker's headers."""
    async with scratch_database(server_url) as database_url:
        data_dir = tmp_path / "data"
        token = LocalIssuer.open(data_dir).mint("worker-1", "org-a", ["caseworker"], "team-a")
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("HAVEN_")},
            "HAVEN_DATABASE_URL": database_url,
            "HAVEN_DATA_DIR": str(data_dir),
            "HAVEN_KEK": f"file:{tmp_path / 'kek'}",
            "HAVEN_MAX_IN_FLIGHT": str(max_in_flight),
            "HAVEN_ADMISSION_WAIT": "0.05",
        }
        port, log = free_port(), tmp_path / "granian.log"
        with granian(port, env, log) as process:
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", timeout=60.0
            ) as client:
                await until_ready(client, process, log)
                headers = {"Authorization": f"Bearer {token}"}
                for _ in range(POLLS):  # the caseload view is built by the server's projector
                    if (await client.get(HELD_PATH, headers=headers)).status_code == 200:
                        break
                    await asyncio.sleep(0.05)
                else:
                    pytest.fail("the caseload never answered 200")
                locker = await asyncpg.connect(database_url)
                try:
                    yield client, locker, headers
                finally:
                    await locker.close()


async def waiting_on_the_lock(locker: asyncpg.Connection) -> int:
    return int(
        await locker.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
    )


async def until_waiting(locker: asyncpg.Connection, count: int) -> None:
    for _ in range(POLLS):
        if await waiting_on_the_lock(locker) == count:
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"never {count} requests waiting on the lock")


async def hold(
    client: httpx.AsyncClient, locker: asyncpg.Connection, headers: dict[str, str], count: int
) -> list[asyncio.Task[httpx.Response]]:
    """`count` caseload reads, each waiting on the lock held by `locker` (in a transaction)."""
    held = [asyncio.create_task(client.get(HELD_PATH, headers=headers)) for _ in range(count)]
    await until_waiting(locker, count)
    return held


def assert_overloaded(answer: httpx.Response) -> None:
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["type"].endswith("/overloaded")
    assert answer.headers["retry-after"] == str(RETRY_AFTER_SECONDS)
    assert answer.headers["cache-control"] == "no-store"


async def test_a_full_server_sheds_at_once_keeps_its_probes_and_recovers(
    server_url: str, tmp_path: Path
) -> None:
    async with served(server_url, tmp_path, max_in_flight=HELD) as (client, locker, headers):
        lock = locker.transaction()
        await lock.start()
        await locker.execute(f"LOCK TABLE {LOCKED_VIEW} IN ACCESS EXCLUSIVE MODE")
        held = await hold(client, locker, headers, HELD)

        shed_read = await client.get(HELD_PATH, headers=headers)
        shed_command = await client.post(  # a body the server never reads
            "/v1/cases", headers=headers, json={"intake": {"padding": "x" * 4000}}
        )
        for answer in (shed_read, shed_command):
            assert_overloaded(answer)
        for probe in ("/health", "/ready", "/metrics"):
            assert (await client.get(probe)).status_code == 200, probe
        assert not any(task.done() for task in held)  # answered while every place was taken
        assert await waiting_on_the_lock(locker) == HELD  # and none of them reached the database

        await lock.rollback()
        assert [(await task).status_code for task in held] == [200] * HELD
        assert (await client.get(HELD_PATH, headers=headers)).status_code == 200


async def test_with_a_place_to_spare_the_same_request_is_admitted(
    server_url: str, tmp_path: Path
) -> None:
    """The control: one place more than the held requests, and the same read is admitted (it
    too waits on the lock); only the one after it, beyond every place, is shed."""
    async with served(server_url, tmp_path, max_in_flight=HELD + 1) as (client, locker, headers):
        lock = locker.transaction()
        await lock.start()
        await locker.execute(f"LOCK TABLE {LOCKED_VIEW} IN ACCESS EXCLUSIVE MODE")
        held = await hold(client, locker, headers, HELD)

        admitted = asyncio.create_task(client.get(HELD_PATH, headers=headers))
        await until_waiting(locker, HELD + 1)
        assert_overloaded(await client.get(HELD_PATH, headers=headers))

        await lock.rollback()
        assert [(await task).status_code for task in [*held, admitted]] == [200] * (HELD + 1)
