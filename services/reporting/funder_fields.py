"""Funders' fields (REFERENCE §3.1): a funder's template may ask for a field about one person.

Such a field (a client identifier, a name, a date of birth, an address: the codebook's
`IDENTIFYING_FIELDS`) is never answered with anyone's data. It is answered with the codebook
table that stands for it, and each request for one is logged as a refusal; the log line names
the field and the table, both codebook constants, never a value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from domain.reporting.federal_codebook import IDENTIFYING_FIELDS, TEMPLATE_FIELDS
from domain.reporting.federal_families import output_tables
from services.observability.logging import get_logger

TABLES = frozenset(output_tables())


class FieldError(ValueError):
    """A requested field is neither a codebook table nor a known identifying field, or its table
    is not in this release. The message gives the field's position, never the text asked for."""


def answer_fields(document: Mapping[str, Any], fields: Sequence[str]) -> dict[str, Any]:
    """The document with only the tables that answer `fields`, in the order asked: a codebook
    table by its own name or a template's name for it (`TEMPLATE_FIELDS`: people trained,
    individuals screened...), an identifying field by its table. The certificate records what
    each identifying field was answered with. The release itself is unchanged: the job
    released and audited the whole codebook, and the ledger holds all of it."""
    held = {table["name"] for table in document["tables"]}
    wanted: dict[str, None] = {}
    identifying: dict[str, str] = {}
    for position, field in enumerate(fields, 1):
        table = IDENTIFYING_FIELDS.get(
            field, TEMPLATE_FIELDS.get(field, field if field in TABLES else None)
        )
        if table is None:
            raise FieldError(
                f"field {position} of {len(fields)} "
                "is neither a codebook table nor an identifying field"
            )
        if table not in held:
            raise FieldError(
                f"field {position} of {len(fields)} "
                "is answered by a table this release does not hold"
            )
        if field in IDENTIFYING_FIELDS:
            identifying[field] = table
        wanted[table] = None
    log = get_logger("reporting")  # per call: the configuration in force at the call
    for field, table in identifying.items():
        log.warning(
            "identifying field refused; answered with an aggregate",
            funder_field=field,
            answered_with=table,
        )
    return {
        **document,
        "tables": [t for name in wanted for t in document["tables"] if t["name"] == name],
        "certificate": {**document["certificate"], "identifying_fields": identifying},
    }
