"""The federal reporting job: de-identified quarterly aggregates, protected and recorded.

`FederalReportJob.run(period, org)` returns the JSON document of a release:
``{"period", "codebook_version", "tables": [{"name", "program", "coverage", "cells": [{"dims",
"count"}]}], "certificate"}``, ``count: null`` where a cell is suppressed. Steps:

1. **Connect as the reporting role.** Everything runs on one connection that logs in as
   ``haven_reporting`` (`reporting_connection`): `HAVEN_REPORTING_DATABASE_URL`, or by
   default the application's server and database as that user (`Settings.reporting_url`). Its own
   session, never the application's with a role set on it, which RESET ROLE would undo. That
   role reads ``reporting.*`` and the ledger and nothing else (migrations 0004, 0010), so the
   job cannot read events, keys or case views.
2. **Refuse what is not final.** A period after the horizon of ``reporting.federal_inputs``,
   or the horizon quarter itself (still running), or a period before any data, is refused
   (`PeriodUnavailable`).
3. **True atoms.** One aggregate query over the period's fiscal year to date (never a row,
   never the subject) gives, per codebook family (`domain.reporting.federal_codebook`), the
   counts of organisation x quarter x the family's dimensions.
4. **Vintages.** Each family's universe has a `vintage` dimension of record lifetimes
   (`domain.reporting.vintages`). Late data that contradicts numbers already released (a late
   intake in a released quarter, an erasure, a corrected category, a withdrawn consent) cannot
   be the same atoms as the original release (the ledger would be inconsistent), so the job
   looks for a split of today's counts over the known lifetimes that satisfies every published
   number (`split_vintages`); if there is none it opens a new era: first with the records that
   arrived since (`vN`), and if that is not enough, also with the departures of the versions
   counted before (`vI-N`: erased or corrected since). A revision is then a release over the
   lifetimes alive now, audited with its original over those alive then, and with the change
   of every cell between the two (`domain.reporting.audit.difference_targets`). Only counts
   no late record or departure explains (none should exist) are refused: `RevisionNeedsReview`.
5. **Protect.** Every family together (they count the same people: see "Links" in
   `domain.reporting.federal_codebook`), `domain.reporting.suppression.protect_linked` against
   the whole ledger (every family's every release of the fiscal year: quarters, year-to-date,
   organisations, roll-ups, revisions), the families glued by link counts (`linked_families`,
   read in the same aggregate query), k = 11, a minimum reporting unit per organisation
   (`MINIMUM_UNIT` clients: below it a table releases only its mandatory grand total). The
   families share their vintages (split jointly). A cell that cannot be published safely is
   suppressed — a funder's mandatory total *withheld*, marked so in the document and listed
   in the certificate — and the rest is released; only a ledger that gives a count away on
   its own refuses the release (`ReportRefused`).
6. **Record.** The release row (the document itself) and one publication per family are
   inserted in the same transaction, under an advisory lock, so two jobs take turns.
7. **Re-runs.** A period already released for a scope is returned from the ledger as stored
   (byte-identical JSON, nothing written) unless late data changed one of its published
   numbers; then an audited revision is released (`revision` 1, 2, ...).

The differential-privacy mode (`services.reporting.dp`) plugs in at `true_tables`: every
table's fixed cells with their true counts, in the output's shape, for a method that returns
what it publishes in the same shape. It is not wired to the CLI or API by this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import hashlib
import json
import re
from collections import defaultdict
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Literal, get_args

import asyncpg

from domain.reporting import periods, vintages
from domain.reporting.audit import (
    IntegerProgram,
    IntegerSolver,
    Ledger,
    LinearSystem,
    Linked,
    Publication,
    Row,
)
from domain.reporting.federal_codebook import (
    AGE_GROUP_OF_BAND,
    CATEGORIES,
    FAMILIES,
    LINK_DIMENSIONS,
    LINK_UNIONS,
    PROGRAM_OF_CITIZENSHIP,
    SENSITIVE,
    SERVICE_CATEGORIES,
    VERSION,
    WITHHELD,
    Family,
    TableSpec,
)
from domain.reporting.periods import Period, index_of
from domain.reporting.suppression import MinimumUnit, Policy, ReleaseRefused, protect_linked
from domain.reporting.tables import TOTAL, Atom, Classification, Release, Selection, Table, Universe
from services.reporting.solver import HighsSolver
from services.reporting.document import (
    WITHHELD_NOTE,
    DocumentError,
    cell_dims,
    render,
    table_entry,
    withheld_cells,
)
from services.reporting.ledger import (
    merge_universe,
    publication_from_json,
    publication_to_json,
    stored_universe,
)

REPORTING_ROLE = "haven_reporting"
MINIMUM_UNIT = 30  # clients of one organisation in a table; below it only the mandatory total
LEDGER_LOCK = 1214346854  # pg_advisory_xact_lock: one release at a time
ROLL_UP = "all"
BASE_DIMENSIONS = ("organisation", "quarter", "vintage")


# -- errors ---------------------------------------------------------------------------------------

class ReportError(Exception):
    """A report that cannot be released; the message names no count, code or identifier."""


class InvalidPeriod(ReportError):
    pass


class PeriodUnavailable(ReportError):
    pass


class ReportRefused(ReportError):
    pass


class RevisionNeedsReview(ReportError):
    pass


class ModeConflict(ReportError):
    """The period was released in the other mode (suppression, or differential privacy): the
    two of one period would combine into counts neither protects. Says nothing about the data."""


async def refuse_other_mode(conn: asyncpg.Connection, period: Period, mode: str) -> None:
    """One mode per period: `ModeConflict` if it was released in the mode other than `mode`
    ("suppression" or "differential-privacy")."""
    other = ("SELECT EXISTS (SELECT FROM dp.releases WHERE period = $1)" if mode == "suppression" else
             "SELECT EXISTS (SELECT FROM reporting_ledger.releases WHERE period = $1)")
    if await conn.fetchval(other, period.label):
        released, asked = (("differential privacy", "suppression") if mode == "suppression"
                           else ("suppression", "differential privacy"))
        raise ModeConflict(f"{period.label} was released under {released}; it is not also released under {asked}")


# -- periods --------------------------------------------------------------------------------------

def parse_period(label: str) -> Period:
    """The period of a label (`InvalidPeriod`, a `ReportError`, if it is none)."""
    try:
        return Period.parse(label)
    except periods.InvalidPeriod as error:
        raise InvalidPeriod(str(error)) from None


# -- connection -----------------------------------------------------------------------------------

@contextlib.asynccontextmanager
async def reporting_connection(reporting_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection in a transaction, logged in as role haven_reporting: its own session, not
    the application's with a role set on it (which RESET ROLE would undo)."""
    try:
        conn = await asyncpg.connect(reporting_url)
    except (asyncpg.InvalidAuthorizationSpecificationError, asyncpg.InvalidPasswordError):
        raise PeriodUnavailable("the reporting role cannot log in: set HAVEN_REPORTING_DATABASE_URL "
                                "(README, Federal reporting)") from None
    try:
        if await conn.fetchval("SELECT session_user") != REPORTING_ROLE:
            raise PeriodUnavailable("HAVEN_REPORTING_DATABASE_URL must log in as haven_reporting")
        async with conn.transaction():
            yield conn
    finally:
        await conn.close()


