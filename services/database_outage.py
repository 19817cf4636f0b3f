"""Which failures mean that the database is away, rather than that Haven has a bug.

PostgreSQL may be restarting, crashed, in recovery, unreachable, read-only (a primary demoted by
a failover), or too busy to give a connection in time. A request that meets any of these is
answered 503 `database-unavailable` with `Retry-After` (`services.api.problems`), never 500:
the client may retry, and a command retried with the same `Idempotency-Key` is performed once
(its events and its idempotency record commit in one transaction, `events.idempotency`).
"""

from __future__ import annotations

import socket

import asyncpg

# asyncpg's own words when a connection or the pool has gone, e.g. "cannot call
# Transaction.__aexit__(): the underlying connection is closed" (an `InterfaceError` otherwise
# means a programming error, which stays a 500)
_GONE = ("connection is closed", "pool is closing", "connection was closed")


class DatabaseUnavailable(ConnectionError):
    """No connection could be had: none free within the acquire timeout, or none could be
    opened (refused, unreachable, timed out, the server not accepting, no host read-write).
    A `ConnectionError`, so that code prepared for a lost connection is prepared for it too."""


def is_database_unavailable(error: BaseException) -> bool:
    """Whether `error` says the database is away: connection lost or refused, the server
    shutting down or restarting or in recovery (SQLSTATE class 57), read-only, a statement or
    connection timed out, or the client's connection state broken by any of these."""
    if isinstance(
        error,
        DatabaseUnavailable
        | asyncpg.PostgresConnectionError  # SQLSTATE class 08
        | asyncpg.OperatorInterventionError  # class 57: shutdown, crash, cannot connect now,
        # statement_timeout (57014)
        | asyncpg.ReadOnlySQLTransactionError
        | asyncpg.InternalClientError  # asyncpg's state after a connection broke mid-protocol
        | ConnectionError
        | TimeoutError
        | socket.gaierror,
    ):
        return True
    return isinstance(error, asyncpg.InterfaceError) and any(gone in str(error) for gone in _GONE)


def leaves_server_unusable(error: BaseException) -> bool:
    """Whether the connection that raised `error` must not serve another request: its server
    is read-only (a demoted primary) or shutting down."""
    return isinstance(
        error,
        asyncpg.ReadOnlySQLTransactionError
        | asyncpg.AdminShutdownError
        | asyncpg.CannotConnectNowError,
    )
