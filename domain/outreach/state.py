"""An activity's state (a pure fold of its stream) and the decisions on it.

`fold_activity` folds any stream: one that is not an activity's (a case's, say) folds to the
empty state, which every caller answers as "no such activity". The decisions check the
record's rules (`domain.outreach.activity`) and the activity's state, and return the events
to append.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import msgspec
from msgspec.structs import replace

from domain.case.errors import DomainError
from domain.event import DomainEvent
from domain.outreach.activity import Activity, activity_faults
from domain.outreach.codes import WITHDRAWAL_REASONS
from domain.outreach.events import (
    ACTIVITY_EVENTS,
    ActivityCorrected,
    ActivityRecorded,
    ActivityWithdrawn,
)


class ActivityRefused(ValueError):
    """Members of the activity break their rules: `(pointer, rule)` each (the write path
    answers them as the request's own faults, `InvalidRequest`)."""

    def __init__(self, faults: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{pointer} {rule}" for pointer, rule in faults))
        self.faults = faults


class ActivityWithdrawnError(DomainError):
    code = "activity-withdrawn"


class ActivityState(msgspec.Struct, frozen=True, kw_only=True):
    version: int = 0
    activity_id: str | None = None
    organisation_id: str | None = None
    activity: Activity | None = None
    withdrawn: str | None = None  # the withdrawal's reason code
    corrections: int = 0

    @property
    def exists(self) -> bool:
        return self.activity is not None


_OWN_EVENTS = frozenset(ACTIVITY_EVENTS)


def evolve(state: ActivityState, event: DomainEvent) -> ActivityState:
    match event:
        case ActivityRecorded():
            return replace(
                state,
                activity_id=event.activity_id,
                organisation_id=event.organisation_id,
                activity=event.activity,
            )
        case ActivityCorrected():
            return replace(state, activity=event.activity, corrections=state.corrections + 1)
        case ActivityWithdrawn():
            return replace(state, withdrawn=event.reason)
    raise TypeError(f"not an event of an activity: {type(event).__name__}")


def fold_activity(events: Iterable[tuple[int, DomainEvent | None]]) -> ActivityState:
    """The activity after `(version, event)` pairs in order; the empty state for a stream that
    is not an activity's (an event of another kind, or a first event that is no recording)."""
    state = ActivityState()
    for version, event in events:
        if event is None or type(event) not in _OWN_EVENTS or version != state.version + 1:
            return ActivityState()
        if version == 1 and not isinstance(event, ActivityRecorded):
            return ActivityState()
        state = replace(evolve(state, event), version=version)
    return state


def record(
    activity_id: str, organisation_id: str, activity: Activity, today: dt.date
) -> list[DomainEvent]:
    faults = activity_faults(activity, today)
    if faults:
        raise ActivityRefused(faults)
    return [
        ActivityRecorded(
            activity_id=activity_id, organisation_id=organisation_id, activity=activity
        )
    ]


def correct(state: ActivityState, activity: Activity, today: dt.date) -> list[DomainEvent]:
    """The corrected record replaces the whole record (`state` must exist)."""
    if state.withdrawn is not None:
        raise ActivityWithdrawnError("the activity was withdrawn")
    faults = activity_faults(activity, today)
    if faults:
        raise ActivityRefused(faults)
    assert state.activity_id is not None
    return [ActivityCorrected(activity_id=state.activity_id, activity=activity)]


def withdraw(state: ActivityState, reason: str) -> list[DomainEvent]:
    if state.withdrawn is not None:
        raise ActivityWithdrawnError("the activity was withdrawn")
    if reason not in WITHDRAWAL_REASONS:
        raise ActivityRefused(
            [("/reason", "must be one of: " + ", ".join(sorted(WITHDRAWAL_REASONS)))]
        )
    assert state.activity_id is not None
    return [ActivityWithdrawn(activity_id=state.activity_id, reason=reason)]
