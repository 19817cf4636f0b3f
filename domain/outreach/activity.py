"""An activity record and its rules: what may be recorded, each fault named by its pointer.

An activity is an organisational fact (a training held, an outreach event, technical
assistance given, a public-awareness effort), never anything about a survivor: the area served
is a state and county FIPS codes, never an address; the audience is counted by sector; the
topic is a short text under the project's text rule (`domain.text`). `activity_faults` lists
each member that breaks a rule as (RFC 6901 pointer, rule), never repeating the value.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import msgspec

from domain.outreach.codes import DELIVERY, KINDS, SECTORS, STATES, is_language
from domain.text import is_text
from domain.us_states import is_county_of

EARLIEST_DAY = dt.date(2000, 1, 1)
MAX_TOPIC_LENGTH = 200
MAX_PARTICIPANTS = 1_000_000  # in one sector of one activity
MAX_HOURS = 1_000.0
HOURS_STEP = 0.25  # hours are recorded to the quarter hour
MAX_LANGUAGES = 10
MAX_COUNTIES = 300


class AudienceGroup(msgspec.Struct, frozen=True, kw_only=True):
    """The people of one sector an activity reached, counted (no one is named)."""

    sector: str
    participants: int


class AreaServed(msgspec.Struct, frozen=True, kw_only=True):
    """Where the activity served: a USPS state code and, optionally, county FIPS codes of that
    state (none: statewide or not narrower)."""

    state: str
    counties: tuple[str, ...] = ()


class Activity(msgspec.Struct, frozen=True, kw_only=True):
    held_on: dt.date
    kind: str
    audience: tuple[AudienceGroup, ...]
    hours: float
    languages: tuple[str, ...]
    delivery: str
    area: AreaServed
    topic: str

    @property
    def participants(self) -> int:
        return sum(group.participants for group in self.audience)


def _code_rule(codes: object) -> str:
    return "must be one of: " + ", ".join(sorted(codes))  # type: ignore[call-overload]


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _audience_faults(audience: object) -> Iterator[tuple[str, str]]:
    if not isinstance(audience, tuple | list) or not 1 <= len(audience) <= len(SECTORS):
        yield "/audience", f"must list 1 to {len(SECTORS)} sectors"
        return
    seen: set[str] = set()
    for index, group in enumerate(audience):
        if not isinstance(group, AudienceGroup):
            yield f"/audience/{index}", "must be a sector and its participants"
            continue
        if group.sector not in SECTORS:
            yield f"/audience/{index}/sector", _code_rule(SECTORS)
        elif group.sector in seen:
            yield f"/audience/{index}/sector", "must not repeat a sector"
        seen.add(group.sector)
        if not _whole(group.participants) or not 0 <= group.participants <= MAX_PARTICIPANTS:
            yield (
                f"/audience/{index}/participants",
                f"must be a whole number from 0 to {MAX_PARTICIPANTS}",
            )


def _area_faults(area: object) -> Iterator[tuple[str, str]]:
    if not isinstance(area, AreaServed):
        yield "/area", "must be a state and its counties"
        return
    if area.state not in STATES:
        yield "/area/state", "must be a USPS state, district or territory code (TX)"
        return
    if not isinstance(area.counties, tuple | list) or len(area.counties) > MAX_COUNTIES:
        yield "/area/counties", f"must list at most {MAX_COUNTIES} county FIPS codes"
        return
    for index, county in enumerate(area.counties):
        if not is_county_of(county, area.state):
            yield (
                f"/area/counties/{index}",
                "must be a five-digit county FIPS code of the state (48201)",
            )
    if len(set(area.counties)) != len(area.counties):
        yield "/area/counties", "must not repeat a county"


def _language_faults(languages: object) -> Iterator[tuple[str, str]]:
    if not isinstance(languages, tuple | list) or not 1 <= len(languages) <= MAX_LANGUAGES:
        yield "/languages", f"must list 1 to {MAX_LANGUAGES} languages"
        return
    for index, code in enumerate(languages):
        if not is_language(code):
            yield f"/languages/{index}", "must be a lower-case ISO 639 code (es, ase)"
    if len(set(languages)) != len(languages):
        yield "/languages", "must not repeat a language"


def _hours_fault(hours: object) -> bool:
    if isinstance(hours, bool) or not isinstance(hours, int | float):
        return True
    return not 0 < hours <= MAX_HOURS or (hours / HOURS_STEP) % 1 != 0


def activity_faults(activity: Activity, today: dt.date) -> list[tuple[str, str]]:
    """(pointer, rule) for each member of the activity that breaks its rule; empty: it may be
    recorded on `today`. The rules name codes and bounds, never the value given."""
    faults: list[tuple[str, str]] = []
    held_on = activity.held_on
    if not isinstance(held_on, dt.date) or not EARLIEST_DAY <= held_on <= today:
        faults.append(("/held_on", f"must be a day from {EARLIEST_DAY} to today"))
    if activity.kind not in KINDS:
        faults.append(("/kind", _code_rule(KINDS)))
    faults.extend(_audience_faults(activity.audience))
    if _hours_fault(activity.hours):
        faults.append(
            ("/hours", f"must be more than 0 and at most {MAX_HOURS:g}, in quarter hours")
        )
    faults.extend(_language_faults(activity.languages))
    if activity.delivery not in DELIVERY:
        faults.append(("/delivery", _code_rule(DELIVERY)))
    faults.extend(_area_faults(activity.area))
    topic = activity.topic
    if not is_text(topic, max_length=MAX_TOPIC_LENGTH) or not topic.strip():
        faults.append(
            (
                "/topic",
                f"must be 1 to {MAX_TOPIC_LENGTH} printable characters (line breaks and tabs "
                "allowed), not only spaces",
            )
        )
    return faults
