"""The demo generator: deterministic, fictitious, valid, and covering every path of a case.

The pure plan is checked without a database; one seeded database (module scope) shows that
the use cases write exactly the planned events.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NamedTuple

import msgspec
import pytest

from crypto.keyring import Keyring
from crypto.providers import FileKeyProvider
from domain.case import events as ev
from domain.case.invariants import problems
from domain.case.lifecycles import IMMIGRATION_MACHINES
from domain.case.state import CaseState, fold
from domain.codebook import CURRENT
from domain.event import DomainEvent
from events.catalog import haven_registry
from events.log_order import LOG_START
from events.store import PostgresEventStore
from services.demo.generator import demo_plan
from services.demo.organisations import DEFAULT_ORGANISATIONS
from services.demo.plan import REFERRAL_STATUSES, DemoSummary, events_digest, summarise
from services.demo.planner import AGE_BANDS
from services.demo.seeding import demo_use_cases, seed_demo

TODAY = dt.date(2026, 9, 30)
CASES = 60
SEED = 7


class Seeded(NamedTuple):
    summary: DemoSummary
    streams: Mapping[tuple[str, str], tuple[DomainEvent, ...]]  # read back from PostgreSQL


async def read_every_stream(
    store: PostgresEventStore,
) -> dict[tuple[str, str], tuple[DomainEvent, ...]]:
    found: dict[tuple[str, str], list[tuple[int, DomainEvent]]] = defaultdict(list)
    after = LOG_START
    while batch := await store.read_all(after, limit=1000):
        for recorded in batch:
            found[(recorded.tenant_id, str(recorded.stream_id))].append(
                (recorded.version, recorded.event)
            )
        after = batch[-1].log_position
    return {
        key: tuple(event for _, event in sorted(events, key=lambda pair: pair[0]))
        for key, events in found.items()
    }


@pytest.fixture(scope="module")
async def seeded(pool, key_file) -> Seeded:
    await pool.execute("TRUNCATE haven.events, haven.streams")
    store = PostgresEventStore(pool, Keyring(FileKeyProvider(key_file)), haven_registry())
    try:
        summary = await seed_demo(demo_use_cases(store, TODAY), cases=CASES, seed=SEED, today=TODAY)
        return Seeded(summary, await read_every_stream(store))
    finally:
        close = getattr(store, "close", None)
        if close is not None:
            await close()


@pytest.fixture(scope="module")
def states(seeded) -> dict[tuple[str, str], CaseState]:
    return {key: fold(enumerate(events, start=1)) for key, events in seeded.streams.items()}


def events_of(streams: Mapping[Any, Sequence[DomainEvent]], kind: type[DomainEvent]) -> list[Any]:
    return [e for events in streams.values() for e in events if isinstance(e, kind)]


def age_band(age: int) -> str:
    return next(band for band, (low, high) in AGE_BANDS.items() if age <= high or band == "50+")


# -- the pure plan --------------------------------------------------------------------------


def test_the_same_seed_plans_the_same_commands_and_events():
    first, second = demo_plan(SEED, CASES, TODAY), demo_plan(SEED, CASES, TODAY)
    assert first.scripts == second.scripts
    assert events_digest(first.streams) == events_digest(second.streams)
    assert first.summary == second.summary
    assert events_digest(demo_plan(SEED + 1, CASES, TODAY).streams) != events_digest(first.streams)


def test_the_plan_is_anchored_on_today_and_spans_two_years_of_quarters():
    plan = demo_plan(SEED, CASES, TODAY)
    days = [value for events in plan.streams.values() for e in events for value in dates_in(e)]
    assert max(days) <= TODAY
    intakes = [
        e.intake.intake_on for e in events_of(plan.streams, ev.CaseOpened) if not e.transferred_in
    ]
    assert min(intakes) >= TODAY - dt.timedelta(days=731)
    assert len({(d.year, (d.month - 1) // 3) for d in intakes}) >= 7
    later = demo_plan(SEED, CASES, TODAY + dt.timedelta(days=365))
    assert max(e.intake.intake_on for e in events_of(later.streams, ev.CaseOpened)) > TODAY


def test_a_plan_with_one_organisation_has_no_transfers_and_is_valid():
    plan = demo_plan(SEED, 30, TODAY, organisations=("org-solo",))
    assert plan.summary.transferred == 0 and plan.summary.per_organisation == {"org-solo": 30}
    for events in plan.streams.values():
        assert problems(fold(enumerate(events, start=1))) == []


def test_small_and_empty_plans():
    assert demo_plan(SEED, 0, TODAY).summary.cases == 0
    assert demo_plan(SEED, 3, TODAY).summary.cases == 3


# -- the seeded database ----------------------------------------------------------------------


def test_the_database_holds_exactly_the_planned_events(seeded):
    plan = demo_plan(SEED, CASES, TODAY)
    assert events_digest(seeded.streams) == events_digest(plan.streams)
    assert seeded.summary == plan.summary
    assert summarise(seeded.streams, DEFAULT_ORGANISATIONS) == seeded.summary


def test_the_summary_counts_cases_organisations_and_paths(seeded, states):
    summary = seeded.summary
    assert summary.cases == len(states) == CASES + summary.transferred
    assert summary.events == sum(len(events) for events in seeded.streams.values())
    assert summary.organisations == DEFAULT_ORGANISATIONS
    assert sum(summary.per_organisation.values()) == summary.cases
    assert all(n > 0 for n in summary.per_organisation.values())
    assert summary.closed > 0 and summary.reopened > 0 and summary.transferred > 0
    assert summary.closed == sum(s.is_closed for s in states.values())
    assert summary.reopened == sum(s.enrolments > 1 for s in states.values())


def test_every_referral_status_appears(seeded, states):
    assert list(seeded.summary.referral_statuses) == list(REFERRAL_STATUSES)
    assert all(n > 0 for n in seeded.summary.referral_statuses.values()), (
        seeded.summary.referral_statuses
    )
    referrals = [r for s in states.values() for r in s.referrals.values()]
    assert {r.proposed.kind for r in referrals} == {"internal", "external"}
    declines = events_of(seeded.streams, ev.ReferralStatusChanged)
    assert len({e.reason for e in declines if e.status == "declined"}) >= 3
    assert "consent_revoked" in {e.reason for e in declines if e.status == "revoked"}


def test_every_stream_folds_to_a_valid_state(states):
    for key, state in states.items():
        assert problems(state) == [], key


def test_trafficking_types_ages_and_demographics_vary(states):
    opened = [s for s in states.values() if not s.transferred_in]
    assert {s.trafficking.trafficking_type for s in opened} == set(
        CURRENT.codes("trafficking_type")
    )
    ages = [s.age_on(s.intake.intake_on) for s in opened]
    assert {age_band(a) for a in ages} == set(AGE_BANDS)
    assert any(a < 18 for a in ages) and any(a >= 18 for a in ages)
    assert any(s.identity.date_of_birth is None for s in opened)  # age at intake only
    assert {s.victim_status.status for s in opened} == {"confirmed", "strong_indicators"}
    assert len({s.demographics.gender_identity for s in opened}) >= 4
    assert {s.demographics.citizenship for s in opened} == set(CURRENT.codes("citizenship"))
    assert {s.demographics.lgbtq for s in opened} == {"yes", "no", "unknown"}
    for s in opened:  # DVHT: a minor in commercial sex is a sex-trafficking victim
        if s.age_on(s.intake.intake_on) < 18 and s.trafficking.commercial_sex_act:
            assert s.trafficking.trafficking_type in ("sex", "both")


def test_consents_services_outcomes_and_immigration_vary(seeded, states):
    consents = [c for s in states.values() for c in s.consents.values()]
    assert {c.revoked.method for c in consents if c.revoked} == {"oral", "written"}
    assert any(c.revoked is None and c.granted.expires_on < TODAY for c in consents)
    assert any(c.granted.signed_by == "guardian" for c in consents)
    assert {s.statistics_consent for s in states.values()} >= {True, False}
    assert {s.category for st in states.values() for s in st.services} == CURRENT.codes(
        "service_category"
    )
    assert any(
        len(s.outcomes) >= 3 and s.outcomes[0].scores != s.outcomes[-1].scores
        for s in states.values()
    )
    milestones = [m for s in states.values() for m in s.milestones.values()]
    assert {m.kind for m in milestones} == set(IMMIGRATION_MACHINES)
    assert any(len(m.history) >= 3 for m in milestones)
    goals = {g.status for s in states.values() for g in s.goals.values()}
    assert goals >= {"open", "in_progress", "achieved"}


def test_closures_reopenings_and_transfers(seeded, states):
    closures = events_of(seeded.streams, ev.CaseClosed)
    assert (
        len({c.reason for c in closures}) >= 5 and len({c.living_situation for c in closures}) >= 4
    )
    reopened = [s for s in states.values() if s.enrolments > 1]
    assert reopened and all(s.enrolled_on > s.intake.intake_on for s in reopened)
    for (org, _), state in states.items():
        if state.transfer is None:
            continue
        transfer = state.transfer
        assert state.closure.reason == "transferred" and transfer.recipient_organisation != org
        received = states[(transfer.recipient_organisation, transfer.receiving_case_id)]
        assert (
            received.transferred_in and received.organisation_id == transfer.recipient_organisation
        )
        assert (received.identity is not None) == ("identity" in transfer.released_categories)
        assert (received.demographics is not None) == (
            "demographics" in transfer.released_categories
        )
        consent = state.consents[transfer.consent_id].granted
        assert (consent.purpose, consent.recipient_organisation) == (
            "case_transfer",
            transfer.recipient_organisation,
        )
    received = [s for s in states.values() if s.transferred_in]
    assert any(s.identity is None for s in received) and any(
        s.identity is not None for s in received
    )


# -- nothing real --------------------------------------------------------------------------

PHONE_LIKE = re.compile(r"\d{3}\D?\d{4}")
FICTIONAL_PHONE = re.compile(r"^555-01\d\d$")
ID_FIELDS = re.compile(r"(^|_)id$")


def strings_in(value: Any, key: str = "") -> Iterator[tuple[str, str]]:
    """Every (field name, text) in an event, skipping identifiers (UUIDs are not text)."""
    if isinstance(value, msgspec.Struct):
        for name in value.__struct_fields__:
            yield from strings_in(getattr(value, name), name)
    elif isinstance(value, str):
        if not ID_FIELDS.search(key) and key != "recipient":
            yield key, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from strings_in(k, key)
            yield from strings_in(v, key)
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from strings_in(item, key)


FORWARD_DATES = {"expires_on", "target_on"}  # a consent's or a grant's end, a goal's target


def dates_in(value: Any) -> Iterator[dt.date]:
    """Every date an event says something happened on."""
    if isinstance(value, msgspec.Struct):
        for name in value.__struct_fields__:
            if name not in FORWARD_DATES:
                yield from dates_in(getattr(value, name))
    elif isinstance(value, dt.date):
        yield value
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from dates_in(item)


def test_no_text_looks_like_a_real_phone_number(seeded):
    numbers = 0
    for events in seeded.streams.values():
        for event in events:
            for key, text in strings_in(event):
                for _match in PHONE_LIKE.finditer(text):
                    assert FICTIONAL_PHONE.match(text), (key, text)
                    numbers += 1
    assert numbers > 0  # control: the check does see the demo's 555-01xx numbers


def test_the_checker_flags_a_real_looking_number():
    event = ev.CaseReopened(reopened_on=TODAY, reason="call 212-555-7788")
    assert any(
        PHONE_LIKE.search(text) and not FICTIONAL_PHONE.match(text) for _, text in strings_in(event)
    )


def test_names_are_obviously_fictitious(states):
    names = [s.identity for s in states.values() if s.identity is not None]
    assert names
    for identity in names:
        assert re.fullmatch(r"Client [A-Z][a-z]+ \d{4}", identity.preferred_name)
        assert identity.legal_name is None or identity.legal_name.startswith("DEMO ")
    emails = [
        c.detail
        for s in states.values()
        if s.contact
        for c in s.contact.channels
        if c.channel == "email"
    ]
    assert emails and all(e.endswith("@example.org") for e in emails)
