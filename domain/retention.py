"""An organisation's retention policy, and which closed cases are past it: pure rules, no I/O.

A policy says "erase a case `erase_after_days` days after its closure". Open cases are kept
whatever their age; an organisation without a policy keeps everything. A case closed on day
C is past a policy of N days on every day after C + N, so it is kept N full days after its
closure. The policy is recorded as `RetentionPolicySet` events (who set it, how many days),
never anything about a survivor.
"""

from __future__ import annotations

import datetime as dt

import msgspec

from domain.case.state import CaseState
from domain.event import DomainEvent
from domain.identifiers import is_identifier

MIN_ERASE_AFTER_DAYS = 365  # a year: no slip of a finger erases the cases closed last month
MAX_ERASE_AFTER_DAYS = 100 * 366


class RetentionPolicy(msgspec.Struct, frozen=True, kw_only=True):
    erase_after_days: int


class RetentionPolicySet(DomainEvent, frozen=True, kw_only=True, tag="retention.policy_set"):
    """An administrator set the organisation's retention policy; `erase_after_days` None: the
    policy was withdrawn (keep everything)."""

    organisation_id: str
    erase_after_days: int | None
    set_by: str


RETENTION_EVENTS: tuple[type[DomainEvent], ...] = (RetentionPolicySet,)


def policy_faults(erase_after_days: object, set_by: object) -> list[tuple[str, str]]:
    """(field, rule) for each value that may not be set (empty: it may be); `erase_after_days`
    None withdraws the policy. Names fields and bounds, never the values."""
    faults = []
    if erase_after_days is not None and (
        not isinstance(erase_after_days, int)
        or isinstance(erase_after_days, bool)
        or not MIN_ERASE_AFTER_DAYS <= erase_after_days <= MAX_ERASE_AFTER_DAYS
    ):
        faults.append(
            (
                "erase_after_days",
                f"erase_after_days must be a whole number of days from {MIN_ERASE_AFTER_DAYS} "
                f"to {MAX_ERASE_AFTER_DAYS}",
            )
        )
    if not is_identifier(set_by):
        faults.append(("set_by", "set_by must be an identifier"))
    return faults


def policy_after(events: list[RetentionPolicySet]) -> RetentionPolicy | None:
    """The policy in force after the organisation's policy events, in order (None: none)."""
    if not events or events[-1].erase_after_days is None:
        return None
    return RetentionPolicy(erase_after_days=events[-1].erase_after_days)


def closed_before(policy: RetentionPolicy, today: dt.date) -> dt.date:
    """Cases closed before this day are past the policy on `today`."""
    return today - dt.timedelta(days=policy.erase_after_days)


def closure_past_policy(
    closed_on: dt.date | None, policy: RetentionPolicy | None, today: dt.date
) -> bool:
    """Whether a case closed on `closed_on` (None: open) is past the policy on `today`."""
    if policy is None or closed_on is None:
        return False
    return closed_on < closed_before(policy, today)


def case_past_policy(state: CaseState, policy: RetentionPolicy | None, today: dt.date) -> bool:
    """Whether the case, as folded from its stream, is closed and past the policy on `today`."""
    if not state.exists or state.closure is None:
        return False
    return closure_past_policy(state.closure.closed_on, policy, today)
