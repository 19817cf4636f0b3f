"""Attack of REFERENCE §3: *linked tables over the same people*, across populations.

The clients who entered a program in a quarter, and those who left it, are among the clients
served in that quarter. A table of entries by age and a table of clients served by age,
both published in full, give their difference: the consenting minors served who did not
enter this quarter. Tables of closures by reason and of clients served by age give the
consenting clients served who did not leave. Control: the populations protected as separate
systems, with no link — each system's own joint audit passes,
the tables are published, and the difference is pinned. Then the job: every family linked
(`LINK_DIMENSIONS` with `entered` and `closed`): the release passes the audit and the
difference cannot be pinned. The same by age band: VOCA's new victims aged 12-17
against OTIP's entries aged 12-17 give the teenagers who did not enter, which a link holding
only the age group does not see (the control) and the link by band does.

Synthetic aggregated inputs (no database), one organisation in the first quarter of a fiscal
year. Entries: 40 consenting adults (20 entering), 15 consenting minors aged 12-17 (12
entering) and 15 clients without consent to statistics (adults, none entering). Closures: 40
consenting adults, 32 of them leaving (20 with their goals met, 12 at their request), and 15
clients without consent, none leaving. Bands: the entries and 20 consenting children aged
0-11, none entering.
"""

from __future__ import annotations

from typing import Any

import pytest

from domain.reporting import families, inputs
from domain.reporting.audit import audit
from domain.reporting.families import FamilyState, protect_families
from domain.reporting.federal_codebook import OUTCOME_DOMAINS, SERVICE_CATEGORIES, Family
from domain.reporting.federal_families import FAMILIES
from domain.reporting.generalisation import AGE_GROUP_OF_BAND
from domain.reporting.inputs import count_inputs
from domain.reporting.periods import Period
from tests.services.reporting.conftest import SOLVER
from tests.services.reporting.linked_control import joint, link_interval

ORG, QUARTER = "org-synthetic", "2025Q4"
PERIOD = Period.parse(QUARTER)


