"""The `cases` projection: the case view (sealed) and the caseload row of every case.

One fold of each case's events feeds two tables, so they can never disagree:

* ``views.case_view``: per case, the current `CaseState` and a timeline (version, time, event
  type, actor), sealed with the case's own data key (`projections.case_documents`; read with
  `projections.case_view`). The table holds no plaintext about a person; erasing the case's
  key erases its view.
* ``views.caseload``: per case, operational facts only — assignment, whether it is open, and
  dates and counts from which "next actions" and risk flags are computed at query time
  (`projections.caseload`): referrals waiting for an answer, consent and immigration
  expiries, the latest month with services, the last contact; and a transfer asked of
  another organisation and not yet answered (its id, the recipient, the day, the receiving
  worker and team), which is how the recipient finds it
  (`projections.caseload.incoming_transfers`). No name, narrative, location, demographic or
  immigration detail: the columns are on an allow-list, tested.

`apply` folds a batch into per-case documents held in memory; `flush` seals and writes each
touched case once, after taking the cases' erasure locks shared and dropping those erased
meanwhile (`events.erasure`: an erasure cannot commit between that check and the write). The
runner calls both in one transaction per batch; a rebuild flushes every few thousand cases,
so a case touched by many batches is sealed once per flush, not once per batch. Written
documents stay in an LRU cache; on a miss the sealed row is opened. `reset()` forgets
everything whenever a transaction did not commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, ClassVar

from cachetools import LRUCache

from crypto.keyring import Keyring
from domain.case import events as ev
from domain.case.lifecycles import REFERRAL_AWAITING_ANSWER
from domain.case.state import CaseState, fold
from events.access_log import cached_case_data_key
from events.erasure import erased_streams, hold_against_erasure
from events.store import Connection, RecordedEvent
from projections.base import Tables, delete_streams, let_others_run
from projections.case_documents import CaseDocument, TimelineEntry, open_document, seal_document

CASE_VIEW = "views.case_view"
CASELOAD = "views.caseload"


def caseload_row(tenant_id: str, case_id: uuid.UUID, state: CaseState) -> tuple[Any, ...]:
    """The caseload columns of one case, in `CASELOAD_COLUMNS` order."""
    waiting = sorted(
        r.last_changed_on for r in state.referrals.values() if r.status in REFERRAL_AWAITING_ANSWER
    )
    consent_expiries = sorted(
        c.granted.expires_on for c in state.consents.values() if c.revoked is None
    )
    immigration_expiries = sorted(
        m.expires_on for m in state.milestones.values() if m.expires_on is not None
    )
    services_month, services_in_month = None, 0
    if state.services:
        # the month of the latest delivery: a delivery on or after its first day is in it
        services_month = max(s.delivered_on for s in state.services).replace(day=1)
        services_in_month = sum(s.delivered_on >= services_month for s in state.services)
    is_open = state.closure is None and state.transfer is None
    asked = state.pending_transfer
    return (
        tenant_id,
        case_id,
        state.version,
        state.worker_id,
        state.team_id,
        is_open,
        state.enrolled_on,
        state.closure.closed_on if state.closure else None,
        state.last_activity_on,
        waiting,
        waiting[0] if waiting else None,
        consent_expiries,
        immigration_expiries,
        services_month,
        services_in_month,
        state.contact is not None and bool(state.contact.channels),
        state.victim_status is not None,
        asked.transfer_id if asked else None,
        asked.recipient_organisation if asked else None,
        asked.requested_on if asked else None,
        asked.receiving_worker_id if asked else None,
        asked.receiving_team_id if asked else None,
    )


CASELOAD_COLUMNS = (
    "tenant_id",
    "case_id",
    "version",
    "worker_id",
    "team_id",
    "is_open",
    "enrolled_on",
    "closed_on",
    "last_contact_on",
    "waiting_referrals_since",
    "oldest_waiting_referral_on",
    "consent_expiries",
    "immigration_expiries",
    "services_month",
    "services_in_month",
    "has_safe_contact_plan",
    "has_victim_status",
    "transfer_id",
    "transfer_recipient",
    "transfer_requested_on",
    "transfer_worker_id",
    "transfer_team_id",
)


_CASE_EVENT_TYPES = frozenset(ev.CASE_EVENTS)
_EMPTY_DOCUMENT = CaseDocument(CaseState())
_UPSERT_VIEW = """INSERT INTO {table} (tenant_id, case_id, version, key_id, sealed)
    VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (tenant_id, case_id) DO UPDATE
    SET version = EXCLUDED.version, key_id = EXCLUDED.key_id, sealed = EXCLUDED.sealed"""
_CASELOAD_PLACEHOLDERS = ", ".join(f"${i}" for i in range(1, len(CASELOAD_COLUMNS) + 1))
_CASELOAD_UPDATES = ", ".join(f"{c} = EXCLUDED.{c}" for c in CASELOAD_COLUMNS[2:])
_UPSERT_CASELOAD = f"""INSERT INTO {{table}} ({", ".join(CASELOAD_COLUMNS)})
    VALUES ({_CASELOAD_PLACEHOLDERS})
    ON CONFLICT (tenant_id, case_id) DO UPDATE SET {_CASELOAD_UPDATES}"""


class CasesProjection:
    name: ClassVar[str] = "cases"
    version: ClassVar[int] = 2
    stream_local: ClassVar[bool] = True  # one case's events make its view and caseload row
    tables: ClassVar[dict[str, str]] = {
        CASE_VIEW: """CREATE TABLE {table} (
            tenant_id  text    NOT NULL,
            case_id    uuid    NOT NULL,
            version    integer NOT NULL,
            key_id     text    NOT NULL,
            sealed     bytea   NOT NULL,  -- projections.cases.CaseDocument, sealed with the case's data key
            PRIMARY KEY (tenant_id, case_id))""",  # noqa: E501 (DDL: its text is fingerprinted)
        CASELOAD: """CREATE TABLE {table} (
            tenant_id                  text    NOT NULL,
            case_id                    uuid    NOT NULL,
            version                    integer NOT NULL,
            worker_id                  text,
            team_id                    text,
            is_open                    boolean NOT NULL,
            enrolled_on                date,
            closed_on                  date,
            last_contact_on            date,
            waiting_referrals_since    date[]  NOT NULL,
            oldest_waiting_referral_on date,
            consent_expiries           date[]  NOT NULL,
            immigration_expiries       date[]  NOT NULL,
            services_month             date,
            services_in_month          integer NOT NULL,
            has_safe_contact_plan      boolean NOT NULL,
            has_victim_status          boolean NOT NULL,
            transfer_id                text,  -- a transfer asked and not yet answered: ids and a date only
            transfer_recipient         text,
            transfer_requested_on      date,
            transfer_worker_id         text,
            transfer_team_id           text,
            PRIMARY KEY (tenant_id, case_id));
            CREATE INDEX {plain}_by_worker ON {table} (tenant_id, worker_id, is_open, last_contact_on, case_id);
            CREATE INDEX {plain}_by_team ON {table} (tenant_id, team_id, is_open, last_contact_on, case_id);
            CREATE UNIQUE INDEX {plain}_by_transfer ON {table} (transfer_recipient, transfer_id)
                WHERE transfer_id IS NOT NULL""",  # noqa: E501 (DDL: its text is fingerprinted)
    }

    def __init__(self, keyring: Keyring, *, cache_size: int = 20_000) -> None:
        self._keyring = keyring
        # as stored
        self._documents: LRUCache[tuple[str, uuid.UUID], CaseDocument] = LRUCache(cache_size)
        self._dirty: dict[tuple[str, uuid.UUID], CaseDocument] = {}  # folded, not yet written

    def reset(self) -> None:
        self._documents.clear()
        self._dirty.clear()

    @property
    def pending(self) -> int:
        return len(self._dirty)

    def drop_cached(self, key: tuple[str, uuid.UUID] | None) -> None:
        """What is cached as written (an erasure elsewhere); not what awaits `flush`, which
        checks for erasure itself before it writes."""
        if key is None:
            self._documents.clear()
        else:
            self._documents.pop(key, None)

    async def apply(self, conn: Connection, batch: Sequence[RecordedEvent], tables: Tables) -> None:
        """Fold the batch into the documents of its cases; `flush` writes them."""
        by_case: dict[tuple[str, uuid.UUID], list[RecordedEvent]] = {}
        for recorded in batch:
            if type(recorded.event) in _CASE_EVENT_TYPES:
                by_case.setdefault((recorded.tenant_id, recorded.stream_id), []).append(recorded)
        if not by_case:
            return
        await self._load_missing(
            conn,
            tables,
            [  # a case that starts in this batch has nothing stored yet
                ident
                for ident, events in by_case.items()
                if events[0].version > 1
                and ident not in self._dirty
                and ident not in self._documents
            ],
        )
        for ident, events in by_case.items():
            await let_others_run()
            before = self._dirty.get(ident) or self._documents.get(ident) or _EMPTY_DOCUMENT
            state = fold(((r.version, r.event) for r in events), before.state)  # type: ignore[misc]
            timeline = before.timeline + tuple(
                TimelineEntry(
                    r.version,
                    r.recorded_at,
                    r.event_type,
                    r.metadata.actor_id if r.metadata else None,
                )
                for r in events
            )
            self._dirty[ident] = CaseDocument(state, timeline)

    async def flush(self, conn: Connection, tables: Tables) -> None:
        """Seal and upsert every document folded since the last flush (once per case, however
        many batches touched it)."""
        if not self._dirty:
            return
        await hold_against_erasure(conn, self._dirty)  # an erasure now waits for this transaction
        for ident in await erased_streams(conn, self._dirty):  # shredded while this batch was read
            del self._dirty[ident]
            await conn.execute(
                f"DELETE FROM {tables[CASE_VIEW]} WHERE tenant_id = $1 AND case_id = $2", *ident
            )
            await conn.execute(
                f"DELETE FROM {tables[CASELOAD]} WHERE tenant_id = $1 AND case_id = $2", *ident
            )
        views, caseload = [], []
        for (tenant_id, case_id), document in self._dirty.items():
            await let_others_run()
            key = await cached_case_data_key(conn, self._keyring, tenant_id, case_id)
            views.append(
                (
                    tenant_id,
                    case_id,
                    document.state.version,
                    key.key_id,
                    seal_document(key, tenant_id, case_id, document),
                )
            )
            caseload.append(caseload_row(tenant_id, case_id, document.state))
        await conn.executemany(_UPSERT_VIEW.format(table=tables[CASE_VIEW]), views)
        await conn.executemany(_UPSERT_CASELOAD.format(table=tables[CASELOAD]), caseload)
        self._documents.update(self._dirty)
        self._dirty.clear()

    async def forget(
        self, conn: Connection, tables: Tables, keys: Sequence[tuple[str, uuid.UUID]]
    ) -> None:
        for key in keys:
            self._documents.pop(key, None)
            self._dirty.pop(key, None)
        for logical in (CASE_VIEW, CASELOAD):
            await delete_streams(conn, tables[logical], keys)

    async def _load_missing(
        self, conn: Connection, tables: Tables, missing: list[tuple[str, uuid.UUID]]
    ) -> None:
        if not missing:
            return
        rows = await conn.fetch(
            f"""SELECT v.tenant_id, v.case_id, v.version, v.sealed FROM {tables[CASE_VIEW]} v
                JOIN unnest($1::text[], $2::uuid[]) AS wanted(tenant_id, case_id)
                     USING (tenant_id, case_id)""",
            [m[0] for m in missing],
            [m[1] for m in missing],
        )
        for tenant_id, case_id, version, sealed in rows:
            key = await cached_case_data_key(conn, self._keyring, tenant_id, case_id)
            self._documents[(tenant_id, case_id)] = open_document(
                key, tenant_id, case_id, version, sealed
            )
