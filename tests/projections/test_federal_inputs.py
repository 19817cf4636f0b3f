"""The `federal_inputs` projection: per client, per quarter, coded facts only.

The rows are compared with an independent computation from each stream, folded afresh by the
domain's own `fold` (written here without the projection's helpers); a few demo cases are
checked by hand for the paths that matter (fiscal-year boundary, reopening, a minor, no
statistics consent, a transfer). A scan proves that no reporting column holds a date, free
text, or a UUID found anywhere in the log or the case views; erasure removes the mapping and
with it every row of the subject. All data is the demo generator's (synthetic).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import uuid
from collections import Counter
from typing import Any

import asyncpg
import pytest

from domain.case import events as ev
from domain.case.lifecycles import OBTAINED_STEPS
from domain.case.state import fold
from domain.codebook import CURRENT
from domain.reporting.reported_case import CODES, COLUMNS
from events.catalog import haven_registry
from events.store import PostgresEventStore, RecordedEvent
from projections import checkpoints
from projections.catalog import PROJECTION_TYPES
from projections.rebuild import forget_case, rebuild
from projections.runner import ProjectionRunner
from services.demo.seeding import demo_use_cases, seed_demo

SERVICES = tuple(CURRENT.lists["service_category"])
OUTCOME_DOMAINS = tuple(CURRENT.lists["outcome_domain"])


# -- an independent computation ------------------------------------------------------------


def q_of(day: dt.date) -> tuple[int, int]:
    return day.year, (day.month - 1) // 3 + 1


def q_next(q: tuple[int, int]) -> tuple[int, int]:
    return (q[0] + 1, 1) if q[1] == 4 else (q[0], q[1] + 1)


def q_last_day(q: tuple[int, int]) -> dt.date:
    year, quarter = q_next(q)
    return dt.date(year, (quarter - 1) * 3 + 1, 1) - dt.timedelta(days=1)


def fy(q: tuple[int, int]) -> int:
    return q[0] + (1 if q[1] == 4 else 0)


def band(age: int | None) -> tuple[str, str]:
    if age is None:
        return "not_tracked", "not_tracked"
    for name, top in (("0-11", 11), ("12-17", 17), ("18-24", 24), ("25-34", 34), ("35-49", 49)):
        if age <= top:
            return ("minor" if age < 18 else "adult"), name
    return "adult", "50+"


def expected_rows(
    tenant: str, recorded: list[RecordedEvent], horizon: tuple[int, int]
) -> dict[str, dict[str, Any]]:
    """quarter label -> the columns of that quarter's row (subject aside)."""
    events = [r.event for r in recorded]
    state = fold((r.version, r.event) for r in recorded)
    opened = events[0]
    assert isinstance(opened, ev.CaseOpened)
    # enrolment periods: [start, end or None, entry type, closure]
    periods: list[list[Any]] = []
    for event in events:
        if isinstance(event, ev.CaseOpened):
            periods.append([event.intake.intake_on, None, event.intake.intake_type, None])
        elif isinstance(event, ev.CaseReopened):
            periods.append([event.reopened_on, None, "reopening", None])
        elif isinstance(event, ev.CaseClosed):
            periods[-1][1], periods[-1][3] = event.closed_on, event
    services = [e for e in events if isinstance(e, ev.ServiceDelivered)]
    latest = max(
        [p[0] for p in periods]
        + [p[1] for p in periods if p[1]]
        + [s.delivered_on for s in services]
        + [e.on for e in events if isinstance(e, ev.ImmigrationStepRecorded)]
    )
    served: set[tuple[int, int]] = {q_of(s.delivered_on) for s in services}
    for start, end, _, _ in periods:
        q, stop = q_of(start), q_of(end) if end else max(horizon, q_of(latest))
        while q <= stop:
            served.add(q)
            q = q_next(q)
    # static facts, from the folded state
    age = (
        state.age_on(state.intake.intake_on)
        if state.identity and state.identity.date_of_birth
        else state.intake.age_at_intake
    )
    group, age_band = band(age)
    demo = state.demographics
    trafficking = (
        "not_reported" if state.trafficking is None else state.trafficking.trafficking_type
    )
    if group == "minor" and state.trafficking and state.trafficking.commercial_sex_act:
        trafficking = {"labor": "both", "unknown": "sex"}.get(trafficking, trafficking)
    gender = (
        "not_reported"
        if demo is None
        else (
            demo.gender_identity
            if demo.gender_identity in ("woman", "man", "not_reported")
            else "another"
        )
    )
    citizenship = (
        "not_reported"
        if demo is None or demo.citizenship is None
        else ("foreign_national" if demo.citizenship == "foreign_national" else "citizen_or_lpr")
    )
    race = (
        ["not_reported"] if demo is None or not demo.race_ethnicity else sorted(demo.race_ethnicity)
    )
    disability = "not_reported" if demo is None else ("yes" if demo.disabilities else "no")
    determinations = (
        [(opened.victim_status.determined_on, 1, opened.victim_status.status)]
        if opened.victim_status
        else []
    )
    determinations += [
        (e.victim_status.determined_on, k, e.victim_status.status)
        for k, e in enumerate(events, start=1)
        if isinstance(e, ev.VictimStatusDetermined)
    ]
    obtained_years: dict[str, set[int]] = {"cp": set(), "t": set(), "hhs": set()}
    for e in events:
        if isinstance(e, ev.ImmigrationStepRecorded) and e.step in OBTAINED_STEPS.get(e.kind, ()):
            column = {"continued_presence": "cp", "t_visa": "t"}.get(e.kind, "hhs")
            obtained_years[column].add(fy(q_of(e.on)))
    assessments = [e for e in events if isinstance(e, ev.OutcomeAssessed)]

    def outcome_changes(last: dt.date) -> list[str]:
        changes = []
        for domain in OUTCOME_DOMAINS:
            scores = [  # by day, then in the order recorded (a stable sort)
                a.scores[domain]
                for a in sorted(assessments, key=lambda a: a.assessed_on)
                if a.assessed_on <= last and domain in a.scores
            ]
            change = "not_measured"
            if len(scores) > 1:
                first, latest = scores[0], scores[-1]
                change = "improved" if latest > first else "worse" if latest < first else "same"
            changes.append(f"{domain}:{change}")
        return changes

    rows = {}
    years_seen: set[int] = set()
    for q in sorted(served):
        last = q_last_day(q)
        entries = [p for p in periods if q_of(p[0]) == q]
        closures = [p[3] for p in periods if p[1] and q_of(p[1]) == q]
        in_force = sorted(d for d in determinations if d[0] <= last)
        rows[f"{q[0]}Q{q[1]}"] = {
            "organisation": tenant,
            "fiscal_year": fy(q),
            "new_in_fiscal_year": fy(q) not in years_seen,
            "entered": bool(entries),
            "entry_type": entries[0][2] if entries else None,
            "enrolled_at_end": any(p[0] <= last and (p[1] is None or p[1] > last) for p in periods),
            "closed": bool(closures),
            "closure_reason": closures[-1].reason if closures else None,
            "living_situation": closures[-1].living_situation if closures else None,
            "referred_on": closures[-1].referred_for_case_management if closures else None,
            "victim_status": in_force[-1][2] if in_force else "not_determined",
            "trafficking_type": trafficking,
            "age_group": group,
            "age_band": age_band,
            "gender": gender,
            "citizenship": citizenship,
            "race_ethnicity": race,
            "disability": disability,
            "statistics_consent": bool(state.statistics_consent),
            "served_by_another_agency": opened.intake.served_by_another_agency
            or opened.transferred_in,
            "services": [
                sum(1 for s in services if s.category == c and q_of(s.delivered_on) == q)
                for c in SERVICES
            ],
            "outcome_changes": outcome_changes(last),
            "obtained_continued_presence": fy(q) in obtained_years["cp"],
            "obtained_t_visa": fy(q) in obtained_years["t"],
            "obtained_hhs_letter": fy(q) in obtained_years["hhs"],
        }
        years_seen.add(fy(q))
    return rows


