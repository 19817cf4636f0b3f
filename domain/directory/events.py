"""A listed service's events, and its state folded from them.

Each service is a stream of its own in the tenant of the organisation that lists it:
`DirectoryServiceListed` carries the whole record each time (publication and every update),
`DirectoryServiceWithdrawn` takes it out of the directory (listing it again puts it back).
`listed_by` is the organisation that lists it; `source_id` the service's HSDS id in the
document it was imported from (None: published in Haven).
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from domain.directory.hsds import ServiceRecord
from domain.event import DomainEvent


class DirectoryServiceListed(
    DomainEvent, frozen=True, kw_only=True, tag="directory.service_listed"
):
    listed_by: str
    source_id: str | None = None
    record: ServiceRecord


class DirectoryServiceWithdrawn(
    DomainEvent, frozen=True, kw_only=True, tag="directory.service_withdrawn"
):
    listed_by: str


DIRECTORY_EVENTS: tuple[type[DomainEvent], ...] = (
    DirectoryServiceListed,
    DirectoryServiceWithdrawn,
)


class NotAListing(Exception):
    """The stream holds an event that is not a directory event: it is no listing."""


class Listing(msgspec.Struct, frozen=True, kw_only=True):
    version: int = 0
    listed_by: str | None = None
    source_id: str | None = None
    record: ServiceRecord | None = None  # the last listed record (kept after a withdrawal)
    withdrawn: bool = False

    @property
    def exists(self) -> bool:
        return self.version > 0

    @property
    def listed(self) -> bool:
        return self.record is not None and not self.withdrawn


def fold_listing(events: Iterable[tuple[int, DomainEvent | None]]) -> Listing:
    """The listing after its events; `NotAListing` when one is not a directory event."""
    listing = Listing()
    for version, event in events:
        if isinstance(event, DirectoryServiceListed):
            listing = Listing(
                version=version,
                listed_by=event.listed_by,
                source_id=event.source_id,
                record=event.record,
            )
        elif isinstance(event, DirectoryServiceWithdrawn):
            listing = msgspec.structs.replace(listing, version=version, withdrawn=True)
        else:
            raise NotAListing()
    return listing
