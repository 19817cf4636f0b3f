"""Reads of the case view (``views.case_view``, written by `projections.cases`): a case's
document, and its current state when the view is at the stream's head.
"""

from __future__ import annotations

import uuid
from typing import NamedTuple

import asyncpg

from crypto.keyring import Keyring
from domain.case.state import CaseState
from events.access_log import cached_case_data_key
from events.store import Connection
from projections.case_documents import CaseDocument, open_document
from projections.cases import CASE_VIEW


async def read_case_document(
    conn: Connection | asyncpg.Pool, keyring: Keyring, tenant_id: str, case_id: uuid.UUID
) -> CaseDocument | None:
    """The projected view of a case (None if it is not projected, or erased)."""
    row = await conn.fetchrow(
        f"SELECT version, sealed FROM {CASE_VIEW} WHERE tenant_id = $1 AND case_id = $2",
        tenant_id,
        case_id,
    )
    if row is None:
        return None
    key = await cached_case_data_key(conn, keyring, tenant_id, case_id)
    return open_document(key, tenant_id, case_id, row[0], row[1])


# The document only when it is current: a view behind the head is not used, and its document
# (a whole case, long for a long case) need not be read, detoasted or sent.
_CURRENT_SQL = f"""
SELECT s.version, s.wrapped_key IS NULL, v.version,
       CASE WHEN v.version = s.version THEN v.sealed END
  FROM haven.streams s
  LEFT JOIN {CASE_VIEW} v ON v.tenant_id = s.tenant_id AND v.case_id = s.stream_id
 WHERE s.tenant_id = $1 AND s.stream_id = $2"""


class CurrentView(NamedTuple):
    """What `read_current_state` found: the state (None when the view is behind, not built or
    not there) and the stream head's version (0 when there is no such case)."""

    state: CaseState | None
    head_version: int


_HEAD_SQL = (
    "SELECT version, wrapped_key IS NULL FROM haven.streams WHERE tenant_id = $1 AND stream_id = $2"
)


async def read_current_state(
    pool: asyncpg.Pool, keyring: Keyring, tenant_id: str, case_id: uuid.UUID
) -> CurrentView:
    """The case's current state from its view, in one statement — when the view is at the
    stream's head version. An empty state when there is no such case (or it is erased); no
    state when the view is behind, not built, or not there: the caller reads the stream (or
    uses a state it knows at `head_version`).

    The view's document is authenticated with the case's data key and bound to its version,
    which must equal the stream head's; the stream's hash chain itself is checked by every
    command (which reads the stream) and by `haven verify`, not by this read.
    """
    try:
        row = await pool.fetchrow(_CURRENT_SQL, tenant_id, case_id)
    except asyncpg.UndefinedTableError:
        row = await pool.fetchrow(_HEAD_SQL, tenant_id, case_id)
        if row is None or row[1]:
            return CurrentView(CaseState(), 0)
        return CurrentView(None, row[0])
    if row is None or row[1]:
        return CurrentView(CaseState(), 0)
    head_version, _, view_version, sealed = row
    if view_version != head_version:
        return CurrentView(None, head_version)
    key = await cached_case_data_key(pool, keyring, tenant_id, case_id)
    return CurrentView(
        open_document(key, tenant_id, case_id, view_version, sealed).state, head_version
    )
