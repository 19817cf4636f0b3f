"""A multi-host URL whose first host neither answers nor refuses (a frozen machine): each host
gets the whole connect timeout, so the live second host is reached; and the host that failed is
tried last the next time. Control: asyncpg's own `connect`, whose timeout spans every host,
gives up on the same URL without ever trying the live host."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import asyncpg
import pytest

from services.database_connect import connect
from tests.services.outage_support import private_cluster

pytestmark = pytest.mark.slow

TIMEOUT = 0.5


@contextlib.asynccontextmanager
async def frozen_host() -> AsyncIterator[tuple[int, list[object]]]:
    """A port that accepts connections and never says a word: its port, and what it accepted."""
    accepted: list[object] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)
        await reader.read()  # until the client gives up and closes

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], accepted
    finally:
        server.close()


async def test_each_host_gets_the_whole_timeout_and_the_failed_one_goes_last() -> None:
    with private_cluster() as cluster:
        async with frozen_host() as (frozen, accepted):
            url = f"postgresql://postgres@127.0.0.1:{frozen},127.0.0.1:{cluster.port}/postgres"
            with pytest.raises(TimeoutError):  # control: asyncpg's timeout spans both hosts
                await asyncpg.connect(url, timeout=TIMEOUT)
            tried = len(accepted)
            conn = await connect(url, timeout=TIMEOUT)
            assert await conn.fetchval("SELECT inet_server_port()") == cluster.port
            await conn.close()
            assert len(accepted) == tried + 1  # the frozen host was tried first, and gave up on
            again = await connect(url, timeout=TIMEOUT)
            await again.close()
            assert len(accepted) == tried + 1  # the failed host went last: not tried again


async def test_a_single_host_url_is_asyncpgs_own_connect() -> None:
    with private_cluster() as cluster:
        conn = await connect(cluster.url.replace("/haven", "/postgres"), timeout=TIMEOUT)
        try:
            assert await conn.fetchval("SELECT 1") == 1
        finally:
            await conn.close()
