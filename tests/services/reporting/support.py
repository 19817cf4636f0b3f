"""Helpers of the reporting tests: the ledger as the audit sees it, and the output scan."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

import asyncpg

from domain.case.events import CaseTransferred
from domain.reporting.activity_measures import ACTIVITY_WORDS, NOT_SUPPRESSED_NOTE
from domain.reporting.audit import audit
from domain.reporting.families import BASE_DIMENSIONS, FamilyState, linked_families
from domain.reporting.federal_codebook import (
    CATEGORIES,
    GROUPINGS,
    OUTCOME_DOMAINS,
    SERVICE_CATEGORIES,
    VERSION,
)
from domain.reporting.federal_families import FAMILIES, output_tables
from domain.reporting.ledger import Ledger
from domain.reporting.linked import Linked
from domain.reporting.periods import quarter_index, quarter_label
from domain.reporting.stored import merge_universe, publication_from_json, stored_universe
from services.demo.plan import DemoPlan
from services.reporting.document import WITHHELD_NOTE
from tests.services.reporting.conftest import SOLVER


async def stored_ledgers(pool: asyncpg.Pool) -> dict[tuple[str, int], Ledger]:
    """Every family's ledger as stored: (family, fiscal year) -> Ledger over the merged universe."""
    rows = await pool.fetch("""SELECT family, fiscal_year, definition::text AS d
                                FROM reporting_ledger.publications ORDER BY release_no""")
    parts: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        parts[(row["family"], row["fiscal_year"])].append(json.loads(row["d"]))
    families = {f.name: f for f in FAMILIES}
    ledgers = {}
    for key, datas in parts.items():
        names = (*BASE_DIMENSIONS, *families[key[0]].dimensions)
        universe = merge_universe(names, [stored_universe(d) for d in datas])
        state = FamilyState(families[key[0]], key[1], [publication_from_json(d) for d in datas])
        ledgers[key] = state.ledger(universe)
    return ledgers


async def stored_linked(pool: asyncpg.Pool) -> dict[int, Linked]:
    """Every family's stored ledgers as one `Linked` system: fiscal year -> Linked.
    The outsider's view: every published number and the definitions (the same clients)."""
    rows = await pool.fetch("""SELECT family, fiscal_year, definition::text AS d
                                FROM reporting_ledger.publications ORDER BY release_no""")
    states: dict[int, dict[str, FamilyState]] = defaultdict(dict)
    for row in rows:
        family = next(f for f in FAMILIES if f.name == row["family"])
        state = states[row["fiscal_year"]].setdefault(
            family.name, FamilyState(family, row["fiscal_year"])
        )
        data = json.loads(row["d"])
        state.publications.append(publication_from_json(data))
        state.stored_universes.append(stored_universe(data))
    linked = {}
    for year, by_family in states.items():
        organisations = sorted(
            {o for st in by_family.values() for u in st.stored_universes for o in u["organisation"]}
        )
        linked[year] = linked_families(
            [by_family[f.name] for f in FAMILIES if f.name in by_family], organisations
        )
    return linked


async def audit_whole_ledger(pool: asyncpg.Pool) -> list[str]:
    """Audit the whole ledger of every fiscal year from scratch, jointly, without the true
    counts: the findings."""
    findings = []
    for year, linked in (await stored_linked(pool)).items():
        result = audit(linked, SOLVER)
        findings.extend(f"{year}: {f.describe()}" for f in result.findings)
    return findings


async def ledger_snapshot(pool: asyncpg.Pool) -> list[tuple[Any, ...]]:
    releases = await pool.fetch(
        "SELECT release_no, period, scope, revision, document::text, ledger_hash "
        "FROM reporting_ledger.releases ORDER BY release_no"
    )
    publications = await pool.fetch(
        "SELECT release_no, family, fiscal_year, definition::text "
        "FROM reporting_ledger.publications ORDER BY release_no, family"
    )
    return [tuple(r) for r in releases] + [tuple(p) for p in publications]


def counts_of(document: Mapping[str, Any]) -> Iterable[int | None]:
    """The counts of the tables about people (the activity measures are published as counted)."""
    not_suppressed = set(document["certificate"].get("not_suppressed", {}).get("tables", ()))
    for table in document["tables"]:
        if table["name"] in not_suppressed:
            continue
        for cell in table["cells"]:
            yield cell["count"]


# -- the output scan ------------------------------------------------------------------------------

