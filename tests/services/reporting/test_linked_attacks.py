"""Attack of REFERENCE §3: *linked tables over the same people*, across codebook families.

Each test takes a release of the demo data twice. Control: every family protected against its
own ledger only, with no link (`linked_control.per_family_releases`):
every family's own audit passes, yet an outsider who combines two families — they count the
same clients — derives a count 1..10, by hand from the published numbers and by the exact
joint system (`linked.Linked`). Then the real job: its link-group audit passes over everything
stored, and the same count is not derivable.
"""

from __future__ import annotations

import asyncpg
import pytest

from domain.reporting.audit import audit
from services.reporting.job import FederalReportJob
from tests.services.reporting.conftest import SOLVER
from tests.services.reporting.linked_control import (
    block_interval,
    joint,
    link_interval,
    per_family_releases,
)
from tests.services.reporting.support import audit_whole_ledger, stored_linked

pytestmark = pytest.mark.slow


def cells(states, family: str) -> dict:  # noqa: ANN001
    return dict(states[family].publications[-1].cells)


def small(interval: tuple[int, int]) -> bool:
    return 1 <= interval[0] and interval[1] <= 10


async def test_tims_minors_minus_voca_new_minors_across_families_does_not_reveal_new_children(
    job: FederalReportJob, pool: asyncpg.Pool
) -> None:
    period, org = (
        "2025Q4",
        "org-meadow",
    )  # the first quarter of the fiscal year: every client is new
    where = {"organisation": org, "quarter": period, "newness": "new"}

    states, own = await per_family_releases(pool, [(period, org)])
    tims, voca = cells(states, "served_age_group"), cells(states, "served_age_band")
    for family in (
        "served_age_group",
        "served_age_band",
    ):  # each family's own audit lets it through
        assert audit(own[family], SOLVER).ok
    assert voca[("voca_new_continuing", ("continuing",))] == 0
    assert (
        voca[("voca_new_by_age", ("0-11",))] is None and voca[("voca_new_by_age", ("50+",))] is None
    )
    # by hand: consenting minors (TIMS) - consenting new 12-17 (VOCA) = new children 0-11
    assert (
        tims[("tims_age_group", ("minor",))] - voca[("voca_new_by_age", ("12-17",))] == 18 - 16 == 2
    )
    adults = sum(voca[("voca_new_by_age", (band,))] for band in ("18-24", "25-34", "35-49"))
    assert tims[("tims_age_group", ("adult",))] - adults == 85 - 75 == 10  # new clients aged 50+
    control = joint(states)
    assert block_interval(control, "served_age_band", {**where, "age_band": "0-11"}) == (2, 2)
    assert block_interval(control, "served_age_band", {**where, "age_band": "50+"}) == (10, 10)
    assert not audit(control, SOLVER).ok

    await job.run(period, org)
    assert await audit_whole_ledger(pool) == []
    linked = (await stored_linked(pool))[2026]
    assert not small(block_interval(linked, "served_age_band", {**where, "age_band": "0-11"}))
    assert not small(block_interval(linked, "served_age_band", {**where, "age_band": "50+"}))


async def test_the_withheld_count_pinned_by_one_family_never_opens_another_familys_folded_category(
    job: FederalReportJob, pool: asyncpg.Pool
) -> None:
    """VOCA's "not tracked" holds the clients without consent too; its complementary suppression
    relied on their number being unknown, but TIMS clients served minus the consenting total of
    any TIMS breakdown (another family) gives it."""
    period = "2025Q4"
    states, own = await per_family_releases(pool, [(period, None)])
    for family in (
        "served_age_group",
        "served_age_band",
    ):  # each family's own audit lets it through
        assert audit(own[family], SOLVER).ok
    age_group, age_band = cells(states, "served_age_group"), cells(states, "served_age_band")
    served, consenting = (
        age_group[("tims_clients_served", ())],
        age_group[("tims_age_group", ("*",))],
    )
    assert (served, consenting) == (576, 431)
    assert age_band[("voca_new_continuing", ("continuing",))] == 0
    assert age_group[("tims_age_group", ("not_tracked",))] is None  # suppressed: 1..10
    not_tracked = age_band[
        ("voca_new_by_age", ("not_tracked",))
    ]  # consenting not tracked + every withheld
    assert not_tracked - (served - consenting) == 146 - 145 == 1
    control = joint(states)
    organisations = list(control.link.dimension("organisation").codes)
    assert link_interval(
        control, {"organisation": organisations, "quarter": period, "consent": "no"}
    ) == (145, 145)
    assert link_interval(
        control,
        {
            "organisation": organisations,
            "quarter": period,
            "consent": "yes",
            "age_band": "not_tracked",
        },
    ) == (1, 1)
    assert not audit(control, SOLVER).ok

    await job.run(period)
    assert await audit_whole_ledger(pool) == []
    linked = (await stored_linked(pool))[2026]
    organisations = list(linked.link.dimension("organisation").codes)
    assert not small(
        link_interval(
            linked,
            {
                "organisation": organisations,
                "quarter": period,
                "consent": "yes",
                "age_band": "not_tracked",
            },
        )
    )
