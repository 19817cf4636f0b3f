"""Activity records (`domain.outreach`): valid records round-trip, each invalid member is
refused with its pointer (never its value), corrections replace the record, a withdrawal
ends it, and a stream of another kind folds to no activity. Synthetic values only."""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.case import events as case_events
from domain.case.values import Intake, VictimStatus
from domain.outreach.activity import (
    MAX_HOURS,
    MAX_PARTICIPANTS,
    Activity,
    AreaServed,
    AudienceGroup,
    activity_faults,
)
from domain.outreach.codes import DELIVERY, KINDS, SECTORS, STATES, WITHDRAWAL_REASONS
from domain.outreach.events import ActivityCorrected, ActivityRecorded, ActivityWithdrawn
from domain.outreach.state import (
    ActivityRefused,
    ActivityState,
    ActivityWithdrawnError,
    correct,
    fold_activity,
    record,
    withdraw,
)
from domain.outreach.summary import summarise

TODAY = dt.date(2026, 6, 30)
ACTIVITY = Activity(
    held_on=dt.date(2026, 3, 4),
    kind="training",
    audience=(
        AudienceGroup(sector="law_enforcement", participants=24),
        AudienceGroup(sector="health_care", participants=9),
    ),
    hours=3.5,
    languages=("en", "es"),
    delivery="in_person",
    area=AreaServed(state="TX", counties=("48201", "48157")),
    topic="Recognising labour trafficking indicators",
)


@st.composite
def activities(draw: st.DrawFn) -> Activity:
    state = draw(st.sampled_from(sorted(STATES)))
    county_numbers = draw(st.lists(st.integers(1, 999), max_size=4, unique=True))
    sectors = draw(st.lists(st.sampled_from(sorted(SECTORS)), min_size=1, max_size=4, unique=True))
    return Activity(
        held_on=draw(st.dates(dt.date(2000, 1, 1), TODAY)),
        kind=draw(st.sampled_from(sorted(KINDS))),
        audience=tuple(
            AudienceGroup(sector=s, participants=draw(st.integers(0, MAX_PARTICIPANTS)))
            for s in sectors
        ),
        hours=draw(st.integers(1, int(MAX_HOURS * 4))) / 4,
        languages=tuple(
            draw(
                st.lists(st.sampled_from(["en", "es", "vi", "zh", "ase"]), min_size=1, unique=True)
            )
        ),
        delivery=draw(st.sampled_from(sorted(DELIVERY))),
        area=AreaServed(
            state=state, counties=tuple(f"{STATES[state]}{n:03d}" for n in county_numbers)
        ),
        topic=draw(
            st.text(st.characters(categories=["L", "N", "P", "Zs"]), max_size=199).map(
                lambda t: "T" + t
            )
        ),
    )


@settings(max_examples=60)
@given(activities())
def test_a_valid_activity_is_recorded_and_round_trips_through_its_event(activity: Activity) -> None:
    assert activity_faults(activity, TODAY) == []
    events = record("act-1", "org-a", activity, TODAY)
    decoded = msgspec.msgpack.decode(msgspec.msgpack.encode(events[0]), type=ActivityRecorded)
    assert decoded == events[0]
    state = fold_activity(enumerate(events, start=1))
    assert state.activity == activity and state.organisation_id == "org-a"


SECRET = "Maria-Example-555-0100"  # a value that must never come back in a rule

INVALID: list[tuple[str, dict[str, object]]] = [
    ("/held_on", {"held_on": dt.date(2026, 7, 1)}),
    ("/held_on", {"held_on": dt.date(1999, 12, 31)}),
    ("/kind", {"kind": SECRET}),
    ("/audience", {"audience": ()}),
    ("/audience/0/sector", {"audience": (AudienceGroup(sector=SECRET, participants=1),)}),
    (
        "/audience/1/sector",
        {
            "audience": (
                AudienceGroup(sector="faith", participants=1),
                AudienceGroup(sector="faith", participants=2),
            )
        },
    ),
    ("/audience/0/participants", {"audience": (AudienceGroup(sector="faith", participants=-1),)}),
    (
        "/audience/0/participants",
        {"audience": (AudienceGroup(sector="faith", participants=MAX_PARTICIPANTS + 1),)},
    ),
    ("/hours", {"hours": 0.0}),
    ("/hours", {"hours": 1.1}),
    ("/hours", {"hours": MAX_HOURS + 0.25}),
    ("/hours", {"hours": float("nan")}),
    ("/languages", {"languages": ()}),
    ("/languages/1", {"languages": ("en", SECRET)}),
    ("/languages", {"languages": ("en", "en")}),
    ("/delivery", {"delivery": SECRET}),
    ("/area/state", {"area": AreaServed(state=SECRET)}),
    ("/area/state", {"area": AreaServed(state="tx")}),
    ("/area/counties/0", {"area": AreaServed(state="TX", counties=("06037",))}),
    ("/area/counties/0", {"area": AreaServed(state="TX", counties=("48000",))}),
    ("/area/counties/0", {"area": AreaServed(state="TX", counties=("1 Main St",))}),
    ("/area/counties", {"area": AreaServed(state="TX", counties=("48201", "48201"))}),
    ("/topic", {"topic": ""}),
    ("/topic", {"topic": "   "}),
    ("/topic", {"topic": "x" * 201}),
    ("/topic", {"topic": "line\x00break"}),
]


