"""Opening one connection, with libpq's meaning of a connect timeout for a multi-host URL.

`postgresql://haven@db1:5432,db2:5432/haven?target_session_attrs=read-write` names the nodes of
a high-availability pair (docs/operations.md, High availability and failover). asyncpg's own
`timeout` spans every host together: a first host that neither answers nor refuses (a frozen
machine, an address that drops packets) uses it all up, and the second host, though promoted,
is never tried. Here each host in turn gets the whole timeout, as libpq's `connect_timeout`
does, and the hosts that failed most recently are tried last, so that after a failover the
promoted node is found first.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from services.database_outage import DatabaseUnavailable

# (the URL's host list, one host) -> when that host last failed to give a connection
_failed_at: dict[tuple[str, str], float] = {}

CONNECT_FAILURES = (
    OSError,
    TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,  # TargetServerAttributeNotMatched: this host is read-only
)


async def connect(dsn: str, *, timeout: float, **arguments: Any) -> asyncpg.Connection:
    """`asyncpg.connect(dsn, timeout=timeout, **arguments)`, each host of a multi-host `dsn`
    tried in turn with the whole `timeout`. If none gives a connection: the last host's error,
    as `DatabaseUnavailable` when it is the network's (refused, unreachable, timed out; asyncpg
    raises a bare `OSError` for a name with several addresses) — a login refused stays itself."""
    try:
        return await _connect(dsn, timeout, arguments)
    except (OSError, TimeoutError) as error:
        if isinstance(error, DatabaseUnavailable):
            raise
        raise DatabaseUnavailable(type(error).__name__) from error


async def _connect(dsn: str, timeout: float, arguments: dict[str, Any]) -> asyncpg.Connection:
    parts = urlsplit(dsn)
    login, at, listed = parts.netloc.rpartition("@")
    hosts = listed.split(",")
    if len(hosts) < 2:
        return await asyncpg.connect(dsn, timeout=timeout, **arguments)
    error: BaseException | None = None
    for host in sorted(hosts, key=lambda host: _failed_at.get((listed, host), 0.0)):
        one = urlunsplit(parts._replace(netloc=f"{login}{at}{host}"))
        try:
            conn = await asyncpg.connect(one, timeout=timeout, **arguments)
        except CONNECT_FAILURES as failed:
            _failed_at[(listed, host)] = time.monotonic()
            error = failed
            continue
        except asyncio.CancelledError:  # the caller's own wait ran out on this host
            _failed_at[(listed, host)] = time.monotonic()
            raise
        _failed_at.pop((listed, host), None)
        return conn
    assert error is not None
    raise error
