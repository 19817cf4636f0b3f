"""The demo's screenings and activities, planned from a case plan and written through the use
cases: `identification_plan` (pure) and `seed_identification`.

They are planned after the cases, each from a random generator of its own seeded with the
demo's seed, so that the cases' streams stay exactly those of `demo_plan` whichever path
wrote them. Both `seed_demo` and `haven demo --bulk` are followed by `seed_identification`
(`services.serve_command`): the bulk path writes only the cases in bulk, and the screenings,
the determinations naming them and the activities go through the same use cases as the API's
(`services.screening.record`, `CaseUseCases.determine_victim_status`,
`services.outreach.activities.record_activity`), a few at a time. A linked screening's
determination is appended at the version the case plan ends on (any drift raises
`DemoDrift`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from typing import NamedTuple, TypeVar

import msgspec

from domain.screening.instrument import RESULTS, Instrument
from services.bootstrap import Runtime
from services.commands.ports import Actor
from services.commands.unit_of_work import Idempotency
from services.commands.use_cases import CaseUseCases
from services.demo.activities import PlannedActivity, plan_activities
from services.demo.organisations import organisation_directory
from services.demo.plan import DemoDrift, DemoPlan, demo_now
from services.demo.screenings import (
    PlannedDetermination,
    PlannedScreening,
    ScreeningPlan,
    plan_screenings,
)
from services.identity import Principal
from services.outreach.activities import record_activity
from services.screening.instruments import InstrumentCatalog, shipped_instruments
from services.screening.record import record

QUARTERS = 8  # the two years the cases' intakes spread over
DEFAULT_INSTRUMENT = ("ilo-forced-labour", 1)
NO_KEY = Idempotency(None, b"")
T = TypeVar("T")


class IdentificationPlan(NamedTuple):
    today: dt.date
    screenings: ScreeningPlan
    activities: tuple[PlannedActivity, ...]

    def lines(self) -> list[str]:
        every = (*self.screenings.standalone, *self.screenings.linked)
        results = Counter(s.result for s in every)
        participants = sum(p.activity.participants for p in self.activities)
        return [
            f"screenings: {len(self.screenings.standalone)} standalone, "
            f"{len(self.screenings.linked)} of cases ("
            + ", ".join(f"{result} {results[result]}" for result in RESULTS)
            + ")",
            f"activities: {len(self.activities)} ({participants} participants)",
        ]


def default_instrument() -> Instrument:
    return next(i for i in shipped_instruments() if i.key == DEFAULT_INSTRUMENT)


def identification_plan(plan: DemoPlan, *, quarters: int = QUARTERS) -> IdentificationPlan:
    """The screenings and activities of the case plan's organisations over the `quarters`
    calendar quarters up to its `today`; pure and deterministic from the plan's seed."""
    if quarters < 1:
        raise ValueError("quarters must be >= 1")
    orgs = organisation_directory(plan.organisations)
    return IdentificationPlan(
        plan.today,
        plan_screenings(plan.seed, plan, orgs, default_instrument(), quarters),
        plan_activities(plan.seed, orgs, plan.today, quarters),
    )


class _Recorded(msgspec.Struct, frozen=True):
    activity_id: str
    version: int


def _principal(planned: PlannedScreening, today: dt.date) -> Principal:
    command = planned.command
    return Principal(
        user_id=command.screened_by,
        organisation_id=command.organisation_id,
        roles=frozenset({planned.role}),
        team_id=planned.team_id,
        token_id=None,
        expires_at=demo_now(today) + dt.timedelta(hours=8),
    )


async def _each(
    items: Iterable[T], write: Callable[[T], Awaitable[None]], concurrency: int
) -> None:
    queue = iter(items)

    async def worker() -> None:
        for item in queue:  # shared: each item is taken by exactly one worker
            await write(item)

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(max(1, concurrency)):
                group.create_task(worker())
    except BaseExceptionGroup as failed:  # the first failure, as itself
        while isinstance(failed, BaseExceptionGroup):
            failed = failed.exceptions[0]
        raise failed from None


async def seed_identification(
    runtime: Runtime, plan: IdentificationPlan, *, concurrency: int = 8
) -> None:
    """Write the plan through the use cases; the cases of its case plan must be written."""
    catalog = InstrumentCatalog(shipped_instruments())
    now = demo_now(plan.today)
    cases = CaseUseCases(runtime.store, clock=lambda: now)

    async def screening(item: PlannedScreening) -> None:
        principal = _principal(item, plan.today)
        actor = Actor(principal.user_id, principal.organisation_id, "demo-screenings")
        answer = await record(runtime, catalog, principal, actor, item.command, NO_KEY, now=now)
        if answer.status != 201:
            raise DemoDrift(f"screening {item.command.screening_id} answered {answer.status}")

    async def determination(step: PlannedDetermination) -> None:
        version = await cases.determine_victim_status(
            step.actor, step.case_id, step.command, expected_version=step.expected_version
        )
        if version != step.expected_version + 1:
            raise DemoDrift(f"case {step.case_id} is at version {version}, not the plan's")

    async def activity(item: PlannedActivity) -> None:
        await record_activity(runtime, item.actor, item.activity, NO_KEY, _Recorded)

    await _each((*plan.screenings.standalone, *plan.screenings.linked), screening, concurrency)
    await _each(plan.screenings.determinations, determination, concurrency)
    await _each(plan.activities, activity, concurrency)