UUID = re.compile(
    r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
)
HEX = re.compile(r"\b[0-9a-fA-F]{16,}\b")
BASE64ISH = re.compile(r"(?=[A-Za-z0-9+/=]*\d)(?=[A-Za-z0-9+/=]*[A-Za-z])[A-Za-z0-9+/=]{20,}")
DATE = re.compile(
    r"\b\d{4}-\d{1,2}-\d{1,2}\b|\b\d{1,2}/\d{1,2}/\d{2,4}\b|\b\d{4}-\d{2}\b(?!\d)"
    r"|\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.? \d",
    re.IGNORECASE,
)
QUARTER = re.compile(r"^\d{4}Q[1-4]$")
# strings a release may contain: codes, table and dimension names, fixed words of the certificate
ALLOWED = {
    *output_tables(),
    *SERVICE_CATEGORIES,
    *OUTCOME_DOMAINS,
    *CATEGORIES,
    "service_type",
    "outcome_domain",
    "total",
    VERSION,
    "ovc_tims",
    "hhs_otip",
    "voca",
    "hud",
    "quarter",
    "fiscal_year_to_date",
    "fiscal_year",
    "all",
    "passed",
    "period",
    "codebook_version",
    "tables",
    "name",
    "program",
    "coverage",
    "cells",
    "dims",
    "count",
    "certificate",
    "scope",
    "revision",
    "method",
    "k",
    "minimum_reporting_unit",
    "ledger_hash",
    "audit",
    "result",
    "families",
    "targets",
    "solves",
    "publications_audited",
    "code_version",
    "package",
    "commit",
    "privacy_budget_spent",
    "threshold k=11 with complementary suppression and an exact integer audit",
    "status",
    "published",
    "suppressed",
    "withheld",
    "table",
    "withheld_note",
    WITHHELD_NOTE,
    "not_suppressed",
    "note",
    NOT_SUPPRESSED_NOTE,
    *ACTIVITY_WORDS,
    *GROUPINGS,
} | {code for codes in CATEGORIES.values() for code in codes}
ALLOWED |= {stage for _, groups in GROUPINGS.values() for stage in groups}
CERTIFIED_HASH_KEYS = {("certificate", "ledger_hash"), ("certificate", "code_version", "commit")}


def _strings(value: Any, path: tuple[str, ...] = ()) -> Iterable[tuple[tuple[str, ...], str]]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield path, str(key)
            yield from _strings(item, (*path, str(key)))
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, path)
    elif isinstance(value, str):
        yield path, value


def scan_document(
    document: Mapping[str, Any],
    identifiers: Iterable[str],
    scope: str = "all",
    package_version: str | None = None,
) -> list[str]:
    """Every string of a JSON release that is not a code, a fixed word or a certified hash."""
    problems = []
    known = {i.lower() for i in identifiers if i}
    allowed = ALLOWED | {scope} | ({package_version} if package_version else set())
    for path, text in _strings(document):
        if path in CERTIFIED_HASH_KEYS:
            if not re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", text):
                problems.append(f"{'/'.join(path)}: not a hash of published numbers or a commit")
            continue
        if QUARTER.match(text) or text in allowed:
            continue
        problems.append(f"{'/'.join(path)}: unexpected text {text!r}")
    return problems + scan_text(json.dumps(_without_certified(document)), known)


def _without_certified(document: Mapping[str, Any]) -> dict[str, Any]:
    copy = json.loads(json.dumps(document))
    copy.get("certificate", {}).pop("ledger_hash", None)
    copy.get("certificate", {}).get("code_version", {}).pop("commit", None)
    return copy


def scan_text(text: str, identifiers: Iterable[str], allow: Iterable[str] = ()) -> list[str]:
    """Identifiers, UUIDs, hashes, long opaque tokens and dates finer than the quarter in a text."""
    for allowed in allow:
        text = text.replace(allowed, "")
    lowered = text.lower()
    problems = [f"identifier {i[:4]}..." for i in identifiers if i and i.lower() in lowered]
    for name, pattern in (
        ("uuid", UUID),
        ("hash", HEX),
        ("opaque token", BASE64ISH),
        ("date", DATE),
    ):
        if pattern.search(text):
            problems.append(name)
    return problems


# -- the demo's transfers --------------------------------------------------------------------------


async def transfers_served(
    pool: asyncpg.Pool, plan: DemoPlan, period: str
) -> list[tuple[tuple[bool, bool], tuple[bool, bool]]]:
    """Per transfer of the demo in `period`, ``(served_by_another_agency, statistics_consent)``
    of the sending case's row and of the receiving case's row in that quarter (KeyError if a
    case has none): one person served by two organisations. Read through the private mapping,
    as the test's superuser — never the reporting role."""
    rows = {
        (tenant, str(case_id)): (flag, consent)
        for tenant, case_id, flag, consent in await pool.fetch(
            """SELECT m.tenant_id, m.case_id, f.served_by_another_agency, f.statistics_consent
                 FROM views.reporting_subjects m JOIN reporting.federal_inputs f USING (subject)
                WHERE f.quarter = $1""",
            period,
        )
    }
    return [
        (rows[(org, case_id)], rows[(e.recipient_organisation, e.receiving_case_id)])
        for (org, case_id), events in plan.streams.items()
        for e in events
        if isinstance(e, CaseTransferred)
        and quarter_label(quarter_index(e.transferred_on)) == period
    ]
