"""The codebook's families released together: their tables, their ledgers as one linked
system, the split of today's counts over record vintages, and their protection.

Each family (`domain.reporting.federal_families`) is a block of one `Linked` system over the
same people; a release protects every family it covers against every publication of the
fiscal year (`protect_families`). Pure: the ledger's rows come in as `FamilyState`s and the
true counts as `BaseCounts` (`domain.reporting.inputs`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from domain.reporting import vintages
from domain.reporting.federal_codebook import (
    CATEGORIES,
    GROUPINGS,
    LINK_DIMENSIONS,
    LINK_UNIONS,
    SENSITIVE,
    VERSION,
    WITHHELD,
    Family,
    TableSpec,
)
from domain.reporting.inputs import LINK, BaseCounts
from domain.reporting.integer_programs import IntegerProgram, IntegerSolver, LinearSystem, Row
from domain.reporting.ledger import Ledger, Publication
from domain.reporting.linked import Linked
from domain.reporting.periods import Period
from domain.reporting.stored import merge_universe
from domain.reporting.suppression import MinimumUnit, Policy, protect_linked
from domain.reporting.tables import TOTAL, Atom, Classification, Release, Selection, Table, Universe

MINIMUM_UNIT = 30  # clients of one organisation in a table; below it only the mandatory total
ROLL_UP = "all"
BASE_DIMENSIONS = ("organisation", "quarter", "vintage")


class NoVintageSplit(ValueError):
    """Today's counts contradict the ledger in a way no late record, erasure or correction
    explains."""


def _classification(family: Family, spec: TableSpec, dimension: str) -> Classification:
    """The classification `spec` breaks down by: a dimension's own codes, or a grouping of a
    dimension's codes named in `GROUPINGS` (the funnel's stages)."""
    if dimension in GROUPINGS:
        of, named = GROUPINGS[dimension]
        return Classification.grouping(dimension, of, named)
    groups: dict[str, list[str]] = {code: [code] for code in CATEGORIES[dimension]}
    if spec.not_reported is not None and dimension in family.consent_gated:
        groups[spec.not_reported].append(WITHHELD)
    return Classification.grouping(dimension, dimension, groups)


def family_tables(
    family: Family, universe: Universe, period: Period, organisations: Sequence[str]
) -> tuple[Table, ...]:
    """The family's tables for a period and a set of organisations (one, or all for the roll-up).
    A mandatory table's grand total is the table's mandatory cell: it survives the minimum
    unit, and it is withheld only when nothing else protects the release."""
    tables = []
    for spec in family.tables:
        if spec.period == "grant_year":
            if not period.ends_fiscal_year:
                continue
            quarters: Sequence[str] = period.fiscal_quarters
        elif spec.period == "ytd":
            quarters = period.year_to_date
        else:
            quarters = (period.label,)
        where: dict[str, Any] = {
            "organisation": list(organisations),
            "quarter": list(quarters),
            "vintage": list(vintages.current(universe.dimension("vintage").codes)),
        }
        for dimension, codes in spec.where:
            where[dimension] = list(codes)
        by = [_classification(family, spec, d) for d in spec.by]
        mandatory = [tuple(TOTAL for _ in by)] if spec.mandatory else []
        sensitive = [d for d in spec.by if d in SENSITIVE]
        tables.append(
            Table.of(spec.name, by, where=where, sensitive=sensitive, mandatory=mandatory)
        )
    return tuple(tables)


def cell_truth(universe: Universe, base: BaseCounts, selection: Sequence[frozenset[str]]) -> int:
    """A cell's value today, over every vintage (base counts carry no vintage)."""
    names = [d.name for d in universe.dimensions]
    checks = [
        (i, selection[names.index(n)])
        for i, n in enumerate(["organisation", "quarter", *names[3:]])
    ]
    return sum(count for key, count in base.items() if all(key[i] in codes for i, codes in checks))


def published_still_true(universe: Universe, base: BaseCounts, publication: Publication) -> bool:
    return all(
        value is None or cell_truth(universe, base, publication.selections[ref]) == value
        for ref, value in publication.cells.items()
    )


