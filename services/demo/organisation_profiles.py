"""The demo organisations as their administrators keep them: a profile, the teams, every demo
worker and supervisor in the worker directory, and the next demo organisation as a partner
(both ways), so that `haven serve --demo` assigns from the directory and refers to a partner
in the same deployment. Every name is invented.
"""

from __future__ import annotations

from collections.abc import Sequence

from domain.organisation.events import Partner, Profile, Team, Worker
from events.store import PostgresEventStore
from services.commands.ports import Actor
from services.demo.organisations import TEAMS, organisation_directory
from services.organisations import command
from services.organisations.command import CURRENT

FIRST_NAMES = ("Ana", "Bo", "Chidi", "Dara", "Emre", "Farah", "Gus", "Hana", "Ilse", "Jun")
TEAM_NAMES = dict(zip(TEAMS, ("Intake", "Adult services", "Youth services", "Legal advocacy"),
                      strict=True))  # fmt: skip


def display_name(organisation_id: str) -> str:
    return f"Example {organisation_id.removeprefix('org-').title()} Services"


def worker_name(number: int) -> str:
    """An invented person's name: a first name and an example surname."""
    return f"{FIRST_NAMES[number % len(FIRST_NAMES)]} Example-{number + 1}"


async def seed_organisations(store: PostgresEventStore, organisation_ids: Sequence[str]) -> int:
    """Record each demo organisation's profile, teams, workers and partner; how many workers."""
    recorded = 0
    organisations = organisation_directory(organisation_ids)
    for index, organisation in enumerate(organisations):
        actor = Actor(f"admin-{organisation.id.removeprefix('org-')}", organisation.id)

        profile = Profile(
            display_name=display_name(organisation.id),
            description="Case management, shelter referrals and legal advocacy (fictitious).",
            state="IL",
        )
        await command.set_profile(store, actor, CURRENT, profile)
        for team_id, kind in zip(organisation.teams, TEAMS, strict=True):
            team = Team(team_id=team_id, name=TEAM_NAMES[kind])
            await command.set_team(store, actor, CURRENT, team)
        people = [
            (worker_id, team_id)
            for team_id in organisation.teams
            for worker_id in organisation.workers[team_id]
        ]
        people.append((organisation.supervisor, organisation.teams[0]))
        for number, (worker_id, team_id) in enumerate(people):
            worker = Worker(worker_id=worker_id, display_name=worker_name(number), team_id=team_id)
            await command.set_worker(store, actor, CURRENT, worker)
            recorded += 1
        if len(organisations) > 1:
            other = organisations[(index + 1) % len(organisations)]
            partner = Partner(
                partner_id=other.id, display_name=display_name(other.id), direction="both"
            )
            await command.set_partner(store, actor, CURRENT, partner)
    return recorded
