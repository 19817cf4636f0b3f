"""The primary is lost under load and pg_auto_failover promotes its synchronous standby: Haven
follows it, answers 503 while it cannot write, and loses nothing it acknowledged.

A formation of a monitor, a primary and its synchronous standby (`failover_support`), and
`haven serve` on its multi-host URL (`target_session_attrs=read-write`). Case workers open
cases and record services, each command with an `Idempotency-Key` that they send again, with
the same key, when the answer is 503. The primary's machine is then lost (every one of its
processes killed with SIGKILL) while they work. Afterwards:

* no answer was a 5xx other than 503, and every 503 is problem+json `database-unavailable` or
  `overloaded` with `Retry-After`; the loss was felt (it produced 503s: the control that the
  test can fail for want of a failover);
* every acknowledged command is on the promoted node exactly once (each case's version is its
  opening's plus one per acknowledged service), none refused as a duplicate on its retry;
* commands succeed again after the switch; the projectors continue from their checkpoints on
  the promoted node (same generations, no rebuild) and a case opened afterwards reaches the
  worker's caseload; the views equal what a rebuild from the log gives.

The unavailability window (first failed answer to the first acknowledged command sent after
it) and the test's duration are printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, NamedTuple

import asyncpg
import httpx
import pytest

from crypto.keyring import Keyring
from crypto.providers import FileKeyProvider
from events.catalog import haven_registry
from events.erasure import ERASURE_CHANNEL
from events.notification import NOTIFY_CHANNEL
from events.store import PostgresEventStore
from projections import checkpoints
from services.api.cases.schemas.examples import OPEN_CASE_EXAMPLE, RECORD_SERVICE_EXAMPLE
from services.database import with_database
from services.identity import LocalIssuer
from services.settings import login_as
from tests.api.serve_support import haven_serve
from tests.api.test_served import free_port, until_ready
from tests.projections.fault_support import view_differences
from tests.services.failover_support import formation
from tests.services.test_database_paths import haven_env

pytestmark = pytest.mark.slow

ORG, TEAM, WORKER = "org-failover", "team-failover", "failover-worker-"
WORKERS = 4
STEADY_SECONDS = 1.5  # load before the loss, and again once commands succeed after it
MAX_TRIES = 1200  # x 0.05 s at least: a retry loop is bounded, never timed
CATCH_UP_TIMEOUT = 120.0  # generous: a bound on a hang, never on speed
UNAVAILABLE_TYPES = {"database-unavailable", "overloaded"}
# Haven's waits on its database (the defaults are seconds longer): a connection gets 2 s to open
LIMITS = {"HAVEN_DB_CONNECT_TIMEOUT": "2", "HAVEN_DB_ACQUIRE_TIMEOUT": "2"}
STOP_POLLS = 1200  # x 0.05 s for `haven serve` to stop: bounded, never timed


class Answer(NamedTuple):
    sent: float  # time.monotonic() when the request went
    at: float  # time.monotonic() when the answer arrived
    status: int
    command: bool


class Tally:
    def __init__(self) -> None:
        self.answers: list[Answer] = []
        self.unavailable: Counter[str] = Counter()
        self.refused: list[str] = []  # any answer a case worker must never get

    def note(self, answer: httpx.Response, *, sent: float, command: bool) -> None:
        self.answers.append(Answer(sent, time.monotonic(), answer.status_code, command))
        request = f"{answer.request.method} {answer.request.url.path}"
        if answer.status_code == 503:
            kind = answer.json().get("type", "").rsplit("/", 1)[-1]
            problem = answer.headers.get("content-type", "").startswith("application/problem+json")
            if kind not in UNAVAILABLE_TYPES or "retry-after" not in answer.headers or not problem:
                retry_after = answer.headers.get("retry-after")
                self.refused.append(f"{request}: 503 {kind} retry-after={retry_after}")
            self.unavailable[kind] += 1
        elif answer.status_code >= 300:
            self.refused.append(f"{request}: {answer.status_code} {answer.text[:300]}")

    def statuses(self) -> Counter[int]:
        return Counter(answer.status for answer in self.answers)

    def window(self, since: float) -> tuple[float, float] | None:
        """From the first 503 after `since` to the first acknowledged command sent after that
        (an acknowledgement already on its way when the primary was lost does not end it)."""
        failed = [a.at for a in self.answers if a.at >= since and a.status == 503]
        if not failed:
            return None
        first = min(failed)
        back = [a.at for a in self.answers if a.command and a.status < 300 and a.sent > first]
        return (first, min(back)) if back else None


async def until_answered(
    client: httpx.AsyncClient, tally: Tally, method: str, path: str, **request: Any
) -> httpx.Response:
    """Send until the answer is not a 503, the same request each time (same Idempotency-Key)."""
    for _ in range(MAX_TRIES):
        sent = time.monotonic()
        answer = await client.request(method, path, **request)
        tally.note(answer, sent=sent, command=method != "GET")
        if answer.status_code != 503:
            return answer
        await asyncio.sleep(0.05)
    pytest.fail(f"{method} {path}: still 503 after {MAX_TRIES} tries")


def intake() -> dict[str, Any]:
    body = copy.deepcopy(OPEN_CASE_EXAMPLE)
    body["identity"]["preferred_name"] = f"Synthetic {uuid.uuid4().hex[:6]}"
    return body


def service() -> dict[str, Any]:
    return {**RECORD_SERVICE_EXAMPLE, "service_id": f"failover-service-{uuid.uuid4().hex}"}


class CaseWorker:
    """Opens a case, then records services on it and lists the caseload, until told to stop."""

    def __init__(self, client: httpx.AsyncClient, token: str, tally: Tally) -> None:
        self.client, self.tally = client, tally
        self.headers = {"Authorization": f"Bearer {token}"}
        self.cases: dict[str, int] = {}  # case id -> version its last acknowledged command left

    async def open_case(self) -> str:
        answer = await until_answered(
            self.client, self.tally, "POST", "/v1/cases", json=intake(),
            headers={**self.headers, "Idempotency-Key": uuid.uuid4().hex},
        )  # fmt: skip
        assert answer.status_code == 201, answer.text
        case_id = answer.json()["case_id"]
        self.cases[case_id] = int(answer.headers["ETag"].strip('"'))
        return case_id

    async def run(self, stop: asyncio.Event) -> None:
        case_id = await self.open_case()
        turn = 0
        while not stop.is_set():
            turn += 1
            if turn % 8 == 0:
                case_id = await self.open_case()
            elif turn % 5 == 0:
                listed = await until_answered(
                    self.client, self.tally, "GET", "/v1/cases", headers=self.headers
                )
                assert listed.status_code == 200, listed.text
            else:
                answer = await until_answered(
                    self.client, self.tally, "POST", f"/v1/cases/{case_id}/services",
                    json=service(),
                    headers={**self.headers, "Idempotency-Key": uuid.uuid4().hex,
                             "If-Match": f'"{self.cases[case_id]}"'},
                )  # fmt: skip
                assert answer.status_code == 200, answer.text
                self.cases[case_id] = int(answer.headers["ETag"].strip('"'))


@contextlib.asynccontextmanager
async def served_haven(database_url: str, base: Path) -> AsyncIterator[httpx.AsyncClient]:
    """`haven serve` on `database_url` (its key file and data under `base`): a client of it."""
    port = free_port()
    env = haven_env(
        HAVEN_DATABASE_URL=database_url,
        HAVEN_DATA_DIR=str(base / "data"),
        HAVEN_KEK=f"file:{base / 'kek'}",
        **LIMITS,
    )
    log = base / "serve.log"
    with haven_serve(env, log, "--port", str(port), "--workers", "1") as process:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30.0) as client:
            await until_ready(client, process, log)
            yield client


@contextlib.asynccontextmanager
async def case_workers(
    client: httpx.AsyncClient, issuer: LocalIssuer, tally: Tally
) -> AsyncIterator[list[CaseWorker]]:
    workers = [
        CaseWorker(client, issuer.mint(f"{WORKER}{n}", ORG, ["caseworker"], TEAM), tally)
        for n in range(WORKERS)
    ]
    # a fresh database: the caseload answers 503 `service-unavailable` until the projector's
    # first build, which is start-up, not the failover under test
    for _ in range(MAX_TRIES):
        if (await client.get("/v1/cases", headers=workers[0].headers)).status_code == 200:
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail("the caseload was never built")
    stop = asyncio.Event()
    tasks = [asyncio.create_task(worker.run(stop)) for worker in workers]
    try:
        yield workers
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def listening(url: str, projections: int) -> Counter[str]:
    """Until `haven serve` LISTENs on `url` for its erasure watch and for each projection's
    subscription (bounded polls); the channels of its listening sessions, counted."""
    conn = await asyncpg.connect(url)
    try:
        for _ in range(MAX_TRIES):
            channels = Counter(
                row[0]
                for row in await conn.fetch(
                    """SELECT substring(query FROM 'LISTEN "?([a-z_]+)') FROM pg_stat_activity
                        WHERE datname = current_database() AND query LIKE 'LISTEN %'"""
                )
            )
            if channels[ERASURE_CHANNEL] >= 1 and channels[NOTIFY_CHANNEL] >= projections:
                return channels
            await asyncio.sleep(0.05)
    finally:
        await conn.close()
    pytest.fail(f"haven serve does not listen on the promoted node: {channels}")


@contextlib.asynccontextmanager
async def log_store(url: str, key_file: Path) -> AsyncIterator[tuple[PostgresEventStore, Keyring]]:
    """The log on `url`, opened with Haven's key file, and that keyring."""
    provider = FileKeyProvider(key_file)
    try:
        async with asyncpg.create_pool(url, min_size=1, max_size=2) as pool:
            keyring = Keyring(provider)
            yield PostgresEventStore(pool, keyring, haven_registry()), keyring
    finally:
        provider.close()


