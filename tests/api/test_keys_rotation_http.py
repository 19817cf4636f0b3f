"""The API keeps serving while `haven keys rotate` re-wraps its organisation's keys.

The server's key provider starts before the rotation (as a running `haven serve` would);
commands and reads go on through the HTTP app while the rotation walks the keys. No request
fails, every acknowledged intake reads back afterwards, and every key and the organisation's
idempotency secret end under the rotated KEK.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import asyncpg

from crypto.keyring import Keyring
from crypto.providers import FileKeyProvider
from events.catalog import haven_registry
from events.idempotency import KeyHasher
from events.key_rotation import rewrap_organisation
from events.store import PostgresEventStore
from services.bootstrap import Runtime
from services.identity import LocalIssuer
from services.recent_states import RecentStates
from tests.api.conftest import TEAM, AppFactory, api_client
from tests.api.test_case_routes import intake_body
from tests.tiers import scaled


async def test_commands_and_reads_run_through_a_rotation(
    make_app: AppFactory, pool: asyncpg.Pool, issuer: LocalIssuer, tmp_path: Path
) -> None:
    org = f"org-rotation-{uuid.uuid4().hex[:8]}"
    worker = {"Authorization": f"Bearer {issuer.mint('worker-r', org, ['caseworker'], team=TEAM)}"}
    serving = FileKeyProvider(tmp_path / "kek")
    keyring = Keyring(serving)
    store = PostgresEventStore(pool, keyring, haven_registry())
    runtime = Runtime(pool, keyring, store, RecentStates(), idempotency=KeyHasher(serving))
    acknowledged: list[str] = []
    statuses: list[int] = []
    async with api_client(make_app(runtime=runtime), lifespan=False) as client:

        async def intake(index: int) -> None:
            headers = {**worker, "Idempotency-Key": f"intake-{index}"}
            response = await client.post("/v1/cases", json=intake_body(), headers=headers)
            statuses.append(response.status_code)
            if response.status_code == 201:
                acknowledged.append(response.json()["case_id"])

        for index in range(scaled(default=12, full=200)):
            await intake(index)
        administrator = FileKeyProvider(tmp_path / "kek")
        administrator.rotate(org)
        rotated = asyncio.Event()

        async def rotate() -> None:
            try:
                await rewrap_organisation(pool, Keyring(administrator), administrator, org, batch=2)
            finally:
                rotated.set()

        async def serve() -> None:
            rounds = 0
            while not rotated.is_set() or rounds < 5:
                rounds += 1
                await intake(1000 + rounds)
                read = await client.get(
                    f"/v1/cases/{acknowledged[rounds % len(acknowledged)]}", headers=worker
                )
                statuses.append(read.status_code)

        await asyncio.gather(serve(), rotate())
        await rewrap_organisation(pool, Keyring(administrator), administrator, org)

        assert set(statuses) <= {200, 201}, statuses  # no request failed
        for case_id in acknowledged:
            read = await client.get(f"/v1/cases/{case_id}", headers=worker)
            assert read.status_code == 200 and read.json()["case_id"] == case_id
    await store.close()
    under = await pool.fetch(
        "SELECT DISTINCT kek_id FROM haven.streams WHERE tenant_id = $1"
        " UNION SELECT kek_id FROM haven.tenant_secrets WHERE tenant_id = $1",
        org,
    )
    assert [row[0] for row in under] == ["file:k2"]
    assert len(acknowledged) >= scaled(default=12, full=200) + 5
