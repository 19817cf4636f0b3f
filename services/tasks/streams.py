"""A case's task stream: where the actions on its follow-up tasks are recorded.

One stream per case, in the case's organisation's tenant, named after the case; it holds ids,
kinds, days and who acted (`domain.tasks.actions`). It is erased with its case
(`services.commands.case_privacy.erase`): a task's kind says which follow-ups the case had.
"""

from __future__ import annotations

import uuid

from events.store import Connection


def task_stream(case_id: uuid.UUID) -> uuid.UUID:
    """The stream of a case's task actions."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"https://haven.example/streams/tasks/{case_id}")


async def task_streams_of_case(
    conn: Connection, tenant_id: str, case_id: uuid.UUID
) -> list[uuid.UUID]:
    """The case's task stream when one was written and is not erased yet (else none)."""
    stream = task_stream(case_id)
    alive = await conn.fetchval(
        "SELECT wrapped_key IS NOT NULL FROM haven.streams WHERE tenant_id = $1 AND stream_id = $2",
        tenant_id,
        stream,
    )
    return [stream] if alive else []
