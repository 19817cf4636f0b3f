"""The disclosure policy is the deployment's, stored in the database: only its owner changes it
(each change recorded as an event and kept in dp.policy_history), and the database itself
refuses a DP release beyond it, whoever calls.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from decimal import Decimal

import asyncpg
import pytest

from crypto.keyring import Keyring
from domain.reporting.policy import (
    DEFAULT_POLICY,
    DisclosurePolicy,
    DisclosurePolicySet,
    policy_faults,
)
from events.catalog import haven_registry
from events.store import PostgresEventStore
from services.cli import main
from services.reporting.policy import (
    POLICY_STREAM,
    POLICY_TENANT,
    PolicyError,
    PolicyNotAllowed,
    current_policy,
    set_policy,
)
from services.settings import login_as
from tests.events.test_roles import application_login
from tests.logging_support import preserved_logging
from tests.services.reporting.conftest import disclosure_policy

RELEASE = (
    "SELECT dp.record_release('attack', $1, '2026Q1', 'v', $2, '{}', ARRAY[$3::uuid], "
    "'org-x', 'reporter', 'someone', $4)"
)


async def test_attack_a_reporting_session_cannot_record_a_release_beyond_the_policy(
    pool: asyncpg.Pool, database_url: str
) -> None:
    """Whoever holds the reporting login calls the recording function with their own numbers:
    an epsilon above the maximum, a noise scale below the floor, a client past their lifetime.
    The database refuses each. Control: within the policy it records."""
    await pool.execute("TRUNCATE dp.releases, dp.spends, dp.balances, dp.requester_spends")
    client = uuid.uuid4()
    reporter = await asyncpg.connect(login_as(database_url, "haven_reporting"))
    try:
        for epsilon, scale in ((Decimal("2"), 20.0), (Decimal("1"), 0.5)):
            with pytest.raises(asyncpg.PostgresError) as refused:
                await reporter.fetchval(RELEASE, uuid.uuid4().bytes * 2, epsilon, client, scale)
            assert refused.value.sqlstate == "HV020"
        for _ in range(4):  # control: four releases of ε = 1 fit the lifetime of 4 ...
            await reporter.fetchval(RELEASE, uuid.uuid4().bytes * 2, Decimal("1"), client, 20.0)
        with pytest.raises(asyncpg.PostgresError) as fifth:  # ... a fifth does not
            await reporter.fetchval(RELEASE, uuid.uuid4().bytes * 2, Decimal("1"), client, 20.0)
        assert fifth.value.sqlstate == "HV020"
    finally:
        await reporter.close()
    assert await pool.fetchval("SELECT spent FROM dp.balances WHERE subject = $1", client) == 4
    await pool.execute("TRUNCATE dp.releases, dp.spends, dp.balances, dp.requester_spends")


async def test_only_the_owner_sets_the_policy_and_every_change_is_recorded(
    pool: asyncpg.Pool, keyring: Keyring, database_url: str
) -> None:
    raised = DisclosurePolicy(
        lifetime_epsilon=Decimal("6"),
        max_epsilon_per_release=Decimal("1.5"),
        requester_budget=Decimal("6"),
        noise_floor=Decimal("1"),
    )
    async with (
        application_login(database_url) as url,
        asyncpg.create_pool(url, min_size=1, max_size=2) as app_pool,
    ):
        app_store = PostgresEventStore(app_pool, keyring, haven_registry())
        with pytest.raises(PolicyNotAllowed):
            await set_policy(app_store, raised, "someone-with-the-app-login")
        await app_store.close()
    assert await current_policy(pool) == DEFAULT_POLICY
    owner = PostgresEventStore(pool, keyring, haven_registry())
    async with disclosure_policy(pool):  # restores the default afterwards
        before = await pool.fetchval("SELECT count(*) FROM dp.policy_history")
        await set_policy(owner, raised, "administrator-1")  # control: the owner may
        assert await current_policy(pool) == raised
        assert await pool.fetchval("SELECT count(*) FROM dp.policy_history") == before + 1
        recorded = await owner.read_stream(POLICY_TENANT, POLICY_STREAM)
        assert (
            isinstance(recorded[-1].event, DisclosurePolicySet)
            and recorded[-1].event.set_by == "administrator-1"
        )
        with pytest.raises(
            PolicyError, match="max_epsilon_per_release must not exceed lifetime_epsilon"
        ):
            await set_policy(
                owner,
                DisclosurePolicy(
                    lifetime_epsilon=Decimal("1"),
                    max_epsilon_per_release=Decimal("2"),
                    requester_budget=Decimal("4"),
                    noise_floor=Decimal("1"),
                ),
                "x",
            )
    await owner.close()


def test_the_policys_rules() -> None:
    assert policy_faults(DEFAULT_POLICY) == []
    assert policy_faults(
        DisclosurePolicy(
            lifetime_epsilon=Decimal("0"),
            max_epsilon_per_release=Decimal("1"),
            requester_budget=Decimal("NaN"),
            noise_floor=Decimal("-1"),
        )
    ) == [
        "lifetime_epsilon must be a number above 0",
        "requester_budget must be a number above 0",
        "noise_floor must be a number of at least 0",
    ]
    assert json.dumps(str(DEFAULT_POLICY.max_epsilon_per_release)) == '"1"'


async def test_the_administrator_shows_and_sets_it_from_the_command_line(
    pool: asyncpg.Pool,
    database_url: str,
    key_file,
    tmp_path,
    monkeypatch: pytest.MonkeyPatch,  # noqa: ANN001
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in (
        ("HAVEN_DATABASE_URL", database_url),
        ("HAVEN_KEK", f"file:{key_file}"),
        ("HAVEN_DATA_DIR", str(tmp_path)),
    ):
        monkeypatch.setenv(name, value)
    async with disclosure_policy(pool):
        with preserved_logging():
            assert await asyncio.to_thread(main, ["report", "policy", "show"]) == 0
            shown = capsys.readouterr().out
            assert "max_epsilon_per_release  1" in shown and "lifetime_epsilon         4" in shown
            assert (
                await asyncio.to_thread(
                    main,
                    [
                        "report",
                        "policy",
                        "set",
                        "--lifetime",
                        "8",
                        "--per-release",
                        "2",
                        "--requester-budget",
                        "8",
                        "--by",
                        "administrator-1",
                    ],
                )
                == 0
            )
            assert "max_epsilon_per_release  2" in capsys.readouterr().out
            assert (
                await asyncio.to_thread(
                    main,
                    ["report", "policy", "set", "--per-release", "9", "--by", "administrator-1"],
                )
                == 2
            )  # over the lifetime
        assert (await current_policy(pool)).max_epsilon_per_release == 2
