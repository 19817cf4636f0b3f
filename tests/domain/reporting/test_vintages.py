"""Record lifetimes as vintage codes: what a release made in an era counts, and how eras open."""

from __future__ import annotations

import pytest

from domain.reporting import vintages
from domain.reporting.ledger import Publication
from domain.reporting.tables import Classification, Dimension, Release, Table, Universe


def test_a_release_counts_the_versions_alive_in_its_era() -> None:
    codes = ("v0", "v1", "v0-1", "v2", "v0-2", "v1-2")
    assert vintages.alive(codes, 0) == ("v0", "v0-1", "v0-2")
    assert vintages.alive(codes, 1) == ("v0", "v1", "v0-2", "v1-2")
    assert vintages.current(codes) == ("v0", "v1", "v2")


def test_an_era_opens_with_its_late_records_and_only_on_demand_with_departures() -> None:
    assert vintages.opened(("v0",), departures=False) == ("v0", "v1")
    assert vintages.opened(("v0",), departures=True) == ("v0", "v1", "v0-1")
    # a lifetime that ended already cannot end again
    assert vintages.opened(("v0", "v1", "v0-1"), departures=True) == (
        "v0",
        "v1",
        "v0-1",
        "v2",
        "v0-2",
        "v1-2",
    )


@pytest.mark.parametrize("code", ["v", "w0", "v1-1", "v2-1", "v0-", "v0-1-2"])
def test_a_code_that_is_not_a_lifetime_is_refused(code: str) -> None:
    with pytest.raises(ValueError):
        vintages.lifetime(code)


def test_an_old_publication_is_widened_to_the_versions_it_counted_that_have_gone_since() -> None:
    then = Universe((Dimension("vintage", ("v0",)), Dimension("kind", ("a", "b"))))
    table = Table.of("t", [Classification.of(then.dimension("kind"))], where={"vintage": ["v0"]})
    release = Release("r", "1", (table,))
    publication = Publication.of(then, release, {("t", key): 1 for key in table.keys()})
    later = Universe((Dimension("vintage", ("v0", "v1", "v0-1")), Dimension("kind", ("a", "b"))))
    widened = vintages.widened(publication, later)
    assert {s[0] for s in widened.selections.values()} == {frozenset({"v0", "v0-1"})}
    assert (
        vintages.widened(widened, later).selections == widened.selections
    )  # already as wide as it gets
    # control: a publication made in era 1 did not count the versions gone by then
    made_in_era_one = Publication.of(
        later,
        Release(
            "r1",
            "1",
            (
                Table.of(
                    "t",
                    [Classification.of(then.dimension("kind"))],
                    where={"vintage": ["v0", "v1"]},
                ),
            ),
        ),
        {("t", key): 1 for key in table.keys()},
    )
    assert vintages.widened(made_in_era_one, later).selections == made_in_era_one.selections
