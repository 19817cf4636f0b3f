"""Attack of REFERENCE §3: *linked tables over the same people*, across populations.

The clients who entered a program in a quarter, and those who left it, are among the clients
served in that quarter. A table of entries by age and a table of clients served by age,
both published in full, give their difference: the consenting minors served who did not
enter this quarter. Control: the populations protected as separate link groups (how the job
worked before they were linked) — each group's own joint audit passes, both tables are
published, and the difference is 3. Then the job's grouping (the entries in the served
group, `LINK_DIMENSIONS` with `entered`): the release passes the audit and the difference can
no longer be pinned.

Synthetic aggregated inputs (no database): one organisation in the first quarter of a fiscal
year, 40 consenting adults (20 entering), 15 consenting minors aged 12-17 (12 entering) and
15 clients without consent to statistics (adults, none entering).
"""

from __future__ import annotations

from typing import Any

from domain.reporting.audit import audit
from domain.reporting.federal_codebook import FAMILIES, SERVICE_CATEGORIES
from services.reporting.job import FamilyState, Period, count_inputs, protect_group
from tests.services.reporting.conftest import SOLVER
from tests.services.reporting.linked_control import joint, link_interval

ORG, QUARTER = "org-synthetic", "2025Q4"
PERIOD = Period.parse(QUARTER)


def clients(count: int, *, minor: bool, consent: bool, entered: bool, sex: bool, woman: bool) -> dict[str, Any]:
    return {"organisation": ORG, "quarter": QUARTER, "new_in_fiscal_year": True, "entered": entered,
            "entry_type": "referral" if entered else None, "closed": False, "closure_reason": None,
            "living_situation": None, "referred_on": None,
            "victim_status": "confirmed" if sex else "strong_indicators",
            "trafficking_type": "sex" if sex else "labor",
            "age_group": "minor" if minor else "adult", "age_band": "12-17" if minor else "25-34",
            "gender": "woman" if woman else "man", "citizenship": "foreign_national", "statistics_consent": consent,
            "enrolled_at_end": True, "obtained_continued_presence": False, "obtained_t_visa": False,
            "obtained_hhs_letter": False, "clients": count}


ROWS = [
    clients(10, minor=False, consent=True, entered=True, sex=True, woman=True),
    clients(10, minor=False, consent=True, entered=True, sex=False, woman=False),
    clients(10, minor=False, consent=True, entered=False, sex=True, woman=False),
    clients(10, minor=False, consent=True, entered=False, sex=False, woman=True),
    clients(6, minor=True, consent=True, entered=True, sex=True, woman=True),
    clients(6, minor=True, consent=True, entered=True, sex=False, woman=False),
    clients(3, minor=True, consent=True, entered=False, sex=False, woman=True),
    clients(15, minor=False, consent=False, entered=False, sex=True, woman=True),
]
CONSENTING = sum(row["clients"] for row in ROWS if row["statistics_consent"])
SERVICES = [{"organisation": ORG, "quarter": QUARTER, "code": code, "clients": CONSENTING, "received": 0}
            for code in SERVICE_CATEGORIES]
MINORS_NOT_ENTERING = {"organisation": ORG, "quarter": QUARTER, "consent": "yes", "age_group": "minor",
                       "entered": "no"}


def release(groups: dict[str, str]) -> dict[str, FamilyState]:
    """The quarter released with the families protected per group (family name -> group)."""
    counts = count_inputs(ROWS, SERVICES)
    states = {f.name: FamilyState(f, PERIOD.fiscal_year) for f in FAMILIES if f.population != "grant_year"}
    for group in dict.fromkeys(groups.values()):
        members = [states[name] for name in states if groups[name] == group]
        for released in protect_group(members, counts, PERIOD, ORG, f"{QUARTER}/{ORG}", SOLVER, [ORG]):
            state = states[released.family.name]
            state.publications.append(released.publication)
            state.stored_universes.append({d.name: list(d.codes) for d in released.universe.dimensions})
    return states


def published(states: dict[str, FamilyState], family: str, table: str, key: tuple[str, ...]) -> int | None:
    return states[family].publications[-1].cells[(table, key)]


def test_minors_served_minus_minors_entering_does_not_reveal_the_minors_who_did_not_enter() -> None:
    # Control: served, entered and closed protected as three groups, as if they were other people.
    by_population = {f.name: f.population if f.population in ("entered", "closed") else "served" for f in FAMILIES}
    control = release(by_population)
    served_minors = published(control, "served_age_group", "tims_age_group", ("minor",))
    entering_minors = published(control, "entered_age_band", "otip_program_entry_age", ("tvap", "12-17"))
    assert (served_minors, entering_minors) == (15, 12)  # both published: each group's audit let them through
    outsider = joint(control, "served")  # the outsider knows entries are among the clients served
    assert link_interval(outsider, MINORS_NOT_ENTERING) == (3, 3)
    assert not audit(outsider, SOLVER).ok

    # The job's grouping: the entries linked with the clients served.
    linked = release({f.name: f.link_group for f in FAMILIES})
    outsider = joint(linked, "served")
    assert audit(outsider, SOLVER).ok
    low, high = link_interval(outsider, MINORS_NOT_ENTERING)
    assert not (1 <= low and high <= 10)
