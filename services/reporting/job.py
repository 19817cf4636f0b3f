"""The federal reporting job: de-identified quarterly aggregates, protected and recorded.

The rules are the domain's (`domain.reporting`); this module does the I/O around them, as
the reporting role, which reads ``reporting.*`` and the ledger and nothing else
(`services.reporting.access`): a release cannot read events, keys or case views.
`FederalReportJob.run` says what a run does, step by step.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from importlib import metadata
from typing import Any

import asyncpg

from domain.reporting.activity_measures import (
    ACTIVITY_TABLES,
    NOT_SUPPRESSED_NOTE,
    activity_tables,
)
from domain.reporting.families import (
    MINIMUM_UNIT,
    ROLL_UP,
    FamilyRelease,
    FamilyState,
    NoVintageSplit,
    organisations_in,
    protect_families,
    published_still_true,
    releases_now,
)
from domain.reporting.federal_codebook import VERSION
from domain.reporting.federal_families import FAMILIES
from domain.reporting.inputs import BaseCounts
from domain.reporting.integer_programs import IntegerSolver
from domain.reporting.periods import Period
from domain.reporting.stored import publication_from_json, publication_to_json, stored_universe
from domain.reporting.suppression import ReleaseRefused
from services.reporting.access import (
    InvalidPeriod,
    PeriodUnavailable,
    ReportError,
    ReportRefused,
    RevisionNeedsReview,
    check_period,
    parse_period,
    refuse_other_mode,
    reporting_connection,
)
from services.reporting.document import (
    WITHHELD_NOTE,
    DocumentError,
    render,
    withheld_cells,
)
from services.reporting.solver import HighsSolver
from services.reporting.true_counts import read_activity_rows, read_true_counts

LEDGER_LOCK = 1214346854  # pg_advisory_xact_lock: one release at a time


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
        commit = (
            json.loads(distribution.read_text("direct_url.json") or "{}")
            .get("vcs_info", {})
            .get("commit_id")
        )
    except (ValueError, AttributeError):
        commit = None
    valid = isinstance(commit, str) and re.fullmatch(r"[0-9a-f]{40}", commit) is not None
    return {"package": distribution.version, "commit": commit if valid else None}


def _digest(parts: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _activities_still_true(previous: Mapping[str, Any], activities: list[dict[str, Any]]) -> bool:
    """Whether the stored release published these activity tables. A release of an earlier
    codebook version, which had none, is not revised for them."""
    if previous["codebook_version"] != VERSION:
        return True
    names = {table.name for table in ACTIVITY_TABLES}
    stored = json.loads(previous["document"])["tables"]
    return [table for table in stored if table["name"] in names] == activities


# -- the job --------------------------------------------------------------------------------------


class FederalReportJob:
    def __init__(self, reporting_url: str, *, solver: IntegerSolver | None = None) -> None:
        self._reporting_url = reporting_url
        self._solver = solver or HighsSolver()

    async def run(self, period_label: str, org: str | None = None) -> dict[str, Any]:
        """The JSON document of the release of `period_label` for `org` (None: the roll-up):
        ``{"period", "codebook_version", "tables": [{"name", "program", "coverage", "cells":
        [{"dims", "count", "status"}]}], "certificate"}`` (`services.reporting.document`).

        1. **As the reporting role** (`reporting_connection`: `HAVEN_REPORTING_DATABASE_URL`, or
           the application's server and database as ``haven_reporting``).
        2. **Only what is final.** A period after the horizon of ``reporting.federal_inputs``,
           the horizon quarter itself (still running), or a period before any data is refused
           (`PeriodUnavailable`).
        3. **True atoms.** One aggregate query over the period's fiscal year to date (never a
           row, never the subject) gives, per codebook family, the counts of organisation x
           quarter x the family's dimensions, and the link counts that glue the families;
           screenings and activities come as counts from the owner's aggregate functions.
        4. **Vintages.** Late data that contradicts numbers already released (a late intake in
           a released quarter, an erasure, a corrected category, a withdrawn consent) cannot be
           the same atoms as the original release, or the ledger would be inconsistent: today's
           counts are split over the known record lifetimes so that every published number
           holds (`families.split_vintages`), or a new era of lifetimes opens — with the records
           that arrived since, and if that is not enough with the departures of those counted
           before (`domain.reporting.vintages`). A revision is then audited with its original,
           and with the change of every cell between the two
           (`domain.reporting.publication_targets.difference_targets`). Counts no late record
           or departure explains (none should exist) are refused: `RevisionNeedsReview`.
        5. **Protect.** Every family together (they count the same people: the link in
           `domain.reporting.federal_codebook`), by `suppression.protect_linked`, against
           every release of the fiscal year, k = 11, with a minimum reporting unit per
           organisation (`MINIMUM_UNIT` clients: below it a table releases only its mandatory
           grand total). A cell that cannot be published safely is
           suppressed — a funder's mandatory total *withheld*, marked so in the document and
           listed in the certificate; only a ledger that gives a count away on its own refuses
           the release (`ReportRefused`).
        6. **Record.** The release (the document itself) and one publication per family are
           inserted in one transaction, under an advisory lock, so two jobs take turns.
        7. **Re-runs.** A period already released for a scope is returned as stored
           (byte-identical JSON, nothing written) unless late data changed one of its published
           numbers (an activity measure included); then an audited revision is released
           (`revision` 1, 2, ...).
        """
        period = parse_period(period_label)
        scope = ROLL_UP if org is None else org
        if (
            not scope
            or len(scope) > 256
            or not scope.isprintable()
            or scope == ROLL_UP
            and org is not None
        ):
            raise InvalidPeriod("not an organisation id")
        async with reporting_connection(self._reporting_url) as conn:
            await conn.execute("SELECT pg_advisory_xact_lock($1)", LEDGER_LOCK)
            horizon = await check_period(conn, period)
            await refuse_other_mode(conn, period, "suppression")
            counts = await read_true_counts(conn, period, horizon)
            activity_rows = await read_activity_rows(conn, period)
            if (
                scope != ROLL_UP
                and not any(key[0] == scope for c in counts.values() for key in c)
                and not any(row["organisation"] == scope for row in activity_rows)
            ):
                raise PeriodUnavailable("no data for this organisation in this fiscal year")
            activities = activity_tables(
                activity_rows, period.label, None if scope == ROLL_UP else {scope}
            )
            states = await self._load_ledger(conn, period.fiscal_year)
            previous = await conn.fetchrow(
                """SELECT release_no, revision, codebook_version, document::text AS document
                     FROM reporting_ledger.releases
                    WHERE period = $1 AND scope = $2 ORDER BY revision DESC LIMIT 1""",
                period.label,
                scope,
            )
            if (
                previous is not None
                and self._still_true(states, counts, previous["release_no"], scope)
                and _activities_still_true(previous, activities)
            ):
                return json.loads(previous["document"])
            revision = 0 if previous is None else previous["revision"] + 1
            name = f"{period.label}/{scope}" + (f"/r{revision}" if revision else "")
            releases = await asyncio.to_thread(
                self._protect_all, states, counts, period, scope, name
            )
            chain = await conn.fetchval(
                "SELECT ledger_hash FROM reporting_ledger.releases ORDER BY release_no DESC LIMIT 1"
            )
            ledger_hash = _digest(
                [
                    chain or "",
                    *(f"{fr.family.name}:{fr.ledger.digest()}" for fr in releases),
                    f"activities:{_digest([json.dumps(activities, sort_keys=True)])}",
                ]
            )
            try:
                tables = render(releases) + activities
            except DocumentError as error:
                raise ReportError(str(error)) from None
            document = {
                "period": period.label,
                "codebook_version": VERSION,
                "tables": tables,
                "certificate": {
                    "scope": scope,
                    "revision": revision,
                    "method": "threshold k=11 with complementary suppression"
                    " and an exact integer audit",
                    "k": 11,
                    "minimum_reporting_unit": MINIMUM_UNIT,
                    "ledger_hash": ledger_hash,
                    "audit": {
                        "result": "passed",
                        "families": len(releases),
                        "targets": sum(fr.targets for fr in releases),
                        "solves": sum(fr.solves for fr in releases),
                        "publications_audited": sum(len(fr.ledger.publications) for fr in releases),
                    },
                    "codebook_version": VERSION,
                    "code_version": code_version(),
                    "privacy_budget_spent": 0,
                    "withheld": withheld_cells(tables),
                    "withheld_note": WITHHELD_NOTE,
                    "not_suppressed": {
                        "tables": [table.name for table in ACTIVITY_TABLES],
                        "note": NOT_SUPPRESSED_NOTE,
                    },
                },
            }
            text = json.dumps(document, sort_keys=True)
            release_no = await conn.fetchval(
                """INSERT INTO reporting_ledger.releases
                          (period, scope, revision, codebook_version, document, ledger_hash)
                   VALUES ($1, $2, $3, $4, $5::jsonb, $6) RETURNING release_no""",
                period.label,
                scope,
                revision,
                VERSION,
                text,
                ledger_hash,
            )
            await conn.executemany(
                """INSERT INTO reporting_ledger.publications
                          (release_no, family, fiscal_year, definition)
                   VALUES ($1, $2, $3, $4::jsonb)""",
                [
                    (
                        release_no,
                        fr.family.name,
                        period.fiscal_year,
                        json.dumps(publication_to_json(fr.universe, fr.publication)),
                    )
                    for fr in releases
                ],
            )
            stored = await conn.fetchval(
                "SELECT document::text FROM reporting_ledger.releases WHERE release_no = $1",
                release_no,
            )
            return json.loads(stored)  # exactly what a re-run will return

    async def _load_ledger(
        self, conn: asyncpg.Connection, fiscal_year: int
    ) -> dict[str, FamilyState]:
        states = {f.name: FamilyState(f, fiscal_year) for f in FAMILIES}
        rows = await conn.fetch(
            """SELECT release_no, family, definition::text AS definition
                 FROM reporting_ledger.publications
                WHERE fiscal_year = $1 ORDER BY release_no""",
            fiscal_year,
        )
        for row in rows:
            state = states.get(row["family"])
            if state is None:
                raise ReportError("the ledger holds a family this codebook does not know")
            data = json.loads(row["definition"])
            state.publications.append(publication_from_json(data))
            state.stored_universes.append(stored_universe(data))
            state.release_numbers.append(row["release_no"])
        return states

    def _still_true(
        self,
        states: Mapping[str, FamilyState],
        counts: Mapping[str, BaseCounts],
        release_no: int,
        scope: str,
    ) -> bool:
        for name, state in states.items():
            for number, publication in zip(state.release_numbers, state.publications, strict=True):
                if number != release_no:
                    continue
                if not published_still_true(
                    state.universe(organisations_in(counts, scope)), counts[name], publication
                ):
                    return False
        return True

    def _protect_all(
        self,
        states: Mapping[str, FamilyState],
        counts: Mapping[str, BaseCounts],
        period: Period,
        scope: str,
        name: str,
    ) -> list[FamilyRelease]:
        organisations = organisations_in(counts, scope)
        members = [
            states[f.name]
            for f in FAMILIES
            if releases_now(f, period) or states[f.name].publications
        ]
        try:
            return protect_families(
                members, counts, period, scope, name, self._solver, organisations
            )
        except NoVintageSplit as error:
            raise RevisionNeedsReview(str(error)) from None
        except ReleaseRefused as refused:
            raise ReportRefused(str(refused)) from None
