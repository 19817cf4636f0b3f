"""The demo's fictitious organisations: their teams, workers and supervisor, and the people
`haven serve --demo` prints tokens for.

Every identifier is derived from the organisation's id, so the planner and the token printer
name the same people without sharing any state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import NamedTuple

DEFAULT_ORGANISATIONS: tuple[str, ...] = ("org-harbor", "org-lantern", "org-meadow")
TEAMS = ("intake", "adult-services", "youth-services", "legal-advocacy")
WORKERS_PER_TEAM = 3


class Organisation(NamedTuple):
    id: str
    teams: tuple[str, ...]
    workers: Mapping[str, tuple[str, ...]]  # team -> workers
    supervisor: str


def organisation_directory(organisation_ids: Sequence[str]) -> tuple[Organisation, ...]:
    """Each organisation with its teams (in `TEAMS` order), workers and supervisor."""
    orgs = []
    for org_id in organisation_ids:
        slug = org_id.removeprefix("org-")
        teams = tuple(f"team-{slug}-{name}" for name in TEAMS)
        workers = {
            team: tuple(f"worker-{slug}-{name}-{k}" for k in range(1, WORKERS_PER_TEAM + 1))
            for team, name in zip(teams, TEAMS, strict=True)
        }
        orgs.append(Organisation(org_id, teams, MappingProxyType(workers), f"supervisor-{slug}"))
    return tuple(orgs)


def demo_accounts(
    organisation_id: str = DEFAULT_ORGANISATIONS[0],
) -> list[tuple[str, str, str | None]]:
    """(role, user id, team) of one synthetic person per role in a demo organisation, the
    people `haven serve --demo` prints tokens for."""
    (org,) = organisation_directory([organisation_id])
    team = org.teams[0]
    slug = organisation_id.removeprefix("org-")
    return [
        ("caseworker", org.workers[team][0], team),
        ("supervisor", org.supervisor, team),
        ("privacy_officer", f"privacy-{slug}", None),
        ("reporter", f"reporter-{slug}", None),
        ("admin", f"admin-{slug}", None),
        ("outreach", f"outreach-{slug}", None),
    ]