async def log_horizon(pool: asyncpg.Pool) -> tuple[int, int]:
    latest = await pool.fetchval("SELECT max(recorded_at) FROM haven.events")
    return q_of(latest.astimezone(dt.UTC).date())


async def expected_all(
    store: PostgresEventStore,
) -> dict[tuple[str, uuid.UUID], dict[str, dict[str, Any]]]:
    horizon = await log_horizon(store.pool)
    streams = await store.pool.fetch(
        "SELECT tenant_id, stream_id FROM haven.streams WHERE wrapped_key IS NOT NULL"
    )
    return {(t, s): expected_rows(t, await store.read_stream(t, s), horizon) for t, s in streams}


async def projected_all(
    pool: asyncpg.Pool,
) -> dict[tuple[str, uuid.UUID], dict[str, dict[str, Any]]]:
    """Rows by case, through the private mapping (the test may read it; the reporting
    role cannot)."""
    mapping = {
        r["subject"]: (r["tenant_id"], r["case_id"])
        for r in await pool.fetch(
            "SELECT tenant_id, case_id, subject FROM views.reporting_subjects"
        )
    }
    projected: dict[tuple[str, uuid.UUID], dict[str, dict[str, Any]]] = {
        key: {} for key in mapping.values()
    }
    for row in await pool.fetch(f"SELECT {', '.join(COLUMNS)} FROM reporting.federal_inputs"):
        columns = dict(row)
        subject, quarter = columns.pop("subject"), columns.pop("quarter")
        projected[mapping[subject]][quarter] = columns
    return projected


