"""How a client's outcomes changed: per outcome domain, the first and the latest score and the
trend between them, from the case's outcome assessments (`events.OutcomeAssessed`).

Scores are on the 1-5 scale, 1 = crisis ... 5 = thriving, so a higher latest score is an
improvement. The first and the latest are by the day assessed; two assessments of one day are
taken in the order they were recorded. A domain scored once has no trend yet. Pure.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Literal

import msgspec

from domain.case.events import OutcomeAssessed

Trend = Literal["improved", "same", "worse"]
TRENDS: tuple[Trend, ...] = ("improved", "same", "worse")


class OutcomeTrend(msgspec.Struct, frozen=True, kw_only=True):
    domain: str  # codebook outcome_domain
    first_score: int
    first_on: dt.date
    latest_score: int
    latest_on: dt.date
    assessments: int  # how many assessments scored the domain
    trend: Trend | None  # None: scored once

    @property
    def measured(self) -> bool:
        """Scored at least twice: a change can be told."""
        return self.trend is not None


def trend_of(first: int, latest: int) -> Trend:
    if latest > first:
        return "improved"
    return "same" if latest == first else "worse"


def outcome_trends(
    assessments: Iterable[OutcomeAssessed], *, through: dt.date | None = None
) -> tuple[OutcomeTrend, ...]:
    """Each scored domain's trend, in domain-code order; `through`: only the assessments of
    that day or before (what was known at the end of a reporting period)."""
    scored: dict[str, list[tuple[dt.date, int, int]]] = {}
    for order, assessment in enumerate(assessments):
        if through is not None and assessment.assessed_on > through:
            continue
        for domain, score in assessment.scores.items():
            scored.setdefault(domain, []).append((assessment.assessed_on, order, score))
    trends = []
    for domain, scores in sorted(scored.items()):
        scores.sort()
        (first_on, _, first), (latest_on, _, latest) = scores[0], scores[-1]
        trends.append(
            OutcomeTrend(
                domain=domain,
                first_score=first,
                first_on=first_on,
                latest_score=latest,
                latest_on=latest_on,
                assessments=len(scores),
                trend=trend_of(first, latest) if len(scores) > 1 else None,
            )
        )
    return tuple(trends)
