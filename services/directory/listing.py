"""Publishing, updating and withdrawing one listed service (`domain.directory`).

Each listed service is a stream of its own in the tenant of the organisation that lists it,
sealed by the store like every event. Its id is a name-based UUID (version 5) derived from
the organisation and, for a service published in Haven, a random part, for an imported one
its HSDS id in the source document (so a re-import finds it again). Case ids are random
UUIDs (version 4): no listing id is ever a case id, and an id that is not version 5 names no
listing here.

Updates and withdrawals name the version they were decided on (`If-Match`); the record of
an update replaces the whole record.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import msgspec

from domain.directory.events import (
    DirectoryServiceListed,
    DirectoryServiceWithdrawn,
    Listing,
    NotAListing,
    fold_listing,
)
from domain.directory.hsds import ServiceRecord
from domain.directory.rules import Fault, record_faults
from domain.event import DomainEvent, EventMetadata
from events.errors import ConcurrencyConflict, StreamErased, StreamNotFound
from events.store import PostgresEventStore
from services.authorisation import NotFound
from services.commands.ports import Actor
from services.commands.refusals import (
    IdempotencyKeyReused,
    InvalidRequest,
    PreconditionRequired,
    StaleVersion,
)

DIRECTORY_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://haven.example/streams/directory")


class ListingPreconditionRequired(PreconditionRequired):
    detail = "Send If-Match with the listed service's current version (its ETag)."


class ListingKeyReused(IdempotencyKeyReused):
    """The Idempotency-Key of a publication was sent with another record."""


def listing_stream(organisation_id: str, key: str) -> uuid.UUID:
    """The stream of the organisation's listing named `key` (a random part, or an HSDS id)."""
    return uuid.uuid5(DIRECTORY_NAMESPACE, f"{organisation_id}\n{key}")


def imported_stream(organisation_id: str, source_id: str) -> uuid.UUID:
    return listing_stream(organisation_id, f"import\n{source_id}")


def metadata(actor: Actor) -> EventMetadata:
    return EventMetadata(
        actor_id=actor.user_id, command_id=uuid.uuid4().hex, correlation_id=actor.request_id
    )


async def read_listing(
    store: PostgresEventStore, organisation_id: str, service_id: uuid.UUID
) -> Listing:
    """The organisation's listing (an empty one when it has none by this id, or the stream is
    not a listing)."""
    if service_id.version != 5:
        return Listing()
    try:
        recorded = await store.read_stream(organisation_id, service_id)
        return fold_listing((r.version, r.event) for r in recorded)
    except (StreamNotFound, StreamErased, NotAListing):
        return Listing()


def prepared(
    record: ServiceRecord, organisation_id: str, service_id: uuid.UUID, at: str = ""
) -> ServiceRecord:
    """The record as listed: its service under Haven's id, naming its organisation (which,
    without an id of its own, is the listing organisation)."""
    organization = record.organization
    if organization.id is None:
        organization = msgspec.structs.replace(organization, id=organisation_id)
    service = msgspec.structs.replace(
        record.service, id=str(service_id), organization_id=organization.id
    )
    return ServiceRecord(organization=organization, service=service)


def _refuse(faults: Sequence[Fault]) -> None:
    if faults:
        raise InvalidRequest(faults)


async def publish(
    store: PostgresEventStore, actor: Actor, record: ServiceRecord, key: str | None = None
) -> tuple[uuid.UUID, int]:
    """List a service of the actor's organisation: (its id, version 1).

    With an idempotency `key`, the listing's id is derived from it: the same request sent
    again answers as the first did and lists nothing twice; the key sent with another record
    is `ListingKeyReused`."""
    faults = record_faults(record)
    if record.service.id is not None:
        faults.append(("/service/id", "is given by Haven"))
    faults += _organization_link(record)
    _refuse(faults)
    part = uuid.uuid4().hex if key is None else f"key\n{key}"
    service_id = listing_stream(actor.organisation_id, part)
    listed = DirectoryServiceListed(
        listed_by=actor.organisation_id,
        record=prepared(record, actor.organisation_id, service_id),
    )
    try:
        result = await store.append(actor.organisation_id, service_id, 0, [listed], metadata(actor))
    except ConcurrencyConflict:
        if key is None or await _first_listed(store, actor, service_id) != listed:
            raise ListingKeyReused() from None
        return service_id, 1
    return service_id, result.version


async def _first_listed(
    store: PostgresEventStore, actor: Actor, service_id: uuid.UUID
) -> DomainEvent | None:
    try:
        recorded = await store.read_stream(actor.organisation_id, service_id)
    except (StreamNotFound, StreamErased):
        return None
    return recorded[0].event if recorded else None


async def update(
    store: PostgresEventStore,
    actor: Actor,
    service_id: uuid.UUID,
    expected_version: int | None,
    record: ServiceRecord,
) -> int:
    """Replace the record (a withdrawn service is listed again); the version it reaches."""
    listing = await _current(store, actor, service_id, expected_version, listed_only=False)
    faults = record_faults(record)
    if record.service.id not in (None, str(service_id)):
        faults.append(("/service/id", "must be the listed service's id, or absent"))
    faults += _organization_link(record)
    _refuse(faults)
    listed = DirectoryServiceListed(
        listed_by=actor.organisation_id,
        source_id=listing.source_id,
        record=prepared(record, actor.organisation_id, service_id),
    )
    return await _append(store, actor, service_id, listing.version, [listed])


async def withdraw(
    store: PostgresEventStore, actor: Actor, service_id: uuid.UUID, expected_version: int | None
) -> int:
    """Take the service out of the directory; the version it reaches."""
    listing = await _current(store, actor, service_id, expected_version, listed_only=True)
    withdrawn = DirectoryServiceWithdrawn(listed_by=actor.organisation_id)
    return await _append(store, actor, service_id, listing.version, [withdrawn])


async def _current(
    store: PostgresEventStore,
    actor: Actor,
    service_id: uuid.UUID,
    expected_version: int | None,
    *,
    listed_only: bool,
) -> Listing:
    listing = await read_listing(store, actor.organisation_id, service_id)
    if not listing.exists or (listed_only and not listing.listed):
        raise NotFound()
    if expected_version is None:
        raise ListingPreconditionRequired()
    if expected_version != listing.version:
        raise StaleVersion(str(service_id), expected_version)
    return listing


async def _append(
    store: PostgresEventStore,
    actor: Actor,
    service_id: uuid.UUID,
    version: int,
    events: list[DomainEvent],
) -> int:
    result = await store.append(actor.organisation_id, service_id, version, events, metadata(actor))
    return result.version


def _organization_link(record: ServiceRecord) -> list[Fault]:
    given = record.service.organization_id
    if given is not None and given != (record.organization.id or given):
        return [("/service/organization_id", "must be the organization's id, or absent")]
    return []
