"""The families with one block of cells per code of a list (`federal_families.FAMILIES`): the
service types and the outcome domains. Each counts every consenting client served in the
quarter once per code, so each code is a family of its own, merged into one output table
(`federal_families.MERGED_DIMS`). Pure data.
"""

from __future__ import annotations

from domain.reporting.federal_codebook import (
    OUTCOME_DOMAINS,
    SERVICE_CATEGORIES,
    Family,
    TableSpec,
)

SERVICE_FAMILIES: tuple[Family, ...] = tuple(
    Family(
        f"service_{code}",
        f"service:{code}",
        ("received",),
        (),
        (
            TableSpec(
                "tims_services_by_type",
                "ovc_tims",
                ("received",),
                description=(
                    "OVC TIMS: consenting clients served in the quarter, by whether they "
                    "received a service of this type (one block of cells per service type)"
                ),
            ),
        ),
    )
    for code in SERVICE_CATEGORIES
)

OUTCOME_FAMILIES: tuple[Family, ...] = tuple(
    Family(
        f"outcome_{domain}",
        f"outcome:{domain}",
        ("outcome_change",),
        (),
        (
            TableSpec(
                "tims_outcome_change",
                "ovc_tims",
                ("outcome_change",),
                description=(
                    "Change in outcome: consenting clients served in the quarter, by how this "
                    "outcome domain changed from its first score to its latest by the "
                    "quarter's end (improved, same, worse: scored at least twice; "
                    "not_measured: fewer than two scores); one block of cells per domain"
                ),
            ),
        ),
    )
    for domain in OUTCOME_DOMAINS
)
