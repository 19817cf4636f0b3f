"""A screening: a person screened with an instrument, when, by whom, in what setting, the
indicators observed and the result. Pure rules: a command and its instrument in, one
`ScreeningRecorded` event or a `ScreeningRefused` naming the fields out.

A screening holds no identifying data at all: no name, date of birth, contact or place; only
the answers (item ids with yes / no / unknown), `minor` (yes / no / unknown, for the rule that
a minor in commercial sex is confirmed), codes, a date and the ids of the organisation, the
staff member and, when it belongs to one, the case. The result is computed when it is recorded
and stored with the event, so a later version of the rule never rewrites it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Annotated

import msgspec

from domain.event import DomainEvent
from domain.screening.instrument import ANSWERS, Instrument
from domain.screening.scoring import score

SETTINGS = (
    "shelter_intake",
    "clinic",
    "hotline",
    "outreach",
    "law_enforcement_referral",
    "school",
    "child_welfare",
    "legal_services",
    "other",
)
MINOR = ("yes", "no", "unknown")
EARLIEST_DAY = dt.date(2000, 1, 1)
DATE_SKEW = dt.timedelta(hours=14, minutes=5)  # as for a case (`domain.case.checks`)

ItemId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Choice = Annotated[str, msgspec.Meta(min_length=1, max_length=16)]


class Indicator(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True, gc=False):
    item: ItemId
    answer: Choice  # yes / no / unknown


class ScreeningRecorded(DomainEvent, frozen=True, kw_only=True, tag="screening.recorded"):
    """The one event of a screening's stream. Every field is an id, a code or a date."""

    screening_id: str
    organisation_id: str
    instrument_id: str
    instrument_version: int
    screened_on: dt.date
    screened_by: str  # the staff member's user id
    setting: str
    indicators: tuple[Indicator, ...]
    minor: str
    result: str
    case_id: str | None = None  # the case it belongs to; None: it stands alone


SCREENING_EVENTS: tuple[type[DomainEvent], ...] = (ScreeningRecorded,)


class RecordScreening(msgspec.Struct, frozen=True, kw_only=True):
    screening_id: str
    organisation_id: str
    screened_by: str
    instrument_id: str
    instrument_version: int
    screened_on: dt.date
    setting: str
    indicators: tuple[Indicator, ...]
    minor: str = "unknown"
    case_id: str | None = None


class ScreeningRefused(ValueError):
    """Values that may not be recorded: `(field, rule)` each, never the values."""

    def __init__(self, faults: Sequence[tuple[str, str]]) -> None:
        super().__init__("; ".join(rule for _, rule in faults))
        self.faults = list(faults)


def answers_of(indicators: Sequence[Indicator]) -> dict[str, str]:
    return {indicator.item: indicator.answer for indicator in indicators}


def screening_faults(
    command: RecordScreening, instrument: Instrument, now: dt.datetime
) -> list[tuple[str, str]]:
    """(field, rule) for each value the instrument or the rules refuse."""
    faults = []
    if command.setting not in SETTINGS:
        faults.append(("setting", f"setting must be one of {', '.join(SETTINGS)}"))
    if command.minor not in MINOR:
        faults.append(("minor", "minor must be yes, no or unknown"))
    elif not instrument.asks_minor and command.minor != "unknown":
        faults.append(("minor", "this instrument does not record minor: leave it unknown"))
    if command.screened_on > (now + DATE_SKEW).date():
        faults.append(("screened_on", "screened_on must not be in the future"))
    if command.screened_on < EARLIEST_DAY:
        faults.append(("screened_on", f"screened_on must be {EARLIEST_DAY} or later"))
    seen: set[str] = set()
    for index, indicator in enumerate(command.indicators):
        if instrument.item(indicator.item) is None:
            faults.append((f"indicators/{index}/item", "item must name an item of the instrument"))
        elif indicator.item in seen:
            faults.append((f"indicators/{index}/item", "each item may be answered once"))
        seen.add(indicator.item)
        if indicator.answer not in ANSWERS:
            faults.append((f"indicators/{index}/answer", "answer must be yes, no or unknown"))
    if command.case_id is not None and not _is_uuid(command.case_id):
        faults.append(("case_id", "case_id must be a case id (a UUID)"))
    return faults


def record_screening(
    command: RecordScreening, instrument: Instrument, now: dt.datetime
) -> ScreeningRecorded:
    """The screening's event, scored by `instrument`; `ScreeningRefused` for bad values."""
    if instrument.key != (command.instrument_id, command.instrument_version):
        raise ScreeningRefused([("instrument_id", "the instrument is not the one named")])
    faults = screening_faults(command, instrument, now)
    if faults:
        raise ScreeningRefused(faults)
    indicators = tuple(sorted(command.indicators, key=lambda indicator: indicator.item))
    return ScreeningRecorded(
        screening_id=command.screening_id,
        organisation_id=command.organisation_id,
        instrument_id=instrument.id,
        instrument_version=instrument.version,
        screened_on=command.screened_on,
        screened_by=command.screened_by,
        setting=command.setting,
        indicators=indicators,
        minor=command.minor,
        result=score(instrument, answers_of(indicators), command.minor),
        case_id=command.case_id,
    )


def _is_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False
