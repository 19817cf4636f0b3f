"""The context a case decision is made in, and the checks the rules of every area share.

Pure: the clock, the actor and the codebook come in through `Context`, so a decision depends
on nothing but its arguments.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Container

import msgspec

from domain.case import errors as err
from domain.case.state import CaseState
from domain.codebook import CURRENT, Codebook, UnknownCode

# Dates are calendar days in the organisation's time zone; the clock is UTC. A day is "in the
# future" only if it is later than today anywhere in US jurisdictions (UTC+10 in Guam), plus
# a few minutes of clock skew.
DATE_SKEW = dt.timedelta(hours=14, minutes=5)
ADULT_AGE = 18


class Context(msgspec.Struct, frozen=True, kw_only=True):
    now: dt.datetime
    actor_id: str
    codebook: Codebook = CURRENT

    @property
    def latest_allowed_day(self) -> dt.date:
        return (self.now + DATE_SKEW).date()


def require_codes(context: Context, list_name: str, *codes: str) -> None:
    try:
        context.codebook.require(list_name, *codes)
    except UnknownCode as error:
        raise err.InvalidCode(str(error)) from None


def not_future(context: Context, day: dt.date, what: str) -> None:
    if day > context.latest_allowed_day:
        raise err.DateInFuture(f"{what} is in the future")


def not_before(day: dt.date, earliest: dt.date | None, what: str, other: str) -> None:
    if earliest is not None and day < earliest:
        raise err.DateOutOfOrder(f"{what} is before {other}")


def not_before_enrolment(state: CaseState, day: dt.date, what: str) -> None:
    """Work is recorded within the current enrolment: not before intake, nor (after a
    reopening) in the time the case was closed."""
    not_before(day, state.enrolled_on, what, "the start of the current enrolment")


def fresh_id(existing: Container[str], key: str, what: str) -> None:
    if not key or key in existing:
        raise err.DuplicateRecord(f"{what} id is empty or already used on this case")
