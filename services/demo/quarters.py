"""The calendar quarters the demo's screenings and activities fall in: those up to `today`."""

from __future__ import annotations

import datetime as dt
import random


def quarter_of(day: dt.date) -> tuple[int, int]:
    """(year, quarter 1-4) of a day."""
    return day.year, (day.month - 1) // 3 + 1


def quarters_before(today: dt.date, count: int) -> list[tuple[dt.date, dt.date]]:
    """(first, last day) of the `count` calendar quarters ending with today's, oldest first;
    the last ends on `today`."""
    year, quarter = quarter_of(today)
    found = []
    for _ in range(count):
        first = dt.date(year, 3 * quarter - 2, 1)
        following = dt.date(year + (quarter == 4), 3 * quarter % 12 + 1, 1)
        found.append((first, min(today, following - dt.timedelta(days=1))))
        year, quarter = (year, quarter - 1) if quarter > 1 else (year - 1, 4)
    return found[::-1]


def day_in(rng: random.Random, first: dt.date, last: dt.date) -> dt.date:
    """A day from `first` to `last`, both included."""
    return first + dt.timedelta(days=rng.randint(0, (last - first).days))