def split_vintages(
    linked: Linked, bases: Sequence[BaseCounts], solver: IntegerSolver
) -> tuple[list[dict[Atom, int]], dict[Atom, int]] | None:
    """Today's counts spread over the vintages so that every published number holds, for every
    block of linked ledgers and their link at once (the same split of the same people): each
    count of today over the lifetimes alive today, and any count over the lifetimes gone (the
    versions erased or corrected since, which only the published numbers bound).

    `bases`: one per block, then the link's. Returns each block's atom counts and the link's;
    None if there is no such split."""
    universes = [b.universe for b in linked.blocks] + (
        [linked.link] if linked.link is not None else []
    )
    codes = universes[0].dimension(vintages.DIMENSION).codes
    alive = vintages.current(codes)
    newest = vintages.newest(codes)
    latest = [
        {(*key[:2], newest, *key[2:]): count for key, count in base.items() if count}
        for base in bases
    ]
    rows = linked.rows()
    if not any(b.publications for b in linked.blocks):
        return latest[: len(linked.blocks)], (latest[-1] if linked.link is not None else {})
    if len(codes) == 1:
        truth = linked.vector(
            latest[: len(linked.blocks)], latest[-1] if linked.link is not None else None
        )
        if not all(row.holds(truth) for row in rows):
            return None
        return latest[: len(linked.blocks)], (latest[-1] if linked.link is not None else {})
    gone = [code for code in codes if code not in alive]
    bound = max(
        (abs(row.low) for row in rows if row.low is not None and row.low == row.high), default=0
    )
    upper = [0] * linked.size
    sums = []
    offsets = linked.offsets[: len(universes)]  # without a link: no offset past the blocks
    for universe, offset, base in zip(universes, offsets, bases, strict=True):
        if gone:
            for index in universe.indices(universe.select({vintages.DIMENSION: gone})):
                upper[offset + index] = bound  # versions gone since: at most any number published
        for key, count in base.items():
            if not count:
                continue
            atoms = [offset + universe.index((*key[:2], v, *key[2:])) for v in alive]
            for a in atoms:
                upper[a] = count
            sums.append(Row(tuple(sorted((a, 1) for a in atoms)), count, count))
    system = LinearSystem((0,) * linked.size, tuple(upper), tuple(rows + sums))
    point = solver.solve(IntegerProgram(system))
    if point is None or not system.holds(point):
        return None
    split = []
    for universe, offset in zip(universes, offsets, strict=True):
        split.append(
            {
                universe.atom(i): int(point[offset + i])
                for i in range(universe.size)
                if point[offset + i]
            }
        )
    return split[: len(linked.blocks)], (split[-1] if linked.link is not None else {})


@dataclass
class FamilyState:
    family: Family
    fiscal_year: int
    publications: list[Publication] = field(default_factory=list)
    stored_universes: list[dict[str, list[str]]] = field(default_factory=list)
    release_numbers: list[int] = field(default_factory=list)

    def universe(
        self, organisations: Sequence[str], shared: Sequence[Mapping[str, Sequence[str]]] = ()
    ) -> Universe:
        """Every code the ledger knows and today's organisations.
        `shared`: codes of the base dimensions the linked families use (the same for all)."""
        fresh: dict[str, list[str]] = {
            "organisation": sorted(organisations),
            "quarter": list(Period(self.fiscal_year, 3).fiscal_quarters),
            "vintage": [vintages.FIRST],
            **{d: list(self.family.codes(d)) for d in self.family.dimensions},
        }
        return merge_universe(
            (*BASE_DIMENSIONS, *self.family.dimensions), [*self.stored_universes, fresh, *shared]
        )

    def ledger(self, universe: Universe) -> Ledger:
        """The family's ledger over `universe`, each publication counting the vintages alive
        when it was made."""
        return Ledger(
            universe,
            tuple(vintages.widened(p, universe) for p in self.publications),
            vintages.DIMENSION,
            "organisation",
        )


@dataclass(frozen=True)
class FamilyRelease:
    family: Family
    universe: Universe
    publication: Publication
    ledger: Ledger
    targets: int  # of the joint audit (counted once: on the first released family)
    solves: int


def releases_now(family: Family, period: Period) -> bool:
    return period.ends_fiscal_year or any(spec.period != "grant_year" for spec in family.tables)


# a new era of vintages: late records; late records and departures
NewEra = Literal["late", "corrected"]


def linked_families(
    states: Sequence[FamilyState], organisations: Sequence[str], new_era: NewEra | None = None
) -> Linked:
    """The ledgers of the families as blocks of one `Linked` system: the same
    organisation, quarter and vintage codes for all, and a link universe of the `LINK_DIMENSIONS`
    some family fixes (`Family.link_codes`), each atom of each family mapped to its link cell.
    A family that counts a population of its own (`Family.linked` false: the screenings) is a
    block with no link cell: nothing glues it to the clients' families. Without any linked
    family there is no link. `new_era`: open one more era of vintages
    (`domain.reporting.vintages.opened`)."""
    shared: dict[str, list[str]] = {
        "organisation": sorted(organisations),
        "quarter": list(Period(states[0].fiscal_year, 3).fiscal_quarters),
        "vintage": [vintages.FIRST],
    }
    base = merge_universe(
        BASE_DIMENSIONS, [*(u for st in states for u in st.stored_universes), shared]
    )
    codes = {d.name: list(d.codes) for d in base.dimensions}
    if new_era is not None:
        codes["vintage"] = list(
            vintages.opened(codes["vintage"], departures=new_era == "corrected")
        )
    universes = [st.universe(organisations, shared=[codes]) for st in states]
    per_atom: list[list[dict[str, str | tuple[str, ...]]] | None] = []
    used: set[str] = set()
    for state, universe in zip(states, universes, strict=True):
        if not state.family.linked:
            per_atom.append(None)
            continue
        names = state.family.dimensions
        fixed: list[dict[str, str | tuple[str, ...]]] = []
        for atom in universe.atoms():
            link_codes = state.family.link_codes(dict(zip(names, atom[3:], strict=True)))
            used |= set(link_codes)
            fixed.append(
                {"organisation": atom[0], "quarter": atom[1], "vintage": atom[2], **link_codes}
            )
        per_atom.append(fixed)
    blocks = tuple(st.ledger(u) for st, u in zip(states, universes, strict=True))
    if all(block is None for block in per_atom):
        return Linked(blocks)
    link_names = [d for d in LINK_DIMENSIONS if d in used]
    link = merge_universe(
        (*BASE_DIMENSIONS, *link_names),
        [{**codes, **{d: list(LINK_DIMENSIONS[d]) for d in link_names}}],
    )
    cache: dict[tuple[tuple[str, str | tuple[str, ...]], ...], Selection] = {}
    cells: list[tuple[Selection | None, ...]] = []
    for block_fixed, universe in zip(per_atom, universes, strict=True):
        if block_fixed is None:
            cells.append((None,) * universe.size)
            continue
        row = []
        for where in block_fixed:
            key = tuple(sorted(where.items()))
            if key not in cache:
                cache[key] = link.select(where)
            row.append(cache[key])
        cells.append(tuple(row))
    unions = tuple((name, groups) for name, groups in LINK_UNIONS if name in link_names)
    return Linked(blocks, link, tuple(cells), unions)