async def all_rows(pool: asyncpg.Pool) -> list[tuple]:
    return [
        tuple(r)
        for r in await pool.fetch(
            f"SELECT {', '.join(COLUMNS)} FROM reporting.federal_inputs ORDER BY subject, quarter"
        )
    ]


@pytest.fixture
async def demo(case_store: PostgresEventStore, factories) -> PostgresEventStore:
    await seed_demo(demo_use_cases(case_store), cases=40, seed=11)
    await rebuild(case_store, case_store.pool, factories["federal_inputs"])
    await rebuild(
        case_store, case_store.pool, factories["cases"]
    )  # so the scan also covers the case views
    return case_store


# -- the rows equal the log ----------------------------------------------------------------


async def test_a_rebuild_equals_an_independent_computation_from_every_stream(demo) -> None:
    expected = await expected_all(demo)
    projected = await projected_all(demo.pool)
    assert set(projected) == set(expected)
    for key, rows in expected.items():
        assert projected[key] == rows, key
    assert await demo.pool.fetchval(
        "SELECT quarter FROM reporting.federal_inputs_horizon"
    ) == "{}Q{}".format(*await log_horizon(demo.pool))


async def test_hand_checked_cases(demo) -> None:
    states = {}
    for tenant, stream in await demo.pool.fetch("SELECT tenant_id, stream_id FROM haven.streams"):
        states[(tenant, stream)] = fold(
            (r.version, r.event) for r in await demo.read_stream(tenant, stream)
        )
    projected = await projected_all(demo.pool)
    subjects = {
        (r[0], r[1]): r[2]
        for r in await demo.pool.fetch(
            "SELECT tenant_id, case_id, subject FROM views.reporting_subjects"
        )
    }

    # Fiscal-year boundary: a client enrolled through 1 October is NEW again in the first
    # quarter of the next federal fiscal year, continuing in the other quarters of a year.
    spanning = [
        key for key, rows in projected.items() if {"2025Q3", "2025Q4", "2026Q1"} <= set(rows)
    ]
    assert spanning
    for key in spanning:
        rows = projected[key]
        assert (
            rows["2025Q3"]["fiscal_year"],
            rows["2025Q4"]["fiscal_year"],
            rows["2026Q1"]["fiscal_year"],
        ) == (2025, 2026, 2026)
        assert rows["2025Q4"]["new_in_fiscal_year"] is True
        assert rows["2026Q1"]["new_in_fiscal_year"] is False
    for rows in projected.values():  # exactly one NEW row per client and fiscal year
        per_year = Counter(r["fiscal_year"] for r in rows.values() if r["new_in_fiscal_year"])
        assert set(per_year.values()) == {1} and set(per_year) == {
            r["fiscal_year"] for r in rows.values()
        }

    # A reopened case: the reopening is a second program entry (re-enrolment), after a closure.
    reopened = next(
        key
        for key, state in states.items()
        if state.enrolments > 1 and q_of(state.enrolled_on) != q_of(state.intake.intake_on)
    )
    rows = projected[reopened]
    entries = [(q, r["entry_type"]) for q, r in sorted(rows.items()) if r["entered"]]
    assert entries == [
        (
            "{}Q{}".format(*q_of(states[reopened].intake.intake_on)),
            states[reopened].intake.intake_type,
        ),
        ("{}Q{}".format(*q_of(states[reopened].enrolled_on)), "reopening"),
    ]
    assert any(r["closed"] for q, r in rows.items() if q <= entries[1][0])

    # A minor: minor on every row, with a band under 18.
    minor = next(key for key, s in states.items() if (s.age_on(s.intake.intake_on) or 99) < 18)
    bands = {(r["age_group"], r["age_band"]) for r in projected[minor].values()}
    assert bands <= {("minor", "0-11"), ("minor", "12-17")}

    # No statistics consent: every row says so (non-mandatory statistics leave it out).
    refusing = [key for key, s in states.items() if s.statistics_consent is False]
    assert refusing
    for key in refusing:
        assert all(r["statistics_consent"] is False for r in projected[key].values())

    # A transfer: the sending case closes as transferred; the receiving organisation's case is a
    # program entry of type transfer, under its own subject, with no row linking the two.
    sending = next(key for key, s in states.items() if s.transfer is not None)
    receiving = next(
        key for key, s in states.items() if s.case_id == states[sending].transfer.receiving_case_id
    )
    closing = [r for r in projected[sending].values() if r["closed"]]
    assert closing[-1]["closure_reason"] == "transferred" and closing[-1]["referred_on"] is True
    first = projected[receiving][min(projected[receiving])]
    assert first["entered"] and first["entry_type"] == "transfer"
    assert first["organisation"] == receiving[0] != sending[0]
    assert subjects[sending] != subjects[receiving]


