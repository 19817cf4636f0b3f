"""The `federal_inputs` projection: per client, per quarter, the coded facts federal reports count.

Federal reporting (`services/reporting`) aggregates these rows and nothing else, through a
reporting role that can read the ``reporting`` schema only; that schema holds no name, no case
or worker id, no free text, no geography and no date. What a row says is
`domain.reporting.reported_case`; this module keeps the rows in step with the log, and keeps the
pseudonym that links a client's rows out of every release.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import ClassVar

from cachetools import LRUCache

from domain.case import events as ev
from domain.reporting.periods import index_of, quarter_index, quarter_label
from domain.reporting.reported_case import COLUMNS, SERVICE_ORDER, ReportedCase, fold_reported_case
from events.erasure import erased_streams, hold_against_erasure
from events.store import Connection, PostgresEventStore, RecordedEvent
from projections.base import Tables, delete_streams, let_others_run

FEDERAL_INPUTS = "reporting.federal_inputs"
SERVICE_CATEGORY_TABLE = "reporting.federal_service_categories"
HORIZON = "reporting.federal_inputs_horizon"
SUBJECTS = "views.reporting_subjects"

_CATEGORY_ROWS = ", ".join(f"({i}, '{code}')" for i, code in enumerate(SERVICE_ORDER, start=1))

CaseKey = tuple[str, uuid.UUID]


class FederalInputsProjection:
    """The rows of ``reporting.federal_inputs``, one per client per quarter served.

    Tables (each with generations and a stable view, `projections.base`):

    * ``reporting.federal_inputs``: the rows (`ReportedCase.rows`); every column is explained
      next to its DDL.
    * ``reporting.federal_service_categories``: the order of the `services` array (the fixed
      service codebook of this projection version, zeros included in every row).
    * ``reporting.federal_inputs_horizon``: the latest quarter the log has reached (by the time
      events were recorded). An open enrolment has rows through this quarter and no further:
      a quarter after the horizon has no rows yet, and the horizon quarter is still running.
    * ``views.reporting_subjects``: the private mapping ``(tenant_id, case_id) -> subject``,
      in the ``views`` schema, which the reporting role cannot read.

    **The subject** is a random UUID (uuid4) drawn once per case — not derived from the case
    id, so nothing in the reporting schema leads back to a case. It lets reports count
    clients *unduplicated* across quarters (VOCA new vs continuing, year-to-date) and keep a
    differential-privacy budget per client. It is a pseudonym, and REFERENCE §3.1 forbids
    pseudonyms in a release: **the subject must never leave the database** — not in a report,
    a CSV, a certificate, a log line or an error message. Subjects survive rebuilds (a rebuild
    reuses the live generation's mapping), so a ledger keyed by subject stays valid.

    **Erasure.** Each row references its mapping row (foreign key, ``ON DELETE CASCADE``,
    within one generation). Erasing a case — `projections.rebuild.forget_case` deleting its
    mapping, or the rebuild's purge of crypto-shredded cases — deletes every row of that
    subject: the reporting schema is then what a rebuild from the shredded log produces, and
    nothing ties a remaining row to the erased case. A batch takes the erasure locks of its
    cases shared and checks again before writing (`events.erasure`), so an erasure cannot
    commit between that check and the write; a case shredded meanwhile is skipped.

    **Batches.** For every case a batch touches, all its rows are recomputed (delete, insert)
    in `apply` itself; when the horizon moves to a later quarter, every still-enrolled case is
    recomputed too, so that it gains a row for the new quarter. The rows depend only on the
    log, never on how it was cut into batches: a rebuild equals the live projection.
    """

    name: ClassVar[str] = "federal_inputs"
    version: ClassVar[int] = 3
    # Order matters: tables are created in this order and dropped in this order, and the
    # subjects table (last) adds the foreign key from the rows of its own generation.
    tables: ClassVar[dict[str, str]] = {
        FEDERAL_INPUTS: """CREATE TABLE {table} (
            -- tenant id of the organisation that served the client: per-organisation tables and
            -- the roll-up across organisations. Names an organisation, never a person.
            organisation       text      NOT NULL,
            -- calendar quarter label (2026Q3): the reporting period. No date is stored anywhere.
            quarter            text      NOT NULL CHECK (quarter ~ '^[0-9]{{4}}Q[1-4]$'),
            -- federal fiscal year (Oct-Sep) of the quarter: VOCA years, grant-year tables.
            fiscal_year        smallint  NOT NULL,
            -- random pseudonym of the case (views.reporting_subjects): unduplicated counts across
            -- quarters and a per-client DP budget ledger. NEVER released (REFERENCE 3.1).
            subject            uuid      NOT NULL,
            -- VOCA: first quarter of this fiscal year in which the client is served (else continuing).
            new_in_fiscal_year boolean   NOT NULL,
            -- program entry (intake, transfer-in, reopening) in the quarter: new clients, entry table.
            entered            boolean   NOT NULL,
            -- how the client entered: intake_type code or 'reopening' (NULL when not entered).
            entry_type         text,
            -- still enrolled at the end of the quarter: active caseload, HUD stayers vs leavers.
            enrolled_at_end    boolean   NOT NULL,
            -- program exit in the quarter: TVAP/DVHT closure table.
            closed             boolean   NOT NULL,
            -- closure_reason code of the (last) closure in the quarter (NULL when not closed).
            closure_reason     text,
            -- living_situation code at that closure (NULL when not closed).
            living_situation   text,
            -- referred on for continued case management at that closure (NULL when not closed).
            referred_on        boolean,
            -- confirmed / strong_indicators / not_determined at the end of the quarter (TIMS).
            victim_status      text      NOT NULL,
            -- sex / labor / both / unknown / not_reported (DVHT minor rule applied).
            trafficking_type   text      NOT NULL,
            -- adult / minor / not_tracked at intake (TIMS).
            age_group          text      NOT NULL,
            -- age band at intake: 0-11, 12-17, 18-24, 25-34, 35-49, 50+, not_tracked (3.8).
            age_band           text      NOT NULL,
            -- woman / man / another (rare identities collapsed) / not_reported.
            gender             text      NOT NULL,
            -- citizen_or_lpr / foreign_national / not_reported (nationality generalised, 3.8).
            citizenship        text      NOT NULL,
            -- race_ethnicity codes (multi-select, sorted), ['not_reported'] when none.
            race_ethnicity     text[]    NOT NULL,
            -- any disability recorded: yes / no / not_reported.
            disability         text      NOT NULL,
            -- current consent to non-mandatory statistics (3.10); never recorded = false.
            statistics_consent boolean   NOT NULL,
            -- the client said at intake that another agency served them, or the case was received
            -- by transfer (GBVIMS): de-duplicates the roll-up across organisations.
            served_by_another_agency boolean NOT NULL,
            -- service instances delivered in the quarter, by category: services[i] counts
            -- reporting.federal_service_categories position i (zeros included).
            services           integer[] NOT NULL,
            -- every outcome domain as '<domain>:<change>' at the end of the quarter: improved /
            -- same / worse (first score against latest) or not_measured (fewer than two scores).
            outcome_changes    text[]    NOT NULL,
            -- obtained in this row's FISCAL YEAR (grant-year level only; repeated on the year's rows):
            obtained_continued_presence boolean NOT NULL,
            obtained_t_visa    boolean   NOT NULL,
            obtained_hhs_letter boolean  NOT NULL,
            PRIMARY KEY (subject, quarter));
            CREATE INDEX {plain}_by_quarter ON {table} (quarter, organisation)""",  # noqa: E501 (DDL: its text is fingerprinted)
        SERVICE_CATEGORY_TABLE: """CREATE TABLE {table} (
            -- 1-based position in reporting.federal_inputs.services
            position smallint PRIMARY KEY,
            -- service_category code (codebook)
            code     text     NOT NULL UNIQUE);
            INSERT INTO {table} (position, code) VALUES """
        + _CATEGORY_ROWS,
        HORIZON: """CREATE TABLE {table} (
            -- the latest quarter the log has reached (by recording time): open enrolments have
            -- rows through it; it may still be running. One row.
            quarter text NOT NULL CHECK (quarter ~ '^[0-9]{{4}}Q[1-4]$'))""",
        SUBJECTS: """CREATE TABLE {table} (
            tenant_id text    NOT NULL,
            case_id   uuid    NOT NULL,
            subject   uuid    NOT NULL UNIQUE,  -- random (uuid4), never derived from the case
            version   integer NOT NULL,         -- the case version the rows were computed at
            is_open   boolean NOT NULL,         -- enrolled now: rows follow the horizon
            PRIMARY KEY (tenant_id, case_id));
            CREATE INDEX {plain}_open ON {table} (is_open) WHERE is_open;
            DO $erasure$ BEGIN
                EXECUTE format('ALTER TABLE reporting.%I ADD CONSTRAINT %I FOREIGN KEY (subject) '
                               'REFERENCES {table} (subject) ON DELETE CASCADE',
                               'federal_inputs_' || substring('{plain}' from '_(g[0-9]+)$'), '{plain}_erasure');
            END $erasure$""",  # noqa: E501 (DDL: its text is fingerprinted)
    }

    def __init__(self, store: PostgresEventStore, *, cache_size: int = 20_000) -> None:
        self._store = store
        self._facts: LRUCache[CaseKey, ReportedCase] = LRUCache(cache_size)
        self._horizon: int | None = None
        self._horizon_loaded = False

    def reset(self) -> None:
        self._facts.clear()
        self._horizon, self._horizon_loaded = None, False

    def drop_cached(self, key: CaseKey | None) -> None:
        if key is None:
            self._facts.clear()
        else:
            self._facts.pop(key, None)

    # `apply` writes everything itself, so that any runner or rebuild — with or without the
    # deferred-write protocol (`flush`, `pending`) — gets the same rows.
    @property
    def pending(self) -> int:
        return 0

    async def flush(self, conn: Connection, tables: Tables) -> None:
        """Nothing is deferred."""

    async def apply(self, conn: Connection, batch: Sequence[RecordedEvent], tables: Tables) -> None:
        by_case: dict[CaseKey, list[RecordedEvent]] = {}
        latest: dt.datetime | None = None
        for recorded in batch:
            if latest is None or recorded.recorded_at > latest:
                latest = recorded.recorded_at
            if isinstance(recorded.event, ev.CASE_EVENTS):
                by_case.setdefault((recorded.tenant_id, recorded.stream_id), []).append(recorded)
        if latest is None:
            return
        old_horizon = await self._load_horizon(conn, tables)
        horizon = max(
            q
            for q in (old_horizon, quarter_index(latest.astimezone(dt.UTC).date()))
            if q is not None
        )
        touched: dict[CaseKey, ReportedCase] = {}
        if by_case:
            erased = sorted(await erased_streams(conn, by_case))
            for key in erased:
                del by_case[key]
            await self.forget(conn, tables, erased)
            for key, events in by_case.items():
                facts = await self._facts_before(conn, tables, key, events[0].version)
                fold_reported_case(((r.version, r.event) for r in events), facts)
                touched[key] = facts
        if old_horizon is None or horizon > old_horizon:
            await self._save_horizon(conn, tables, horizon, first=old_horizon is None)
            if old_horizon is not None:  # every still-enrolled case gains the new quarter(s)
                gone = []
                for tenant_id, case_id, version, shredded in await conn.fetch(
                    f"""SELECT m.tenant_id, m.case_id, m.version, s.wrapped_key IS NULL
                              FROM {tables[SUBJECTS]} m
                              JOIN haven.streams s
                                ON s.tenant_id = m.tenant_id AND s.stream_id = m.case_id
                             WHERE m.is_open"""
                ):
                    key = (tenant_id, case_id)
                    if shredded:  # erased, not yet forgotten: forget it here
                        gone.append(key)
                    elif key not in touched:
                        touched[key] = await self._facts_before(conn, tables, key, version + 1)
                await self.forget(conn, tables, gone)
        self._horizon = horizon
        if touched:
            await self._write(conn, tables, touched, horizon)

    # -- helpers -------------------------------------------------------------------------

    async def _write(
        self, conn: Connection, tables: Tables, touched: dict[CaseKey, ReportedCase], horizon: int
    ) -> None:
        await hold_against_erasure(conn, touched)  # from here an erasure waits for this transaction
        erased = sorted(await erased_streams(conn, touched))  # and one that came first is seen here
        for key in erased:
            del touched[key]
        await self.forget(conn, tables, erased)
        if not touched:
            return
        await self._assign_subjects(conn, tables, touched)
        subjects = [facts.subject for facts in touched.values()]
        await conn.executemany(
            f"""INSERT INTO {tables[SUBJECTS]} (tenant_id, case_id, subject, version, is_open)
                VALUES ($1, $2, $3, $4, $5)
                ON CONFLICT (tenant_id, case_id)
                DO UPDATE SET version = EXCLUDED.version, is_open = EXCLUDED.is_open""",
            [
                (key[0], key[1], facts.subject, facts.version, facts.is_open)
                for key, facts in touched.items()
            ],
        )
        await conn.execute(
            f"DELETE FROM {tables[FEDERAL_INPUTS]} WHERE subject = ANY($1::uuid[])", subjects
        )
        rows = []
        for key, facts in touched.items():
            await let_others_run()
            rows.extend(facts.rows(key[0], horizon))
        if rows:
            schema, table = tables[FEDERAL_INPUTS].split(".", 1)
            await conn.copy_records_to_table(
                table, schema_name=schema, records=rows, columns=list(COLUMNS)
            )

    async def _assign_subjects(
        self, conn: Connection, tables: Tables, touched: dict[CaseKey, ReportedCase]
    ) -> None:
        """The case's subject: ours, else the live generation's (a rebuild keeps subjects),
        else a new random one."""
        missing = [key for key, facts in touched.items() if facts.subject is None]
        if not missing:
            return
        sources = [tables[SUBJECTS]]
        if await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", SUBJECTS):
            sources.append(SUBJECTS)
        for source in sources:
            rows = await conn.fetch(
                f"""SELECT s.tenant_id, s.case_id, s.subject FROM {source} s
                    JOIN unnest($1::text[], $2::uuid[]) AS wanted(tenant_id, case_id)
                         USING (tenant_id, case_id)""",
                [k[0] for k in missing],
                [k[1] for k in missing],
            )
            for tenant_id, case_id, subject in rows:
                touched[(tenant_id, case_id)].subject = subject
            missing = [key for key in missing if touched[key].subject is None]
            if not missing:
                return
        for key in missing:
            touched[key].subject = uuid.uuid4()

    async def _facts_before(
        self, conn: Connection, tables: Tables, key: CaseKey, version: int
    ) -> ReportedCase:
        """The case's facts folded up to `version - 1`: cached, or read from the store."""
        facts = self._facts.get(key)
        if facts is None or facts.version != version - 1:
            facts = ReportedCase()
            if version > 1:
                recorded = await self._store.read_stream(key[0], key[1], connection=conn)
                facts = fold_reported_case(
                    (r.version, r.event) for r in recorded if r.version < version
                )
            self._facts[key] = facts
        return facts

    async def forget(self, conn: Connection, tables: Tables, keys: Sequence[CaseKey]) -> None:
        """Drop erased (or quarantined) cases: their mapping, and by the foreign key's cascade,
        their rows."""
        for key in keys:
            self._facts.pop(key, None)
        if keys:
            await delete_streams(conn, tables[SUBJECTS], keys)

    async def _load_horizon(self, conn: Connection, tables: Tables) -> int | None:
        if not self._horizon_loaded:
            label = await conn.fetchval(f"SELECT quarter FROM {tables[HORIZON]}")
            self._horizon = None if label is None else index_of(label)
            self._horizon_loaded = True
        return self._horizon

    async def _save_horizon(
        self, conn: Connection, tables: Tables, horizon: int, *, first: bool
    ) -> None:
        if first:
            await conn.execute(f"DELETE FROM {tables[HORIZON]}")
            await conn.execute(
                f"INSERT INTO {tables[HORIZON]} (quarter) VALUES ($1)", quarter_label(horizon)
            )
        else:
            await conn.execute(f"UPDATE {tables[HORIZON]} SET quarter = $1", quarter_label(horizon))
