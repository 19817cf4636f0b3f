"""The facts federal reports count about one client, quarter by quarter, folded from the case.

The `federal_inputs` projection stores these rows and reporting aggregates nothing else, so
every rule of what a quarter's row says is here, in one place, with no I/O: the quarter and
fiscal-year rules come from `periods`, the coding of ages, gender and citizenship from
`generalisation`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from domain.case import events as ev
from domain.case.lifecycles import OBTAINED_STEPS
from domain.case.outcome_trends import outcome_trends
from domain.case.values import Demographics, TraffickingContext
from domain.codebook import CURRENT
from domain.reporting.generalisation import (
    AGE_BAND_CODES,
    AGE_GROUP_CODES,
    CITIZENSHIP_REPORTED,
    GENDER_CODES,
    age_band,
    age_group,
)
from domain.reporting.generalisation import citizenship as generalised_citizenship
from domain.reporting.generalisation import gender as generalised_gender
from domain.reporting.periods import fiscal_year, quarter_end, quarter_index, quarter_label
from domain.reporting.unduplicated import served_by_another_agency

# The fixed service codebook of the projection's version: `services[i]` counts SERVICE_ORDER[i]
# (1-based in SQL). A new category changes the projection's DDL, hence its fingerprint: rebuild.
SERVICE_ORDER: tuple[str, ...] = tuple(CURRENT.lists["service_category"])
_SERVICE_INDEX = {code: i for i, code in enumerate(SERVICE_ORDER)}
# Every outcome domain, each named in a row's `outcome_changes` ("safety:improved").
OUTCOME_ORDER: tuple[str, ...] = tuple(CURRENT.lists["outcome_domain"])
NOT_MEASURED = "not_measured"

# Generalisation (REFERENCE §3.8): every code a column may hold, fixed in advance.
OBTAINED_GROUPS: dict[str, str] = {  # immigration kind -> outcome column
    "continued_presence": "continued_presence",
    "t_visa": "t_visa",
    "hhs_certification": "hhs_letter",
    "hhs_eligibility": "hhs_letter",
}

CODES: dict[str, frozenset[str]] = {  # column -> every value it may hold (NULL aside)
    "entry_type": frozenset(CURRENT.lists["intake_type"]) | {"reopening"},
    "closure_reason": frozenset(CURRENT.lists["closure_reason"]),
    "living_situation": frozenset(CURRENT.lists["living_situation"]),
    "victim_status": frozenset(CURRENT.lists["victim_status"]) | {"not_determined"},
    "trafficking_type": frozenset(CURRENT.lists["trafficking_type"]) | {"not_reported"},
    "age_group": frozenset(AGE_GROUP_CODES),
    "age_band": frozenset(AGE_BAND_CODES),
    "gender": frozenset(GENDER_CODES),
    "citizenship": frozenset(CITIZENSHIP_REPORTED.values()) | {"not_reported"},
    "race_ethnicity": frozenset(CURRENT.lists["race_ethnicity"]),
    "disability": frozenset({"yes", "no", "not_reported"}),
}

# The columns of a row (`ReportedCase.rows`), in order.
COLUMNS: tuple[str, ...] = (
    "organisation",
    "quarter",
    "fiscal_year",
    "subject",
    "new_in_fiscal_year",
    "entered",
    "entry_type",
    "enrolled_at_end",
    "closed",
    "closure_reason",
    "living_situation",
    "referred_on",
    "victim_status",
    "trafficking_type",
    "age_group",
    "age_band",
    "gender",
    "citizenship",
    "race_ethnicity",
    "disability",
    "statistics_consent",
    "served_by_another_agency",
    "services",
    "outcome_changes",
    "obtained_continued_presence",
    "obtained_t_visa",
    "obtained_hhs_letter",
)


@dataclass
class Enrolment:
    start: dt.date
    entry_type: str  # intake_type code, or "reopening"
    closure: ev.CaseClosed | None = None


@dataclass
class ReportedCase:
    """What the rows of one case are computed from: the case's events, folded.

    What a row says (what the reporting job may rely on):

    * A row per calendar quarter in which the client was *served*: enrolled at some point of
      the quarter (an enrolment runs from intake, a transfer-in or a reopening to the closure;
      reopening counts as re-enrolment) or delivered a service in it. An open enrolment has
      rows through the horizon (the latest quarter the log has reached) and no further.
    * `new_in_fiscal_year` (VOCA): true in the first quarter of a federal fiscal year in which
      the client is served, false in that year's later quarters (continuing). A client served
      across Oct 1 is new again in the first quarter of the next fiscal year.
    * `entered`: a program entry (intake, transfer-in, reopening) dated in the quarter — TIMS
      and TVAP/DVHT "new clients" and the program-entry table.
    * `enrolled_at_end`: enrolled on the quarter's last day; in the horizon quarter (still
      running) it means not closed as far as the log has reached.
    * `victim_status`: the determination in force at the end of the quarter (latest
      determination dated on or before the quarter's last day).
    * Age at intake of the case (date of birth if recorded, else the age given at intake).
    * Trafficking type: the latest recorded context (a later correction revises earlier
      quarters); DVHT rule applied: a minor who performed a commercial sex act is a
      sex-trafficking victim (`labor` becomes `both`, `unknown` becomes `sex`).
    * `statistics_consent`: the client's *current* choice (consent is revocable: a withdrawal
      removes the client from non-mandatory statistics of every quarter from then on). Never
      recorded counts as not consenting.
    * `served_by_another_agency`: the client said at intake that another agency served them,
      or the case was received by transfer (`domain.reporting.unduplicated`).
    * Services: service instances (events) by category, by delivery date in the quarter.
    * `outcome_changes`: every outcome domain as "<domain>:<change>", the change from the
      domain's first score to its latest among the assessments dated on or before the
      quarter's last day (`domain.case.outcome_trends`): improved, same, worse, or
      not_measured when it has fewer than two.
    * Immigration outcomes: at grant-year (federal fiscal year) level only, repeated on each
      of the year's quarter rows: obtained = a milestone step that counts as obtained
      (`domain.case.lifecycles.OBTAINED_STEPS`) dated in that fiscal year. The quarter of a
      grant is recorded nowhere. An outcome dated in a fiscal year in which the client has no
      row is not counted.
    """

    version: int = 0
    subject: uuid.UUID | None = None
    intake_on: dt.date | None = None
    age_at_intake: int | None = None
    demographics: Demographics | None = None
    trafficking: TraffickingContext | None = None
    # (determined_on, version, status)
    statuses: list[tuple[dt.date, int, str]] = field(default_factory=list)
    statistics_consent: bool = False
    served_by_another_agency: bool = False
    enrolments: list[Enrolment] = field(default_factory=list)
    # quarter -> service instances delivered in it, by category (SERVICE_ORDER; a category
    # not in it still makes the quarter served): counted as events arrive, so that a case's
    # rows cost the same however many services it has
    services: dict[int, list[int]] = field(default_factory=dict)
    obtained: list[tuple[dt.date, str]] = field(default_factory=list)  # (step date, outcome group)
    outcomes: list[ev.OutcomeAssessed] = field(default_factory=list)  # in the order recorded
    # the latest business date seen (a horizon never falls behind it)
    latest_day: dt.date | None = None

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
                age = event.identity.age_on(intake.intake_on) if event.identity else None
                self.age_at_intake = intake.age_at_intake if age is None else age
                self.demographics = event.demographics
                self.trafficking = event.trafficking
                if event.victim_status is not None:
                    status = event.victim_status
                    self.statuses.append((status.determined_on, version, status.status))
                self.served_by_another_agency = served_by_another_agency(event)
                self.enrolments.append(Enrolment(intake.intake_on, intake.intake_type))
                self._see(intake.intake_on)
            case ev.VictimStatusDetermined():
                status = event.victim_status
                self.statuses.append((status.determined_on, version, status.status))
            case ev.TraffickingContextUpdated():
                self.trafficking = event.trafficking
            case ev.StatisticsConsentRecorded():
                self.statistics_consent = event.agrees
            case ev.ServiceDelivered():
                quarter = quarter_index(event.delivered_on)
                counts = self.services.setdefault(quarter, [0] * len(SERVICE_ORDER))
                index = _SERVICE_INDEX.get(event.category)
                if index is not None:
                    counts[index] += 1
                self._see(event.delivered_on)
            case ev.OutcomeAssessed():
                self.outcomes.append(event)
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

    def static_columns(self) -> dict[str, str | bool | list[str]]:
        age = self.age_at_intake
        band, group = age_band(age), age_group(age)
        demo = self.demographics
        race: list[str]
        if demo is None:
            gender, citizenship, disability = "not_reported", "not_reported", "not_reported"
            race = ["not_reported"]
        else:
            gender = generalised_gender(demo.gender_identity)
            citizenship = generalised_citizenship(demo.citizenship)
            race = sorted(set(demo.race_ethnicity) & CODES["race_ethnicity"]) or ["not_reported"]
            disability = "yes" if demo.disabilities else "no"
        trafficking = self.trafficking
        if trafficking is None:
            kind = "not_reported"
        else:
            recorded = trafficking.trafficking_type
            kind = recorded if recorded in CODES["trafficking_type"] else "unknown"
            if group == "minor" and trafficking.commercial_sex_act:  # DVHT definition
                kind = {"labor": "both", "unknown": "sex"}.get(kind, kind)
        return {
            "trafficking_type": kind,
            "age_group": group,
            "age_band": band,
            "gender": gender,
            "citizenship": citizenship,
            "race_ethnicity": race,
            "disability": disability,
            "statistics_consent": self.statistics_consent,
        }

    def served_quarters(self, horizon: int | None) -> list[int]:
        quarters: set[int] = set(self.services)
        for enrolment in self.enrolments:
            first = quarter_index(enrolment.start)
            if enrolment.closure is not None:
                last = quarter_index(enrolment.closure.closed_on)
            else:
                latest = quarter_index(self.latest_day or enrolment.start)
                last = max(q for q in (first, horizon, latest) if q is not None)
            quarters.update(range(first, last + 1))
        return sorted(quarters)

    def rows(self, organisation: str, horizon: int | None) -> list[tuple[object, ...]]:
        """The case's rows (`COLUMNS`), for the organisation that served the client."""
        static = self.static_columns()
        served = self.served_quarters(horizon)
        seen_years: set[int] = set()
        rows: list[tuple[object, ...]] = []
        for q in served:
            year = fiscal_year(q)
            new_in_year = year not in seen_years
            seen_years.add(year)
            end = quarter_end(q)
            entries = [e for e in self.enrolments if quarter_index(e.start) == q]
            closures = [
                e.closure
                for e in self.enrolments
                if e.closure is not None and quarter_index(e.closure.closed_on) == q
            ]
            closure = closures[-1] if closures else None
            enrolled_at_end = any(
                e.start <= end and (e.closure is None or e.closure.closed_on > end)
                for e in self.enrolments
            )
            statuses = [s for s in self.statuses if s[0] <= end]
            status = max(statuses)[2] if statuses else "not_determined"
            # a copy: the facts go on counting
            counts = list(self.services.get(q) or [0] * len(SERVICE_ORDER))
            obtained = {
                group for day, group in self.obtained if fiscal_year(quarter_index(day)) == year
            }
            changes = {t.domain: t.trend for t in outcome_trends(self.outcomes, through=end)}
            rows.append(
                (
                    organisation,
                    quarter_label(q),
                    year,
                    self.subject,
                    new_in_year,
                    bool(entries),
                    entries[0].entry_type if entries else None,
                    enrolled_at_end,
                    closure is not None,
                    closure.reason if closure else None,
                    closure.living_situation if closure else None,
                    closure.referred_for_case_management if closure else None,
                    status,
                    static["trafficking_type"],
                    static["age_group"],
                    static["age_band"],
                    static["gender"],
                    static["citizenship"],
                    static["race_ethnicity"],
                    static["disability"],
                    static["statistics_consent"],
                    self.served_by_another_agency,
                    counts,
                    [f"{d}:{changes.get(d) or NOT_MEASURED}" for d in OUTCOME_ORDER],
                    "continued_presence" in obtained,
                    "t_visa" in obtained,
                    "hhs_letter" in obtained,
                )
            )
        return rows


def fold_reported_case(
    events: Iterable[tuple[int, object]], facts: ReportedCase | None = None
) -> ReportedCase:
    """`facts` (fresh ones by default) with `events` (version, event) applied in order."""
    facts = facts or ReportedCase()
    for version, event in events:
        facts.apply(version, event)
    return facts
