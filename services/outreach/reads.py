"""Reading one activity from its stream (the truth; the list and the summary come from the
`activities` read model, `projections.activities`)."""

from __future__ import annotations

import uuid

from domain.outreach.state import ActivityState, fold_activity
from events.errors import StreamErased, StreamNotFound
from events.store import Connection, PostgresEventStore


async def read_activity(
    store: PostgresEventStore,
    organisation_id: str,
    activity_id: uuid.UUID,
    *,
    connection: Connection | None = None,
) -> ActivityState:
    """The activity folded from its stream; the empty state when there is none in this
    organisation (missing, another organisation's, erased, or a stream of another kind)."""
    try:
        recorded = await store.read_stream(organisation_id, activity_id, connection=connection)
    except (StreamNotFound, StreamErased):
        return ActivityState()
    state = fold_activity((r.version, r.event) for r in recorded)
    return state if state.organisation_id == organisation_id else ActivityState()
