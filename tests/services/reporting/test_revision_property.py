"""Property: whatever late records, erasures and consent withdrawals follow a release, the
revision discloses nothing — no published count of 1..10, no change of 1..10 between a cell of
the original and the same cell revised, a revision true today, and an exact audit of both
releases, without the true counts, that finds nothing.

Synthetic aggregated inputs (no database): one organisation in the first quarter of a fiscal
year, a few groups of clients drawn by hypothesis, released, changed, and released again.
Control: the same revision audited without the changes between releases (`Ledger.changes`
unset) publishes a change of 1..10 for some drawn example.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.reporting.audit import audit
from domain.reporting.families import FamilyState, published_still_true
from domain.reporting.federal_families import FAMILIES
from domain.reporting.ledger import Ledger
from tests.services.reporting.conftest import SOLVER
from tests.services.reporting.linked_control import joint
from tests.services.reporting.test_corrections import (
    ORG,
    PERIOD,
    QUARTER,
    counts,
    release,
    small_changes,
)
from tests.tiers import scaled

pytestmark = pytest.mark.slow

Group = tuple[bool, bool, bool, bool, bool]  # sex trafficking, woman, consent, entered, closed


def rows(groups: dict[Group, int]) -> list[dict[str, Any]]:
    out = []
    for (sex, woman, consent, entered, closed), count in sorted(groups.items()):
        if count:
            out.append(
                {
                    "organisation": ORG,
                    "quarter": QUARTER,
                    "new_in_fiscal_year": True,
                    "entered": entered,
                    "entry_type": "referral" if entered else None,
                    "closed": closed,
                    "closure_reason": "goals_met" if closed else None,
                    "living_situation": "rental" if closed else None,
                    "referred_on": "no" if closed else None,
                    "victim_status": "confirmed" if sex else "strong_indicators",
                    "trafficking_type": "sex" if sex else "labor",
                    "age_group": "adult",
                    "age_band": "25-34",
                    "gender": "woman" if woman else "man",
                    "citizenship": "foreign_national",
                    "statistics_consent": consent,
                    "served_by_another_agency": False,
                    "enrolled_at_end": not closed,
                    "obtained_continued_presence": False,
                    "obtained_t_visa": False,
                    "obtained_hhs_letter": False,
                    "clients": count,
                }
            )
    return out


GROUPS = st.tuples(st.booleans(), st.booleans(), st.booleans(), st.booleans(), st.booleans())


@st.composite
def histories(draw: st.DrawFn) -> tuple[dict[Group, int], dict[Group, int]]:
    """Clients released, then the same clients after late records, erasures and withdrawals."""
    released = draw(st.dictionaries(GROUPS, st.integers(0, 30), min_size=3, max_size=6))
    changed = dict(released)
    for group in draw(st.lists(GROUPS, max_size=3)):  # late records
        changed[group] = changed.get(group, 0) + draw(st.integers(1, 3))
    for group in draw(st.lists(st.sampled_from(sorted(released)), max_size=2)):  # erasures
        changed[group] = max(0, changed[group] - draw(st.integers(1, 2)))
    for group in draw(st.lists(st.sampled_from(sorted(released)), max_size=2)):  # consent withdrawn
        if group[2] and changed[group]:
            changed[group] -= 1
            withdrawn = (*group[:2], False, *group[3:])
            changed[withdrawn] = changed.get(withdrawn, 0) + 1
    return released, changed


def released_and_revised(
    before: dict[Group, int], after: dict[Group, int]
) -> dict[str, FamilyState]:
    states = {
        f.name: FamilyState(f, PERIOD.fiscal_year) for f in FAMILIES if f.population != "grant_year"
    }
    release(states, rows(before), f"{QUARTER}/{ORG}")
    if not all(
        published_still_true(
            state.universe([ORG]), counts(rows(after))[name], state.publications[-1]
        )
        for name, state in states.items()
    ):
        release(states, rows(after), f"{QUARTER}/{ORG}/r1")
    return states


@settings(
    max_examples=scaled(default=3, full=25),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(histories())
def test_late_records_erasures_and_withdrawals_never_give_a_revision_away(
    history: tuple[dict[Group, int], dict[Group, int]],
) -> None:
    before, after = history
    states = released_and_revised(before, after)
    assert not small_changes(states)
    for state in states.values():
        for publication in state.publications:
            assert not [v for v in publication.cells.values() if v is not None and 1 <= v <= 10]
    today = counts(rows(after))
    for name, state in states.items():  # the newest release is true today
        assert published_still_true(state.universe([ORG]), today[name], state.publications[-1])
    assert audit(joint(states), SOLVER).ok


def test_control_without_the_change_targets_a_revision_gives_a_withdrawal_away(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The property's control: one client withdraws consent to statistics after a release; the
    revision, without auditing the changes between releases, publishes breakdowns
    that moved by one."""
    before = {
        (True, True, True, False, False): 20,
        (False, False, True, False, False): 20,
        (False, True, False, False, False): 15,
    }
    after = {**before, (True, True, True, False, False): 19, (True, True, False, False, False): 1}
    with monkeypatch.context() as patched:
        ledger = FamilyState.ledger
        patched.setattr(
            FamilyState,
            "ledger",
            lambda self, universe: Ledger(
                ledger(self, universe).universe, ledger(self, universe).publications
            ),
        )
        states = released_and_revised(before, after)
    assert small_changes(states)
    findings = audit(joint(states), SOLVER).findings  # the outsider differences the two releases
    assert findings and {f.kind for f in findings} == {"change"}
    assert not small_changes(released_and_revised(before, after))  # and the property holds here
