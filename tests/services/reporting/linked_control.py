"""The control of the linked-family attacks: every family protected on its own (each family's
ledger audited alone, with no link), and the outsider who combines them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import asyncpg

from domain.reporting.audit import ledger_system
from domain.reporting.families import (
    MINIMUM_UNIT,
    ROLL_UP,
    FamilyState,
    family_tables,
    linked_families,
    organisations_in,
    releases_now,
)
from domain.reporting.federal_codebook import VERSION
from domain.reporting.federal_families import FAMILIES
from domain.reporting.integer_programs import IntegerProgram
from domain.reporting.ledger import Ledger, terms_of
from domain.reporting.linked import Linked
from domain.reporting.periods import Period
from domain.reporting.stored import universe_to_json
from domain.reporting.suppression import MinimumUnit, Policy, protect
from domain.reporting.tables import Release
from services.reporting.true_counts import read_true_counts
from tests.services.reporting.conftest import SOLVER


async def per_family_releases(
    pool: asyncpg.Pool, releases: Iterable[tuple[str, str | None]], horizon: str = "2026Q4"
) -> tuple[dict[str, FamilyState], dict[str, Ledger]]:
    """Each (period, org) released with no link between families: every family protected
    against its own ledger only (each returned ledger passed its own audit). No revisions (no
    late data): one vintage."""
    states: dict[str, FamilyState] = {}
    ledgers: dict[str, Ledger] = {}
    for label, org in releases:
        period = Period.parse(label)
        scope = org or ROLL_UP
        async with pool.acquire() as conn:
            counts = await read_true_counts(conn, period, horizon)
        organisations = organisations_in(counts, scope)
        for family in FAMILIES:
            if not releases_now(family, period):
                continue
            state = states.setdefault(family.name, FamilyState(family, period.fiscal_year))
            universe = state.universe(organisations)
            chosen = [scope] if scope != ROLL_UP else list(universe.dimension("organisation").codes)
            release = Release(
                f"{label}/{scope}", VERSION, family_tables(family, universe, period, chosen)
            )
            truth = {(*key[:2], "v0", *key[2:]): c for key, c in counts[family.name].items() if c}
            protected = protect(
                state.ledger(universe),
                release,
                truth,
                SOLVER,
                Policy(minimum_unit=MinimumUnit("organisation", MINIMUM_UNIT)),
            )
            state.publications.append(protected.publication)
            ledgers[family.name] = protected.ledger
            state.stored_universes.append(
                {name: list(codes) for name, codes in universe_to_json(universe)}
            )
    return states, ledgers


def joint(states: Mapping[str, FamilyState]) -> Linked:
    """What an outsider holds: every family's published numbers and that they
    count the same people."""
    members = [states[f.name] for f in FAMILIES if f.name in states]
    organisations = sorted(
        {o for st in members for u in st.stored_universes for o in u["organisation"]}
    )
    return linked_families(members, organisations)


def link_interval(linked: Linked, where: Mapping[str, str | Sequence[str]]) -> tuple[int, int]:
    """The outsider's range of a count of people in a link cell (say non-consenting minors)."""
    assert linked.link is not None
    system = ledger_system(linked)
    terms = terms_of(linked.link, [(linked.link.select(where), 1)], linked.offsets[-1])
    low = SOLVER.solve(IntegerProgram(system, (), terms, maximise=False))
    high = SOLVER.solve(IntegerProgram(system, (), terms, maximise=True))
    assert low is not None and high is not None
    return sum(c * low[v] for v, c in terms), sum(c * high[v] for v, c in terms)


def block_interval(
    linked: Linked, family: str, where: Mapping[str, str | Sequence[str]]
) -> tuple[int, int]:
    """The outsider's range of a count of one family's atoms (say new clients of one age band)."""
    present = [
        f.name
        for f in FAMILIES
        if any(
            tuple(d.name for d in b.universe.dimensions[3:]) == f.dimensions
            and {t.name for p in b.publications for t in p.release.tables}
            <= {t.name for t in f.tables}
            for b in linked.blocks
        )
    ]
    index = present.index(family)
    universe = linked.blocks[index].universe
    system = ledger_system(linked)
    terms = terms_of(universe, [(universe.select(where), 1)], linked.offsets[index])
    low = SOLVER.solve(IntegerProgram(system, (), terms, maximise=False))
    high = SOLVER.solve(IntegerProgram(system, (), terms, maximise=True))
    assert low is not None and high is not None
    return sum(c * low[v] for v, c in terms), sum(c * high[v] for v, c in terms)
