"""Case workers at work against `haven serve` while its database goes away, and what they saw.

* `served_haven`: `haven serve` as a process on a database URL, with the database limits it is
  given; stopped with the event loop free (a relay in this process must carry its last queries).
* `CaseWorker`: opens cases, records services on them and reads, each command with an
  `Idempotency-Key` that it sends again, unchanged, whenever the answer is 503.
* `Tally`: every answer, with when it was sent and arrived; any answer a case worker must never
  get (a 5xx but 503, a 503 that is not problem+json of an allowed type with `Retry-After`, any
  other refusal); `window` and `first_success_after` measure the unavailability.
* `log_store`: the log on a URL, opened with Haven's key file, to count what was acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import signal
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import asyncpg
import httpx
import pytest

from crypto.keyring import Keyring
from crypto.providers import FileKeyProvider
from events.catalog import haven_registry
from events.store import PostgresEventStore
from services.api.cases.schemas.examples import OPEN_CASE_EXAMPLE, RECORD_SERVICE_EXAMPLE
from services.identity import LocalIssuer
from tests.api.serve_support import haven_serve
from tests.api.test_served import free_port, until_ready
from tests.services.test_database_paths import haven_env

MAX_TRIES = 1200  # x 0.05 s at least: a retry loop is bounded, never timed
STOP_POLLS = 1200  # x 0.05 s for `haven serve` to stop: bounded, never timed
COMMAND_503 = frozenset({"database-unavailable", "overloaded"})
# a read may also be refused because its access could not be recorded: nothing is returned
READ_503 = COMMAND_503 | {"service-unavailable"}


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
            allowed = COMMAND_503 if command else READ_503
            if kind not in allowed or "retry-after" not in answer.headers or not problem:
                retry_after = answer.headers.get("retry-after")
                self.refused.append(f"{request}: 503 {kind} retry-after={retry_after}")
            self.unavailable[kind] += 1
        elif answer.status_code >= 300:
            self.refused.append(f"{request}: {answer.status_code} {answer.text[:300]}")

    def statuses(self) -> Counter[int]:
        return Counter(answer.status for answer in self.answers)

    def first_success_after(self, moment: float) -> float | None:
        """When the first acknowledged command sent after `moment` was answered."""
        back = [a.at for a in self.answers if a.command and a.status < 300 and a.sent > moment]
        return min(back) if back else None

    def window(self, since: float) -> tuple[float, float] | None:
        """From the first 503 after `since` to the first acknowledged command sent after that
        (an acknowledgement already on its way when the database went does not end it)."""
        failed = [a.at for a in self.answers if a.at >= since and a.status == 503]
        if not failed:
            return None
        back = self.first_success_after(min(failed))
        return None if back is None else (min(failed), back)


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
    return {**RECORD_SERVICE_EXAMPLE, "service_id": f"load-service-{uuid.uuid4().hex}"}


class CaseWorker:
    """Opens a case, then records services on it and reads, until told to stop."""

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

    async def record_service(self, case_id: str) -> None:
        answer = await until_answered(
            self.client, self.tally, "POST", f"/v1/cases/{case_id}/services", json=service(),
            headers={**self.headers, "Idempotency-Key": uuid.uuid4().hex,
                     "If-Match": f'"{self.cases[case_id]}"'},
        )  # fmt: skip
        assert answer.status_code == 200, answer.text
        self.cases[case_id] = int(answer.headers["ETag"].strip('"'))

    async def read(self, case_id: str) -> None:
        for path in (f"/v1/cases/{case_id}", "/v1/cases"):
            answer = await until_answered(
                self.client, self.tally, "GET", path, headers=self.headers
            )
            assert answer.status_code == 200, answer.text

    async def run(self, stop: asyncio.Event) -> None:
        case_id = await self.open_case()
        turn = 0
        while not stop.is_set():
            turn += 1
            if turn % 8 == 0:
                case_id = await self.open_case()
            elif turn % 4 == 0:
                await self.read(case_id)
            else:
                await self.record_service(case_id)

    async def until_listed(self, case_id: str) -> None:
        """Until the case is in this worker's caseload (the projectors applied it): bounded."""
        for _ in range(MAX_TRIES):
            listed = await self.client.get("/v1/cases", headers=self.headers)
            if listed.status_code == 200 and case_id in listed.text:
                return
            await asyncio.sleep(0.05)
        pytest.fail("a case opened after the database returned never reached the caseload")


@contextlib.asynccontextmanager
async def case_workers(
    client: httpx.AsyncClient, issuer: LocalIssuer, tally: Tally, *, count: int, org: str
) -> AsyncIterator[list[CaseWorker]]:
    """`count` case workers of `org` at work for the duration of the block."""
    workers = [
        CaseWorker(client, issuer.mint(f"load-worker-{n}", org, ["caseworker"], "team-load"), tally)
        for n in range(count)
    ]
    # a fresh database: the caseload answers 503 `service-unavailable` until the projector's
    # first build, which is start-up, not the outage under test
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


def acknowledged(workers: list[CaseWorker]) -> dict[str, int]:
    """Each case any worker opened -> the version its last acknowledged command left."""
    return {case: version for worker in workers for case, version in worker.cases.items()}


@contextlib.asynccontextmanager
async def served_haven(
    database_url: str, base: Path, limits: Mapping[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    """`haven serve` on `database_url` (its key file and data under `base`), with the database
    limits `limits` (`HAVEN_DB_*`): a client of it."""
    port = free_port()
    env = haven_env(
        HAVEN_DATABASE_URL=database_url,
        HAVEN_DATA_DIR=str(base / "data"),
        HAVEN_KEK=f"file:{base / 'kek'}",
        **limits,
    )
    log = base / "serve.log"
    with haven_serve(env, log, "--port", str(port), "--workers", "1") as process:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30.0) as client:
            await until_ready(client, process, log)
            try:
                yield client
            finally:
                # stop it here, the event loop free: a relay in this process must carry its
                # last queries
                process.send_signal(signal.SIGINT)
                for _ in range(STOP_POLLS):
                    if process.poll() is not None:
                        break
                    await asyncio.sleep(0.05)


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


async def stored_versions(store: PostgresEventStore) -> dict[str, tuple[int, int]]:
    """Each stream's (last version, number of events)."""
    rows = await store.pool.fetch(
        "SELECT stream_id, max(version), count(*) FROM haven.events GROUP BY stream_id"
    )
    return {str(stream): (version, count) for stream, version, count in rows}
