"""The `tasks` projection and the task queries: a rebuild and the live runner both equal the
rows folded from the task streams; the tasks the SQL computes from the caseload equal the
pure rule of `domain.tasks.due` for every case, under the default rules and another set;
erasing a case forgets its rows. All data is synthetic (the demo's)."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg

from domain.event import EventMetadata
from domain.tasks.actions import complete, fold_actions, snooze
from domain.tasks.due import REASONS, Task, TaskStatus, task_id, tasks_on
from domain.tasks.rules import DEFAULT_RULES, FollowUpKind, FollowUpRule, FollowUpRules
from events.store import PostgresEventStore
from projections import checkpoints
from projections.catalog import PROJECTION_TYPES
from projections.rebuild import forget_case, rebuild
from projections.tasks import TASK_COLUMNS, fold_task_rows, worker_tasks
from services.commands.case_reader import read_case
from services.demo.plan import DEMO_TODAY
from services.demo.seeding import demo_use_cases, seed_demo
from services.tasks.streams import task_stream
from tests.projections.live_support import live_runner, projected_to_head
from tests.tiers import scaled

ORG = "org-tasks-projection"
LATER = DEMO_TODAY + dt.timedelta(days=20)
FAR = DEMO_TODAY + dt.timedelta(days=200)
OTHER_RULES = FollowUpRules(
    rules=(
        FollowUpRule(kind=FollowUpKind.REFERRAL_OVERDUE, enabled=True, days=3),
        FollowUpRule(kind=FollowUpKind.NO_CONTACT, enabled=False, days=30),
        FollowUpRule(kind=FollowUpKind.CONSENT_EXPIRING, enabled=True, days=366),
        FollowUpRule(kind=FollowUpKind.IMMIGRATION_DEADLINE, enabled=True, days=200),
    )
)


async def open_cases(pool: asyncpg.Pool) -> list[uuid.UUID]:
    rows = await pool.fetch(
        "SELECT case_id FROM views.caseload WHERE tenant_id = $1 AND is_open ORDER BY case_id",
        ORG,
    )
    return [row[0] for row in rows]


async def act_on_tasks(store: PostgresEventStore, case_ids: list[uuid.UUID], seed: int) -> int:
    """Complete, snooze, or snooze then complete the cases' tasks in turn; how many acted."""
    acted = 0
    for n, case_id in enumerate(case_ids):
        state = await read_case(store, ORG, case_id)
        stream = task_stream(case_id)
        version = await store.stream_version(ORG, stream)
        for i, task in enumerate(tasks_on(case_id, state, DEFAULT_RULES, DEMO_TODAY)):
            choice = (n + i + seed) % 4
            if choice == 0 or task.status.value == "done":
                continue
            until = DEMO_TODAY + dt.timedelta(days=1 + (n + i) % 40)
            events = {
                1: complete(task, "worker-x", DEMO_TODAY),
                2: snooze(task, until, "worker-x"),
                3: [*snooze(task, until, "worker-x"), *complete(task, "worker-x", DEMO_TODAY)],
            }[choice]
            await store.append(ORG, stream, version, events, EventMetadata(actor_id="worker-x"))
            version += len(events)
            acted += 1
    return acted


async def act_on_synthetic_tasks(store: PostgresEventStore, count: int, seed: int) -> None:
    """Tasks of made-up cases, completed, snoozed, or snoozed twice then completed."""
    for n in range(seed * 1000, seed * 1000 + count):
        case_id = uuid.UUID(int=n + 1)
        anchor = DEMO_TODAY - dt.timedelta(days=40 + n % 9)
        task = Task(
            task_id=task_id(case_id, FollowUpKind.NO_CONTACT, anchor),
            case_id=case_id,
            kind=FollowUpKind.NO_CONTACT,
            due_on=anchor + dt.timedelta(days=31),
            reason=REASONS[FollowUpKind.NO_CONTACT],
            status=TaskStatus.OVERDUE,
        )
        until = DEMO_TODAY + dt.timedelta(days=1 + n % 30)
        events = [
            complete(task, "worker-x", DEMO_TODAY),
            snooze(task, until, "worker-x"),
            [
                *snooze(task, until, "worker-x"),
                *snooze(task, until + dt.timedelta(days=2), "worker-x"),
                *complete(task, "worker-x", DEMO_TODAY),
            ],
        ][n % 3]
        await store.append(ORG, task_stream(case_id), 0, events, EventMetadata(actor_id="w"))