def by_category(**counts: int) -> list[int]:
    return [counts.get(category, 0) for category in SERVICES]


async def test_one_case_checked_by_hand(demo) -> None:
    """Demo seed 11, 40 cases: a 14-year-old (sex trafficking, commercial sex act), foreign
    national, no statistics consent, intake by hotline 2024-11-29, HHS eligibility letter
    interim 2024-12-18 and issued 2025-03-02, closed 2025-10-21 (moved away). Read off its
    events by hand (see the generator's plan)."""
    rows = (await projected_all(demo.pool))[
        ("org-lantern", uuid.UUID("faf8dfcd-f333-35b6-106b-6a04b6125e0c"))
    ]
    assert sorted(rows) == ["2024Q4", "2025Q1", "2025Q2", "2025Q3", "2025Q4"]
    assert [rows[q]["fiscal_year"] for q in sorted(rows)] == [2025, 2025, 2025, 2025, 2026]
    assert [rows[q]["new_in_fiscal_year"] for q in sorted(rows)] == [
        True,
        False,
        False,
        False,
        True,
    ]
    assert [rows[q]["entered"] for q in sorted(rows)] == [True, False, False, False, False]
    assert rows["2024Q4"]["entry_type"] == "hotline"
    assert [rows[q]["enrolled_at_end"] for q in sorted(rows)] == [True, True, True, True, False]
    closures = [
        (
            rows[q]["closed"],
            rows[q]["closure_reason"],
            rows[q]["living_situation"],
            rows[q]["referred_on"],
        )
        for q in sorted(rows)
    ]
    assert closures == [(False, None, None, None)] * 4 + [(True, "moved_away", "unknown", False)]
    assert rows["2024Q4"]["services"] == by_category(case_management=1, legal_criminal_civil=1)
    assert rows["2025Q1"]["services"] == by_category(
        legal_criminal_civil=1, interpretation_translation=1, basic_necessities=1
    )
    assert rows["2025Q2"]["services"] == by_category(
        dental=2, case_management=1, basic_necessities=1, education=1
    )
    assert rows["2025Q3"]["services"] == by_category(mental_health=1)
    assert rows["2025Q4"]["services"] == by_category()
    # the letter was obtained in FY2025: on that year's rows only, whatever the closure says
    assert [rows[q]["obtained_hhs_letter"] for q in sorted(rows)] == [True, True, True, True, False]
    assert not any(r["obtained_t_visa"] or r["obtained_continued_presence"] for r in rows.values())
    for row in rows.values():
        assert (
            row["victim_status"],
            row["trafficking_type"],
            row["age_group"],
            row["age_band"],
            row["gender"],
            row["citizenship"],
            row["race_ethnicity"],
            row["disability"],
            row["statistics_consent"],
        ) == (
            "strong_indicators",
            "sex",
            "minor",
            "12-17",
            "woman",
            "foreign_national",
            ["hispanic_latino"],
            "no",
            False,
        )


