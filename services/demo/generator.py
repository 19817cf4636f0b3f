"""The demo generator's entry: `demo_plan`, every command of a demo, from a seed alone.

Pure and deterministic: `random.Random(seed)` drives every draw, and every command is
checked with the domain's own `decide` as it is planned (a refusal is a bug of the
generator, raised at once, never skipped). So the plan also knows every event, every
stream's version after each step, and the summary, before anything is written.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from types import MappingProxyType

from services.demo.organisations import DEFAULT_ORGANISATIONS, organisation_directory
from services.demo.plan import DEMO_TODAY, DemoPlan, summarise
from services.demo.planner import Planner
from services.demo.rich_life import RichPlanner


def demo_plan(
    seed: int = 7,
    cases: int = 100,
    today: dt.date = DEMO_TODAY,
    organisations: Sequence[str] = DEFAULT_ORGANISATIONS,
    *,
    rich: bool = False,
) -> DemoPlan:
    """Every command of `cases` synthetic intakes, checked by the domain; pure and deterministic.

    `rich` plans the longer case life of `services.demo.rich_life` (about 50 events per
    intake instead of about 28): for benchmarks that need many events per client."""
    if cases < 0:
        raise ValueError("cases must be >= 0")
    if len(set(organisations)) != len(organisations) or not organisations:
        raise ValueError("name at least one organisation, each once")
    planner_type = RichPlanner if rich else Planner
    planner = planner_type(random.Random(seed), today, organisation_directory(organisations))
    scripts = tuple(planner.plan_case(index) for index in range(cases))
    streams = MappingProxyType(
        {key: tuple(stream.events) for key, stream in planner.streams.items()}
    )
    return DemoPlan(
        seed, today, tuple(organisations), scripts, streams, summarise(streams, organisations)
    )