def link_base(linked: Linked, full: BaseCounts) -> BaseCounts:
    """Link counts (organisation, quarter, every LINK_DIMENSIONS code) summed to the link's
    dimensions."""
    assert linked.link is not None
    names = [d.name for d in linked.link.dimensions[3:]]
    positions = [list(LINK_DIMENSIONS).index(n) for n in names]
    out: dict[tuple[str, ...], int] = defaultdict(int)
    for key, count in full.items():
        out[(key[0], key[1], *(key[2 + i] for i in positions))] += count
    return dict(out)


def protect_families(
    states: Sequence[FamilyState],
    counts: Mapping[str, BaseCounts],
    period: Period,
    scope: str,
    release_name: str,
    solver: IntegerSolver,
    organisations: Sequence[str],
) -> list[FamilyRelease]:
    """Protect families together: one release per family this release covers, in the order of
    `states`. The linked families (every family in `states` that counts the clients, those
    released before this fiscal year included) are audited as one `Linked` system; a family of
    a population of its own (`Family.linked` false) is audited alone against its own ledger —
    the two systems share no unknown, so auditing them apart is as exact as together."""
    order = {st.family.name: i for i, st in enumerate(states)}
    groups = [[st for st in states if st.family.linked]]
    groups += [[st] for st in states if not st.family.linked]
    out = [
        released
        for group in groups
        if group
        for released in _protect_group(
            group, counts, period, scope, release_name, solver, organisations
        )
    ]
    return sorted(out, key=lambda fr: order[fr.family.name])


def _protect_group(
    states: Sequence[FamilyState],
    counts: Mapping[str, BaseCounts],
    period: Period,
    scope: str,
    release_name: str,
    solver: IntegerSolver,
    organisations: Sequence[str],
) -> list[FamilyRelease]:
    organisations = sorted(organisations)
    linked = linked_families(states, organisations)

    def bases(linked: Linked) -> list[BaseCounts]:
        blocks = [counts[st.family.name] for st in states]
        return blocks + ([link_base(linked, counts[LINK])] if linked.link is not None else [])

    split = split_vintages(linked, bases(linked), solver)
    for new_era in get_args(
        NewEra
    ):  # late data contradicts a published number: a new era of vintages
        if split is not None:
            break
        linked = linked_families(states, organisations, new_era)
        split = split_vintages(linked, bases(linked), solver)
    if split is None:
        raise NoVintageSplit(
            "today's counts contradict the ledger in a way no late record, erasure or "
            "correction explains: the release needs the manual review described in the README"
        )
    truths, link_truth = split
    releases: list[Release | None] = []
    for state, block in zip(states, linked.blocks, strict=True):
        if not releases_now(state.family, period):
            releases.append(None)
            continue
        chosen = (
            [scope] if scope != ROLL_UP else list(block.universe.dimension("organisation").codes)
        )
        releases.append(
            Release(
                release_name, VERSION, family_tables(state.family, block.universe, period, chosen)
            )
        )
    policy = Policy(minimum_unit=MinimumUnit("organisation", MINIMUM_UNIT))
    # ReleaseRefused passes up
    protected = protect_linked(linked, releases, truths, link_truth, solver, policy)
    out: list[FamilyRelease] = []
    for i, (state, publication) in enumerate(zip(states, protected.publications, strict=True)):
        if publication is None:
            continue
        first = not out
        out.append(
            FamilyRelease(
                state.family,
                linked.blocks[i].universe,
                publication,
                protected.linked.blocks[i],
                protected.audit.targets if first else 0,
                protected.audit.solves if first else 0,
            )
        )
    return out


def organisations_in(counts: Mapping[str, BaseCounts], scope: str) -> list[str]:
    found = {key[0] for family in counts.values() for key in family}
    return sorted(found | ({scope} if scope != ROLL_UP else set()))