async def test_the_live_runner_equals_a_rebuild_subjects_included(
    case_store, factories, listen
) -> None:
    await seed_demo(demo_use_cases(case_store), cases=6, seed=3)
    runner = ProjectionRunner(
        case_store, listen, factories["federal_inputs"], batch_size=37, poll_interval=0.2
    )
    task = asyncio.create_task(runner.run())
    try:
        async with asyncio.timeout(
            60
        ):  # built (by the runner's own first rebuild) before more arrives
            while await checkpoints.load(case_store.pool, "federal_inputs") is None:
                await asyncio.sleep(0.05)
        await seed_demo(demo_use_cases(case_store), cases=14, seed=4)
        head = await case_store.pool.fetchrow(
            "SELECT transaction_id, position FROM haven.events "
            "ORDER BY transaction_id DESC, position DESC LIMIT 1"
        )
        assert await checkpoints.wait_until_projected(
            case_store.pool, ["federal_inputs"], tuple(head), timeout=60
        )
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert runner.applied > 0
    live = await all_rows(case_store.pool)
    assert await projected_all(case_store.pool) == await expected_all(case_store)
    second = await rebuild(case_store, case_store.pool, factories["federal_inputs"])
    assert second.generation == 2
    assert (
        await all_rows(case_store.pool) == live
    )  # same rows, same subjects: a ledger keyed by subject survives


def clocked(store: PostgresEventStore, day: dt.date) -> PostgresEventStore:
    """The same database through a store whose events are recorded at noon on `day`."""
    moment = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)
    return PostgresEventStore(store.pool, store._keyring, haven_registry(), clock=lambda: moment)


async def test_when_the_log_reaches_a_new_quarter_every_enrolled_client_gains_its_row(
    case_store, factories, listen
) -> None:
    september, november = (
        clocked(case_store, dt.date(2026, 9, 30)),
        clocked(case_store, dt.date(2026, 11, 2)),
    )
    await seed_demo(demo_use_cases(september), cases=10, seed=21)
    await rebuild(case_store, case_store.pool, factories["federal_inputs"])
    assert (
        await case_store.pool.fetchval("SELECT quarter FROM reporting.federal_inputs_horizon")
        == "2026Q3"
    )
    assert (
        await case_store.pool.fetchval("SELECT max(quarter) FROM reporting.federal_inputs")
        == "2026Q3"
    )
    enrolled = await case_store.pool.fetchval(
        "SELECT count(*) FROM reporting.federal_inputs WHERE quarter = '2026Q3' AND enrolled_at_end"
    )
    assert enrolled > 1
    runner = ProjectionRunner(case_store, listen, factories["federal_inputs"], poll_interval=0.2)
    task = asyncio.create_task(runner.run())
    try:  # one more intake, recorded in November: the log reaches 2026Q4 (FY2027)
        await seed_demo(demo_use_cases(november, today=dt.date(2026, 11, 2)), cases=1, seed=22)
        head = await case_store.pool.fetchrow(
            "SELECT transaction_id, position FROM haven.events "
            "ORDER BY transaction_id DESC, position DESC LIMIT 1"
        )
        assert await checkpoints.wait_until_projected(
            case_store.pool, ["federal_inputs"], tuple(head), timeout=60
        )
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert (
        await case_store.pool.fetchval("SELECT quarter FROM reporting.federal_inputs_horizon")
        == "2026Q4"
    )
    fourth = await case_store.pool.fetch(
        "SELECT * FROM reporting.federal_inputs WHERE quarter = '2026Q4'"
    )
    assert len(fourth) >= enrolled  # the clients enrolled at the end of 2026Q3, and the new one
    assert all(r["fiscal_year"] == 2027 and r["new_in_fiscal_year"] for r in fourth)
    assert await projected_all(case_store.pool) == await expected_all(case_store)
    live = await all_rows(case_store.pool)
    await rebuild(case_store, case_store.pool, factories["federal_inputs"])
    assert await all_rows(case_store.pool) == live


