"""The Citus plan (`events.distribution`) holds for the schema as migrated and as projected.

Every table of the migrated database, and every table a projection creates for a generation,
is read from the catalog (the projections' tables are created for a scratch generation in a
transaction that is rolled back) and checked against the plan: placed, `tenant_id` in every
distributed table's primary key, unique indexes and foreign keys. The controls add, in the same
rolled-back transaction, tables that break each rule, and the check must name every one.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import asyncpg
import pytest

from events import distribution as plan
from events.distribution import ForeignKey, TableFacts, UniqueIndex
from projections.base import create_statements, tables_of
from projections.catalog import PROJECTION_TYPES

SCRATCH_GENERATION = 990_001

_TABLES_SQL = """
SELECT c.oid, n.nspname || '.' || c.relname AS name
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('r', 'p')"""
_COLUMNS_SQL = """
SELECT attrelid AS oid, attname, format_type(atttypid, atttypmod) AS type
  FROM pg_attribute WHERE attrelid = ANY($1::oid[]) AND attnum > 0 AND NOT attisdropped"""
_UNIQUE_SQL = """
SELECT x.indrelid AS oid, i.relname AS name, x.indisprimary AS primary,
       array(SELECT a.attname FROM unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
               LEFT JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum
              ORDER BY k.ord) AS columns
  FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
 WHERE x.indrelid = ANY($1::oid[]) AND x.indisunique"""
_FOREIGN_KEYS_SQL = """
SELECT f.conrelid AS oid, f.conname AS name, rn.nspname || '.' || r.relname AS referenced,
       array(SELECT a.attname FROM unnest(f.conkey) WITH ORDINALITY AS k(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = f.conrelid AND a.attnum = k.attnum
              ORDER BY k.ord) AS columns,
       array(SELECT a.attname FROM unnest(f.confkey) WITH ORDINALITY AS k(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = f.confrelid AND a.attnum = k.attnum
              ORDER BY k.ord) AS referenced_columns
  FROM pg_constraint f JOIN pg_class r ON r.oid = f.confrelid
  JOIN pg_namespace rn ON rn.oid = r.relnamespace
 WHERE f.contype = 'f' AND f.conrelid = ANY($1::oid[])"""


async def catalog_facts(conn: asyncpg.Connection) -> dict[str, TableFacts]:
    tables = {row["oid"]: row["name"] for row in await conn.fetch(_TABLES_SQL, plan.SCHEMAS)}
    oids = list(tables)
    columns: dict[int, dict[str, str]] = {oid: {} for oid in oids}
    for row in await conn.fetch(_COLUMNS_SQL, oids):
        columns[row["oid"]][row["attname"]] = row["type"]
    unique: dict[int, list[UniqueIndex]] = {oid: [] for oid in oids}
    for row in await conn.fetch(_UNIQUE_SQL, oids):
        unique[row["oid"]].append(UniqueIndex(row["name"], tuple(row["columns"]), row["primary"]))
    keys: dict[int, list[ForeignKey]] = {oid: [] for oid in oids}
    for row in await conn.fetch(_FOREIGN_KEYS_SQL, oids):
        keys[row["oid"]].append(
            ForeignKey(
                row["name"],
                tuple(row["columns"]),
                row["referenced"],
                tuple(row["referenced_columns"]),
            )
        )
    return {name: TableFacts(columns[oid], unique[oid], keys[oid]) for oid, name in tables.items()}


@pytest.fixture
async def projected(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """A connection in a transaction where every projection's tables exist for a scratch
    generation; rolled back afterwards."""
    async with pool.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        try:
            for projection in PROJECTION_TYPES:
                for statement in create_statements(
                    projection, tables_of(projection, SCRATCH_GENERATION)
                ):
                    await conn.execute(statement)
            yield conn
        finally:
            await transaction.rollback()


def generation_tables() -> set[str]:
    return {
        physical
        for projection in PROJECTION_TYPES
        for physical in tables_of(projection, SCRATCH_GENERATION).physical.values()
    }


async def test_every_table_is_placed_and_keeps_tenant_id_in_its_keys(
    projected: asyncpg.Connection,
) -> None:
    facts = await catalog_facts(projected)
    for table in (*plan.DISTRIBUTED_TABLES, *plan.COORDINATOR_TABLES, *plan.NODE_LOCAL_TABLES):
        assert table in facts, f"the plan places {table}, which the schema does not have"
    assert generation_tables() <= set(facts)
    assert plan.violations(facts) == []


async def test_the_plan_places_the_tables_as_the_doc_says(projected: asyncpg.Connection) -> None:
    facts = await catalog_facts(projected)
    kinds = {table: placement.kind for table in facts if (placement := plan.place(table))}
    g = SCRATCH_GENERATION
    assert kinds["haven.events"] == kinds["haven.streams"] == plan.DISTRIBUTED
    assert kinds[f"views.case_view_g{g}"] == kinds[f"views.caseload_g{g}"] == plan.DISTRIBUTED
    assert kinds[f"views.reporting_subjects_g{g}"] == plan.COORDINATOR
    assert kinds[f"reporting.federal_inputs_g{g}"] == plan.COORDINATOR
    assert kinds["haven.projection_checkpoints"] == plan.NODE_LOCAL
    assert all(kinds[t] == plan.COORDINATOR for t in facts if t.startswith(("dp.", "reporting")))
    assert all(
        facts[table].columns[plan.DISTRIBUTION_COLUMN] == "text"
        for table, kind in kinds.items()
        if kind == plan.DISTRIBUTED
    )


async def test_the_only_exception_is_the_one_the_plan_records(
    projected: asyncpg.Connection,
) -> None:
    """Without EXCEPTIONS the check names exactly the caseload's transfer index, of every
    generation the database holds (other tests may have built some)."""
    facts = await catalog_facts(projected)
    found = plan.violations(facts, exceptions={})
    generation = re.compile(r"_g\d+")
    assert {generation.sub("_gN", violation) for violation in found} == {
        "views.caseload_gN: unique index caseload_gN_by_transfer lacks tenant_id"
    }
    assert (
        f"views.caseload_g{SCRATCH_GENERATION}: unique index "
        f"caseload_g{SCRATCH_GENERATION}_by_transfer lacks tenant_id"
    ) in found


CONTROLS = """
CREATE TABLE views.control_pk_g1 (tenant_id text NOT NULL, case_id uuid NOT NULL,
                                   PRIMARY KEY (case_id));
CREATE TABLE views.control_unique_g1 (tenant_id text NOT NULL, case_id uuid NOT NULL,
                                       worker_id text, PRIMARY KEY (tenant_id, case_id));
CREATE UNIQUE INDEX control_unique_g1_by_worker ON views.control_unique_g1 (worker_id);
CREATE TABLE views.control_fk_g1 (tenant_id text NOT NULL, case_id uuid NOT NULL,
                                   release_id bigint REFERENCES dp.releases (id),
                                   label text, PRIMARY KEY (tenant_id, case_id));
CREATE TABLE views.control_pair_g1 (tenant_id text NOT NULL, other text NOT NULL,
                                     PRIMARY KEY (tenant_id, other));
ALTER TABLE views.control_fk_g1 ADD CONSTRAINT control_fk_g1_paired_in_another_order
    FOREIGN KEY (case_id, tenant_id) REFERENCES haven.streams (stream_id, tenant_id);
ALTER TABLE views.control_fk_g1 ADD CONSTRAINT control_fk_g1_swapped
    FOREIGN KEY (tenant_id, label) REFERENCES views.control_pair_g1 (other, tenant_id);
CREATE TABLE views.control_type_g1 (tenant_id uuid NOT NULL, PRIMARY KEY (tenant_id));
CREATE TABLE views.control_column_g1 (organisation text PRIMARY KEY);
CREATE TABLE reporting.control_inward_g1 (subject uuid PRIMARY KEY, tenant_id text NOT NULL,
                                stream_id uuid NOT NULL,
                                FOREIGN KEY (tenant_id, stream_id) REFERENCES haven.streams);
CREATE TABLE haven.control_unplaced (id integer PRIMARY KEY);
"""


async def test_control_each_broken_rule_is_reported(projected: asyncpg.Connection) -> None:
    await projected.execute(CONTROLS)
    found = plan.violations(await catalog_facts(projected))
    assert found == [
        "haven.control_unplaced: not placed",
        "reporting.control_inward_g1: foreign key control_inward_g1_tenant_id_stream_id_fkey"
        " to haven.streams: a coordinator table references a distributed table",
        "views.control_column_g1: no distribution column tenant_id",
        "views.control_fk_g1: foreign key control_fk_g1_release_id_fkey to dp.releases:"
        " a distributed table references a coordinator table",
        "views.control_fk_g1: foreign key control_fk_g1_swapped to views.control_pair_g1:"
        " does not pair tenant_id with tenant_id",
        "views.control_pk_g1: primary key control_pk_g1_pkey lacks tenant_id",
        "views.control_type_g1: tenant_id is uuid, not text as in haven.streams",
        "views.control_unique_g1: unique index control_unique_g1_by_worker lacks tenant_id",
    ]
