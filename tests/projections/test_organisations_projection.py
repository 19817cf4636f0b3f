"""The `organisations` projection: its rows equal a fold of every organisation's stream, built
live or by a rebuild; `partner` and `is_partner_in_deployment` answer from them. Synthetic."""

from __future__ import annotations

import random

from domain.organisation.events import (
    OrganisationProfileSet,
    Partner,
    Profile,
    Team,
    Worker,
    fold_organisation,
)
from events.store import PostgresEventStore
from projections.organisations import (
    PARTNERS,
    PROFILES,
    TEAMS,
    WORKERS,
    PartnerRow,
    is_partner_in_deployment,
    partner,
    workers,
)
from projections.rebuild import rebuild
from services.commands.ports import Actor
from services.organisations import command
from services.organisations.command import CURRENT, organisation_stream
from tests.projections.live_support import live_runner, projected_to_head

ORGS = ["org-a", "org-b", "org-c"]


async def seed(store: PostgresEventStore, seed_value: int, changes: int) -> None:
    """Profiles, teams, partners and workers set and reset at random."""
    rng = random.Random(seed_value)
    for n in range(changes):
        org = rng.choice(ORGS)
        actor = Actor("admin-1", org)
        kind = rng.choice(["profile", "team", "partner", "worker"])
        if kind == "profile" and org != "org-c":  # org-c stays outside the deployment
            profile = Profile(display_name=f"Example {org} {n}", state=rng.choice([None, "IL"]))
            await command.set_profile(store, actor, CURRENT, profile)
        elif kind == "team":
            team = Team(team_id=f"t-{rng.randint(1, 3)}", name=f"Team {n}")
            await command.set_team(store, actor, CURRENT, team)
        elif kind == "partner":
            other = rng.choice([o for o in ORGS if o != org] + ["org-outside"])
            direction = rng.choice(["refers_to", "receives_from", "both"])
            found = Partner(
                partner_id=other,
                display_name=f"Partner {n}",
                direction=direction,
                active=rng.random() < 0.7,
            )
            await command.set_partner(store, actor, CURRENT, found)
        else:
            worker = Worker(
                worker_id=f"w-{rng.randint(1, 5)}",
                display_name=f"Worker {n}",
                team_id="default",
                active=rng.random() < 0.8,
            )
            await command.set_worker(store, actor, CURRENT, worker)


async def expected_rows(store: PostgresEventStore) -> dict[str, set[tuple]]:
    rows: dict[str, set[tuple]] = {PROFILES: set(), TEAMS: set(), PARTNERS: set(), WORKERS: set()}
    for org in ORGS:
        stream = organisation_stream(org)
        state = await command.read_organisation(store, org)
        if state.version == 0:
            continue
        recorded = await store.read_stream(org, stream)
        assert fold_organisation((r.version, r.event) for r in recorded) == state
        if state.profile is not None:
            profile_version = max(
                r.version for r in recorded if isinstance(r.event, OrganisationProfileSet)
            )
            p = state.profile
            rows[PROFILES].add(
                (org, stream, profile_version, p.display_name, p.description, p.state)
            )
        for t in state.teams.values():
            rows[TEAMS].add((org, stream, t.team_id, t.name, t.active))
        for q in state.partners.values():
            rows[PARTNERS].add((org, stream, q.partner_id, q.display_name, q.direction, q.active))
        for w in state.workers.values():
            rows[WORKERS].add((org, stream, w.worker_id, w.display_name, w.team_id, w.active))
    return rows


async def projected_rows(store: PostgresEventStore) -> dict[str, set[tuple]]:
    return {
        table: {tuple(row) for row in await store.pool.fetch(f"SELECT * FROM {table}")}
        for table in (PROFILES, TEAMS, PARTNERS, WORKERS)
    }


async def test_a_rebuild_equals_the_live_projection_and_the_log(
    case_store, factories, listen
) -> None:
    await seed(case_store, 1, 12)
    await rebuild(case_store, case_store.pool, factories["organisations"])
    async with live_runner(case_store, listen, factories["organisations"]):
        await seed(case_store, 2, 40)
        assert await projected_to_head(case_store, "organisations")
        live = await projected_rows(case_store)
    assert live == await expected_rows(case_store)
    assert all(len(rows) >= 2 for rows in live.values())
    await rebuild(case_store, case_store.pool, factories["organisations"])
    assert await projected_rows(case_store) == live


async def test_a_partner_is_in_the_deployment_when_active_and_with_a_profile(
    case_store, factories
) -> None:
    a, b = Actor("admin-a", "org-a"), Actor("admin-b", "org-b")
    await command.set_profile(case_store, a, None, Profile(display_name="Example A"))
    await command.set_profile(case_store, b, None, Profile(display_name="Example B"))
    for partner_id, active in (("org-b", True), ("org-outside", True), ("org-gone", False)):
        entry = Partner(partner_id=partner_id, display_name="P", direction="both", active=active)
        await command.set_partner(case_store, a, CURRENT, entry)
    await command.set_profile(
        case_store, Actor("admin-g", "org-gone"), None, Profile(display_name="G")
    )
    await command.set_worker(
        case_store, a, CURRENT, Worker(worker_id="w-1", display_name="Ana", team_id="default")
    )
    await rebuild(case_store, case_store.pool, factories["organisations"])
    pool = case_store.pool
    assert await is_partner_in_deployment(pool, "org-a", "org-b")
    # control: a partner outside Haven, an inactive partner, and no partnership at all
    assert not await is_partner_in_deployment(pool, "org-a", "org-outside")
    assert not await is_partner_in_deployment(pool, "org-a", "org-gone")
    assert not await is_partner_in_deployment(pool, "org-b", "org-a")  # b never named a
    assert await partner(pool, "org-a", "org-gone") == PartnerRow(
        "org-a", "org-gone", "P", "both", False
    )
    assert await partner(pool, "org-b", "org-a") is None
    assert [w.worker_id for w in await workers(pool, "org-a")] == ["w-1"]
    assert await workers(pool, "org-b") == []