@pytest.mark.parametrize(("pointer", "change"), INVALID, ids=[p for p, _ in INVALID])
def test_each_invalid_member_is_refused_with_its_pointer_alone(
    pointer: str, change: dict[str, object]
) -> None:
    activity = msgspec.structs.replace(ACTIVITY, **change)
    faults = activity_faults(activity, TODAY)
    assert [p for p, _ in faults] == [pointer]
    assert all(SECRET not in rule and "1 Main" not in rule for _, rule in faults)
    with pytest.raises(ActivityRefused) as refused:
        record("act-1", "org-a", activity, TODAY)
    assert refused.value.faults == faults


def test_control_the_valid_record_has_no_fault() -> None:
    assert activity_faults(ACTIVITY, TODAY) == []
    assert ACTIVITY.participants == 33


@settings(max_examples=40)
@given(activities(), st.lists(activities(), max_size=4))
def test_corrections_fold_to_the_last_record(first: Activity, later: list[Activity]) -> None:
    events = record("act-1", "org-a", first, TODAY)
    state = fold_activity(enumerate(events, start=1))
    for corrected in later:
        events += correct(state, corrected, TODAY)
        state = fold_activity(enumerate(events, start=1))
    assert state.activity == (later[-1] if later else first)
    assert state.corrections == len(later) and state.version == 1 + len(later)


def test_a_withdrawn_activity_takes_no_correction_nor_a_second_withdrawal() -> None:
    events = [*record("act-1", "org-a", ACTIVITY, TODAY)]
    state = fold_activity(enumerate(events, start=1))
    with pytest.raises(ActivityRefused):
        withdraw(state, SECRET)
    events += withdraw(state, "duplicate")
    state = fold_activity(enumerate(events, start=1))
    assert state.withdrawn == "duplicate" and state.exists
    with pytest.raises(ActivityWithdrawnError):
        correct(state, ACTIVITY, TODAY)
    with pytest.raises(ActivityWithdrawnError):
        withdraw(state, "duplicate")
    assert set(WITHDRAWAL_REASONS) == {"entered_in_error", "duplicate", "did_not_take_place"}


def test_a_correction_is_held_to_the_same_rules() -> None:
    state = fold_activity(enumerate(record("act-1", "org-a", ACTIVITY, TODAY), start=1))
    wrong = msgspec.structs.replace(ACTIVITY, kind="picnic")
    with pytest.raises(ActivityRefused) as refused:
        correct(state, wrong, TODAY)
    assert [p for p, _ in refused.value.faults] == ["/kind"]


def test_a_stream_of_another_kind_folds_to_no_activity() -> None:
    opened = case_events.CaseOpened(
        case_id="c-1",
        organisation_id="org-a",
        intake=Intake(intake_on=dt.date(2026, 1, 5), intake_type="referral"),
        victim_status=VictimStatus(
            status="confirmed", determined_on=dt.date(2026, 1, 5), determined_by="w-1"
        ),
        worker_id="w-1",
        team_id="t-1",
    )
    assert fold_activity([(1, opened)]) == ActivityState()
    assert not fold_activity([(1, opened)]).exists
    corrected = ActivityCorrected(activity_id="a", activity=ACTIVITY)
    assert fold_activity([(1, corrected)]) == ActivityState()  # no recording first
    recorded = ActivityRecorded(activity_id="a", organisation_id="o", activity=ACTIVITY)
    assert fold_activity([(1, recorded), (3, corrected)]) == ActivityState()  # a gap
    assert (
        fold_activity(
            [(1, recorded), (2, ActivityWithdrawn(activity_id="a", reason="duplicate"))]
        ).withdrawn
        == "duplicate"
    )


@st.composite
def lives(draw: st.DrawFn) -> list[tuple[list, bool]]:
    """Activities, each with its events (recorded, maybe corrected) and whether it is then
    withdrawn."""
    out = []
    for n in range(draw(st.integers(0, 8))):
        events = record(f"act-{n}", "org-a", draw(activities()), TODAY)
        for corrected in draw(st.lists(activities(), max_size=2)):
            state = fold_activity(enumerate(events, start=1))
            events += correct(state, corrected, TODAY)
        out.append((events, draw(st.booleans())))
    return out


@settings(max_examples=40)
@given(lives(), st.dates(dt.date(2000, 1, 1), TODAY), st.dates(dt.date(2000, 1, 1), TODAY))
def test_a_withdrawn_activity_leaves_the_summary_and_the_totals_agree(
    life: list[tuple[list, bool]], first: dt.date, last: dt.date
) -> None:
    first, last = min(first, last), max(first, last)
    states, standing = [], []
    for events, withdrawn in life:
        state = fold_activity(enumerate(events, start=1))
        if withdrawn:
            state = fold_activity(
                enumerate([*events, *withdraw(state, "entered_in_error")], start=1)
            )
        else:
            standing.append(state)
        states.append(state)
    summary = summarise(states, first, last)
    assert summary == summarise(standing, first, last)  # the withdrawn count for nothing
    counted = [s.activity for s in standing if s.activity and first <= s.activity.held_on <= last]
    assert summary.total.activities == len(counted)
    assert summary.total.participants == sum(a.participants for a in counted)
    assert summary.total.hours == sum(a.hours for a in counted)
    by_sector = summary.by_month_kind_and_sector.values()
    assert sum(c.participants for c in by_sector) == summary.total.participants
    assert sum(c.activities for c in summary.by_month_and_kind.values()) == len(counted)
    assert sum(c.activities for c in by_sector) == sum(len(a.audience) for a in counted)
