"""Seeding a demo through the real use cases: `seed_demo`, as `haven demo` and
`haven serve --demo` do.

The plan is played through `CaseUseCases`, each command with the expected version the plan
computed, so the database ends up with exactly the planned events (any drift raises
`DemoDrift`). The use cases' clock must be at or after the plan's `today`, so that no demo
date is in the future: `demo_use_cases` builds them with a clock that stands still.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence

from events.store import PostgresEventStore
from services.commands.use_cases import CaseUseCases
from services.demo.generator import demo_plan
from services.demo.organisations import DEFAULT_ORGANISATIONS
from services.demo.plan import DEMO_TODAY, DemoDrift, DemoPlan, DemoSummary, Step, demo_now


def demo_use_cases(store: PostgresEventStore, today: dt.date = DEMO_TODAY) -> CaseUseCases:
    """Use cases whose clock stands still at `today`, so that no demo date is in the future."""
    moment = demo_now(today)
    return CaseUseCases(store, clock=lambda: moment)


async def seed_demo(
    use_cases: CaseUseCases,
    *,
    cases: int,
    seed: int = 7,
    organisations: Sequence[str] = DEFAULT_ORGANISATIONS,
    today: dt.date = DEMO_TODAY,
    concurrency: int = 16,
    rich: bool = False,
) -> DemoSummary:
    """Plan `cases` synthetic intakes (`rich`: see `demo_plan`) and write them through the use
    cases.

    `use_cases` must run on a clock at or after `today` (see `demo_use_cases`). Cases are
    written `concurrency` at a time; each case's commands in order.
    """
    plan = demo_plan(seed=seed, cases=cases, today=today, organisations=organisations, rich=rich)
    await execute_plan(use_cases, plan, concurrency=concurrency)
    return plan.summary


async def execute_plan(use_cases: CaseUseCases, plan: DemoPlan, *, concurrency: int = 16) -> None:
    scripts = iter(plan.scripts)

    async def worker() -> None:
        for script in scripts:  # shared: each script is taken by exactly one worker
            for step in script:
                version = await _run(use_cases, step)
                if version != step.version:
                    raise DemoDrift(
                        f"case {step.case_id} is at version {version}, the plan says {step.version}"
                    )

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(max(1, concurrency)):
                group.create_task(worker())
    except BaseExceptionGroup as failed:  # the first failure, as itself
        while isinstance(failed, BaseExceptionGroup):
            failed = failed.exceptions[0]
        raise failed from None


async def _run(use_cases: CaseUseCases, step: Step) -> int:
    if step.use_case == "open_case":
        return await use_cases.open_case(step.actor, step.command)  # type: ignore[arg-type]
    method = getattr(use_cases, step.use_case)
    return await method(
        step.actor, step.case_id, step.command, expected_version=step.expected_version
    )
