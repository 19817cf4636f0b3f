"""The demo's richer case life (`demo_plan(..., rich=True)`, `services/demo/rich_life.py`).

Pure plans, no database: the richer life gives about 50 events per intake (the report
bench's 100,000 clients ≈ 5,000,000 events), more of what a case worker records (check-ins,
needs reviews and goals, referrals, renewed releases), deterministically, and leaves the
default plan untouched. That the bulk path writes these plans exactly as the use cases do is
tested in `test_bulk.py`.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

from domain.case import events as ev
from domain.case.invariants import problems
from domain.case.state import fold
from services.demo.generator import demo_plan
from services.demo.plan import REFERRAL_STATUSES, events_digest

TODAY = dt.date(2026, 10, 15)  # the report bench's demo clock
CASES = 600
SEED = 7


def kinds(plan) -> Counter[str]:
    return Counter(type(e).__name__ for events in plan.streams.values() for e in events)


def test_the_rich_life_gives_about_fifty_events_per_intake() -> None:
    plain, rich = demo_plan(SEED, CASES, TODAY), demo_plan(SEED, CASES, TODAY, rich=True)
    assert 26 <= plain.summary.events / CASES <= 30
    assert 47 <= rich.summary.events / CASES <= 54, rich.summary.events / CASES
    more, less = kinds(rich), kinds(plain)
    for kind in (
        "ServiceDelivered",
        "NeedsAssessed",
        "GoalSet",
        "GoalStatusChanged",
        "ReferralProposed",
        "ReferralStatusChanged",
        "ConsentGranted",
    ):
        assert more[kind] > 1.5 * less[kind], kind


def test_the_rich_plan_is_deterministic_and_leaves_the_default_plan_alone() -> None:
    first, second = demo_plan(SEED, 40, TODAY, rich=True), demo_plan(SEED, 40, TODAY, rich=True)
    assert first.scripts == second.scripts and events_digest(first.streams) == events_digest(
        second.streams
    )
    plain = demo_plan(SEED, 40, TODAY)
    assert demo_plan(SEED, 40, TODAY, rich=False) == plain
    assert events_digest(plain.streams) != events_digest(first.streams)


def test_the_rich_plan_is_valid_and_renews_releases_in_use() -> None:
    plan = demo_plan(SEED, 200, TODAY, rich=True)
    states = [fold(enumerate(events, start=1)) for events in plan.streams.values()]
    assert all(problems(state) == [] for state in states)
    assert all(n > 0 for n in plan.summary.referral_statuses.values()), (
        plan.summary.referral_statuses
    )
    assert list(plan.summary.referral_statuses) == list(REFERRAL_STATUSES)
    renewed = 0
    for state in states:  # a renewal: the same release signed again before the earlier one lapsed
        grants = sorted((c.granted for c in state.consents.values()), key=lambda g: g.signed_on)
        renewed += sum(
            1
            for k, later in enumerate(grants)
            for earlier in grants[:k]
            if (earlier.recipient_organisation, earlier.purpose, earlier.data_categories)
            == (later.recipient_organisation, later.purpose, later.data_categories)
            and earlier.starts_on < later.starts_on < earlier.expires_on
        )
    assert renewed > 10
    dated = [
        e.delivered_on
        for events in plan.streams.values()
        for e in events
        if isinstance(e, ev.ServiceDelivered)
    ]
    assert max(dated) <= TODAY