async def expected_rows(store: PostgresEventStore) -> dict[tuple[str, uuid.UUID], tuple]:
    events = []
    for (stream_id,) in await store.pool.fetch(
        "SELECT stream_id FROM haven.streams WHERE tenant_id = $1", ORG
    ):
        events += await store.read_stream(ORG, stream_id)
    return {(row[0], row[3]): tuple(row) for row in fold_task_rows(events).values()}


async def projected_rows(pool: asyncpg.Pool) -> dict[tuple[str, uuid.UUID], tuple]:
    rows = await pool.fetch(f"SELECT {', '.join(TASK_COLUMNS)} FROM views.tasks")
    return {(row[0], row[3]): tuple(row) for row in rows}


async def seeded(store: PostgresEventStore, factories, cases: int, seed: int) -> list[uuid.UUID]:
    await seed_demo(demo_use_cases(store), cases=cases, seed=seed, organisations=(ORG,))
    await rebuild(store, store.pool, factories["cases"])
    return await open_cases(store.pool)


async def test_the_runner_follows_the_log_live_and_equals_a_rebuild(
    case_store, factories, listen
) -> None:
    """Task streams alone (a task's row depends on its stream's events only)."""
    count = scaled(default=12, full=60)
    await act_on_synthetic_tasks(case_store, count // 2, seed=1)
    async with live_runner(case_store, listen, factories["tasks"]):
        await act_on_synthetic_tasks(case_store, count - count // 2, seed=2)
        assert await projected_to_head(case_store, "tasks")
        live = await projected_rows(case_store.pool)
        assert live == await expected_rows(case_store)
    await rebuild(case_store, case_store.pool, factories["tasks"])
    assert await projected_rows(case_store.pool) == live


async def test_a_rebuild_and_the_task_queries_equal_the_log(case_store, factories) -> None:
    """The rows folded from the task streams; the SQL tasks and the pure ones of every case;
    an erased case's rows forgotten."""
    case_ids = await seeded(case_store, factories, cases=scaled(default=10, full=40), seed=21)
    assert await act_on_tasks(case_store, case_ids, seed=3) > 3
    built = await rebuild(case_store, case_store.pool, factories["tasks"])
    expected = await expected_rows(case_store)
    assert expected and await projected_rows(case_store.pool) == expected
    assert await checkpoints.load(case_store.pool, "tasks") == built
    assert [row for row in expected.values() if row[5] is not None]  # completed
    assert [row for row in expected.values() if row[7] is not None and row[5] is None]
    workers = {
        row[0]
        for row in await case_store.pool.fetch(
            "SELECT DISTINCT worker_id FROM views.caseload WHERE tenant_id = $1", ORG
        )
    }
    seen_kinds = set()
    for rules in (DEFAULT_RULES, OTHER_RULES):
        for today in (DEMO_TODAY, LATER, FAR):
            pure: list[tuple] = []
            for case_id in case_ids:
                state = await read_case(case_store, ORG, case_id)
                stream = task_stream(case_id)
                recorded = (
                    await case_store.read_stream(ORG, stream)
                    if await case_store.stream_version(ORG, stream)
                    else []
                )
                actions = fold_actions(r.event for r in recorded)
                pure += [
                    as_tuple(t, state.worker_id)
                    for t in tasks_on(case_id, state, rules, today, actions)
                ]
            sql = [
                (t.task_id, t.case_id, t.kind, t.due_on, t.status, t.worker_id)
                for worker in workers
                for t in await worker_tasks(
                    case_store.pool, ORG, worker, today, rules, include_all=True
                )
            ]
            assert sorted(sql, key=str) == sorted(pure, key=str)
            seen_kinds |= {row[2] for row in pure}
            statuses = {row[4].value for row in pure}
    assert seen_kinds == set(FollowUpKind)  # every kind is exercised
    assert {"due", "overdue", "done", "snoozed"} & statuses
    await erasing_a_case_forgets_its_task_rows(case_store)


def as_tuple(task: Task, worker_id: str | None) -> tuple:
    return (task.task_id, task.case_id, task.kind, task.due_on, task.status, worker_id)


async def erasing_a_case_forgets_its_task_rows(case_store: PostgresEventStore) -> None:
    rows = await projected_rows(case_store.pool)
    erased = next(row[1] for row in rows.values())
    async with case_store.pool.acquire() as conn:
        await forget_case(conn, PROJECTION_TYPES, ORG, erased)
    left = await projected_rows(case_store.pool)
    assert left and all(row[1] != erased for row in left.values())
    assert len(left) < len(rows)  # control: there was something to forget
