"""Whom a case may be assigned to: a worker the organisation's directory knows as active.

An organisation whose administrator has recorded no worker keeps no directory, and any
worker id is taken (the identity provider alone knows its people); once one
worker is recorded, an assignment naming an unknown or inactive worker is `UnknownWorker`
(422 `unknown-worker`).
"""

from __future__ import annotations

from events.store import PostgresEventStore
from services.commands.refusals import UnknownWorker
from services.organisations.command import read_organisation


async def check_assignable(store: PostgresEventStore, organisation_id: str, worker_id: str) -> None:
    organisation = await read_organisation(store, organisation_id)
    if organisation.has_worker_directory and organisation.active_worker(worker_id) is None:
        raise UnknownWorker()
