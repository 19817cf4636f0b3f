"""The demo generator's bulk path writes the streams the use cases write.

One small plan (the showcase: every path, transfers included) is seeded twice into an emptied
log — through `seed_demo` and through `write_plan` — and read back each time: the streams,
their versions, events and folded states must be equal, and the hash chains must verify.
Metadata differs by design (one append, so one metadata, per stream: its first step's). The
same holds for the richer case life (`rich=True`, a tinier plan).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from typing import Any

import pytest

from domain.case import commands as cmd
from domain.case.state import fold
from events.catalog import haven_registry
from events.log_order import LOG_START
from events.store import PostgresEventStore
from events.verify import verify_store
from services.commands.use_cases import Actor
from services.demo.bulk import seed_demo_bulk, write_plan, write_scripts
from services.demo.generator import demo_plan
from services.demo.plan import DemoDrift, Step
from services.demo.seeding import demo_use_cases, seed_demo

TODAY = dt.date(2026, 9, 30)
CASES = 24
SEED = 11


async def read_log(store: PostgresEventStore) -> dict[tuple[str, str], list[Any]]:
    """Every stream: (version, event, metadata), in version order."""
    found: dict[tuple[str, str], list[Any]] = defaultdict(list)
    after = LOG_START
    while batch := await store.read_all(
        after, limit=1000, precise=True
    ):  # not held back by other connections
        for r in batch:
            found[(r.tenant_id, str(r.stream_id))].append((r.version, r.event, r.metadata))
        after = batch[-1].log_position
    return {key: sorted(rows, key=lambda row: row[0]) for key, rows in found.items()}


@pytest.fixture
async def case_store(clean_pool, keyring):
    store = PostgresEventStore(clean_pool, keyring, haven_registry())
    yield store
    await store.close()


def events_of(log: dict[tuple[str, str], list[Any]]) -> dict[tuple[str, str], list[Any]]:
    return {key: [(version, event) for version, event, _ in rows] for key, rows in log.items()}


@pytest.mark.parametrize(("rich", "cases"), [(False, CASES), (True, 10)], ids=["default", "rich"])
async def test_the_bulk_path_writes_the_streams_the_use_cases_write(
    case_store, clean_pool, keyring, rich, cases
) -> None:
    plan = demo_plan(seed=SEED, cases=cases, today=TODAY, rich=rich)
    assert plan.summary.transferred > 0  # the step that writes two streams is covered

    await seed_demo(
        demo_use_cases(case_store, TODAY), cases=cases, seed=SEED, today=TODAY, rich=rich
    )
    through_use_cases = await read_log(case_store)

    await clean_pool.execute("TRUNCATE haven.events, haven.streams")
    result = await write_plan(case_store, plan, scripts_per_transaction=5, loaders=3)
    bulk = await read_log(case_store)

    assert set(bulk) == set(through_use_cases) == set(plan.streams)
    assert events_of(bulk) == events_of(through_use_cases)
    states = {key: fold(rows) for key, rows in events_of(bulk).items()}
    assert states == {key: fold(rows) for key, rows in events_of(through_use_cases).items()}
    assert states == dict(result.states)
    assert result.events == plan.summary.events == sum(len(rows) for rows in bulk.values())
    assert result.steps == sum(len(script) for script in plan.scripts)
    assert result.streams == len(plan.streams)
    for key, rows in bulk.items():  # one metadata per stream: the opening step's
        first = through_use_cases[key][0][2]
        assert {(m.actor_id, m.correlation_id) for _, _, m in rows} == {
            (first.actor_id, first.correlation_id)
        }, key
    report = await verify_store(clean_pool, keyring)
    assert report.ok and report.events == plan.summary.events


@pytest.mark.parametrize("rich", [False, True], ids=["default", "rich"])
async def test_seed_demo_bulk_returns_the_plans_summary(case_store, rich) -> None:
    summary = await seed_demo_bulk(
        case_store, cases=8, seed=SEED, today=TODAY, organisations=("org-harbor",), rich=rich
    )
    assert (
        summary
        == demo_plan(
            seed=SEED, cases=8, today=TODAY, organisations=("org-harbor",), rich=rich
        ).summary
    )
    assert await case_store.pool.fetchval("SELECT count(*) FROM haven.events") == summary.events


async def test_steps_added_to_a_script_are_decided_and_a_step_off_the_plan_is_refused(
    case_store,
) -> None:
    plan = demo_plan(seed=SEED, cases=3, today=TODAY, organisations=("org-harbor",))
    script = plan.scripts[0]
    last = script[-1]
    supervisor = Actor("supervisor-harbor", "org-harbor", "bench")
    reassign = Step(
        "assign",
        supervisor,
        last.case_id,
        cmd.AssignCase(worker_id="worker-elsewhere", team_id="team-elsewhere", assigned_on=TODAY),
        last.version,
        last.version + 1,
    )
    result = await write_scripts(case_store, [(*script, reassign)], TODAY)
    assert result.states[("org-harbor", last.case_id)].team_id == "team-elsewhere"
    recorded = await case_store.read_stream("org-harbor", uuid.UUID(last.case_id))
    assert [r.version for r in recorded] == list(range(1, last.version + 2))

    stale = reassign._replace(expected_version=last.version - 1)
    with pytest.raises(DemoDrift):
        await write_scripts(case_store, [plan.scripts[1][:-1] + (stale,)], TODAY)
    tampered = {key: (*events[:-1], events[0]) for key, events in plan.streams.items()}
    with pytest.raises(DemoDrift):  # a plan whose events are not what the domain decides
        await write_plan(case_store, plan._replace(streams=tampered))
    case_ids = {step.case_id for script in plan.scripts[1:] for step in script}
    written = await case_store.pool.fetchval(
        "SELECT count(*) FROM haven.streams WHERE stream_id = ANY($1::uuid[])", list(case_ids)
    )
    assert written == 0  # refused before anything of theirs was appended
