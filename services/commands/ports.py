"""What the use cases need of an event store: `CaseStore`, and who acts (`Actor`).

`events.store.PostgresEventStore` is one implementation; `unit_of_work.UnitOfWorkStore` binds
it to one transaction so that a command's events and its idempotency record commit together.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, NamedTuple, Protocol

from domain.event import DomainEvent, EventMetadata


class Actor(NamedTuple):
    user_id: str
    organisation_id: str
    request_id: str | None = None


class Appended(Protocol):
    @property
    def version(self) -> int: ...


class CaseStore(Protocol):
    async def read_stream(self, tenant_id: str, stream_id: uuid.UUID) -> Sequence[Any]: ...

    async def append(
        self,
        tenant_id: str,
        stream_id: uuid.UUID,
        expected_version: int,
        events: Sequence[DomainEvent],
        metadata: EventMetadata,
        *,
        connection: Any = None,
    ) -> Appended: ...

    def transaction(self) -> AbstractAsyncContextManager[Any]: ...
