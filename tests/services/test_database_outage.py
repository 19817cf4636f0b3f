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
import time
import uuid
from pathlib import Path

import asyncpg
import pytest

from projections import checkpoints
from projections.catalog import projection_factories
from services.identity import LocalIssuer
from tests.projections.fault_support import view_differences
from tests.services.load_support import (
    MAX_TRIES,
    CaseWorker,
    Tally,
    acknowledged,
    case_workers,
    log_store,
    served_haven,
    service,
    stored_versions,
    until_answered,
)
from tests.services.outage_support import LIMITS, Proxy, private_cluster
from tests.tiers import scaled

pytestmark = pytest.mark.slow

ORG = "org-outage"
WORKERS = scaled(default=4, full=8)
DOWN_SECONDS = scaled(default=2, full=5)  # how long the database stays away, each time
STEADY_SECONDS = scaled(default=1, full=4)  # load before and after each outage
CATCH_UP_TIMEOUT = 120.0  # generous: a bound on a hang, never on speed


async def test_outages_answer_503_lose_nothing_and_recover(tmp_path: Path) -> None:
    with private_cluster() as cluster:
        async with (
            Proxy(cluster.port) as proxy,
            served_haven(proxy.url, tmp_path, LIMITS) as client,
        ):
            issuer = LocalIssuer.open(tmp_path / "data")
            tally = Tally()
            recoveries: dict[str, float] = {}
            async with case_workers(client, issuer, tally, count=WORKERS, org=ORG) as workers:
                for outage in ("fast", "immediate", "unreachable"):
                    await asyncio.sleep(STEADY_SECONDS)
                    felt = tally.statuses()[503]
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
                        if (success := tally.first_success_after(back)) is not None:
                            recoveries[outage] = success - back
                            break
                        await asyncio.sleep(0.05)
                    else:
                        pytest.fail(f"no command succeeded after the {outage} outage")
                    assert tally.statuses()[503] > felt, f"the {outage} outage produced no 503"
                await asyncio.sleep(STEADY_SECONDS)

            assert tally.refused == [], tally.refused[:10]
            # the projectors resumed: a case opened now reaches the worker's caseload
            await workers[0].until_listed(await workers[0].open_case())

        done = acknowledged(workers)
        async with log_store(cluster.url, tmp_path / "kek") as (store, keyring):
            # every acknowledged command once, and nothing else
            assert await stored_versions(store) == {
                case: (version, version) for case, version in done.items()
            }
            head = await checkpoints.log_head(store.pool)
            assert await checkpoints.wait_until_projected(
                store.pool, ["cases"], head, timeout=CATCH_UP_TIMEOUT
            )
            assert await view_differences(store, keyring) == []
    print(
        f"\n{WORKERS} case workers, {len(done)} cases, {sum(done.values())} events acknowledged, "
        f"answers {dict(sorted(tally.statuses().items()))}, 503 types {dict(tally.unavailable)}; "
        "commands succeeded again "
        + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in recoveries.items())
        + " after the database returned"
    )


async def test_a_command_cut_off_at_its_commit_is_done_once_on_retry(tmp_path: Path) -> None:
    """Once with the COMMIT delivered before the reset, once with it lost."""
    with private_cluster() as cluster:
        async with (
            Proxy(cluster.port) as proxy,
            served_haven(proxy.url, tmp_path, LIMITS) as client,
        ):
            issuer = LocalIssuer.open(tmp_path / "data")
            worker = CaseWorker(
                client, issuer.mint("cut-worker", ORG, ["caseworker"], "team-load"), Tally()
            )
            for delivered in (True, False):
                case_id = await worker.open_case()
                version = worker.cases[case_id]
                # no projector's COMMIT to cut instead of the command's
                await _projected_everything(cluster.url, tmp_path / "kek")
                request = {
                    "json": service(),
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
                assert committed == (version + 1 if delivered else version), delivered

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
