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
import time
from collections import Counter
from pathlib import Path

import asyncpg
import pytest

from events.erasure import ERASURE_CHANNEL
from events.notification import NOTIFY_CHANNEL
from projections import checkpoints
from services.database import with_database
from services.identity import LocalIssuer
from services.settings import login_as
from tests.projections.fault_support import view_differences
from tests.services.failover_support import formation
from tests.services.load_support import (
    MAX_TRIES,
    Tally,
    acknowledged,
    case_workers,
    log_store,
    served_haven,
    stored_versions,
)

pytestmark = pytest.mark.slow

ORG = "org-failover"
WORKERS = 4
STEADY_SECONDS = 1.5  # load before the loss, and again once commands succeed after it
CATCH_UP_TIMEOUT = 120.0  # generous: a bound on a hang, never on speed
# Haven's waits on its database (the defaults are seconds longer): a connection gets 2 s to open
LIMITS = {"HAVEN_DB_CONNECT_TIMEOUT": "2", "HAVEN_DB_ACQUIRE_TIMEOUT": "2"}


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
        async with served_haven(ha.url, tmp_path, LIMITS) as client:
            issuer = LocalIssuer.open(tmp_path / "data")
            tally = Tally()
            async with case_workers(client, issuer, tally, count=WORKERS, org=ORG) as workers:
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
            await workers[0].until_listed(await workers[0].open_case())
            # ... and so do the LISTEN connections of the projectors and of the erasure watch
            channels = await listening(standby.url(), len(before))
            done = acknowledged(workers)
            async with log_store(standby.url(), tmp_path / "kek") as (store, keyring):
                head = await checkpoints.log_head(store.pool)
                assert await checkpoints.wait_until_projected(
                    store.pool, list(before), head, timeout=CATCH_UP_TIMEOUT
                )
                assert await generations(standby.url()) == before  # from their checkpoints
                # every acknowledged command once, and nothing else
                assert await stored_versions(store) == {
                    case: (version, version) for case, version in done.items()
                }
                assert await view_differences(store, keyring) == []
    events = sum(done.values())
    first_failed, back = window
    print(
        f"\n{WORKERS} case workers, {len(done)} cases, {events} events acknowledged, "
        f"answers {dict(sorted(statuses.items()))}, 503 types {dict(tally.unavailable)}; "
        f"listening on the promoted node {dict(channels)}; "
        f"standby promoted {promoted_at - lost_at:.2f} s after the primary was lost; "
        f"unavailable {back - first_failed:.2f} s (first failed answer to the first "
        f"acknowledged command sent after it, {back - lost_at:.2f} s after the loss); "
        f"the test took {time.monotonic() - started:.1f} s"
    )
