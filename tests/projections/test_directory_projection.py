"""The `directory` projection: the rows equal a fold of every listing's stream, built live or
by a rebuild, and its SQL search answers as `domain.directory.search.matches`. Synthetic."""

from __future__ import annotations

import random
import uuid

from domain.directory import taxonomy
from domain.directory.areas import STATE_FIPS
from domain.directory.events import DirectoryServiceListed, fold_listing
from domain.directory.hsds import (
    Attribute,
    Language,
    Organization,
    Service,
    ServiceArea,
    ServiceRecord,
    TaxonomyTerm,
)
from domain.directory.search import Query, facets, matches
from events.store import PostgresEventStore
from projections.directory import COLUMNS, directory_row, search_services
from projections.rebuild import rebuild
from services.commands.ports import Actor
from services.directory import listing
from tests.projections.live_support import live_runner, projected_to_head

CATEGORIES = sorted(taxonomy.TAXONOMIES[taxonomy.CATEGORY])
STATES = ["IL", "IN", "WI"]


def synthetic(rng: random.Random, n: int) -> ServiceRecord:
    areas = []
    for state in rng.sample(STATES, rng.randint(1, 2)):
        whole = rng.random() < 0.5
        areas.append(
            f"US-{state}" if whole else f"US-{state}-{STATE_FIPS[state]}{rng.randint(1, 3):03}"
        )
    low = rng.choice([None, 12, 18])
    return ServiceRecord(
        organization=Organization(name=f"Example Organisation {n % 3}"),
        service=Service(
            name=f"Example service {rng.randint(0, 5)}",
            service_areas=list(ServiceArea(extent=a) for a in areas),
            languages=list(Language(code=c) for c in rng.sample(["en", "es-MX", "fil"], 2)),
            minimum_age=low,
            maximum_age=rng.choice([None, 24]) if low != 18 else None,
            attributes=list(
                Attribute(taxonomy_term=TaxonomyTerm(code=c, taxonomy=taxonomy.CATEGORY))
                for c in rng.sample(CATEGORIES, 2)
            ),
        ),
    )


async def seed(store: PostgresEventStore, seed_value: int, count: int) -> None:
    """Publish, update and withdraw listings of two organisations."""
    rng = random.Random(seed_value)
    for n in range(count):
        actor = Actor("admin-1", rng.choice(["org-a", "org-b"]))
        service_id, version = await listing.publish(store, actor, synthetic(rng, n))
        if rng.random() < 0.4:
            version = await listing.update(store, actor, service_id, version, synthetic(rng, n))
        if rng.random() < 0.25:
            await listing.withdraw(store, actor, service_id, version)


async def expected_rows(store: PostgresEventStore) -> dict[tuple[str, uuid.UUID], tuple]:
    expected = {}
    for tenant_id, stream_id in await store.pool.fetch(
        "SELECT tenant_id, stream_id FROM haven.streams"
    ):
        recorded = await store.read_stream(tenant_id, stream_id)
        state = fold_listing((r.version, r.event) for r in recorded)
        if state.listed:
            event = DirectoryServiceListed(
                listed_by=tenant_id, source_id=state.source_id, record=state.record
            )
            expected[(tenant_id, stream_id)] = directory_row(
                tenant_id, stream_id, state.version, event
            )
    return expected


async def projected_rows(store: PostgresEventStore) -> dict[tuple[str, uuid.UUID], tuple]:
    columns = ", ".join(c if c != "record" else "record::text" for c in COLUMNS)
    rows = await store.pool.fetch(f"SELECT {columns} FROM views.directory_services")
    return {(row[0], row[1]): tuple(row) for row in rows}


async def test_a_rebuild_equals_the_live_projection_and_the_log(
    case_store, factories, listen
) -> None:
    await seed(case_store, 1, 6)
    await rebuild(case_store, case_store.pool, factories["directory"])
    async with live_runner(case_store, listen, factories["directory"]):
        await seed(case_store, 2, 14)
        assert await projected_to_head(case_store, "directory")
        live = await projected_rows(case_store)
    expected = await expected_rows(case_store)
    assert live == expected and len(expected) > 5
    await rebuild(case_store, case_store.pool, factories["directory"])
    assert await projected_rows(case_store) == live


async def test_the_sql_search_answers_as_the_domain_rules(case_store, factories) -> None:
    await seed(case_store, 3, 24)
    await rebuild(case_store, case_store.pool, factories["directory"])
    listed = {
        stream_id: state.record
        for tenant_id, stream_id in await case_store.pool.fetch(
            "SELECT tenant_id, stream_id FROM haven.streams"
        )
        if (
            state := fold_listing(
                (r.version, r.event) for r in await case_store.read_stream(tenant_id, stream_id)
            )
        ).listed
    }
    queries = [
        Query(),
        *(Query(category=c) for c in CATEGORIES[:6]),
        *(Query(state=s) for s in [*STATES, "OH"]),
        *(Query(county=f"{STATE_FIPS[s]}00{n}") for s in STATES for n in (1, 2, 3)),
        *(Query(language=code) for code in ("en", "es", "fil", "de")),
        *(Query(age=age) for age in (10, 16, 30)),
        Query(state="IL", language="es", age=20),
    ]
    for query in queries:
        found = await search_services(case_store.pool, query, limit=1000)
        want = {
            i for i, record in listed.items() if record and matches(query, facets(record.service))
        }
        assert {s.service_id for s in found} == want, query
