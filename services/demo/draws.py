"""The random draws every part of the demo generator makes.

Each takes the planner's one `random.Random`, so a seed fixes every draw of a plan; they are
shared so that each kind of draw consumes the generator in the same way wherever it is made.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Mapping, Sequence


def draw_weighted(rng: random.Random, weights: Mapping[str, float]) -> str:
    """One key of `weights`, drawn in proportion to its weight."""
    return rng.choices(tuple(weights), tuple(weights.values()))[0]


def draw_some(rng: random.Random, pool: Sequence[str], low: int, high: int) -> tuple[str, ...]:
    """Between `low` and `high` distinct members of `pool` (fewer if it is smaller), sorted."""
    return tuple(sorted(rng.sample(list(pool), min(len(pool), rng.randint(low, high)))))


def draw_day(day: dt.date, low: int, high: int, rng: random.Random) -> dt.date:
    """A day `low` to `high` days after `day`."""
    return day + dt.timedelta(days=rng.randint(low, high))