# -- nothing identifying -------------------------------------------------------------------

ALLOWED_TYPES = {  # reporting relation (generation suffix dropped) -> column -> type
    "federal_inputs": {
        "organisation": "text",
        "quarter": "text",
        "fiscal_year": "smallint",
        "subject": "uuid",
        "new_in_fiscal_year": "boolean",
        "entered": "boolean",
        "entry_type": "text",
        "enrolled_at_end": "boolean",
        "closed": "boolean",
        "closure_reason": "text",
        "living_situation": "text",
        "referred_on": "boolean",
        "victim_status": "text",
        "trafficking_type": "text",
        "age_group": "text",
        "age_band": "text",
        "gender": "text",
        "citizenship": "text",
        "race_ethnicity": "ARRAY",
        "disability": "text",
        "statistics_consent": "boolean",
        "served_by_another_agency": "boolean",
        "services": "ARRAY",
        "outcome_changes": "ARRAY",
        "obtained_continued_presence": "boolean",
        "obtained_t_visa": "boolean",
        "obtained_hhs_letter": "boolean",
    },
    "federal_service_categories": {"position": "smallint", "code": "text"},
    "federal_inputs_horizon": {"quarter": "text"},
}
TEMPORAL = re.compile(r"date|time|interval", re.IGNORECASE)


async def schema_violations(conn: asyncpg.Connection | asyncpg.Pool) -> list[str]:
    """Every column of every table or view in `reporting` that is temporal or not on the list."""
    problems = []
    for table, column, data_type in await conn.fetch(
        """SELECT table_name, column_name, data_type FROM information_schema.columns
                WHERE table_schema = 'reporting' ORDER BY table_name, ordinal_position"""
    ):
        relation = re.sub(r"_g[0-9]+$", "", table)
        if TEMPORAL.search(data_type):
            problems.append(f"{table}.{column} is a {data_type}")
        elif ALLOWED_TYPES.get(relation, {}).get(column) != data_type:
            problems.append(f"{table}.{column} ({data_type}) is not on the allow-list")
    return problems


async def test_the_reporting_schema_holds_only_listed_columns_and_no_dates(demo) -> None:
    assert await schema_violations(demo.pool) == []
    relations = {
        r[0]
        for r in await demo.pool.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'reporting'"
        )
    }
    assert {re.sub(r"_g[0-9]+$", "", r) for r in relations} == set(ALLOWED_TYPES)


async def test_control_the_scan_catches_a_planted_date_or_unknown_column(demo) -> None:
    async with demo.pool.acquire() as conn:
        for planted in ("intake_on date", "recorded_at timestamptz", "note text"):
            transaction = conn.transaction()
            await transaction.start()
            try:
                await conn.execute(f"ALTER TABLE reporting.federal_inputs_g1 ADD COLUMN {planted}")
                problems = await schema_violations(conn)
                assert any(planted.split()[0] in p for p in problems), planted
            finally:
                await transaction.rollback()
    assert await schema_violations(demo.pool) == []


async def test_every_value_is_a_code_a_label_or_an_unlinkable_subject(demo) -> None:
    rows = await demo.pool.fetch(f"SELECT {', '.join(COLUMNS)} FROM reporting.federal_inputs")
    assert rows
    tenants = {r[0] for r in await demo.pool.fetch("SELECT DISTINCT tenant_id FROM haven.streams")}
    subjects = set()
    for row in rows:
        assert row["organisation"] in tenants
        assert re.fullmatch(r"[0-9]{4}Q[1-4]", row["quarter"])
        assert len(row["services"]) == len(SERVICES) and all(n >= 0 for n in row["services"])
        assert [c.split(":")[0] for c in row["outcome_changes"]] == list(OUTCOME_DOMAINS)
        assert {c.split(":")[1] for c in row["outcome_changes"]} <= {
            "improved", "same", "worse", "not_measured"
        }  # fmt: skip
        for column, codes in CODES.items():
            values = row[column] if isinstance(row[column], list) else [row[column]]
            assert all(v is None or v in codes for v in values), (column, values)
        subjects.add(row["subject"])
    assert all(s.version == 4 for s in subjects)  # random, not derived from anything
    # No subject occurs anywhere in the log or in the case views, in text or in raw bytes.
    haystacks = []
    for table in ("haven.streams", "haven.events", "views.case_view", "views.caseload"):
        haystacks += [r[0] for r in await demo.pool.fetch(f"SELECT t::text FROM {table} t")]
    text = "\n".join(haystacks).lower()
    assert text
    for subject in subjects:
        assert str(subject) not in text and subject.hex not in text
    # ... nor among the uuids of cases (including the receiving case ids inside sealed transfers,
    # which are the streams of the receiving organisations).
    case_ids = {r[0] for r in await demo.pool.fetch("SELECT stream_id FROM haven.streams")}
    assert not subjects & case_ids


