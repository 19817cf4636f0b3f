"""The privacy officer's use cases on one case, for every edge that offers them (the API, the
console): the review of its access log with the break-the-glass grants' reasons, and its
erasure.

* `review_access`: authorised as `Action.CASE_ACCESS_LOG`; the review is recorded first, in
  the same transaction that then reads the access records (newest first) and opens the grants'
  reasons, so nothing is returned unless that transaction commits (fail closed).
* `erase`: authorised as `Action.CASE_ERASE`; crypto-shreds the case's data key, removes the
  case from every read model and its stored idempotent answers, and records the erasure, in
  one transaction, and appends it to the erasure list outside the database (ids and a date,
  `events.erasure_list`) before that transaction commits, so restoring an older backup cannot
  bring the case back (`haven restore-check`). From then on the case answers every route
  exactly like a missing one. An erasure may name its ground: a code of `ERASURE_GROUNDS`,
  kept on the erasure's access record. Never free text: that record outlives the case's key,
  so it must say nothing about the survivor. The case's screenings (`services.screening`)
  and its task stream (`services.tasks.streams`) are erased with it, in the same
  transaction, and listed too.

A conditional erasure (`only_if`, the retention policy's) decides its condition on the case
as loaded; inside the erasure's transaction the stream's head is locked and must still be at
the version decided on, so a case changed meanwhile (reopened, say) is not erased
(`CaseChanged`, nothing done).

A case of another organisation is "no such case" (`NotFound`, like a random id).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import NamedTuple

from domain.case.disclosures import Release, releases_by_version
from domain.case.state import CaseState
from events import idempotency
from events.access_listings import Listing, listings_naming
from events.access_log import (
    AccessRecord,
    GrantReason,
    access_log,
    case_data_key,
    fail_closed,
    grant_reasons,
)
from events.erasure import hold_head_at
from events.erasure_list import listed_now
from events.recorded import Connection
from projections.catalog import PROJECTION_TYPES
from projections.rebuild import forget_case
from services.authorisation import Action, CaseFacts, require
from services.bootstrap import Runtime
from services.commands import case_access
from services.commands.case_reader import load_for, read_history
from services.commands.case_reads import Reader
from services.screening.erasure import screenings_of_case
from services.tasks.streams import task_streams_of_case

# The grounds an erasure may name (codes; the labels are for the forms that offer them).
ERASURE_GROUNDS: dict[str, str] = {
    "survivor-request": "The survivor asked for their data to be erased",
    "retention-ended": "The retention period has ended",
    "consent-withdrawn": "Consent was withdrawn and no other basis applies",
    "entered-in-error": "The case was entered in error",
    "legal-obligation": "A legal obligation requires the erasure",
    "retention-policy": "The organisation's retention policy erases the closed case",
}


class CaseChanged(Exception):
    """A conditional erasure refused: the case does not meet the condition, or changed after
    it was decided on. Nothing was erased."""


class AccessReview(NamedTuple):
    """A case's access records (newest first, the review's own record first of all), its
    break-the-glass grants with their reasons opened, and what each disclosure released (by
    its record's `event_version`: recipient, categories, consent, from the sealed event)."""

    records: list[AccessRecord]
    grants: list[GrantReason]
    released: Mapping[int, Release] = MappingProxyType({})
    # the caseloads and searches that named the case (`events.access_listings`), newest first
    listings: Sequence[Listing] = ()


async def review_access(runtime: Runtime, reader: Reader, case_id: uuid.UUID) -> AccessReview:
    principal = reader.principal
    state, history = await read_history(runtime.store, principal.organisation_id, case_id)
    decision = require(
        principal, Action.CASE_ACCESS_LOG, CaseFacts.of(state), team_access=reader.team_access
    )
    tenant = principal.organisation_id
    async with fail_closed(runtime.store.transaction(), case_id) as conn:
        # Recorded first, in the same transaction: the review itself is the newest record.
        await case_access.record(
            conn,
            reader.request_id,
            principal,
            case_id,
            Action.CASE_ACCESS_LOG,
            decision.basis,
            "access-log",
        )
        records = await access_log(conn, tenant, case_id)
        key = await case_data_key(conn, runtime.keyring, tenant, case_id)
        reasons = await grant_reasons(conn, tenant, case_id, key)
        listings = await listings_naming(conn, tenant, case_id)
    released = releases_by_version(state, ((r.version, r.event) for r in history))
    return AccessReview(records, reasons, MappingProxyType(released), listings)


async def erase(
    runtime: Runtime,
    reader: Reader,
    case_id: uuid.UUID,
    ground: str | None = None,
    *,
    only_if: Callable[[CaseState], bool] | None = None,
) -> None:
    """Erase the case (see the module's docstring); ValueError for a ground not listed,
    `CaseChanged` when `only_if` refuses the case or it changed before it was held."""
    if ground is not None and ground not in ERASURE_GROUNDS:
        raise ValueError("not an erasure ground")
    principal = reader.principal
    state = await load_for(runtime, principal.organisation_id, case_id)
    decision = require(
        principal, Action.CASE_ERASE, CaseFacts.of(state), team_access=reader.team_access
    )
    if only_if is not None and not only_if(state):
        raise CaseChanged()
    tenant = principal.organisation_id
    async with fail_closed(runtime.store.transaction(), case_id) as conn:  # erase and record
        if only_if is not None and not await hold_head_at(conn, tenant, case_id, state.version):
            raise CaseChanged()
        await shred_everywhere(runtime, conn, tenant, case_id)
        # the case's screenings go with it (found once the case is held: none can slip in)
        screenings = await screenings_of_case(runtime.store, conn, tenant, case_id)
        for screening_id in screenings:
            await shred_everywhere(runtime, conn, tenant, screening_id)
        # and its task stream: a task's kind says which follow-ups the case had
        task_streams = await task_streams_of_case(conn, tenant, case_id)
        for stream_id in task_streams:
            await shred_everywhere(runtime, conn, tenant, stream_id)
        await case_access.record(
            conn,
            reader.request_id,
            principal,
            case_id,
            Action.CASE_ERASE,
            decision.basis,
            "erasure",
            reason=ground,
        )
        for erased in (case_id, *screenings, *task_streams):  # listed before it commits
            await list_erasure(runtime, tenant, erased)
    forget_in_memory(runtime, tenant, case_id)


async def shred_everywhere(
    runtime: Runtime, conn: Connection, tenant: str, case_id: uuid.UUID
) -> None:
    """The erasure itself, in the caller's transaction: crypto-shred the case's data key and
    remove the case from every read model and its stored idempotent answers. `erase` and the
    restore check (`services.restore_check`) both erase through it."""
    await runtime.store.shred(tenant, case_id, connection=conn)
    await forget_case(conn, PROJECTION_TYPES, tenant, case_id)
    await idempotency.forget_case(conn, tenant, case_id)


async def list_erasure(runtime: Runtime, tenant: str, case_id: uuid.UUID) -> None:
    """Append the erasure to the list outside the database (`events.erasure_list`), fsynced."""
    if runtime.erasure_list is not None:
        await asyncio.to_thread(runtime.erasure_list.append, [listed_now(tenant, case_id)])


def forget_in_memory(runtime: Runtime, tenant: str, case_id: uuid.UUID) -> None:
    """Once committed: no plaintext of the case stays in this process's memory."""
    if runtime.recent is not None:
        runtime.recent.forget((tenant, str(case_id)))
