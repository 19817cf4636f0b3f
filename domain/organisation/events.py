"""An organisation's events, and its state folded from them.

Each organisation has one stream, in its own tenant, for its profile, teams, partners and
workers: one version for all of them, named by `If-Match` on every change. Each event carries
the whole entry it sets (a profile, a team, a partner, a worker); deactivating an entry sets
it again with ``active`` false, so nothing is ever removed and a past assignment still names
a worker the directory knows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

import msgspec

from domain.event import DomainEvent

Direction = Literal["refers_to", "receives_from", "both"]
DIRECTIONS: tuple[str, ...] = ("refers_to", "receives_from", "both")


class Profile(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    display_name: str
    description: str = ""  # what the organisation does: no address, email or telephone
    state: str | None = None  # USPS code of the state it serves (domain.us_states), if one


class Team(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    team_id: str
    name: str
    active: bool = True


class Partner(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    partner_id: str  # the partner's organisation id (its tenant, when it uses this deployment)
    display_name: str
    direction: Direction
    active: bool = True


class Worker(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    worker_id: str  # the user id of the worker's tokens (their ``sub``)
    display_name: str
    team_id: str
    active: bool = True


class OrganisationProfileSet(
    DomainEvent, frozen=True, kw_only=True, tag="organisation.profile_set"
):
    profile: Profile


class OrganisationTeamSet(DomainEvent, frozen=True, kw_only=True, tag="organisation.team_set"):
    team: Team


class OrganisationPartnerSet(
    DomainEvent, frozen=True, kw_only=True, tag="organisation.partner_set"
):
    partner: Partner


class OrganisationWorkerSet(DomainEvent, frozen=True, kw_only=True, tag="organisation.worker_set"):
    worker: Worker


ORGANISATION_EVENTS: tuple[type[DomainEvent], ...] = (
    OrganisationProfileSet,
    OrganisationTeamSet,
    OrganisationPartnerSet,
    OrganisationWorkerSet,
)


class NotAnOrganisation(Exception):
    """The stream holds an event that is not an organisation event."""


class Organisation(msgspec.Struct, frozen=True, kw_only=True):
    version: int = 0
    profile: Profile | None = None
    teams: Mapping[str, Team] = msgspec.field(default_factory=dict)
    partners: Mapping[str, Partner] = msgspec.field(default_factory=dict)
    workers: Mapping[str, Worker] = msgspec.field(default_factory=dict)

    @property
    def has_worker_directory(self) -> bool:
        """Whether the administrator recorded any worker: only then do assignments pick
        from the directory."""
        return bool(self.workers)

    def active_worker(self, worker_id: str) -> Worker | None:
        worker = self.workers.get(worker_id)
        return worker if worker is not None and worker.active else None

    def active_workers(self) -> list[Worker]:
        """The directory's active workers, by display name then id."""
        active = (w for w in self.workers.values() if w.active)
        return sorted(active, key=lambda w: (w.display_name, w.worker_id))

    def active_partner(self, partner_id: str) -> Partner | None:
        partner = self.partners.get(partner_id)
        return partner if partner is not None and partner.active else None

    @property
    def in_deployment(self) -> bool:
        """Whether the organisation has a profile here: one of this deployment's organisations
        (as `projections.organisations.is_partner_in_deployment` decides), not one outside
        Haven that is only named as a partner."""
        return self.profile is not None


def fold_organisation(events: Iterable[tuple[int, DomainEvent | None]]) -> Organisation:
    """The organisation after its events; `NotAnOrganisation` when one is not its event."""
    version, profile = 0, None
    teams: dict[str, Team] = {}
    partners: dict[str, Partner] = {}
    workers: dict[str, Worker] = {}
    for version, event in events:  # noqa: B007 (the last version is the organisation's)
        if isinstance(event, OrganisationProfileSet):
            profile = event.profile
        elif isinstance(event, OrganisationTeamSet):
            teams[event.team.team_id] = event.team
        elif isinstance(event, OrganisationPartnerSet):
            partners[event.partner.partner_id] = event.partner
        elif isinstance(event, OrganisationWorkerSet):
            workers[event.worker.worker_id] = event.worker
        else:
            raise NotAnOrganisation()
    return Organisation(
        version=version, profile=profile, teams=teams, partners=partners, workers=workers
    )
