"""Scoring a screening: the instrument's rule applied to the answers. Pure and monotone: an
answer turned to yes, or a person found to be a minor, never lowers the result."""

from __future__ import annotations

from collections.abc import Mapping

from domain.screening.instrument import RESULTS, Instrument


def score(instrument: Instrument, answers: Mapping[str, str], minor: str = "unknown") -> str:
    """The result (`RESULTS`) of `answers` (item id -> yes / no / unknown; an item not
    answered is unknown) under the instrument's rule; `minor`: yes / no / unknown."""
    rule = instrument.scoring
    present = [item for item in instrument.items if answers.get(item.id) == "yes"]
    domains = {item.domain for item in present}
    if rule.minor_in_commercial_sex_confirmed and minor == "yes":
        if any(item.commercial_sex for item in present):
            return "confirmed"
    if rule.confirmed_domains is not None and len(domains) >= rule.confirmed_domains:
        return "confirmed"
    if sum(item.strong for item in present) >= rule.strong_items:
        return "strong_indicators"
    if len(domains) >= rule.strong_domains:
        return "strong_indicators"
    if len(present) >= rule.indicators_present_items:
        return "indicators_present"
    return "no_indicators"


def rank(result: str) -> int:
    """The result's place in `RESULTS` (higher: more indicated)."""
    return RESULTS.index(result)
