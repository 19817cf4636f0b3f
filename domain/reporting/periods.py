"""Reporting periods: calendar quarters and the federal fiscal year (October to September).

One definition of the quarter rules for the projection that folds cases into quarters and for
the job that releases them. A quarter is also an integer index (year * 4 + quarter - 1), so
that ranges of quarters are ranges of integers.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

_LABEL = re.compile(r"([0-9]{4})Q([1-4])")  # ASCII digits only: no full-width, no trailing newline


class InvalidPeriod(ValueError):
    """Not a calendar quarter label such as 2026Q3 (the message repeats nothing of the input)."""


def quarter_index(day: dt.date) -> int:
    """The quarter of a day as an index."""
    return day.year * 4 + (day.month - 1) // 3


def quarter_label(index: int) -> str:
    return f"{index // 4}Q{index % 4 + 1}"


def fiscal_year(index: int) -> int:
    """The federal fiscal year of a quarter: 2026Q4 is FY2027."""
    year, quarter = index // 4, index % 4 + 1
    return year + 1 if quarter == 4 else year


def quarter_end(index: int) -> dt.date:
    year, quarter = index // 4, index % 4 + 1
    return (
        dt.date(year + 1, 1, 1) - dt.timedelta(days=1)
        if quarter == 4
        else dt.date(year, quarter * 3 + 1, 1) - dt.timedelta(days=1)
    )


@dataclass(frozen=True)
class Period:
    """A calendar quarter released as one period."""

    year: int
    quarter: int

    @classmethod
    def parse(cls, label: str) -> Period:
        match = _LABEL.fullmatch(label or "")
        if match is None or not 2000 <= int(match.group(1)) <= 2100:
            raise InvalidPeriod("a period is a calendar quarter such as 2026Q3")
        return cls(int(match.group(1)), int(match.group(2)))

    @property
    def label(self) -> str:
        return quarter_label(self.index)

    @property
    def index(self) -> int:
        return self.year * 4 + self.quarter - 1

    @property
    def fiscal_year(self) -> int:
        return fiscal_year(self.index)

    @property
    def fiscal_quarters(self) -> tuple[str, ...]:
        """The four calendar quarters of the federal fiscal year (October to September)."""
        fy = self.fiscal_year
        return (f"{fy - 1}Q4", f"{fy}Q1", f"{fy}Q2", f"{fy}Q3")

    @property
    def year_to_date(self) -> tuple[str, ...]:
        quarters = self.fiscal_quarters
        return quarters[: quarters.index(self.label) + 1]

    @property
    def ends_fiscal_year(self) -> bool:
        return self.quarter == 3


def index_of(label: str) -> int:
    """The index of a quarter label (`InvalidPeriod` if it is none)."""
    return Period.parse(label).index