# -- code version ---------------------------------------------------------------------------------

@functools.cache
def code_version() -> dict[str, str | None]:
    """The installed package's version, and the commit it was installed from when the package
    metadata records one (PEP 610 `direct_url.json`, an install from a VCS URL): nothing is run."""
    try:
        distribution = metadata.distribution("haven")
    except metadata.PackageNotFoundError:
        return {"package": None, "commit": None}
    try:
        commit = json.loads(distribution.read_text("direct_url.json") or "{}").get("vcs_info", {}).get("commit_id")
    except (ValueError, AttributeError):
        commit = None
    valid = isinstance(commit, str) and re.fullmatch(r"[0-9a-f]{40}", commit) is not None
    return {"package": distribution.version, "commit": commit if valid else None}


# -- true counts ----------------------------------------------------------------------------------

_GROUP_COLUMNS = ("organisation", "quarter", "new_in_fiscal_year", "entered", "entry_type", "closed",
                  "closure_reason", "living_situation", "referred_on", "victim_status", "trafficking_type",
                  "age_group", "age_band", "gender", "citizenship", "statistics_consent", "enrolled_at_end",
                  "obtained_continued_presence", "obtained_t_visa", "obtained_hhs_letter")

BaseCounts = dict[tuple[str, ...], int]  # (organisation, quarter, *family dimensions) -> clients


