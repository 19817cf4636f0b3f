"""Importing an HSDS document (a state's directory, another organisation's export).

Every service of the document is checked on its own (`domain.directory.document`) and then
listed **by the importing organisation**: its listing is a stream in the importer's tenant,
`listed_by` the importer, the record as the document gives it (the providing organisation
with its own HSDS id, `organization`), and the service's HSDS id kept as `source_id`. The
stream's id is derived from the importer and that HSDS id, so importing the same document
again finds each service again: a service whose record is unchanged is left alone, a
changed one is updated, a withdrawn one is listed again. Nothing is created twice.

The report names each record by its JSON pointer into the document and each refusal's
member by its pointer, never with a value. A dry run reports the same and records nothing.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from domain.directory.document import Accepted, read_document
from domain.directory.events import DirectoryServiceListed
from events.errors import ConcurrencyConflict
from events.store import PostgresEventStore
from services.commands.ports import Actor
from services.directory.listing import imported_stream, metadata, prepared, read_listing

Outcome = Literal["created", "updated", "unchanged", "refused"]


class ImportFault(msgspec.Struct, frozen=True):
    pointer: str
    detail: str


class ImportedRecord(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    pointer: str  # the record in the document: "/services/3", "/organizations/0"
    outcome: Outcome
    service_id: str | None = None  # Haven's id of the listing
    errors: tuple[ImportFault, ...] = ()


class ImportReport(msgspec.Struct, frozen=True, kw_only=True):
    dry_run: bool
    created: int
    updated: int
    unchanged: int
    refused: int
    records: tuple[ImportedRecord, ...]


async def import_document(
    store: PostgresEventStore, actor: Actor, body: bytes, *, dry_run: bool = False
) -> ImportReport:
    """List every acceptable service of the document for the actor's organisation.
    `domain.directory.document.DocumentRefused` when the document itself is unreadable."""
    accepted, refused = read_document(body)
    records = [
        ImportedRecord(
            pointer=r.pointer,
            outcome="refused",
            errors=tuple(ImportFault(pointer, rule) for pointer, rule in r.faults),
        )
        for r in refused
    ]
    for item in accepted:
        records.append(await _import_one(store, actor, item, dry_run))
    records.sort(key=lambda r: (not r.pointer.startswith("/organizations"), _index(r.pointer)))
    count = {kind: sum(r.outcome == kind for r in records) for kind in Outcome.__args__}  # type: ignore[attr-defined]
    return ImportReport(
        dry_run=dry_run,
        created=count["created"],
        updated=count["updated"],
        unchanged=count["unchanged"],
        refused=count["refused"],
        records=tuple(records),
    )


def _index(pointer: str) -> int:
    return int(pointer.rsplit("/", 1)[1])


async def _import_one(
    store: PostgresEventStore, actor: Actor, item: Accepted, dry_run: bool
) -> ImportedRecord:
    tenant = actor.organisation_id
    service_id = imported_stream(tenant, item.source_id)
    record = prepared(item.record, tenant, service_id)
    listing = await read_listing(store, tenant, service_id)
    if listing.listed and listing.record == record and listing.source_id == item.source_id:
        return ImportedRecord(pointer=item.pointer, outcome="unchanged", service_id=str(service_id))
    outcome: Outcome = "updated" if listing.exists else "created"
    if not dry_run:
        listed = DirectoryServiceListed(listed_by=tenant, source_id=item.source_id, record=record)
        try:
            await store.append(tenant, service_id, listing.version, [listed], metadata(actor))
        except ConcurrencyConflict:
            fault = ImportFault("", "the listing changed while it was imported; import again")
            return ImportedRecord(pointer=item.pointer, outcome="refused", errors=(fault,))
    return ImportedRecord(pointer=item.pointer, outcome=outcome, service_id=str(service_id))