async def generations(url: str) -> dict[str, int]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT name, generation FROM haven.projection_checkpoints")
    finally:
        await conn.close()
    return {name: generation for name, generation in rows}


def test_the_urls_haven_derives_from_a_multi_host_url_keep_every_host() -> None:
    """Haven connects to `postgres` to create its database, and logs in as its reporting role,
    on the URL it is given: with several hosts, each derived URL still names them all."""
    given = (
        "postgresql://postgres@10.0.0.1:5432,10.0.0.2:5433/haven?target_session_attrs=read-write"
    )
    assert with_database(given, "postgres") == given.replace("/haven?", "/postgres?")
    assert login_as(given, "haven_reporting") == given.replace("postgres@", "haven_reporting@")


async def test_a_lost_primary_is_replaced_and_nothing_acknowledged_is_lost(tmp_path: Path) -> None:
    started = time.monotonic()
    async with formation() as ha:
        async with served_haven(ha.url, tmp_path) as client:
            issuer = LocalIssuer.open(tmp_path / "data")
            tally = Tally()
            async with case_workers(client, issuer, tally) as workers:
                await asyncio.sleep(STEADY_SECONDS)
                before = await generations(ha.url)
                assert before, "no projection had a checkpoint before the loss"
                primary = await ha.primary()
                standby = next(node for node in ha.nodes if node is not primary)
                lost_at = time.monotonic()
                ha.lose(primary)
                await ha.wait_until_primary(standby)
                promoted_at = time.monotonic()
                for _ in range(MAX_TRIES):
                    if tally.window(lost_at) is not None:
                        break
                    await asyncio.sleep(0.05)
                await asyncio.sleep(STEADY_SECONDS)

            assert tally.refused == [], tally.refused[:10]
            statuses = tally.statuses()
            assert statuses[503] > 0, "the loss of the primary produced no 503"
            window = tally.window(lost_at)
            assert window is not None, "no command succeeded after the failover"

            # the projectors continue on the promoted node: a case opened after the switch
            # reaches the caseload
            late = workers[0]
            opened = await late.open_case()
            for _ in range(MAX_TRIES):
                listed = await client.get("/v1/cases", headers=late.headers)
                if listed.status_code == 200 and opened in listed.text:
                    break
                await asyncio.sleep(0.05)
            else:
                pytest.fail("a case opened after the failover never reached the caseload")
            # ... and so do the LISTEN connections of the projectors and of the erasure watch
            channels = await listening(standby.url(), len(before))
            acknowledged = {
                case: version for worker in workers for case, version in worker.cases.items()
            }
            async with log_store(standby.url(), tmp_path / "kek") as (store, keyring):
                head = await checkpoints.log_head(store.pool)
                assert await checkpoints.wait_until_projected(
                    store.pool, list(before), head, timeout=CATCH_UP_TIMEOUT
                )
                assert await generations(standby.url()) == before  # from their checkpoints
                stored = {
                    str(stream): (version, count)
                    for stream, version, count in await store.pool.fetch(
                        "SELECT stream_id, max(version), count(*) FROM haven.events "
                        "GROUP BY stream_id"
                    )
                }
                # every acknowledged command once, and nothing else
                assert stored == {
                    case: (version, version) for case, version in acknowledged.items()
                }
                assert await view_differences(store, keyring) == []
    events = sum(acknowledged.values())
    first_failed, back = window
    print(
        f"\n{WORKERS} case workers, {len(acknowledged)} cases, {events} events acknowledged, "
        f"answers {dict(sorted(statuses.items()))}, 503 types {dict(tally.unavailable)}; "
        f"listening on the promoted node {dict(channels)}; "
        f"standby promoted {promoted_at - lost_at:.2f} s after the primary was lost; "
        f"unavailable {back - first_failed:.2f} s (first failed answer to the first "
        f"acknowledged command sent after it, {back - lost_at:.2f} s after the loss); "
        f"the test took {time.monotonic() - started:.1f} s"
    )
