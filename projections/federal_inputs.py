"""The `federal_inputs` projection: per client, per quarter, the coded facts federal reports count.

Federal reporting (`services/reporting`) aggregates these rows and nothing else. They live in
the ``reporting`` schema, which a dedicated reporting role may read; that schema holds no name, no
case or worker id, no free text, no geography and no date — only quarter and fiscal-year
labels, codebook codes generalised as REFERENCE §3.8 says, counts and booleans.

Tables (each with generations and a stable view, `projections.base`):

* ``reporting.federal_inputs``: one row per client (case) per calendar quarter in which the
  client was *served* — enrolled at some point of the quarter (an enrolment runs from intake,
  a transfer-in or a reopening to the closure; reopening counts as re-enrolment) or delivered
  a service in it. Every column is explained next to the DDL below.
* ``reporting.federal_service_categories``: the order of the `services` array (the fixed
  service codebook of this projection version, zeros included in every row).
* ``reporting.federal_inputs_horizon``: the latest quarter the log has reached (by the time
  events were recorded). An open enrolment has rows through this quarter and no further: a
  quarter after the horizon has no rows yet, and the horizon quarter itself is still running.
* ``views.reporting_subjects``: the private mapping ``(tenant_id, case_id) -> subject``. It is
  in the ``views`` schema, which the reporting role cannot read.

**The subject.** `subject` is a random UUID (uuid4) drawn once per case — not derived from the
case id, so nothing in the reporting schema leads back to a case. It exists so that reports
can count clients *unduplicated* across quarters (VOCA new vs continuing, year-to-date), and
so that a differential-privacy budget ledger can be kept per client. It is a pseudonym, and
REFERENCE §3.1 forbids pseudonyms in a release: **the subject must never leave the database** —
not in a report, a CSV, a certificate, a log line or an error message. Reports output counts
only. Subjects survive rebuilds (a rebuild reuses the live generation's mapping), so a ledger
keyed by subject stays valid.

**Erasure.** Each ``reporting.federal_inputs`` row references its mapping row (foreign key,
``ON DELETE CASCADE``, within one generation). Erasing a case — `projections.rebuild.forget_case`
deleting from ``views.reporting_subjects`` by (tenant_id, case_id), or the rebuild's purge of
crypto-shredded cases — deletes the mapping and, with it, every row of that subject: the
reporting schema is then exactly what a rebuild from the (shredded) log produces, and nothing
ties any remaining row to the erased case. A batch whose case was shredded meanwhile is
skipped (and its mapping dropped) in the same transaction: before writing, the batch takes
the erasure locks of its cases shared and checks again (`events.erasure`), so an erasure
cannot commit between that check and the write.

**Folding.** Per case, a small accumulator (`CaseFacts`) folds the case's events; recently
folded ones stay in an LRU cache, and on a miss the accumulator is rebuilt from the store
(`read_stream`, up to the version before the batch's first event of that case). For every
case a batch touches, all its quarter rows are recomputed (delete the subject's rows, insert
fresh), in `apply` itself (`flush` has nothing deferred). When the horizon moves to a later
quarter, every still-enrolled case is recomputed too, so that it gains a row for the new
quarter. The result depends only on the log, never on how it was cut into batches: a rebuild
equals the live projection.

**Definitions** (what the reporting job may rely on):

* `new_in_fiscal_year` (VOCA): true in the first quarter of a federal fiscal year in which the
  client is served, false in that year's later quarters (continuing). A client served across
  Oct 1 is new again in the first quarter of the next fiscal year.
* `entered`: a program entry (intake, transfer-in, reopening) dated in the quarter — TIMS and
  TVAP/DVHT "new clients" and the program-entry table.
* `enrolled_at_end`: enrolled on the quarter's last day; in the horizon quarter (still
  running) it means enrolled now.
* `victim_status`: the determination in force at the end of the quarter (latest determination
  dated on or before the quarter's last day).
* Age at intake of the case (date of birth if recorded, else the age given at intake).
* Trafficking type: the latest recorded context (a later correction revises earlier quarters);
  DVHT rule applied: a minor who performed a commercial sex act is a sex-trafficking victim
  (`labor` becomes `both`, `unknown` becomes `sex`).
* `statistics_consent`: the client's *current* choice (consent is revocable: a withdrawal
  removes the client from non-mandatory statistics of every quarter from then on). Never
  recorded counts as not consenting.
* Services: service instances (events) by category, by delivery date in the quarter.
* Immigration outcomes: at grant-year (federal fiscal year) level only, repeated on each of
  the year's quarter rows: obtained = a milestone step that counts as obtained
  (`domain.case.lifecycles.OBTAINED_STEPS`) dated in that fiscal year. The quarter of a grant
  is not recorded anywhere in this schema. An outcome dated in a fiscal year in which the
  client has no row is not counted.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from cachetools import LRUCache

from domain.case import events as ev
from domain.case.lifecycles import OBTAINED_STEPS
from domain.codebook import CURRENT
from domain.reporting.generalisation import (
    AGE_BAND_CODES,
    CITIZENSHIP_REPORTED,
    GENDER_CODES,
    age_band,
    age_group,
)
from domain.reporting.generalisation import citizenship as generalised_citizenship
from domain.reporting.generalisation import gender as generalised_gender
from domain.reporting.periods import fiscal_year, index_of, quarter_end, quarter_index, quarter_label
from events.erasure import hold_against_erasure
from events.store import Connection, PostgresEventStore, RecordedEvent
from projections.base import Tables, let_others_run

FEDERAL_INPUTS = "reporting.federal_inputs"
SERVICE_CATEGORY_TABLE = "reporting.federal_service_categories"
HORIZON = "reporting.federal_inputs_horizon"
SUBJECTS = "views.reporting_subjects"

# The fixed service codebook of this projection version: `services[i]` counts SERVICE_ORDER[i]
# (1-based in SQL). A new category changes the DDL below, hence the fingerprint: rebuild.
SERVICE_ORDER: tuple[str, ...] = tuple(CURRENT.lists["service_category"])
_SERVICE_INDEX = {code: i for i, code in enumerate(SERVICE_ORDER)}

# Generalisation (REFERENCE §3.8): every code a column may hold, fixed in advance.
OBTAINED_GROUPS: dict[str, str] = {  # immigration kind -> outcome column
    "continued_presence": "continued_presence", "t_visa": "t_visa",
    "hhs_certification": "hhs_letter", "hhs_eligibility": "hhs_letter"}

CODES: dict[str, frozenset[str]] = {  # column -> every value it may hold (NULL aside)
    "entry_type": frozenset(CURRENT.lists["intake_type"]) | {"reopening"},
    "closure_reason": frozenset(CURRENT.lists["closure_reason"]),
    "living_situation": frozenset(CURRENT.lists["living_situation"]),
    "victim_status": frozenset(CURRENT.lists["victim_status"]) | {"not_determined"},
    "trafficking_type": frozenset(CURRENT.lists["trafficking_type"]) | {"not_reported"},
    "age_group": frozenset({"adult", "minor", "not_tracked"}),
    "age_band": frozenset(AGE_BAND_CODES),
    "gender": frozenset(GENDER_CODES),
    "citizenship": frozenset(CITIZENSHIP_REPORTED.values()) | {"not_reported"},
    "race_ethnicity": frozenset(CURRENT.lists["race_ethnicity"]),
    "disability": frozenset({"yes", "no", "not_reported"}),
}

COLUMNS: tuple[str, ...] = (
    "organisation", "quarter", "fiscal_year", "subject", "new_in_fiscal_year", "entered", "entry_type",
    "enrolled_at_end", "closed", "closure_reason", "living_situation", "referred_on", "victim_status",
    "trafficking_type", "age_group", "age_band", "gender", "citizenship", "race_ethnicity", "disability",
    "statistics_consent", "services", "obtained_continued_presence", "obtained_t_visa", "obtained_hhs_letter",
)

_CATEGORY_ROWS = ", ".join(f"({i}, '{code}')" for i, code in enumerate(SERVICE_ORDER, start=1))


# -- the fold -------------------------------------------------------------------------------

@dataclass
class Enrolment:
    start: dt.date
    entry_type: str  # intake_type code, or "reopening"
    closure: ev.CaseClosed | None = None


@dataclass
class CaseFacts:
    """What the rows of one case are computed from: the case's events, folded."""

    version: int = 0
    subject: uuid.UUID | None = None
    intake_on: dt.date | None = None
    age_at_intake: int | None = None
    demographics: Any = None  # domain.case.values.Demographics | None
    trafficking: Any = None  # domain.case.values.TraffickingContext | None
    statuses: list[tuple[dt.date, int, str]] = field(default_factory=list)  # (determined_on, version, status)
    statistics_consent: bool = False
    enrolments: list[Enrolment] = field(default_factory=list)
    # quarter -> service instances delivered in it, by category (SERVICE_ORDER; a category
    # not in it still makes the quarter served): counted as events arrive, so that a case's
    # rows cost the same however many services it has
    services: dict[int, list[int]] = field(default_factory=dict)
    obtained: list[tuple[dt.date, str]] = field(default_factory=list)  # (step date, outcome group)
    latest_day: dt.date | None = None  # the latest business date seen (a horizon never falls behind it)

    @property
    def is_open(self) -> bool:
        return bool(self.enrolments) and self.enrolments[-1].closure is None

    def _see(self, day: dt.date) -> None:
        if self.latest_day is None or day > self.latest_day:
            self.latest_day = day

    def apply(self, version: int, event: object) -> None:
        self.version = version
        match event:
            case ev.CaseOpened():
                intake = event.intake
                self.intake_on = intake.intake_on
                birth = event.identity.date_of_birth if event.identity else None
                if birth is not None:
                    day = intake.intake_on
                    self.age_at_intake = day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))
                else:
                    self.age_at_intake = intake.age_at_intake
                self.demographics = event.demographics
                self.trafficking = event.trafficking
                if event.victim_status is not None:
                    self.statuses.append((event.victim_status.determined_on, version, event.victim_status.status))
                self.enrolments.append(Enrolment(intake.intake_on, intake.intake_type))
                self._see(intake.intake_on)
            case ev.VictimStatusDetermined():
                self.statuses.append((event.victim_status.determined_on, version, event.victim_status.status))
            case ev.TraffickingContextUpdated():
                self.trafficking = event.trafficking
            case ev.StatisticsConsentRecorded():
                self.statistics_consent = event.agrees
            case ev.ServiceDelivered():
                counts = self.services.setdefault(quarter_index(event.delivered_on), [0] * len(SERVICE_ORDER))
                index = _SERVICE_INDEX.get(event.category)
                if index is not None:
                    counts[index] += 1
                self._see(event.delivered_on)
            case ev.ImmigrationStepRecorded():
                group = OBTAINED_GROUPS.get(event.kind)
                if group is not None and event.step in OBTAINED_STEPS.get(event.kind, ()):
                    self.obtained.append((event.on, group))
                self._see(event.on)
            case ev.CaseClosed():
                if self.enrolments and self.enrolments[-1].closure is None:
                    self.enrolments[-1].closure = event
                self._see(event.closed_on)
            case ev.CaseReopened():
                self.enrolments.append(Enrolment(event.reopened_on, "reopening"))
                self._see(event.reopened_on)

    # -- the case's rows, given the horizon ---------------------------------------------------

    def static_columns(self) -> dict[str, Any]:
        age = self.age_at_intake
        band, group = age_band(age), age_group(age)
        demo = self.demographics
        if demo is None:
            gender, citizenship, race, disability = "not_reported", "not_reported", ["not_reported"], "not_reported"
        else:
            gender = generalised_gender(demo.gender_identity)
            citizenship = generalised_citizenship(demo.citizenship)
            race = sorted(set(demo.race_ethnicity) & CODES["race_ethnicity"]) or ["not_reported"]
            disability = "yes" if demo.disabilities else "no"
        trafficking = self.trafficking
        if trafficking is None:
            kind = "not_reported"
        else:
            kind = trafficking.trafficking_type if trafficking.trafficking_type in CODES["trafficking_type"] \
                else "unknown"
            if group == "minor" and trafficking.commercial_sex_act:  # DVHT definition
                kind = {"labor": "both", "unknown": "sex"}.get(kind, kind)
        return {"trafficking_type": kind, "age_group": group, "age_band": band, "gender": gender,
                "citizenship": citizenship, "race_ethnicity": race, "disability": disability,
                "statistics_consent": self.statistics_consent}

    def served_quarters(self, horizon: int | None) -> list[int]:
        quarters: set[int] = set(self.services)
        for enrolment in self.enrolments:
            first = quarter_index(enrolment.start)
            if enrolment.closure is not None:
                last = quarter_index(enrolment.closure.closed_on)
            else:
                last = max(q for q in (first, horizon, quarter_index(self.latest_day or enrolment.start))
                           if q is not None)
            quarters.update(range(first, last + 1))
        return sorted(quarters)

    def rows(self, organisation: str, horizon: int | None) -> list[tuple[Any, ...]]:
        static = self.static_columns()
        served = self.served_quarters(horizon)
        seen_years: set[int] = set()
        rows = []
        for q in served:
            year = fiscal_year(q)
            new_in_year = year not in seen_years
            seen_years.add(year)
            end = quarter_end(q)
            entries = [e for e in self.enrolments if quarter_index(e.start) == q]
            closures = [e.closure for e in self.enrolments
                        if e.closure is not None and quarter_index(e.closure.closed_on) == q]
            closure = closures[-1] if closures else None
            enrolled_at_end = any(e.start <= end and (e.closure is None or e.closure.closed_on > end)
                                  for e in self.enrolments)
            statuses = [s for s in self.statuses if s[0] <= end]
            status = max(statuses)[2] if statuses else "not_determined"
            counts = list(self.services.get(q) or [0] * len(SERVICE_ORDER))  # a copy: the facts go on counting
            obtained = {group for day, group in self.obtained if fiscal_year(quarter_index(day)) == year}
            rows.append((
                organisation, quarter_label(q), year, self.subject, new_in_year, bool(entries),
                entries[0].entry_type if entries else None, enrolled_at_end, closure is not None,
                closure.reason if closure else None, closure.living_situation if closure else None,
                closure.referred_for_case_management if closure else None, status,
                static["trafficking_type"], static["age_group"], static["age_band"], static["gender"],
                static["citizenship"], static["race_ethnicity"], static["disability"], static["statistics_consent"],
                counts, "continued_presence" in obtained, "t_visa" in obtained, "hhs_letter" in obtained))
        return rows