def _code(value: Any, dimension: str) -> str:
    """A column value as a codebook category; anything the codebook does not list is 'other'-folded."""
    codes = CATEGORIES[dimension]
    if isinstance(value, bool):
        value = "yes" if value else "no"
    if value in codes:
        return value
    for fallback in ("other", "not_reported", "unknown", "not_tracked"):
        if fallback in codes:
            return fallback
    raise ReportError(f"a value of {dimension} is outside the codebook")


def _family_key(family: Family, row: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The atom (without vintage) of one aggregated input row in a family, or None if not in it."""
    population = family.population
    if population == "entered" and not row["entered"]:
        return None
    if population == "closed" and not row["closed"]:
        return None
    if population == "grant_year" and not row["new_in_fiscal_year"]:
        return None
    consent = row["statistics_consent"]
    codes = []
    for dimension in family.dimensions:
        if dimension in family.consent_gated and not consent:
            codes.append(WITHHELD)
            continue
        if dimension == "newness":
            value = "new" if row["new_in_fiscal_year"] else "continuing"
        elif dimension == "program":
            value = PROGRAM_OF_CITIZENSHIP.get(row["citizenship"], "not_assigned")
        elif dimension == "exit":
            value = "stayer" if row["enrolled_at_end"] else "leaver"
        elif dimension == "obtained":
            value = bool(row[f"obtained_{family.name.removeprefix('grant_year_')}"])
        else:
            value = row[dimension]
        codes.append(_code(value, dimension))
    return (row["organisation"], row["quarter"], *codes)


LINK = "link"  # the link's counts in `read_true_counts`' result


def _link_key(row: Mapping[str, Any]) -> tuple[str, ...]:
    """The link atom (without vintage) of one aggregated input row: (organisation, quarter,
    *every LINK_DIMENSIONS code); every row is a client served in its quarter."""
    band, group = _code(row["age_band"], "age_band"), _code(row["age_group"], "age_group")
    if AGE_GROUP_OF_BAND[band] != group:
        raise ReportError("age group and age band of the inputs disagree")
    codes = {"newness": "new" if row["new_in_fiscal_year"] else "continuing",
             "consent": "yes" if row["statistics_consent"] else "no", "age_band": band, "age_group": group,
             "program": PROGRAM_OF_CITIZENSHIP.get(row["citizenship"], "not_assigned"),
             "entered": "yes" if row["entered"] else "no", "closed": "yes" if row["closed"] else "no"}
    return (row["organisation"], row["quarter"], *(codes[d] for d in LINK_DIMENSIONS))


async def read_true_counts(conn: asyncpg.Connection, period: Period, horizon: str) -> dict[str, BaseCounts]:
    """Per family, the true counts of every final quarter of the period's fiscal year — the
    ledger may hold later quarters than the period — as aggregates only: no row leaves SQL."""
    quarters = [q for q in period.fiscal_quarters if index_of(q) < index_of(horizon)]
    columns = ", ".join(_GROUP_COLUMNS)
    rows = await conn.fetch(
        f"""SELECT {columns}, count(*) AS clients FROM reporting.federal_inputs
             WHERE quarter = ANY($1::text[]) GROUP BY {columns}""", quarters)
    services = await conn.fetch(
        """SELECT f.organisation, f.quarter, c.code, count(*) AS clients,
                  count(*) FILTER (WHERE f.services[c.position] > 0) AS received
             FROM reporting.federal_inputs f CROSS JOIN reporting.federal_service_categories c
            WHERE f.quarter = ANY($1::text[]) AND f.statistics_consent
            GROUP BY f.organisation, f.quarter, c.code""", quarters)
    return count_inputs(rows, services)


def count_inputs(rows: Sequence[Mapping[str, Any]], service_rows: Sequence[Mapping[str, Any]]) -> dict[str, BaseCounts]:
    """The counts of every family and of the link from aggregated input rows (`_GROUP_COLUMNS` and
    `clients`) and aggregated service rows (organisation, quarter, code, clients, received)."""
    counts: dict[str, BaseCounts] = {f.name: defaultdict(int) for f in FAMILIES}
    counts[LINK] = defaultdict(int)
    for row in rows:
        for family in FAMILIES:
            if family.population.startswith("service:"):
                continue
            key = _family_key(family, row)
            if key is not None:
                counts[family.name][key] += row["clients"]
        counts[LINK][_link_key(row)] += row["clients"]
    for row in service_rows:
        if row["code"] not in SERVICE_CATEGORIES:
            continue  # a category this codebook version does not publish
        target = counts[f"service_{row['code']}"]
        target[(row["organisation"], row["quarter"], "yes")] += row["received"]
        target[(row["organisation"], row["quarter"], "no")] += row["clients"] - row["received"]
    # in key order: the same data gives the same programs (and points) whatever order SQL returned
    return {name: dict(sorted(c.items())) for name, c in counts.items()}


# -- releases of one family -----------------------------------------------------------------------

def _classification(family: Family, spec: TableSpec, dimension: str) -> Classification:
    groups: dict[str, list[str]] = {code: [code] for code in CATEGORIES[dimension]}
    if spec.not_reported is not None and dimension in family.consent_gated:
        groups[spec.not_reported].append(WITHHELD)
    return Classification.grouping(dimension, dimension, groups)


def family_tables(family: Family, universe: Universe, period: Period, organisations: Sequence[str]
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
        where: dict[str, Any] = {"organisation": list(organisations), "quarter": list(quarters),
                                 "vintage": list(vintages.current(universe.dimension("vintage").codes))}
        for dimension, codes in spec.where:
            where[dimension] = list(codes)
        by = [_classification(family, spec, d) for d in spec.by]
        mandatory = [tuple(TOTAL for _ in by)] if spec.mandatory else []
        sensitive = [d for d in spec.by if d in SENSITIVE]
        tables.append(Table.of(spec.name, by, where=where, sensitive=sensitive, mandatory=mandatory))
    return tuple(tables)


def _cell_truth(universe: Universe, base: BaseCounts, selection: Sequence[frozenset[str]]) -> int:
    """A cell's value today, over every vintage (base counts carry no vintage)."""
    names = [d.name for d in universe.dimensions]
    checks = [(i, selection[names.index(n)]) for i, n in enumerate(["organisation", "quarter", *names[3:]])]
    return sum(count for key, count in base.items() if all(key[i] in codes for i, codes in checks))


def published_still_true(universe: Universe, base: BaseCounts, publication: Publication) -> bool:
    return all(value is None or _cell_truth(universe, base, publication.selections[ref]) == value
               for ref, value in publication.cells.items())


def split_vintages(linked: Linked, bases: Sequence[BaseCounts], solver: IntegerSolver
                   ) -> tuple[list[dict[Atom, int]], dict[Atom, int]] | None:
    """Today's counts spread over the vintages so that every published number holds, for every
    block of linked ledgers and their link at once (the same split of the same people): each
    count of today over the lifetimes alive now, and any count over the lifetimes gone (the
    versions erased or corrected since, which only the published numbers bound).

    `bases`: one per block, then the link's. Returns each block's atom counts and the link's;
    None if there is no such split."""
    universes = [b.universe for b in linked.blocks] + ([linked.link] if linked.link is not None else [])
    codes = universes[0].dimension(vintages.DIMENSION).codes
    now = vintages.current(codes)
    newest = vintages.newest(codes)
    latest = [{(*key[:2], newest, *key[2:]): count for key, count in base.items() if count} for base in bases]
    rows = linked.rows()
    if not any(b.publications for b in linked.blocks):
        return latest[:len(linked.blocks)], (latest[-1] if linked.link is not None else {})
    if len(codes) == 1:
        truth = linked.vector(latest[:len(linked.blocks)], latest[-1] if linked.link is not None else None)
        if not all(row.holds(truth) for row in rows):
            return None
        return latest[:len(linked.blocks)], (latest[-1] if linked.link is not None else {})
    gone = [code for code in codes if code not in now]
    bound = max((abs(row.low) for row in rows if row.low is not None and row.low == row.high), default=0)
    upper = [0] * linked.size
    sums = []
    for universe, offset, base in zip(universes, linked.offsets, bases, strict=True):
        if gone:
            for index in universe.indices(universe.select({vintages.DIMENSION: gone})):
                upper[offset + index] = bound  # versions gone since: at most any number published
        for key, count in base.items():
            if not count:
                continue
            atoms = [offset + universe.index((*key[:2], v, *key[2:])) for v in now]
            for a in atoms:
                upper[a] = count
            sums.append(Row(tuple(sorted((a, 1) for a in atoms)), count, count))
    system = LinearSystem((0,) * linked.size, tuple(upper), tuple(rows + sums))
    point = solver.solve(IntegerProgram(system))
    if point is None or not system.holds(point):
        return None
    split = []
    for universe, offset in zip(universes, linked.offsets, strict=True):
        split.append({universe.atom(i): int(point[offset + i]) for i in range(universe.size) if point[offset + i]})
    return split[:len(linked.blocks)], (split[-1] if linked.link is not None else {})


@dataclass
class FamilyState:
    family: Family
    fiscal_year: int
    publications: list[Publication] = field(default_factory=list)
    stored_universes: list[dict[str, list[str]]] = field(default_factory=list)
    release_numbers: list[int] = field(default_factory=list)

    def universe(self, organisations: Sequence[str], shared: Sequence[Mapping[str, Sequence[str]]] = ()) -> Universe:
        """Every code the ledger knows and today's organisations.
        `shared`: codes of the base dimensions the linked families use (the same for all)."""
        fresh: dict[str, list[str]] = {
            "organisation": sorted(organisations), "quarter": list(Period(self.fiscal_year, 3).fiscal_quarters),
            "vintage": [vintages.FIRST], **{d: list(self.family.codes(d)) for d in self.family.dimensions}}
        return merge_universe((*BASE_DIMENSIONS, *self.family.dimensions), [*self.stored_universes, fresh, *shared])

    def ledger(self, universe: Universe) -> Ledger:
        """The family's ledger over `universe`, each publication counting the vintages alive when it was made."""
        return Ledger(universe, tuple(vintages.widened(p, universe) for p in self.publications), vintages.DIMENSION,
                      "organisation")


@dataclass(frozen=True)
class FamilyRelease:
    family: Family
    universe: Universe
    publication: Publication
    ledger: Ledger
    targets: int  # of the joint audit (counted once: on the first released family)
    solves: int


def _releases_now(family: Family, period: Period) -> bool:
    return period.ends_fiscal_year or any(spec.period != "grant_year" for spec in family.tables)


NewEra = Literal["late", "corrected"]  # a new era of vintages: late records; late records and departures


def linked_families(states: Sequence[FamilyState], organisations: Sequence[str], new_era: NewEra | None = None
                    ) -> Linked:
    """The ledgers of the families as blocks of one `Linked` system: the same
    organisation, quarter and vintage codes for all, and a link universe of the `LINK_DIMENSIONS`
    some family fixes (`Family.link_codes`), each atom of each family mapped to its link cell.
    `new_era`: open one more era of vintages (`domain.reporting.vintages.opened`)."""
    shared: dict[str, list[str]] = {"organisation": sorted(organisations),
                                    "quarter": list(Period(states[0].fiscal_year, 3).fiscal_quarters),
                                    "vintage": [vintages.FIRST]}
    base = merge_universe(BASE_DIMENSIONS, [*(u for st in states for u in st.stored_universes), shared])
    codes = {d.name: list(d.codes) for d in base.dimensions}
    if new_era is not None:
        codes["vintage"] = list(vintages.opened(codes["vintage"], departures=new_era == "corrected"))
    universes = [st.universe(organisations, shared=[codes]) for st in states]
    per_atom: list[list[dict[str, str]]] = []
    used: set[str] = set()
    for state, universe in zip(states, universes, strict=True):
        names = state.family.dimensions
        fixed = []
        for atom in universe.atoms():
            link = state.family.link_codes(dict(zip(names, atom[3:], strict=True)))
            used |= set(link)
            fixed.append({"organisation": atom[0], "quarter": atom[1], "vintage": atom[2], **link})
        per_atom.append(fixed)
    link_names = [d for d in LINK_DIMENSIONS if d in used]
    link = merge_universe((*BASE_DIMENSIONS, *link_names),
                          [{**codes, **{d: list(LINK_DIMENSIONS[d]) for d in link_names}}])
    cache: dict[tuple[tuple[str, str], ...], Selection] = {}
    cells = []
    for fixed in per_atom:
        row = []
        for where in fixed:
            key = tuple(sorted(where.items()))
            if key not in cache:
                cache[key] = link.select(where)
            row.append(cache[key])
        cells.append(tuple(row))
    unions = tuple((name, groups) for name, groups in LINK_UNIONS if name in link_names)
    return Linked(tuple(st.ledger(u) for st, u in zip(states, universes, strict=True)), link, tuple(cells), unions)


def link_base(linked: Linked, full: BaseCounts) -> BaseCounts:
    """Link counts (organisation, quarter, every LINK_DIMENSIONS code) summed to the link's dimensions."""
    assert linked.link is not None
    names = [d.name for d in linked.link.dimensions[3:]]
    positions = [list(LINK_DIMENSIONS).index(n) for n in names]
    out: dict[tuple[str, ...], int] = defaultdict(int)
    for key, count in full.items():
        out[(key[0], key[1], *(key[2 + i] for i in positions))] += count
    return dict(out)


def protect_families(states: Sequence[FamilyState], counts: Mapping[str, BaseCounts], period: Period, scope: str,
                     release_name: str, solver: IntegerSolver, organisations: Sequence[str]
                     ) -> list[FamilyRelease]:
    """Protect families together: one release per family released now, audited with every
    family in `states` (those released before this fiscal year included) as one `Linked` system."""
    organisations = sorted(organisations)
    linked = linked_families(states, organisations)

    def bases(linked: Linked) -> list[BaseCounts]:
        return [counts[st.family.name] for st in states] + [link_base(linked, counts[LINK])]

    split = split_vintages(linked, bases(linked), solver)
    for new_era in get_args(NewEra):  # late data contradicts a published number: a new era of vintages
        if split is not None:
            break
        linked = linked_families(states, organisations, new_era)
        split = split_vintages(linked, bases(linked), solver)
    if split is None:
        raise RevisionNeedsReview("today's counts contradict the ledger in a way no late record, erasure or "
                                  "correction explains: the release needs the manual review described in the README")
    truths, link_truth = split
    releases: list[Release | None] = []
    for state, block in zip(states, linked.blocks, strict=True):
        if not _releases_now(state.family, period):
            releases.append(None)
            continue
        chosen = [scope] if scope != ROLL_UP else list(block.universe.dimension("organisation").codes)
        releases.append(Release(release_name, VERSION,
                                family_tables(state.family, block.universe, period, chosen)))
    policy = Policy(minimum_unit=MinimumUnit("organisation", MINIMUM_UNIT))
    try:
        protected = protect_linked(linked, releases, truths, link_truth, solver, policy)
    except ReleaseRefused as refused:

        raise ReportRefused(str(refused)) from None
    out = []
    for i, (state, publication) in enumerate(zip(states, protected.publications, strict=True)):
        if publication is None:
            continue
        first = not out
        out.append(FamilyRelease(state.family, linked.blocks[i].universe, publication, protected.linked.blocks[i],
                                 protected.audit.targets if first else 0, protected.audit.solves if first else 0))
    return out


# -- the DP hook ---------------------------------------------------------------------------------

def true_tables(period: Period, scope: str, counts: Mapping[str, BaseCounts]) -> list[dict[str, Any]]:
    """The hook for another disclosure method (differential privacy, `services.reporting.dp`):
    every codebook table of the release with its fixed cells and their TRUE counts, in the
    output's shape (``[{"name", "program", "coverage", "cells": [{"dims", "count"}]}]``).

    A method takes this and returns what it publishes in the same shape. These numbers must
    never be output as they are; `counts` comes from `read_true_counts`.
    """
    organisations = _organisations(counts, scope)
    chosen = [scope] if scope != ROLL_UP else organisations
    out: dict[str, dict[str, Any]] = {}
    for family in FAMILIES:
        if all(spec.period == "grant_year" for spec in family.tables) and not period.ends_fiscal_year:
            continue
        state = FamilyState(family, period.fiscal_year)
        universe = state.universe(organisations)
        base = counts[family.name]
        for spec, table in zip([s for s in family.tables if s.period != "grant_year" or period.ends_fiscal_year],
                               family_tables(family, universe, period, chosen), strict=True):
            entry = table_entry(out, spec)
            for key in table.keys():
                dims = cell_dims(family, table, key)
                if all(c["dims"] != dims for c in entry["cells"]):
                    entry["cells"].append({"dims": dims,
                                           "count": _cell_truth(universe, base, table.selection(universe, key))})
    return list(out.values())


def _digest(parts: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


# -- the job --------------------------------------------------------------------------------------

class FederalReportJob:
    def __init__(self, reporting_url: str, *, solver: IntegerSolver | None = None) -> None:
        self._reporting_url = reporting_url
        self._solver = solver or HighsSolver()

    async def run(self, period_label: str, org: str | None = None) -> dict[str, Any]:
        period = parse_period(period_label)
        scope = ROLL_UP if org is None else org
        if not scope or len(scope) > 256 or not scope.isprintable() or scope == ROLL_UP and org is not None:
            raise InvalidPeriod("not an organisation id")
        async with reporting_connection(self._reporting_url) as conn:
            await conn.execute("SELECT pg_advisory_xact_lock($1)", LEDGER_LOCK)
            horizon = await self._check_period(conn, period)
            await refuse_other_mode(conn, period, "suppression")
            counts = await read_true_counts(conn, period, horizon)
            if scope != ROLL_UP and not any(key[0] == scope for c in counts.values() for key in c):
                raise PeriodUnavailable("no data for this organisation in this fiscal year")
            states = await self._load_ledger(conn, period.fiscal_year)
            previous = await conn.fetchrow(
                """SELECT release_no, revision, document::text AS document FROM reporting_ledger.releases
                    WHERE period = $1 AND scope = $2 ORDER BY revision DESC LIMIT 1""", period.label, scope)
            if previous is not None and self._still_true(states, counts, previous["release_no"], scope):
                return json.loads(previous["document"])
            revision = 0 if previous is None else previous["revision"] + 1
            name = f"{period.label}/{scope}" + (f"/r{revision}" if revision else "")
            releases = await asyncio.to_thread(self._protect_all, states, counts, period, scope, name)
            chain = await conn.fetchval(
                "SELECT ledger_hash FROM reporting_ledger.releases ORDER BY release_no DESC LIMIT 1")
            ledger_hash = _digest([chain or "", *(f"{fr.family.name}:{fr.ledger.digest()}" for fr in releases)])
            try:
                tables = render(releases)
            except DocumentError as error:
                raise ReportError(str(error)) from None
            document = {
                "period": period.label,
                "codebook_version": VERSION,
                "tables": tables,
                "certificate": {
                    "scope": scope,
                    "revision": revision,
                    "method": "threshold k=11 with complementary suppression and an exact integer audit",
                    "k": 11,
                    "minimum_reporting_unit": MINIMUM_UNIT,
                    "ledger_hash": ledger_hash,
                    "audit": {"result": "passed", "families": len(releases),
                              "targets": sum(fr.targets for fr in releases),
                              "solves": sum(fr.solves for fr in releases),
                              "publications_audited": sum(len(fr.ledger.publications) for fr in releases)},
                    "codebook_version": VERSION,
                    "code_version": code_version(),
                    "privacy_budget_spent": 0,
                    "withheld": withheld_cells(tables),
                    "withheld_note": WITHHELD_NOTE,
                },
            }
            text = json.dumps(document, sort_keys=True)
            release_no = await conn.fetchval(
                """INSERT INTO reporting_ledger.releases (period, scope, revision, codebook_version, document,
                                                          ledger_hash)
                   VALUES ($1, $2, $3, $4, $5::jsonb, $6) RETURNING release_no""",
                period.label, scope, revision, VERSION, text, ledger_hash)
            await conn.executemany(
                """INSERT INTO reporting_ledger.publications (release_no, family, fiscal_year, definition)
                   VALUES ($1, $2, $3, $4::jsonb)""",
                [(release_no, fr.family.name, period.fiscal_year,
                  json.dumps(publication_to_json(fr.universe, fr.publication))) for fr in releases])
            stored = await conn.fetchval("SELECT document::text FROM reporting_ledger.releases WHERE release_no = $1",
                                         release_no)
            return json.loads(stored)  # exactly what a re-run will return

    async def _check_period(self, conn: asyncpg.Connection, period: Period) -> str:
        try:
            horizon = await conn.fetchval("SELECT quarter FROM reporting.federal_inputs_horizon")
        except asyncpg.UndefinedTableError:
            raise PeriodUnavailable("the reporting inputs have not been built yet") from None
        if horizon is None:
            raise PeriodUnavailable("the reporting inputs hold no data yet")
        if period.index > index_of(horizon):
            raise PeriodUnavailable("this period is after the reporting inputs' horizon")
        if period.index == index_of(horizon):
            raise PeriodUnavailable("this period is still running")
        return horizon

    async def _load_ledger(self, conn: asyncpg.Connection, fiscal_year: int) -> dict[str, FamilyState]:
        states = {f.name: FamilyState(f, fiscal_year) for f in FAMILIES}
        rows = await conn.fetch(
            """SELECT release_no, family, definition::text AS definition FROM reporting_ledger.publications
                WHERE fiscal_year = $1 ORDER BY release_no""", fiscal_year)
        for row in rows:
            state = states.get(row["family"])
            if state is None:
                raise ReportError("the ledger holds a family this codebook does not know")
            data = json.loads(row["definition"])
            state.publications.append(publication_from_json(data))
            state.stored_universes.append(stored_universe(data))
            state.release_numbers.append(row["release_no"])
        return states

    def _still_true(self, states: Mapping[str, FamilyState], counts: Mapping[str, BaseCounts], release_no: int,
                    scope: str) -> bool:
        for name, state in states.items():
            for number, publication in zip(state.release_numbers, state.publications, strict=True):
                if number != release_no:
                    continue
                if not published_still_true(state.universe(_organisations(counts, scope)), counts[name], publication):
                    return False
        return True

    def _protect_all(self, states: Mapping[str, FamilyState], counts: Mapping[str, BaseCounts], period: Period,
                     scope: str, name: str) -> list[FamilyRelease]:
        organisations = _organisations(counts, scope)
        members = [states[f.name] for f in FAMILIES if _releases_now(f, period) or states[f.name].publications]
        return protect_families(members, counts, period, scope, name, self._solver, organisations)


def _organisations(counts: Mapping[str, BaseCounts], scope: str) -> list[str]:
    found = {key[0] for family in counts.values() for key in family}
    return sorted(found | ({scope} if scope != ROLL_UP else set()))


def today_quarter(today: dt.date | None = None) -> str:
    today = today or dt.datetime.now(dt.timezone.utc).date()
    return f"{today.year}Q{(today.month - 1) // 3 + 1}"
