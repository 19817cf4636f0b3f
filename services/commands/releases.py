"""Appending the events that release a case's data to another organisation.

A release commits with what goes with it, in one transaction, or not at all: the sending
case's events first (an append to an existing stream is its transaction's first write), then
each inbox item it sends to a partner organisation of this deployment (a new stream of the
recipient's, `inbox_delivery`), then a disclosure record per release in the case's access
log (`events.disclosures`). Events that release nothing are appended as one statement.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

from domain.case.disclosures import Release, releases
from domain.case.state import CaseState
from domain.event import DomainEvent, EventMetadata
from events.disclosures import record_disclosure
from services.commands.inbox_delivery import deliveries, from_organisation
from services.commands.ports import Actor, Appended, CaseStore


async def append_releasing(
    store: CaseStore,
    actor: Actor,
    case_id: str,
    state: CaseState,
    events: Sequence[DomainEvent],
    metadata: Callable[[Actor], EventMetadata],
) -> Appended:
    """Append `events` to the case at `state`'s version, with their inbox items and
    disclosure records (module doc)."""
    released, delivered = releases(state, events), deliveries(state, events)
    stream = uuid.UUID(case_id)
    if not released and not delivered:
        return await store.append(
            actor.organisation_id, stream, state.version, events, metadata(actor)
        )
    async with store.transaction() as conn:
        result = await store.append(
            actor.organisation_id, stream, state.version, events, metadata(actor), connection=conn
        )
        for recipient, item in delivered:
            sender = Actor(from_organisation(actor.organisation_id), recipient, actor.request_id)
            await store.append(
                recipient, uuid.UUID(item.item_id), 0, [item], metadata(sender), connection=conn
            )
        await disclose(conn, actor, case_id, released)
    return result


async def disclose(
    conn: Any, actor: Actor, case_id: str, released: list[tuple[int, Release]]
) -> None:
    """Record each release (by its event's version) in the case's access log, in `conn`'s
    transaction, after its appends."""
    for version, release in released:
        await record_disclosure(
            conn,
            tenant_id=actor.organisation_id,
            case_id=uuid.UUID(case_id),
            actor_id=actor.user_id,
            part=release.part,
            event_version=version,
            request_id=actor.request_id,
        )