def fold_facts(events: Iterable[tuple[int, object]], facts: CaseFacts | None = None) -> CaseFacts:
    facts = facts or CaseFacts()
    for version, event in events:
        facts.apply(version, event)
    return facts


# -- the projection -------------------------------------------------------------------------

CaseKey = tuple[str, uuid.UUID]


class FederalInputsProjection:
    name: ClassVar[str] = "federal_inputs"
    version: ClassVar[int] = 1
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
            -- service instances delivered in the quarter, by category: services[i] counts
            -- reporting.federal_service_categories position i (zeros included).
            services           integer[] NOT NULL,
            -- obtained in this row's FISCAL YEAR (grant-year level only; repeated on the year's rows):
            obtained_continued_presence boolean NOT NULL,
            obtained_t_visa    boolean   NOT NULL,
            obtained_hhs_letter boolean  NOT NULL,
            PRIMARY KEY (subject, quarter));
            CREATE INDEX {plain}_by_quarter ON {table} (quarter, organisation)""",
        SERVICE_CATEGORY_TABLE: """CREATE TABLE {table} (
            -- 1-based position in reporting.federal_inputs.services
            position smallint PRIMARY KEY,
            -- service_category code (codebook)
            code     text     NOT NULL UNIQUE);
            INSERT INTO {table} (position, code) VALUES """ + _CATEGORY_ROWS,
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
            END $erasure$""",
    }

    def __init__(self, store: PostgresEventStore, *, cache_size: int = 20_000) -> None:
        self._store = store
        self._facts: LRUCache[CaseKey, CaseFacts] = LRUCache(cache_size)
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
        horizon = max(q for q in (old_horizon, quarter_index(latest.astimezone(dt.timezone.utc).date()))
                      if q is not None)
        touched: dict[CaseKey, CaseFacts] = {}
        if by_case:
            erased = await self._erased(conn, list(by_case))
            for key in erased:
                del by_case[key]
            await self.forget(conn, tables, erased)
            for key, events in by_case.items():
                facts = await self._facts_before(conn, tables, key, events[0].version)
                fold_facts(((r.version, r.event) for r in events), facts)
                touched[key] = facts
        if old_horizon is None or horizon > old_horizon:
            await self._save_horizon(conn, tables, horizon, first=old_horizon is None)
            if old_horizon is not None:  # every still-enrolled case gains the new quarter(s)
                gone = []
                for tenant_id, case_id, version, shredded in await conn.fetch(
                        f"""SELECT m.tenant_id, m.case_id, m.version, s.wrapped_key IS NULL
                              FROM {tables[SUBJECTS]} m
                              JOIN haven.streams s ON s.tenant_id = m.tenant_id AND s.stream_id = m.case_id
                             WHERE m.is_open"""):
                    key = (tenant_id, case_id)
                    if shredded:  # erased, not yet forgotten: forget it now
                        gone.append(key)
                    elif key not in touched:
                        touched[key] = await self._facts_before(conn, tables, key, version + 1)
                await self.forget(conn, tables, gone)
        self._horizon = horizon
        if touched:
            await self._write(conn, tables, touched, horizon)

    # -- helpers -------------------------------------------------------------------------

    async def _write(self, conn: Connection, tables: Tables, touched: dict[CaseKey, CaseFacts], horizon: int) -> None:
        await hold_against_erasure(conn, touched)  # an erasure now waits for this transaction
        erased = await self._erased(conn, list(touched))  # and one that came first is seen here
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
            [(key[0], key[1], facts.subject, facts.version, facts.is_open) for key, facts in touched.items()])
        await conn.execute(f"DELETE FROM {tables[FEDERAL_INPUTS]} WHERE subject = ANY($1::uuid[])", subjects)
        rows = []
        for key, facts in touched.items():
            await let_others_run()
            rows.extend(facts.rows(key[0], horizon))
        if rows:
            schema, table = tables[FEDERAL_INPUTS].split(".", 1)
            await conn.copy_records_to_table(table, schema_name=schema, records=rows, columns=list(COLUMNS))

    async def _assign_subjects(self, conn: Connection, tables: Tables, touched: dict[CaseKey, CaseFacts]) -> None:
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
                    JOIN unnest($1::text[], $2::uuid[]) AS wanted(tenant_id, case_id) USING (tenant_id, case_id)""",
                [k[0] for k in missing], [k[1] for k in missing])
            for tenant_id, case_id, subject in rows:
                touched[(tenant_id, case_id)].subject = subject
            missing = [key for key in missing if touched[key].subject is None]
            if not missing:
                return
        for key in missing:
            touched[key].subject = uuid.uuid4()

    async def _facts_before(self, conn: Connection, tables: Tables, key: CaseKey, version: int) -> CaseFacts:
        """The case's facts folded up to `version - 1`: cached, or read from the store."""
        facts = self._facts.get(key)
        if facts is None or facts.version != version - 1:
            facts = CaseFacts()
            if version > 1:
                recorded = await self._store.read_stream(key[0], key[1], connection=conn)
                facts = fold_facts((r.version, r.event) for r in recorded if r.version < version)
            self._facts[key] = facts
        return facts

    async def forget(self, conn: Connection, tables: Tables, keys: Sequence[CaseKey]) -> None:
        """Drop erased (or quarantined) cases: their mapping, and by the foreign key's cascade,
        their rows."""
        for key in keys:
            self._facts.pop(key, None)
        if keys:
            await conn.execute(
                f"""DELETE FROM {tables[SUBJECTS]} WHERE (tenant_id, case_id) IN
                    (SELECT * FROM unnest($1::text[], $2::uuid[]))""",
                [k[0] for k in keys], [k[1] for k in keys])

    async def _erased(self, conn: Connection, keys: list[CaseKey]) -> list[CaseKey]:
        rows = await conn.fetch(
            """SELECT s.tenant_id, s.stream_id FROM haven.streams s
               JOIN unnest($1::text[], $2::uuid[]) AS wanted(tenant_id, stream_id) USING (tenant_id, stream_id)
               WHERE s.wrapped_key IS NULL""",
            [k[0] for k in keys], [k[1] for k in keys])
        return [(r[0], r[1]) for r in rows]

    async def _load_horizon(self, conn: Connection, tables: Tables) -> int | None:
        if not self._horizon_loaded:
            label = await conn.fetchval(f"SELECT quarter FROM {tables[HORIZON]}")
            self._horizon = None if label is None else index_of(label)
            self._horizon_loaded = True
        return self._horizon

    async def _save_horizon(self, conn: Connection, tables: Tables, horizon: int, *, first: bool) -> None:
        if first:
            await conn.execute(f"DELETE FROM {tables[HORIZON]}")
            await conn.execute(f"INSERT INTO {tables[HORIZON]} (quarter) VALUES ($1)", quarter_label(horizon))
        else:
            await conn.execute(f"UPDATE {tables[HORIZON]} SET quarter = $1", quarter_label(horizon))

