"""The supervisor's summary of activities, as a pure function of the activities' states: the
rule the `activities` read model's query (`projections.activities.activity_summary`) must
follow, and that the tests hold it to.

Only standing activities count (recorded, not withdrawn), held from `first` to `last` (both
days included). Per month and kind: the activities, their participants and hours. Per month,
kind and sector: the activities that reached the sector, that sector's participants, and
those activities' whole hours (an activity that reached several sectors counts in each).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import NamedTuple

from domain.outreach.state import ActivityState


class Cell(NamedTuple):
    activities: int
    participants: int
    hours: float


def _add(cell: Cell | None, participants: int, hours: float) -> Cell:
    if cell is None:
        return Cell(1, participants, hours)
    return Cell(cell.activities + 1, cell.participants + participants, cell.hours + hours)


class Summary(NamedTuple):
    total: Cell
    by_month_and_kind: dict[tuple[str, str], Cell]
    by_month_kind_and_sector: dict[tuple[str, str, str], Cell]


def summarise(states: Iterable[ActivityState], first: dt.date, last: dt.date) -> Summary:
    months: dict[tuple[str, str], Cell] = {}
    sectors: dict[tuple[str, str, str], Cell] = {}
    for state in states:
        activity = state.activity
        if activity is None or state.withdrawn is not None:
            continue
        if not first <= activity.held_on <= last:
            continue
        month = activity.held_on.strftime("%Y-%m")
        key = (month, activity.kind)
        months[key] = _add(months.get(key), activity.participants, activity.hours)
        for group in activity.audience:
            at = (month, activity.kind, group.sector)
            sectors[at] = _add(sectors.get(at), group.participants, activity.hours)
    total = Cell(
        sum(c.activities for c in months.values()),
        sum(c.participants for c in months.values()),
        sum(c.hours for c in months.values()),
    )
    return Summary(total, months, sectors)