def clients(
    count: int,
    *,
    minor: bool = False,
    band: str | None = None,
    consent: bool = True,
    entered: bool = False,
    closure_reason: str | None = None,
    sex: bool,
    woman: bool,
) -> dict[str, Any]:
    closed = closure_reason is not None
    band = band or ("12-17" if minor else "25-34")
    return {
        "organisation": ORG,
        "quarter": QUARTER,
        "new_in_fiscal_year": True,
        "entered": entered,
        "entry_type": "referral" if entered else None,
        "closed": closed,
        "closure_reason": closure_reason,
        "living_situation": "rental" if closed else None,
        "referred_on": False if closed else None,
        "victim_status": "confirmed" if sex else "strong_indicators",
        "trafficking_type": "sex" if sex else "labor",
        "age_group": AGE_GROUP_OF_BAND[band],
        "age_band": band,
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


ENTRIES = [
    clients(10, entered=True, sex=True, woman=True),
    clients(10, entered=True, sex=False, woman=False),
    clients(10, sex=True, woman=False),
    clients(10, sex=False, woman=True),
    clients(6, minor=True, entered=True, sex=True, woman=True),
    clients(6, minor=True, entered=True, sex=False, woman=False),
    clients(3, minor=True, sex=False, woman=True),
    clients(15, consent=False, sex=True, woman=True),
]
CLOSURES = [
    clients(10, closure_reason="goals_met", sex=True, woman=True),
    clients(10, closure_reason="goals_met", sex=False, woman=False),
    clients(6, closure_reason="client_request", sex=True, woman=False),
    clients(6, closure_reason="client_request", sex=False, woman=True),
    clients(4, sex=True, woman=False),
    clients(4, sex=False, woman=True),
    clients(15, consent=False, sex=True, woman=True),
]
# ENTRIES and 20 consenting children aged 0-11, none entering: of the teenagers (12-17), all new
# in the fiscal year's first quarter, 15 are served and 12 enter.
BANDS = [
    *ENTRIES,
    clients(10, band="0-11", sex=True, woman=True),
    clients(10, band="0-11", sex=False, woman=False),
]
WHERE = {"organisation": ORG, "quarter": QUARTER, "consent": "yes"}
TEENS_NOT_ENTERING = {**WHERE, "age_band": "12-17", "entered": "no"}
MINORS_NOT_ENTERING = {**WHERE, "age_band": ("0-11", "12-17"), "entered": "no"}
NOT_LEAVING = {**WHERE, "closed": "no"}
BY_POPULATION = {
    f.name: f.population if f.population in ("entered", "closed") else "served" for f in FAMILIES
}
LINKED = {f.name: "all" for f in FAMILIES}  # the job: every family in one system


def release(rows: list[dict[str, Any]], groups: dict[str, str]) -> dict[str, FamilyState]:
    """The quarter released with the families protected per group (family name -> group)."""
    consenting = sum(row["clients"] for row in rows if row["statistics_consent"])
    services = [
        {
            "organisation": ORG,
            "quarter": QUARTER,
            "code": code,
            "clients": consenting,
            "received": 0,
        }
        for code in SERVICE_CATEGORIES
    ]
    outcomes = [
        {"organisation": ORG, "quarter": QUARTER, "domain": domain, "change": "not_measured",
         "clients": consenting}
        for domain in OUTCOME_DOMAINS
    ]  # fmt: skip
    counts = count_inputs(rows, services, (), outcomes)
    states = {
        f.name: FamilyState(f, PERIOD.fiscal_year) for f in FAMILIES if f.population != "grant_year"
    }
    for group in dict.fromkeys(groups.values()):
        members = [states[name] for name in states if groups[name] == group]
        for released in protect_families(
            members, counts, PERIOD, ORG, f"{QUARTER}/{ORG}", SOLVER, [ORG]
        ):
            state = states[released.family.name]
            state.publications.append(released.publication)
            state.stored_universes.append(
                {d.name: list(d.codes) for d in released.universe.dimensions}
            )
    return states


def published(
    states: dict[str, FamilyState], family: str, table: str, key: tuple[str, ...]
) -> int | None:
    return states[family].publications[-1].cells[(table, key)]


def not_small(interval: tuple[int, int]) -> bool:
    low, high = interval
    return not (1 <= low and high <= 10)


def assert_the_linked_job_protects(rows: list[dict[str, Any]], where: dict[str, Any]) -> None:
    """The job, every family in one system: its release passes the outsider's joint audit, and
    the count `where` is not pinned inside 1..10."""
    outsider = joint(release(rows, LINKED))
    assert audit(outsider, SOLVER).ok
    assert not_small(link_interval(outsider, where))


def test_minors_served_minus_minors_entering_does_not_reveal_the_minors_who_did_not_enter() -> None:
    # Control: served, entered and closed protected as three systems, as if they were other people.
    control = release(ENTRIES, BY_POPULATION)
    served_minors = published(control, "served_age_group", "tims_age_group", ("minor",))
    entering_minors = published(
        control, "entered_age_band", "otip_program_entry_age", ("tvap", "12-17")
    )
    assert (served_minors, entering_minors) == (
        15,
        12,
    )  # both published: each system's audit let them through
    outsider = joint(control)  # the outsider knows entries are among the clients served
    assert link_interval(outsider, MINORS_NOT_ENTERING) == (3, 3)
    assert not audit(outsider, SOLVER).ok

    assert_the_linked_job_protects(ENTRIES, MINORS_NOT_ENTERING)


def test_clients_served_minus_closures_does_not_reveal_the_clients_who_did_not_leave() -> None:
    control = release(CLOSURES, BY_POPULATION)
    served_adults = published(control, "served_age_group", "tims_age_group", ("adult",))
    goals_met = published(control, "closed_reason", "otip_closure_reason", ("tvap", "goals_met"))
    on_request = published(
        control, "closed_reason", "otip_closure_reason", ("tvap", "client_request")
    )
    assert (served_adults, goals_met, on_request) == (
        40,
        20,
        12,
    )  # each system's audit let them through
    outsider = joint(
        control
    )  # the outsider knows the clients who left are among the clients served
    assert link_interval(outsider, NOT_LEAVING) == (8, 8)
    assert not audit(outsider, SOLVER).ok

    assert_the_linked_job_protects(CLOSURES, NOT_LEAVING)


def _linked_by_age_group(monkeypatch: pytest.MonkeyPatch) -> None:
    """A link without the age band: age group, each band coarsened to its group."""
    dimensions = {
        ("age_group" if name == "age_band" else name): codes
        for name, codes in families.LINK_DIMENSIONS.items()
    }
    dimensions["age_group"] = ("adult", "minor", "not_tracked")
    link_codes = Family.link_codes

    def coarsened(family: Family, codes: dict[str, str]) -> dict[str, Any]:
        fixed = link_codes(family, codes)
        if "age_band" in fixed:
            bands = fixed.pop("age_band")
            [group] = {
                AGE_GROUP_OF_BAND[b] for b in ((bands,) if isinstance(bands, str) else bands)
            }
            fixed["age_group"] = group
        return fixed

    for module in (families, inputs):  # the link's counts, and the link the families map to
        monkeypatch.setattr(module, "LINK_DIMENSIONS", dimensions)
    monkeypatch.setattr(families, "LINK_UNIONS", ())
    monkeypatch.setattr(Family, "link_codes", coarsened)


def test_new_victims_by_band_minus_entries_by_band_does_not_reveal_the_teenagers_who_did_not_enter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Control: every family linked, but through the age group only (the link before this one).
    with monkeypatch.context() as patched:
        _linked_by_age_group(patched)
        control = release(BANDS, LINKED)
    new_teens = published(control, "served_age_band", "voca_new_by_age", ("12-17",))
    entering_teens = published(
        control, "entered_age_band", "otip_program_entry_age", ("tvap", "12-17")
    )
    assert (new_teens, entering_teens) == (
        15,
        12,
    )  # both published: the group-linked audit let them through
    outsider = joint(control)  # the outsider knows both count the same teenagers
    assert link_interval(outsider, TEENS_NOT_ENTERING) == (3, 3)
    assert not audit(outsider, SOLVER).ok

    assert_the_linked_job_protects(BANDS, TEENS_NOT_ENTERING)
