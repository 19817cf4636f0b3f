"""Where every table goes on a Citus cluster, and the check that the schema allows it.

The plan is in docs/scaling.md ("Past one machine: Citus"). This module is its machine-readable
half: every table of the ``haven``, ``dp`` and ``reporting_ledger`` schemas is placed by name,
and the tables projections create at runtime (one generation at a time, ``<logical>_g<N>``) by
a rule on the name's prefix.

* **Distributed** tables are hash-distributed by the organisation, ``tenant_id``, all in one
  co-location group (``colocate_with => 'haven.streams'``): an organisation's streams, events,
  access records, keys and views share one shard group, on one worker node.
* **Reference** tables are copied to every node. Haven has none: no table holds a codebook or
  lookup that tenant rows join on the workers.
* **Coordinator** tables stay plain tables on the coordinator (added to the metadata, so they
  can share a transaction with distributed ones): the global ledgers, the differential-privacy
  budgets and policy, the migrations, and the federal inputs that roll up across organisations.
* **Node-local** tables exist on every node as a plain table of that node, never distributed:
  the projection checkpoints, because the log order they record is a node's own.

`violations` checks what Citus requires of this placement, given the catalog's facts (the test
reads them from a migrated database): every distributed table has ``tenant_id`` in its primary
key, in every unique index, and on both sides of every foreign key, paired with the referenced
table's ``tenant_id``; a distributed table's foreign key points only to a co-located
distributed table or a reference table; nothing points from outside the distributed tables
into them. An object that breaks a rule and must stay as it is on one machine is listed in
`EXCEPTIONS` with the reason and what the Citus deployment does instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import NamedTuple

DISTRIBUTION_COLUMN = "tenant_id"
CO_LOCATION_GROUP = "haven.streams"  # the table every distributed table is co-located with
SCHEMAS = ("haven", "dp", "reporting_ledger", "views", "reporting")

DISTRIBUTED = "distributed"
REFERENCE = "reference"
COORDINATOR = "coordinator"
NODE_LOCAL = "node-local"


class Placement(NamedTuple):
    kind: str  # DISTRIBUTED, REFERENCE, COORDINATOR or NODE_LOCAL
    column: str | None = None  # the distribution column of a distributed table


DISTRIBUTED_TABLES: dict[str, str] = {
    "haven.streams": DISTRIBUTION_COLUMN,
    "haven.events": DISTRIBUTION_COLUMN,
    "haven.break_glass_grants": DISTRIBUTION_COLUMN,
    "haven.access_records": DISTRIBUTION_COLUMN,
    "haven.access_listings": DISTRIBUTION_COLUMN,
    "haven.idempotency_keys": DISTRIBUTION_COLUMN,
    "haven.tenant_secrets": DISTRIBUTION_COLUMN,
    "haven.projection_quarantine": DISTRIBUTION_COLUMN,
}

REFERENCE_TABLES: dict[str, str] = {}

COORDINATOR_TABLES: dict[str, str] = {
    "haven.schema_migrations": "DDL is run on the coordinator, which propagates it",
    "reporting_ledger.releases": "the federal release ledger: one sequence of releases",
    "reporting_ledger.publications": "belongs to reporting_ledger.releases",
    "reporting_ledger.refusals": "refused report requests, across organisations",
    "dp.releases": "differential-privacy releases: budgets are global",
    "dp.spends": "per-client spends of the global releases",
    "dp.balances": "per-client lifetime budget, across organisations",
    "dp.requester_spends": "per-requester budget, across releases",
    "dp.policy": "one row: the disclosure policy",
    "dp.policy_history": "the policy's changes",
}

NODE_LOCAL_TABLES: dict[str, str] = {
    "haven.projection_checkpoints": (
        "a checkpoint is a point in one node's log order (xid8 is node-local); each node keeps "
        "its own, committed with the view rows of that node's shards"
    ),
}

# Tables projections create at runtime, by the prefix of their qualified name; the first match
# wins. A generation's table is `<logical>_g<N>`; any other `views.` table is distributed, as
# every view table carries tenant_id (projections.base).
RUNTIME_PREFIXES: tuple[tuple[str, Placement], ...] = (
    ("views.reporting_subjects_g", Placement(COORDINATOR)),
    ("views.", Placement(DISTRIBUTED, DISTRIBUTION_COLUMN)),
    ("reporting.", Placement(COORDINATOR)),
)

# (logical table, constraint or index name without the table's prefix) -> the reason.
EXCEPTIONS: dict[tuple[str, str], str] = {
    ("views.caseload", "by_transfer"): (
        "unique (transfer_recipient, transfer_id): the recipient finds the request addressed to "
        "it in the sender's row. Citus refuses a unique index without tenant_id, so the Citus "
        "deployment creates it as (transfer_recipient, transfer_id, tenant_id); transfer ids "
        "are UUIDs (they become the receiving case's id), and the recipient's lookup is a "
        "multi-shard read"
    ),
}

_GENERATION = re.compile(r"^(?P<logical>.+)_g[0-9]+$")


def logical_name(table: str) -> str:
    """``views.caseload_g3`` -> ``views.caseload``; other names unchanged."""
    match = _GENERATION.match(table)
    return match["logical"] if match else table


def place(table: str) -> Placement | None:
    """Where a table goes, by its qualified name; None: the plan does not place it."""
    if table in DISTRIBUTED_TABLES:
        return Placement(DISTRIBUTED, DISTRIBUTED_TABLES[table])
    if table in REFERENCE_TABLES:
        return Placement(REFERENCE)
    if table in COORDINATOR_TABLES:
        return Placement(COORDINATOR)
    if table in NODE_LOCAL_TABLES:
        return Placement(NODE_LOCAL)
    for prefix, placement in RUNTIME_PREFIXES:
        if table.startswith(prefix):
            return placement
    return None


class UniqueIndex(NamedTuple):
    name: str
    columns: tuple[str | None, ...]  # None: an expression
    primary: bool


class ForeignKey(NamedTuple):
    name: str
    columns: tuple[str, ...]
    referenced: str  # qualified table name
    referenced_columns: tuple[str, ...]


class TableFacts(NamedTuple):
    """What the catalog says about one table."""

    columns: Mapping[str, str]  # name -> type
    unique: Sequence[UniqueIndex]
    foreign_keys: Sequence[ForeignKey]


Exceptions = Mapping[tuple[str, str], str]


def _excepted(table: str, object_name: str, exceptions: Exceptions) -> bool:
    logical = logical_name(table)
    physical = table.split(".", 1)[1]
    for excepted_table, suffix in exceptions:
        if excepted_table == logical and object_name in (f"{physical}_{suffix}", suffix):
            return True
    return False


def _distribution_type(facts: Mapping[str, TableFacts]) -> str | None:
    group = facts.get(CO_LOCATION_GROUP)
    return None if group is None else group.columns.get(DISTRIBUTION_COLUMN)


def violations(facts: Mapping[str, TableFacts], exceptions: Exceptions = EXCEPTIONS) -> list[str]:
    """Every way the tables break the plan or what Citus requires of it (empty: none), but for
    the `exceptions`."""
    found: list[str] = []
    placements = {table: place(table) for table in facts}
    group_type = _distribution_type(facts)
    for table in sorted(facts):
        placement = placements[table]
        if placement is None:
            found.append(f"{table}: not placed")
            continue
        found += _table_violations(
            table, facts[table], placement, placements, group_type, exceptions
        )
    return found


def _table_violations(
    table: str,
    facts: TableFacts,
    placement: Placement,
    placements: Mapping[str, Placement | None],
    group_type: str | None,
    exceptions: Exceptions,
) -> list[str]:
    found: list[str] = []
    if placement.kind == DISTRIBUTED:
        column = placement.column or DISTRIBUTION_COLUMN
        kind = facts.columns.get(column)
        if kind is None:
            return [f"{table}: no distribution column {column}"]
        if group_type is not None and kind != group_type:
            found.append(f"{table}: {column} is {kind}, not {group_type} as in {CO_LOCATION_GROUP}")
        if not any(index.primary for index in facts.unique):
            found.append(f"{table}: no primary key")
        for index in facts.unique:
            if column not in index.columns and not _excepted(table, index.name, exceptions):
                what = "primary key" if index.primary else "unique index"
                found.append(f"{table}: {what} {index.name} lacks {column}")
    for key in facts.foreign_keys:
        if not _excepted(table, key.name, exceptions):
            found += _key_violations(table, key, placement, placements.get(key.referenced))
    return found


def _key_violations(
    table: str, key: ForeignKey, placement: Placement, target: Placement | None
) -> list[str]:
    where = f"{table}: foreign key {key.name} to {key.referenced}"
    if target is None:
        return [f"{where}: the referenced table is not placed"]
    if placement.kind == NODE_LOCAL or target.kind == NODE_LOCAL:
        return [f"{where}: a node-local table has no foreign keys"]
    if placement.kind == DISTRIBUTED:
        if target.kind == REFERENCE:
            return []
        if target.kind != DISTRIBUTED:
            return [f"{where}: a distributed table references a {target.kind} table"]
        pairs = set(zip(key.columns, key.referenced_columns, strict=True))
        if (placement.column, target.column) not in pairs:
            return [f"{where}: does not pair {placement.column} with {target.column}"]
        return []
    if target.kind == DISTRIBUTED:
        return [f"{where}: a {placement.kind} table references a distributed table"]
    if placement.kind == REFERENCE and target.kind != REFERENCE:
        return [f"{where}: a reference table references a {target.kind} table"]
    return []
