"""The screenings of a case, found when the case is erased so that they are erased with it.

A screening of a case holds answers about the person the case is about; when the case is
erased (the privacy officer's erasure, a retention run), so are its screenings. They are found
in two places, which together hold every screening of the case that has committed:

* the `screenings` read model (`linked_case`), up to the projection's checkpoint;
* the log after that checkpoint: the `screening.recorded` events the projector has not
  reached yet (their type is stored in clear; only those few are decrypted).

The checkpoint is read first, so that a projection moving on between the two reads only makes
them overlap. A screening being recorded while the case is erased cannot slip between them:
recording holds the case's erasure lock shared until it commits and refuses a case already
erased (`services.screening.record`), and the erasure takes that lock before it looks.
"""

from __future__ import annotations

import uuid

from domain.screening.screening import ScreeningRecorded
from events.errors import StreamErased, StreamNotFound
from events.log_order import LOG_START
from events.store import Connection, PostgresEventStore
from projections import checkpoints
from projections.screenings import ScreeningsProjection, screenings_linked_to

_UNPROJECTED_SQL = """
SELECT DISTINCT stream_id FROM haven.events
 WHERE tenant_id = $1 AND event_type = 'screening.recorded'
   AND (transaction_id, position) > ($2::xid8, $3::bigint)"""


async def screenings_of_case(
    store: PostgresEventStore, conn: Connection, tenant_id: str, case_id: uuid.UUID
) -> list[uuid.UUID]:
    """Every committed screening that names the case, in the caller's transaction."""
    checkpoint = await checkpoints.load(conn, ScreeningsProjection.name)
    after = checkpoint.position if checkpoint is not None else LOG_START
    found: set[uuid.UUID] = set()
    # (asked first: a missing table's error would end the caller's transaction)
    built = await conn.fetchval("SELECT to_regclass('views.screenings') IS NOT NULL")
    if checkpoint is not None and built:
        found.update(await screenings_linked_to(conn, tenant_id, case_id))
    else:
        after = LOG_START
    for (stream_id,) in await conn.fetch(
        _UNPROJECTED_SQL, tenant_id, after.transaction_id, after.position
    ):
        try:
            recorded = await store.read_stream(tenant_id, stream_id, connection=conn)
        except (StreamNotFound, StreamErased):
            continue
        event = recorded[0].event if recorded else None
        if isinstance(event, ScreeningRecorded) and event.case_id == str(case_id):
            found.add(stream_id)
    return sorted(found)
