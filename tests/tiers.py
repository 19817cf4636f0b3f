"""How much of each randomized, fault, fuzz and bench-sized test runs: one switch for the suite.

`HAVEN_TESTS` unset or `default`: the default tier, which the README's test command runs. Every
test runs; the ones whose strength is a count (random schedules, worker kills, generated
examples, seeded cases) run a reduced but real count, each still with its control.
`HAVEN_TESTS=full`: the full tier, every count in full.

A test takes its count from `scaled(default=..., full=...)`, never from a constant edited by
hand, so that the two tiers differ in exactly one place.
"""

from __future__ import annotations

import os
from typing import TypeVar

T = TypeVar("T")

TIERS = ("default", "full")


def tier() -> str:
    chosen = os.environ.get("HAVEN_TESTS", "default") or "default"
    if chosen not in TIERS:
        raise ValueError(f"HAVEN_TESTS must be one of {', '.join(TIERS)}, not {chosen!r}")
    return chosen


FULL = tier() == "full"


def tiered(*, default: T, full: T) -> T:
    """The value of this tier, for what is not a count (a list of runs, of seeds)."""
    return full if FULL else default


def scaled(*, default: int, full: int) -> int:
    """The count of this tier: `full` under HAVEN_TESTS=full, else `default`
    (never above `full`)."""
    assert 0 < default <= full, "the default tier runs a reduced count, never a larger one"
    return full if FULL else default