# -- erasure -------------------------------------------------------------------------------


async def test_forgetting_an_erased_case_removes_its_mapping_and_every_row_of_its_subject(
    demo, factories
) -> None:
    tenant, case_id, subject = await demo.pool.fetchrow(
        """SELECT m.tenant_id, m.case_id, m.subject FROM views.reporting_subjects m
            JOIN reporting.federal_inputs r USING (subject)
            GROUP BY 1, 2, 3 ORDER BY count(*) DESC LIMIT 1"""
    )
    async with demo.pool.acquire() as conn, conn.transaction():
        await demo.shred(tenant, case_id, connection=conn)
        await forget_case(conn, PROJECTION_TYPES, tenant, case_id)
    assert (
        await demo.pool.fetchval(
            "SELECT count(*) FROM views.reporting_subjects WHERE tenant_id = $1 AND case_id = $2",
            tenant,
            case_id,
        )
        == 0
    )
    assert (
        await demo.pool.fetchval(
            "SELECT count(*) FROM reporting.federal_inputs WHERE subject = $1", subject
        )
        == 0
    )
    assert await projected_all(demo.pool) == await expected_all(demo)
    left = await all_rows(demo.pool)
    await rebuild(demo, demo.pool, factories["federal_inputs"])
    assert await all_rows(demo.pool) == left  # what erasure leaves is exactly what a rebuild builds


class ShredsAfterTheFirstBatch:
    """A store whose bulk read destroys one case's key right after handing out the first
    batch: that case was applied by the rebuild before its erasure."""

    def __init__(self, store: PostgresEventStore, tenant_id: str, case_id: uuid.UUID) -> None:
        self._store, self._victim = store, (tenant_id, case_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    handed_out = 0
    shredded = False

    async def _shred_once_a_batch_is_out(self) -> None:
        if self.handed_out and not self.shredded:
            self.shredded = True
            await self._store.shred(*self._victim)

    async def read_all_batches(self, start, size):
        async for batch in self._store.read_all_batches(start, size):
            self.handed_out += 1
            yield batch
            await self._shred_once_a_batch_is_out()

    async def read_all(self, *args, **kwargs):
        # past a horizon held back by another connection to a shared server, the rebuild goes on
        # with read_all(precise=True): its first batch may come from here
        await self._shred_once_a_batch_is_out()
        batch = await self._store.read_all(*args, **kwargs)
        self.handed_out += bool(batch)
        return batch


async def test_the_rebuild_purges_a_case_erased_while_it_ran(case_store, factories) -> None:
    await seed_demo(demo_use_cases(case_store), cases=12, seed=2)
    tenant, case_id = await case_store.pool.fetchrow(
        "SELECT tenant_id, stream_id FROM haven.events ORDER BY transaction_id, position LIMIT 1"
    )
    store = ShredsAfterTheFirstBatch(case_store, tenant, case_id)
    await rebuild(store, case_store.pool, factories["federal_inputs"], batch_size=25)  # type: ignore[arg-type]
    assert store.shredded
    assert (
        await case_store.pool.fetchval(
            "SELECT count(*) FROM views.reporting_subjects WHERE tenant_id = $1 AND case_id = $2",
            tenant,
            case_id,
        )
        == 0
    )
    assert (
        await case_store.pool.fetchval(
            "SELECT count(*) FROM reporting.federal_inputs r "
            "LEFT JOIN views.reporting_subjects m USING (subject) "
            "WHERE m.subject IS NULL"
        )
        == 0
    )
    assert await projected_all(case_store.pool) == await expected_all(case_store)
