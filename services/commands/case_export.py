"""A survivor's own record: everything held about one case, for the privacy officer who
answers the survivor's request (the API's `GET /v1/cases/{id}/export`, `haven export`).

Authorised as `Action.CASE_EXPORT` (the privacy officer of the case's organisation; another
organisation's case, a missing or an erased one is `NotFound`). The export is an access like
any read and fails closed: its record (part "export", basis "privacy-review") is written
first, in the transaction that then reads the case's access records and opens its
break-the-glass grants' reasons and reads the case's screenings, and nothing is returned
unless that transaction commits.
The record is written only while the case's stream is still at the version that was read and
not erased (`record_access(at_version=...)`): an export never hands out a case erased, or
changed, after it was read; a case that changed meanwhile is read again.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any, NamedTuple

from domain.case.state import CaseState
from domain.screening.screening import ScreeningRecorded
from events.access_log import (
    MAX_PAGE,
    AccessNotRecorded,
    AccessRecord,
    GrantReason,
    access_review,
    case_data_key,
    fail_closed,
    grant_reasons,
)
from events.store import Connection, utc_now
from services.authorisation import Action, CaseFacts, require
from services.bootstrap import Runtime
from services.commands import case_access, case_reader
from services.commands.case_reads import Reader
from services.screening.erasure import screenings_of_case

EXPORT_PART = "export"
ATTEMPTS = 3  # reads of a case that keeps changing while it is exported


class CaseExport(NamedTuple):
    """The case as stored, every event of its stream (oldest first, decrypted), its access
    records (newest first: this export's own record first of all) and its break-the-glass
    grants with their reasons opened (newest first)."""

    case_id: uuid.UUID
    exported_at: dt.datetime
    exported_by: str
    state: CaseState
    events: Sequence[Any]
    records: list[AccessRecord]
    grants: list[GrantReason]
    screenings: Sequence[ScreeningRecorded] = ()  # the case's screenings, by day


async def export_case(runtime: Runtime, reader: Reader, case_id: uuid.UUID) -> CaseExport:
    principal = reader.principal
    tenant = principal.organisation_id
    for _ in range(ATTEMPTS):
        state, events = await case_reader.read_history(runtime.store, tenant, case_id)
        decision = require(
            principal, Action.CASE_EXPORT, CaseFacts.of(state), team_access=reader.team_access
        )
        async with fail_closed(runtime.store.transaction(), case_id) as conn:
            recorded = await case_access.record(
                conn,
                reader.request_id,
                principal,
                case_id,
                Action.CASE_EXPORT,
                decision.basis,
                EXPORT_PART,
                at_version=state.version,
            )
            if recorded:
                records = await _every_record(conn, tenant, case_id)
                key = await case_data_key(conn, runtime.keyring, tenant, case_id)
                grants = await grant_reasons(conn, tenant, case_id, key)
                screenings = await _screenings(runtime, conn, tenant, case_id)
        if recorded:
            return CaseExport(
                case_id, utc_now(), principal.user_id, state, events, records, grants, screenings
            )
    raise AccessNotRecorded(f"the export of case {case_id} could not be recorded")


async def _screenings(
    runtime: Runtime, conn: Connection, tenant: str, case_id: uuid.UUID
) -> list[ScreeningRecorded]:
    """The screenings of the case (`services.screening.erasure`), oldest day first."""
    found = []
    for screening_id in await screenings_of_case(runtime.store, conn, tenant, case_id):
        recorded = await runtime.store.read_stream(tenant, screening_id, connection=conn)
        if recorded and isinstance(recorded[0].event, ScreeningRecorded):
            found.append(recorded[0].event)
    return sorted(found, key=lambda event: (event.screened_on, event.screening_id))


async def _every_record(conn: Connection, tenant: str, case_id: uuid.UUID) -> list[AccessRecord]:
    """Every access record of the case, newest first, page by page."""
    records: list[AccessRecord] = []
    before = None
    while True:
        page = await access_review(conn, tenant, case_id=case_id, before=before, limit=MAX_PAGE)
        records.extend(page)
        if len(page) < MAX_PAGE:
            return records
        before = page[-1].record_id
