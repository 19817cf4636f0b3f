"""The reporting inputs counted: aggregated rows of `reporting.federal_inputs` as the counts of
every codebook family and of the link (`domain.reporting.federal_codebook`).

Rows come aggregated (`GROUP_COLUMNS` and a `clients` count, never a subject); a value the
codebook does not list folds into its 'other' category, or is refused.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from domain.reporting.federal_codebook import (
    CATEGORIES,
    LINK_DIMENSIONS,
    OUTCOME_CHANGES,
    OUTCOME_DOMAINS,
    PROGRAM_OF_CITIZENSHIP,
    SCREENING_OUTCOMES,
    SCREENING_RESULTS,
    SERVICE_CATEGORIES,
    WITHHELD,
    Family,
)
from domain.reporting.federal_families import FAMILIES
from domain.reporting.generalisation import AGE_GROUP_OF_BAND


class InputsOutsideCodebook(ValueError):
    """An input value the codebook cannot count (the message names the dimension only)."""


GROUP_COLUMNS = (
    "organisation",
    "quarter",
    "new_in_fiscal_year",
    "entered",
    "entry_type",
    "closed",
    "closure_reason",
    "living_situation",
    "referred_on",
    "victim_status",
    "trafficking_type",
    "age_group",
    "age_band",
    "gender",
    "citizenship",
    "statistics_consent",
    "served_by_another_agency",
    "enrolled_at_end",
    "obtained_continued_presence",
    "obtained_t_visa",
    "obtained_hhs_letter",
)

BaseCounts = dict[tuple[str, ...], int]  # (organisation, quarter, *family dimensions) -> clients


def code_of(value: object, dimension: str) -> str:
    """A column value as a codebook category; anything the codebook does not list is
    'other'-folded."""
    codes = CATEGORIES[dimension]
    if isinstance(value, bool):
        value = "yes" if value else "no"
    if isinstance(value, str) and value in codes:
        return value
    for fallback in ("other", "not_reported", "unknown", "not_tracked"):
        if fallback in codes:
            return fallback
    raise InputsOutsideCodebook(f"a value of {dimension} is outside the codebook")


def family_key(family: Family, row: Mapping[str, Any]) -> tuple[str, ...] | None:
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
        value: object
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
        codes.append(code_of(value, dimension))
    return (row["organisation"], row["quarter"], *codes)


LINK = "link"  # the link's counts in `read_true_counts`' result


def link_key(row: Mapping[str, Any]) -> tuple[str, ...]:
    """The link atom (without vintage) of one aggregated input row: (organisation, quarter,
    *every LINK_DIMENSIONS code); every row is a client served in its quarter."""
    band, group = code_of(row["age_band"], "age_band"), code_of(row["age_group"], "age_group")
    if AGE_GROUP_OF_BAND[band] != group:
        raise InputsOutsideCodebook("age group and age band of the inputs disagree")
    codes = {
        "newness": "new" if row["new_in_fiscal_year"] else "continuing",
        "consent": "yes" if row["statistics_consent"] else "no",
        "age_band": band,
        "age_group": group,
        "program": PROGRAM_OF_CITIZENSHIP.get(row["citizenship"], "not_assigned"),
        "entered": "yes" if row["entered"] else "no",
        "closed": "yes" if row["closed"] else "no",
    }
    return (row["organisation"], row["quarter"], *(codes[d] for d in LINK_DIMENSIONS))


def screening_code(row: Mapping[str, Any]) -> str:
    """The ``screening`` code of an aggregated screening row (result and outcome)."""
    if row["result"] not in SCREENING_RESULTS:
        raise InputsOutsideCodebook("a value of screening result is outside the codebook")
    if row["outcome"] not in SCREENING_OUTCOMES:
        raise InputsOutsideCodebook("a value of screening outcome is outside the codebook")
    return f"{row['result']}/{row['outcome']}"


def count_inputs(
    rows: Sequence[Mapping[str, Any]],
    service_rows: Sequence[Mapping[str, Any]],
    screening_rows: Sequence[Mapping[str, Any]] = (),
    outcome_rows: Sequence[Mapping[str, Any]] = (),
) -> dict[str, BaseCounts]:
    """The counts of every family and of the link from aggregated input rows (`GROUP_COLUMNS` and
    `clients`), aggregated service rows (organisation, quarter, code, clients, received),
    aggregated screening rows (organisation, quarter, result, outcome, screenings) and
    aggregated outcome rows of consenting clients (organisation, quarter, domain, change,
    clients)."""
    counts: dict[str, BaseCounts] = {f.name: defaultdict(int) for f in FAMILIES}
    counts[LINK] = defaultdict(int)
    screened = [f for f in FAMILIES if f.population == "screened"]
    for row in screening_rows:
        code = screening_code(row)
        for family in screened:
            counts[family.name][(row["organisation"], row["quarter"], code)] += row["screenings"]
    for row in rows:
        for family in FAMILIES:
            if family.population.startswith(("service:", "outcome:")) or not family.linked:
                continue
            key = family_key(family, row)
            if key is not None:
                counts[family.name][key] += row["clients"]
        counts[LINK][link_key(row)] += row["clients"]
    for row in service_rows:
        if row["code"] not in SERVICE_CATEGORIES:
            continue  # a category this codebook version does not publish
        target = counts[f"service_{row['code']}"]
        target[(row["organisation"], row["quarter"], "yes")] += row["received"]
        target[(row["organisation"], row["quarter"], "no")] += row["clients"] - row["received"]
    for row in outcome_rows:
        if row["domain"] not in OUTCOME_DOMAINS:
            continue  # a domain this codebook version does not publish
        if row["change"] not in OUTCOME_CHANGES:
            raise InputsOutsideCodebook("a value of outcome change is outside the codebook")
        key = (row["organisation"], row["quarter"], row["change"])
        counts[f"outcome_{row['domain']}"][key] += row["clients"]
    # in key order: the same data gives the same programs (and points) whatever order SQL returned
    return {name: dict(sorted(c.items())) for name, c in counts.items()}
