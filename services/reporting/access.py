"""How a federal report reaches its inputs: as the reporting role, for a final period, in one
mode per period.

These checks run before anything is counted. Their refusals (`ReportError`) name no count,
code or identifier: that a period is not final, or was released in the other mode, says
nothing about the data.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import asyncpg

from domain.reporting import periods
from domain.reporting.periods import Period, index_of
from services.database import CONNECT_TIMEOUT
from services.database_connect import connect

REPORTING_ROLE = "haven_reporting"


class ReportError(Exception):
    """A report that cannot be released; the message names no count, code or identifier."""


class InvalidPeriod(ReportError):
    pass


class PeriodUnavailable(ReportError):
    pass


class ReportRefused(ReportError):
    pass


class RevisionNeedsReview(ReportError):
    pass


class ModeConflict(ReportError):
    """The period was released in the other mode (suppression, or differential privacy): the
    two of one period would combine into counts neither protects. Says nothing about the data."""


async def refuse_other_mode(conn: asyncpg.Connection, period: Period, mode: str) -> None:
    """One mode per period: `ModeConflict` if it was released in the mode other than `mode`
    ("suppression" or "differential-privacy")."""
    other = (
        "SELECT EXISTS (SELECT FROM dp.releases WHERE period = $1)"
        if mode == "suppression"
        else "SELECT EXISTS (SELECT FROM reporting_ledger.releases WHERE period = $1)"
    )
    if await conn.fetchval(other, period.label):
        released, asked = (
            ("differential privacy", "suppression")
            if mode == "suppression"
            else ("suppression", "differential privacy")
        )
        raise ModeConflict(
            f"{period.label} was released under {released}; it is not also released under {asked}"
        )


def parse_period(label: str) -> Period:
    """The period of a label (`InvalidPeriod`, a `ReportError`, if it is none)."""
    try:
        return Period.parse(label)
    except periods.InvalidPeriod as error:
        raise InvalidPeriod(str(error)) from None


@contextlib.asynccontextmanager
async def reporting_connection(reporting_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection in a transaction, logged in as role haven_reporting: a login of its own,
    never the application's connection with a role set on it (which RESET ROLE would undo)."""
    try:
        conn = await connect(reporting_url, timeout=CONNECT_TIMEOUT)
    except (asyncpg.InvalidAuthorizationSpecificationError, asyncpg.InvalidPasswordError):
        raise PeriodUnavailable(
            "the reporting role cannot log in: set HAVEN_REPORTING_DATABASE_URL "
            "(README, Federal reporting)"
        ) from None
    try:
        if await conn.fetchval("SELECT session_user") != REPORTING_ROLE:
            raise PeriodUnavailable("HAVEN_REPORTING_DATABASE_URL must log in as haven_reporting")
        async with conn.transaction():
            yield conn
    finally:
        await conn.close()


async def check_period(conn: asyncpg.Connection, period: Period) -> str:
    """The horizon of the reporting inputs, when `period` is final (`PeriodUnavailable`
    otherwise)."""
    try:
        horizon = await conn.fetchval("SELECT quarter FROM reporting.federal_inputs_horizon")
    except asyncpg.UndefinedTableError:
        raise PeriodUnavailable("the reporting inputs have not been built yet") from None
    if horizon is None:
        raise PeriodUnavailable("the reporting inputs hold no data yet")
    if period.index > index_of(horizon):
        raise PeriodUnavailable("this period is after the reporting inputs' horizon")
    if period.index == index_of(horizon):
        raise PeriodUnavailable("this period is still running")
    return horizon
