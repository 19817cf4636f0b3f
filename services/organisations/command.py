"""Keeping an organisation (`domain.organisation`): its profile, teams, partners and workers.

The organisation is one stream in its own tenant, its id a name-based UUID (version 5) of the
organisation id. Every change names the version it was decided on (the API's `If-Match`):
missing, `OrganisationPreconditionRequired` (428), except for the first change of an
organisation that has no stream yet; another version, `StaleVersion` (412). The CLI acts on
the version it has just read (`expected_version=CURRENT`).
"""

from __future__ import annotations

import uuid
from typing import Final

from domain.event import DomainEvent, EventMetadata
from domain.organisation.events import (
    NotAnOrganisation,
    Organisation,
    OrganisationPartnerSet,
    OrganisationProfileSet,
    OrganisationTeamSet,
    OrganisationWorkerSet,
    Partner,
    Profile,
    Team,
    Worker,
    fold_organisation,
)
from domain.organisation.rules import (
    Fault,
    partner_faults,
    profile_faults,
    team_faults,
    worker_faults,
)
from events.errors import StreamErased, StreamNotFound
from events.store import PostgresEventStore
from services.commands.ports import Actor
from services.commands.refusals import InvalidRequest, PreconditionRequired, StaleVersion

ORGANISATION_NAMESPACE = uuid.uuid5(
    uuid.NAMESPACE_URL, "https://haven.example/streams/organisation"
)
CURRENT: Final = -1  # act on whatever version the organisation is at (the CLI)


class OrganisationPreconditionRequired(PreconditionRequired):
    detail = "Send If-Match with the organisation's current version (its ETag)."


def organisation_stream(organisation_id: str) -> uuid.UUID:
    return uuid.uuid5(ORGANISATION_NAMESPACE, organisation_id)


async def read_organisation(store: PostgresEventStore, organisation_id: str) -> Organisation:
    """The organisation as recorded (an empty one when nothing is)."""
    try:
        recorded = await store.read_stream(organisation_id, organisation_stream(organisation_id))
        return fold_organisation((r.version, r.event) for r in recorded)
    except (StreamNotFound, StreamErased, NotAnOrganisation):
        return Organisation()


async def set_profile(
    store: PostgresEventStore, actor: Actor, expected_version: int | None, profile: Profile
) -> int:
    """Record the organisation's profile; the version the organisation reaches."""
    organisation = await _current(store, actor, expected_version)
    _refuse(profile_faults(profile))
    return await _append(store, actor, organisation, OrganisationProfileSet(profile=profile))


async def set_team(
    store: PostgresEventStore, actor: Actor, expected_version: int | None, team: Team
) -> int:
    organisation = await _current(store, actor, expected_version)
    _refuse(team_faults(organisation, team))
    return await _append(store, actor, organisation, OrganisationTeamSet(team=team))


async def set_partner(
    store: PostgresEventStore, actor: Actor, expected_version: int | None, partner: Partner
) -> int:
    organisation = await _current(store, actor, expected_version)
    _refuse(partner_faults(actor.organisation_id, organisation, partner))
    return await _append(store, actor, organisation, OrganisationPartnerSet(partner=partner))


async def set_worker(
    store: PostgresEventStore, actor: Actor, expected_version: int | None, worker: Worker
) -> int:
    organisation = await _current(store, actor, expected_version)
    _refuse(worker_faults(organisation, worker))
    return await _append(store, actor, organisation, OrganisationWorkerSet(worker=worker))


async def _current(
    store: PostgresEventStore, actor: Actor, expected_version: int | None
) -> Organisation:
    organisation = await read_organisation(store, actor.organisation_id)
    if expected_version == CURRENT:
        return organisation
    if expected_version is None and organisation.version > 0:
        raise OrganisationPreconditionRequired()
    if expected_version is not None and expected_version != organisation.version:
        raise StaleVersion(actor.organisation_id, expected_version)
    return organisation


def _refuse(faults: list[Fault]) -> None:
    if faults:
        raise InvalidRequest(faults)


async def _append(
    store: PostgresEventStore, actor: Actor, organisation: Organisation, event: DomainEvent
) -> int:
    metadata = EventMetadata(
        actor_id=actor.user_id, command_id=uuid.uuid4().hex, correlation_id=actor.request_id
    )
    result = await store.append(
        actor.organisation_id,
        organisation_stream(actor.organisation_id),
        organisation.version,
        [event],
        metadata,
    )
    return result.version
