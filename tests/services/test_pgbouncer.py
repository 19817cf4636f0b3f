"""Haven through PgBouncer in transaction pooling mode (docs/operations.md, Connection pooling
with PgBouncer): `HAVEN_DATABASE_URL` names PgBouncer, `HAVEN_DIRECT_DATABASE_URL` the server.

A real PgBouncer (`tests.services.pgbouncer_support`) in front of a scratch database.
* Through it, the runtime `haven serve` opens: several tasks at once open cases and run commands
  on them, every case reads back at its version, and the projections catch up (the caseload
  holds every case at that version). The pool's connections do go through PgBouncer, and leave
  no prepared statement on the server's sessions.
* Controls, the failure modes the design avoids: a pool that keeps its prepared statements
  (asyncpg's statement cache) finds one missing once PgBouncer hands its next transaction to
  another server connection, and the same steps pass with Haven's pool for a pooler; a LISTEN
  through PgBouncer hears nothing of a notification that a LISTEN on the direct URL hears.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from projections import checkpoints
from projections.catalog import projection_factories
from services.api.app import create_app
from services.bench.scratch import scratch_database
from services.bootstrap import runtime
from services.database import connection_pool
from services.identity import LocalIssuer, TokenVerifier
from services.projection_service import projectors_in_background
from services.settings import DatabaseLimits, Settings
from tests.api.conftest import api_client
from tests.api.test_canary import at, intake_body, make_canaries, people
from tests.conftest import eventually
from tests.services.pgbouncer_support import pgbouncer

pytestmark = pytest.mark.slow

CASES = 4  # opened and worked on by as many tasks at once
NOTIFY_CHANNEL = "haven_pgbouncer_probe"


def _settings(pooled: str, direct: str, data: Path, key_file: Path) -> Settings:
    return Settings.from_environ(
        {
            "HAVEN_DATABASE_URL": pooled,
            "HAVEN_DIRECT_DATABASE_URL": direct,
            "HAVEN_DATA_DIR": str(data),
            "HAVEN_KEK": f"file:{key_file}",
        }
    )


async def _work_on_a_case(client: Any, who: dict[str, dict[str, str]]) -> tuple[str, str, int]:
    """Open a case and run two commands on it: (its id, its preferred name, its version)."""
    canaries = make_canaries()
    worker = who["worker"]
    opened = await client.post("/v1/cases", json=intake_body(canaries), headers=worker)
    assert opened.status_code == 201, opened.text
    case_id = opened.json()["case_id"]
    commands = [
        (
            "needs",
            {
                "assessment_id": "needs-1",
                "assessed_on": "2026-01-08",
                "needs": ["housing_shelter"],
                "notes": "through the pooler",
            },
        ),
        (
            "goals",
            {
                "goal_id": "goal-1",
                "category": "housing_shelter",
                "description": "a place to stay",
                "set_on": "2026-01-09",
            },
        ),
    ]
    version = 1
    for path, body in commands:
        done = await client.post(
            f"/v1/cases/{case_id}/{path}",
            json=body,
            headers=at(worker, version, idempotency_key=str(uuid.uuid4())),
        )
        assert done.status_code in (200, 201), done.text
        version = done.json()["version"]
    return case_id, canaries["identity.preferred_name"], version


async def test_haven_runs_through_pgbouncer_in_transaction_mode(
    database_url: str, key_file: Path, tmp_path: Path
) -> None:
    async with scratch_database(database_url) as direct, pgbouncer(direct) as pooled:
        settings = _settings(pooled, direct, tmp_path / "data", key_file)
        async with runtime(settings, pooled) as rt:
            assert rt.session_url == direct
            async with rt.pool.acquire() as conn:
                # PgBouncer answers the start-up with a backend id of its own
                assert conn.get_server_pid() != await conn.fetchval("SELECT pg_backend_pid()")
            issuer = LocalIssuer.open(settings.data_dir)
            who = people(issuer)
            app = create_app(
                runtime=rt, verifier=TokenVerifier.for_local_issuer(issuer), settings=settings
            )
            async with (
                api_client(app, lifespan=False) as client,
                projectors_in_background(rt, pooled) as runners,
            ):
                worked = await asyncio.gather(*(_work_on_a_case(client, who) for _ in range(CASES)))
                for case_id, name, version in worked:
                    read = await client.get(f"/v1/cases/{case_id}", headers=who["worker"])
                    assert read.status_code == 200, read.text
                    assert read.json()["identity"]["preferred_name"] == name
                    assert read.json()["version"] == version

                head = await checkpoints.log_head(rt.pool)
                names = list(projection_factories(rt.keyring, rt.store))
                assert await checkpoints.wait_until_projected(rt.pool, names, head, timeout=30)
                rows = await rt.pool.fetch("SELECT case_id::text, version FROM views.caseload")
                assert {(r["case_id"], r["version"]) for r in rows} == {
                    (case_id, version) for case_id, _, version in worked
                }
                assert any(runner.leading.is_set() for runner in runners)
            assert await rt.pool.fetchval("SELECT count(*) FROM pg_prepared_statements") == 0


async def _hand_over(pool: asyncpg.Pool) -> None:
    """Prepare a statement on the server connection PgBouncer lends one client, then make the
    client's next transaction run on another one: a second client holds the first server
    connection (PgBouncer lends the one it got back last)."""
    async with pool.acquire() as first, pool.acquire() as second:
        async with first.transaction():
            assert await first.fetchval("SELECT $1::int + 1", 1) == 2
        async with second.transaction():
            await second.execute("SELECT 1")
            assert await first.fetchval("SELECT $1::int + 1", 2) == 3


async def test_control_a_statement_cache_breaks_through_pgbouncer(database_url: str) -> None:
    async with pgbouncer(database_url, pool_size=2) as pooled:
        # no server-side limits as startup parameters: PgBouncer refuses those it does not know
        unlimited = DatabaseLimits(statement_timeout=None, idle_in_transaction_timeout=None)
        async with connection_pool(pooled, min_size=2, max_size=2, limits=unlimited) as cached:
            with pytest.raises(asyncpg.InvalidSQLStatementNameError):
                await _hand_over(cached)
        async with connection_pool(
            pooled, min_size=2, max_size=2, transaction_pooled=True
        ) as uncached:
            await _hand_over(uncached)


async def test_control_listen_through_pgbouncer_hears_nothing(database_url: str) -> None:
    async with pgbouncer(database_url, pool_size=2) as pooled:
        heard: dict[str, asyncio.Event] = {"direct": asyncio.Event(), "pooled": asyncio.Event()}
        listeners = {
            "direct": await asyncpg.connect(database_url),
            "pooled": await asyncpg.connect(pooled, statement_cache_size=0),
        }
        try:
            for name, conn in listeners.items():
                await conn.add_listener(NOTIFY_CHANNEL, lambda *_, name=name: heard[name].set())
            sender = await asyncpg.connect(pooled, statement_cache_size=0)
            try:

                async def notified() -> bool:
                    await sender.execute(f"NOTIFY {NOTIFY_CHANNEL}")
                    return heard["direct"].is_set()

                await eventually(notified)
                # bounded: the direct listener has heard several by now, the pooled none
                await asyncio.wait({asyncio.ensure_future(heard["pooled"].wait())}, timeout=0.5)
                assert not heard["pooled"].is_set()
            finally:
                await sender.close()
        finally:
            for conn in listeners.values():
                conn.terminate()
