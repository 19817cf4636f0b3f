"""An outcome domain's first and latest score and its trend (`domain.case.outcome_trends`):
by the day assessed whatever the order recorded, a single score without a trend, and what was
known on a given day."""

from __future__ import annotations

import datetime as dt

from domain.case.events import OutcomeAssessed
from domain.case.outcome_trends import outcome_trends


def assessed(day: str, **scores: int) -> OutcomeAssessed:
    return OutcomeAssessed(
        assessment_id=f"a-{day}-{len(scores)}",
        assessed_on=dt.date.fromisoformat(day),
        scores=scores,
    )


def test_the_first_and_latest_score_are_by_the_day_assessed_not_the_order_recorded() -> None:
    trends = outcome_trends(
        [
            assessed("2026-03-01", safety=4, housing_stability=2),
            assessed("2026-01-10", safety=2, housing_stability=2),  # recorded late
            assessed("2026-02-01", safety=5, education=3),
        ]
    )
    by_domain = {t.domain: t for t in trends}
    assert [t.domain for t in trends] == ["education", "housing_stability", "safety"]
    safety = by_domain["safety"]
    assert (safety.first_score, safety.first_on) == (2, dt.date(2026, 1, 10))
    assert (safety.latest_score, safety.latest_on) == (4, dt.date(2026, 3, 1))
    assert (safety.assessments, safety.trend) == (3, "improved")
    assert by_domain["housing_stability"].trend == "same"
    assert by_domain["education"].trend is None and not by_domain["education"].measured


def test_two_scores_of_one_day_are_taken_in_the_order_recorded() -> None:
    (trend,) = outcome_trends([assessed("2026-01-10", safety=4), assessed("2026-01-10", safety=3)])
    assert (trend.first_score, trend.latest_score, trend.trend) == (4, 3, "worse")


def test_through_a_day_counts_only_what_was_assessed_by_then() -> None:
    history = [assessed("2026-01-10", safety=2), assessed("2026-04-02", safety=1)]
    (known,) = outcome_trends(history, through=dt.date(2026, 3, 31))
    assert (known.assessments, known.trend) == (1, None)
    (later,) = outcome_trends(history)
    assert later.trend == "worse"
    assert outcome_trends(history, through=dt.date(2025, 12, 31)) == ()
