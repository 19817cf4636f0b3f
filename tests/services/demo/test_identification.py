"""The demo's screenings and activities (`services/demo/identification.py`): per organisation
and quarter, standalone screenings holding nothing about a person, screenings of open cases
named by their victim status, deterministic from the seed, and written through the use cases.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from domain.case import events as ev
from domain.case.state import fold
from domain.outreach.codes import KINDS
from domain.outreach.events import ActivityRecorded
from domain.screening.instrument import RESULTS
from domain.screening.screening import ScreeningRecorded
from events.catalog import haven_registry
from events.store import PostgresEventStore
from services.bootstrap import Runtime
from services.demo.generator import demo_plan
from services.demo.identification import identification_plan, seed_identification
from services.demo.organisations import DEFAULT_ORGANISATIONS
from services.demo.quarters import quarter_of, quarters_before
from services.demo.screenings import STANDALONE_PER_QUARTER
from services.demo.seeding import demo_use_cases, execute_plan
from tests.conftest import empty_log_and_read_models
from tests.services.demo.test_demo import read_every_stream, strings_in
from tests.tiers import scaled

TODAY = dt.date(2026, 9, 30)
SEED = 7
CASES = scaled(default=40, full=120)
QUARTERS = 8
SEEDED_CASES = scaled(default=8, full=40)
SEEDED_QUARTERS = scaled(default=2, full=8)

# the members a screening's event may have: ids, codes, a day and answers; nothing else
SCREENING_MEMBERS = {
    "screening_id", "organisation_id", "instrument_id", "instrument_version", "screened_on",
    "screened_by", "setting", "indicators", "minor", "result", "case_id",
}  # fmt: skip


@pytest.fixture(scope="module")
def plans():
    cases = demo_plan(SEED, CASES, TODAY)
    return cases, identification_plan(cases, quarters=QUARTERS)


def test_the_same_seed_plans_the_same_screenings_and_activities(plans):
    cases, first = plans
    assert identification_plan(demo_plan(SEED, CASES, TODAY), quarters=QUARTERS) == first
    other = identification_plan(demo_plan(SEED + 1, CASES, TODAY), quarters=QUARTERS)
    assert other.screenings != first.screenings and other.activities != first.activities
    # the cases themselves are those of the case plan alone
    assert demo_plan(SEED, CASES, TODAY).streams == cases.streams


def test_every_organisation_screens_and_reaches_out_in_every_quarter(plans):
    _, planned = plans
    quarters = [quarter_of(first) for first, _ in quarters_before(TODAY, QUARTERS)]
    screened = Counter(
        (s.command.organisation_id, quarter_of(s.command.screened_on))
        for s in planned.screenings.standalone
    )
    low, high = STANDALONE_PER_QUARTER
    for org in DEFAULT_ORGANISATIONS:
        for quarter in quarters:
            assert low <= screened[(org, quarter)] <= high, (org, quarter)
    assert set(q for _, q in screened) == set(quarters)
    active = Counter(
        (p.actor.organisation_id, quarter_of(p.activity.held_on)) for p in planned.activities
    )
    assert set(active) == {(org, q) for org in DEFAULT_ORGANISATIONS for q in quarters}
    assert {p.activity.kind for p in planned.activities} == set(KINDS)
    assert all(p.activity.held_on <= TODAY for p in planned.activities)
    assert len({p.activity.area.state for p in planned.activities}) == len(DEFAULT_ORGANISATIONS)
    assert any(p.activity.area.counties for p in planned.activities)
    assert len({g.sector for p in planned.activities for g in p.activity.audience}) >= 10


def test_results_and_settings_fall_in_realistic_proportions(plans):
    _, planned = plans
    results = Counter(s.result for s in planned.screenings.standalone)
    assert set(results) == set(RESULTS)
    assert results["no_indicators"] > results["strong_indicators"] > results["confirmed"]
    assert len({s.command.setting for s in planned.screenings.standalone}) >= 6
    assert all(s.command.minor == "yes" for s in planned.screenings.standalone
               if s.result == "confirmed")  # fmt: skip


def test_standalone_screenings_hold_no_identifying_data(plans):
    cases, planned = plans
    names = {
        text
        for events in cases.streams.values()
        for event in events
        if isinstance(event, ev.CaseOpened) and event.identity is not None
        for text in (event.identity.preferred_name, event.identity.legal_name)
        if text
    }
    for screening in planned.screenings.standalone:
        command = screening.command
        assert command.case_id is None
        assert set(command.__struct_fields__) <= SCREENING_MEMBERS
        texts = {text for _, text in strings_in(command)}
        codes = {command.setting, command.minor, command.instrument_id, "yes", "no", "unknown"}
        staff = {command.screened_by}  # the staff member's user id
        assert texts <= codes | staff | {i.item for i in command.indicators}, texts
        assert not texts & names
    assert set(ScreeningRecorded.__struct_fields__) == SCREENING_MEMBERS


def test_screenings_of_cases_agree_with_the_victim_status_that_names_them(plans):
    cases, planned = plans
    linked, determinations = planned.screenings.linked, planned.screenings.determinations
    assert linked and len(linked) == len(determinations)
    for screening, determination in zip(linked, determinations, strict=True):
        command = screening.command
        key = (command.organisation_id, command.case_id)
        state = fold(enumerate(cases.streams[key], start=1))
        assert not state.is_closed and state.worker_id == command.screened_by
        assert determination.expected_version == state.version
        status = determination.command.victim_status
        assert status.screening_ids == (command.screening_id,)
        assert status.status == state.victim_status.status
        assert command.screened_on == state.intake.intake_on == status.determined_on
        assert screening.result != "no_indicators"


def test_quarters_are_whole_calendar_quarters_up_to_today():
    quarters = quarters_before(dt.date(2026, 1, 10), 3)
    assert quarters == [
        (dt.date(2025, 7, 1), dt.date(2025, 9, 30)),
        (dt.date(2025, 10, 1), dt.date(2025, 12, 31)),
        (dt.date(2026, 1, 1), dt.date(2026, 1, 10)),
    ]


def test_a_plan_without_cases_still_screens_and_reaches_out():
    planned = identification_plan(
        demo_plan(SEED, 0, TODAY, organisations=("org-solo",)), quarters=1
    )
    assert planned.screenings.linked == planned.screenings.determinations == ()
    assert planned.screenings.standalone and planned.activities
    assert {p.actor.organisation_id for p in planned.activities} == {"org-solo"}
    assert {s.command.screened_by for s in planned.screenings.standalone} >= {"outreach-solo"}


async def test_the_plan_is_written_through_the_use_cases(pool, keyring):
    await empty_log_and_read_models(pool)
    store = PostgresEventStore(pool, keyring, haven_registry())
    try:
        cases = demo_plan(SEED, SEEDED_CASES, TODAY)
        planned = identification_plan(cases, quarters=SEEDED_QUARTERS)
        await execute_plan(demo_use_cases(store, TODAY), cases)
        await seed_identification(Runtime(pool, keyring, store), planned)
        streams = await read_every_stream(store)
    finally:
        await store.close()
    screened = {
        events[0].screening_id: events[0]
        for events in streams.values()
        if isinstance(events[0], ScreeningRecorded)
    }
    every = (*planned.screenings.standalone, *planned.screenings.linked)
    assert {s.command.screening_id: s.result for s in every} == {
        i: e.result for i, e in screened.items()
    }
    for screening in every:
        recorded = screened[screening.command.screening_id]
        assert recorded.case_id == screening.command.case_id
        assert set(recorded.indicators) == set(screening.command.indicators)
    for determination in planned.screenings.determinations:
        events = streams[(determination.actor.organisation_id, determination.case_id)]
        assert len(events) == determination.expected_version + 1
        assert events[-1] == ev.VictimStatusDetermined(
            victim_status=determination.command.victim_status
        )
    recorded = sorted(
        (e.organisation_id, e.activity.held_on, e.activity.topic)
        for events in streams.values()
        for e in events
        if isinstance(e, ActivityRecorded)
    )
    assert recorded == sorted(
        (p.actor.organisation_id, p.activity.held_on, p.activity.topic) for p in planned.activities
    )
