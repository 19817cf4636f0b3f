"""The database goes away under load: clients get 503 and a safe retry, never a 500 or a loss.

A private cluster (`outage_support`), `haven serve` in front of it through a TCP relay, and case
workers opening cases, recording services and reading, each command with an `Idempotency-Key`
that a 503 makes them retry. The database then goes away three ways, one after the other:
stopped cleanly (`pg_ctl -m fast`), crashed (`-m immediate`), and unreachable (the relay holds
every byte and new connections hang, so only Haven's own timeouts notice). Throughout:

* no answer is a 5xx other than 503, and every 503 is problem+json `database-unavailable`
  (or `overloaded`, or a read's `service-unavailable` when its access could not be recorded)
  with `Retry-After`; each outage was felt (it produced 503s: the control that the test can
  fail for want of an outage);
* every acknowledged command is in the log exactly once (each case's version is its opening's
  plus one per acknowledged service), and no retry was refused as a duplicate;
* commands succeed again once the database is back (the recovery time is printed), the
  projectors resume (a case opened afterwards reaches the caseload) and the views equal what
  a rebuild from the log gives.

A command whose connection is reset around its COMMIT has an unknown outcome: it answers 503
saying so, and its retry with the same key answers the first result when the COMMIT had
reached the server, or performs it once when it had not — the idempotency record commits in
the same transaction as the events.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import datetime as dt
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from crypto.keyring import Keyring
from crypto.providers import FileKeyProvider
from events.catalog import haven_registry
from events.store import PostgresEventStore
from projections import checkpoints
from projections.catalog import projection_factories
from services.api.cases.schemas.examples import OPEN_CASE_EXAMPLE, RECORD_SERVICE_EXAMPLE
from services.identity import LocalIssuer
from tests.projections.fault_support import view_differences
from tests.services.outage_support import Proxy, private_cluster, served_haven
from tests.tiers import scaled

pytestmark = pytest.mark.slow

ORG, TEAM, WORKER = "org-outage", "team-outage", "outage-worker-"
WORKERS = scaled(default=4, full=8)
DOWN_SECONDS = scaled(default=2, full=5)  # how long the database stays away, each time
STEADY_SECONDS = scaled(default=1, full=4)  # load before and after each outage
MAX_TRIES = 600  # x 0.05 s at least: a retry loop is bounded, never timed
CATCH_UP_TIMEOUT = 120.0  # generous: a bound on a hang, never on speed
UNAVAILABLE_TYPES = {"database-unavailable", "overloaded"}
READ_ONLY_503 = {"service-unavailable"}  # a read whose access could not be recorded


class Tally:
    def __init__(self) -> None:
        self.statuses: Counter[int] = Counter()
        self.unavailable: Counter[str] = Counter()
        self.refused: list[str] = []  # any answer a test client must never get
        self.last_success = 0.0

    def note(self, answer: httpx.Response, *, command: bool) -> None:
        self.statuses[answer.status_code] += 1
        if answer.status_code == 503:
            kind = answer.json()["type"].rsplit("/", 1)[-1]
            allowed = UNAVAILABLE_TYPES | (set() if command else READ_ONLY_503)
            if kind not in allowed or "retry-after" not in answer.headers:
                self.refused.append(f"503 {kind} retry-after={answer.headers.get('retry-after')}")
            self.unavailable[kind] += 1
        elif answer.status_code >= 300:
            self.refused.append(f"{answer.status_code} {answer.text[:200]}")
        elif command:
            self.last_success = time.monotonic()


async def until_answered(
    client: httpx.AsyncClient, tally: Tally, method: str, path: str, **request: Any
) -> httpx.Response:
    """Send until the answer is not a 503, the same request each time (same Idempotency-Key)."""
    command = method != "GET"
    for _ in range(MAX_TRIES):
        answer = await client.request(method, path, **request)
        tally.note(answer, command=command)
        if answer.status_code != 503:
            return answer
        await asyncio.sleep(0.05)
    pytest.fail(f"{method} {path}: still 503 after {MAX_TRIES} tries")


def intake(today: dt.date) -> dict[str, Any]:
    body = copy.deepcopy(OPEN_CASE_EXAMPLE)
    body["identity"]["preferred_name"] = f"Synthetic {uuid.uuid4().hex[:6]}"
    return body


def service(today: dt.date) -> dict[str, Any]:
    body = {key: value for key, value in RECORD_SERVICE_EXAMPLE.items() if key != "service_id"}
    return {
        **body,
        "service_id": f"outage-service-{uuid.uuid4().hex}",
        "delivered_on": (today - dt.timedelta(days=1)).isoformat(),
    }


class CaseWorker:
    """Opens a case, then records services on it and reads it back, until told to stop."""

    def __init__(self, client: httpx.AsyncClient, token: str, tally: Tally) -> None:
        self.client, self.tally = client, tally
        self.headers = {"Authorization": f"Bearer {token}"}
        self.cases: dict[str, int] = {}  # case id -> version its last acknowledged command left

    async def open_case(self) -> str:
        answer = await until_answered(
            self.client, self.tally, "POST", "/v1/cases", json=intake(dt.date.today()),
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
            elif turn % 3 == 0:
                await until_answered(self.client, self.tally, "GET", f"/v1/cases/{case_id}",
                                     headers=self.headers)  # fmt: skip
                await until_answered(self.client, self.tally, "GET", "/v1/cases",
                                     headers=self.headers)  # fmt: skip
            else:
                answer = await until_answered(
                    self.client, self.tally, "POST", f"/v1/cases/{case_id}/services",
                    json=service(dt.date.today()),
                    headers={**self.headers, "Idempotency-Key": uuid.uuid4().hex,
                             "If-Match": f'"{self.cases[case_id]}"'},
                )  # fmt: skip
                assert answer.status_code == 200, answer.text
                self.cases[case_id] = int(answer.headers["ETag"].strip('"'))


@contextlib.asynccontextmanager
async def case_workers(
    client: httpx.AsyncClient, issuer: LocalIssuer, tally: Tally
) -> AsyncIterator[list[CaseWorker]]:
    workers = [
        CaseWorker(client, issuer.mint(f"{WORKER}{n}", ORG, ["caseworker"], TEAM), tally)
        for n in range(WORKERS)
    ]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(worker.run(stop)) for worker in workers]
    try:
        yield workers
    finally:
        stop.set()
        await asyncio.gather(*tasks)


@contextlib.asynccontextmanager
async def log_store(url: str, key_file: Path) -> AsyncIterator[tuple[PostgresEventStore, Keyring]]:
    provider = FileKeyProvider(key_file)
    try:
        async with asyncpg.create_pool(url, min_size=1, max_size=2) as pool:
            keyring = Keyring(provider)
            yield PostgresEventStore(pool, keyring, haven_registry()), keyring
    finally:
        provider.close()


async def test_outages_answer_503_lose_nothing_and_recover(tmp_path: Path) -> None:
    with private_cluster() as cluster:
        async with (
            Proxy(cluster.port) as proxy,
            served_haven(proxy.url, tmp_path) as client,
        ):
            issuer = LocalIssuer.open(tmp_path / "data")
            tally = Tally()
            recoveries: dict[str, float] = {}
            async with case_workers(client, issuer, tally) as workers:
                for outage in ("fast", "immediate", "unreachable"):
                    await asyncio.sleep(STEADY_SECONDS)
                    felt = tally.statuses[503]
                    if outage == "unreachable":
                        proxy.cut_off()
                        await asyncio.sleep(DOWN_SECONDS)
                        proxy.restore()
                    else:
                        await asyncio.to_thread(cluster.stop, outage)
                        await asyncio.sleep(DOWN_SECONDS)
                        await asyncio.to_thread(cluster.start)
                    back = time.monotonic()
                    for _ in range(MAX_TRIES):
                        if tally.last_success > back:
                            break
                        await asyncio.sleep(0.05)
                    recoveries[outage] = tally.last_success - back
                    assert tally.statuses[503] > felt, f"the {outage} outage produced no 503"
                await asyncio.sleep(STEADY_SECONDS)

            assert tally.refused == [], tally.refused[:10]
            assert not [status for status in tally.statuses if status >= 500 and status != 503]

            # projectors resumed: a case opened now reaches the worker's caseload
            late = workers[0]
            opened = await late.open_case()
            for _ in range(MAX_TRIES):
                listed = await client.get("/v1/cases", headers=late.headers)
                if listed.status_code == 200 and opened in listed.text:
                    break
                await asyncio.sleep(0.05)
            else:
                pytest.fail("a case opened after the outages never reached the caseload")

        acknowledged = {
            case: version for worker in workers for case, version in worker.cases.items()
        }
        async with log_store(cluster.url, tmp_path / "kek") as (store, keyring):
            stored = {
                str(stream): version
                for stream, version in await store.pool.fetch(
                    "SELECT stream_id, max(version) FROM haven.events GROUP BY stream_id"
                )
            }
            assert stored == acknowledged  # every acknowledged command once; nothing else
            head = await checkpoints.log_head(store.pool)
            assert await checkpoints.wait_until_projected(
                store.pool, ["cases"], head, timeout=CATCH_UP_TIMEOUT
            )
            assert await view_differences(store, keyring) == []
    commands = sum(version for version in acknowledged.values())
    print(
        f"\n{WORKERS} case workers, {len(acknowledged)} cases, {commands} events acknowledged, "
        f"answers {dict(sorted(tally.statuses.items()))}, 503 types {dict(tally.unavailable)}; "
        "commands succeeded again "
        + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in recoveries.items())
        + " after the database returned"
    )


@pytest.mark.parametrize("delivered", [True, False], ids=["commit-delivered", "commit-lost"])
async def test_a_command_cut_off_at_its_commit_is_done_once_on_retry(
    tmp_path: Path, delivered: bool
) -> None:
    with private_cluster() as cluster:
        async with (
            Proxy(cluster.port) as proxy,
            served_haven(proxy.url, tmp_path) as client,
        ):
            issuer = LocalIssuer.open(tmp_path / "data")
            worker = CaseWorker(
                client, issuer.mint(f"{WORKER}cut", ORG, ["caseworker"], TEAM), Tally()
            )
            case_id = await worker.open_case()
            version = worker.cases[case_id]
            # no projector's COMMIT to cut instead of the command's
            await _projected_everything(cluster.url, tmp_path / "kek")
            request = {
                "json": service(dt.date.today()),
                "headers": {
                    **worker.headers,
                    "Idempotency-Key": uuid.uuid4().hex,
                    "If-Match": f'"{version}"',
                },
            }
            proxy.cut_at(b"COMMIT", deliver=delivered)
            first = await client.post(f"/v1/cases/{case_id}/services", **request)
            assert proxy.cut_done.is_set()
            assert first.status_code == 503, first.text
            assert first.json()["type"].endswith("/database-unavailable")
            assert "Idempotency-Key" in first.json()["detail"]
            assert first.headers["retry-after"]
            committed = await _version_of(cluster.url, case_id)
            assert committed == (version + 1 if delivered else version)

            retry = await until_answered(
                client, Tally(), "POST", f"/v1/cases/{case_id}/services", **request
            )
            assert retry.status_code == 200, retry.text
            assert retry.headers["ETag"] == f'"{version + 1}"'
            assert await _version_of(cluster.url, case_id) == version + 1  # once, either way


async def _projected_everything(url: str, key_file: Path) -> None:
    """Until every projection has been built and has applied every event."""
    async with log_store(url, key_file) as (store, keyring):
        names = set(projection_factories(keyring, store))
        for _ in range(MAX_TRIES):
            lags = await checkpoints.lag(store.pool)
            if set(lags) == names and not any(lag.events for lag in lags.values()):
                return
            await asyncio.sleep(0.05)
    pytest.fail("the projections never caught up with the case just opened")


async def _version_of(url: str, case_id: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(
            await conn.fetchval(
                "SELECT max(version) FROM haven.events WHERE stream_id = $1", uuid.UUID(case_id)
            )
        )
    finally:
        await conn.close()
