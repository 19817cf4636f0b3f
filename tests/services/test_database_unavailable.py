"""Which failures mean "the database is away" (503) and which are Haven's bug (500), and the
pool's limits: each produced by a real PostgreSQL, not constructed by hand, where it can be.

* A connection whose backend is terminated, a statement over `statement_timeout`, a pool with
  no free connection within its acquire timeout, a server that refuses connections: each is
  `database-unavailable`, 503. Controls: a programming error of asyncpg's (`InterfaceError`
  about something else) and a plain SQL error stay 500 and 4xx-free.
* A pool connection that finds its server read-only is closed on the way back to the pool, so
  the next request gets another; control: one whose statement merely failed is kept.
"""

from __future__ import annotations

import asyncpg
import pytest

from services.api.problems import problem_type_for
from services.database import connection_pool
from services.database_outage import DatabaseUnavailable, is_database_unavailable
from services.settings import DatabaseLimits, Settings, SettingsError
from tests.api.test_served import free_port


def slug(error: BaseException) -> str:
    return problem_type_for(error).slug


async def test_a_terminated_backend_is_database_unavailable(database_url: str) -> None:
    victim = await asyncpg.connect(database_url)
    killer = await asyncpg.connect(database_url)
    try:
        await killer.execute("SELECT pg_terminate_backend($1)", victim.get_server_pid())
        with pytest.raises(Exception) as raised:
            await victim.fetchval("SELECT 1")
    finally:
        await killer.close()
        victim.terminate()
    assert is_database_unavailable(raised.value)
    assert slug(raised.value) == "database-unavailable"
    assert problem_type_for(raised.value).status == 503


async def test_a_statement_over_the_statement_timeout_is_database_unavailable(
    database_url: str,
) -> None:
    limits = DatabaseLimits(statement_timeout=0.2)
    async with connection_pool(database_url, min_size=1, max_size=1, limits=limits) as pool:
        with pytest.raises(asyncpg.QueryCanceledError) as raised:
            await pool.fetchval("SELECT pg_sleep(2)")
        assert await pool.fetchval("SHOW idle_in_transaction_session_timeout") == "1min"
    assert slug(raised.value) == "database-unavailable"


async def test_no_free_connection_within_the_acquire_timeout_is_database_unavailable(
    database_url: str,
) -> None:
    limits = DatabaseLimits(acquire_timeout=0.2)
    async with connection_pool(database_url, min_size=1, max_size=1, limits=limits) as pool:
        async with pool.acquire():
            with pytest.raises(DatabaseUnavailable) as raised:
                await pool.fetchval("SELECT 1")
        assert await pool.fetchval("SELECT 1") == 1  # free again: served
    assert slug(raised.value) == "database-unavailable"


async def test_a_server_that_refuses_connections_is_database_unavailable() -> None:
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/haven"  # nothing listens there
    limits = DatabaseLimits(connect_timeout=1.0)
    async with connection_pool(url, min_size=0, max_size=1, limits=limits) as pool:
        with pytest.raises(DatabaseUnavailable) as raised:
            await pool.fetchval("SELECT 1")
    assert isinstance(raised.value.__cause__, OSError)
    assert slug(raised.value) == "database-unavailable"


def test_control_programming_errors_stay_internal_errors() -> None:
    assert slug(asyncpg.InterfaceError("the server expects 2 arguments, 1 was passed")) == (
        "internal-error"
    )
    closed = "cannot call Transaction.__aexit__(): the underlying connection is closed"
    assert slug(asyncpg.InterfaceError(closed)) == "database-unavailable"
    assert slug(asyncpg.UndefinedTableError("relation does not exist")) == "internal-error"
    assert slug(ValueError("anything")) == "internal-error"


async def test_a_connection_to_a_read_only_server_is_closed_not_reused(database_url: str) -> None:
    async with connection_pool(database_url, min_size=1, max_size=1) as pool:
        async with pool.acquire() as conn:
            first = conn.get_server_pid()
        with pytest.raises(asyncpg.ReadOnlySQLTransactionError) as raised:
            async with pool.acquire() as conn:
                assert conn.get_server_pid() == first
                await conn.execute("SET default_transaction_read_only = on")  # a demoted primary
                await conn.execute("CREATE TEMPORARY TABLE t (x int)")
        assert slug(raised.value) == "database-unavailable"
        async with pool.acquire() as conn:
            assert conn.get_server_pid() != first  # a new connection, not the read-only one


async def test_control_a_connection_whose_statement_failed_is_kept(database_url: str) -> None:
    async with connection_pool(database_url, min_size=1, max_size=1) as pool:
        with pytest.raises(asyncpg.UndefinedTableError):
            async with pool.acquire() as conn:
                first = conn.get_server_pid()
                await conn.execute("SELECT * FROM no_such_table")
        async with pool.acquire() as conn:
            assert conn.get_server_pid() == first


def test_the_database_limits_are_read_and_checked() -> None:
    limits = Settings.from_environ(
        {
            "HAVEN_DB_CONNECT_TIMEOUT": "2",
            "HAVEN_DB_ACQUIRE_TIMEOUT": "0.5",
            "HAVEN_DB_STATEMENT_TIMEOUT": "0",
            "HAVEN_DB_IDLE_IN_TRANSACTION_TIMEOUT": "90",
            "HAVEN_DB_POOL_SIZE": "8",
        }
    ).database_limits
    assert limits == DatabaseLimits(
        pool_size=8,
        connect_timeout=2.0,
        acquire_timeout=0.5,
        statement_timeout=None,
        idle_in_transaction_timeout=90.0,
    )
    assert limits.command_timeout is None
    assert limits.server_settings() == {"idle_in_transaction_session_timeout": "90000"}
    defaults = Settings.from_environ({}).database_limits
    assert defaults == DatabaseLimits()  # every wait bounded: 5 s, 5 s, 30 s, 60 s
    assert defaults.command_timeout == 35.0
    assert DatabaseLimits(statement_timeout=1.0).command_timeout == 2.0
    for name, value in [
        ("HAVEN_DB_CONNECT_TIMEOUT", "0"),
        ("HAVEN_DB_ACQUIRE_TIMEOUT", "soon"),
        ("HAVEN_DB_STATEMENT_TIMEOUT", "-1"),
        ("HAVEN_DB_POOL_SIZE", "0"),
        ("HAVEN_MAX_IN_FLIGHT", "many"),
        ("HAVEN_ADMISSION_WAIT", "11"),
    ]:
        with pytest.raises(SettingsError, match=name):
            Settings.from_environ({name: value})
