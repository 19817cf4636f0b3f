"""Service areas: a US state ("US-IL", ISO 3166-2) or a county ("US-IL-17167", the county's
five-digit FIPS code, whose first two digits are its state's FIPS code)."""

from __future__ import annotations

import re
from typing import NamedTuple

from domain.us_states import FIPS_STATE, STATE_FIPS

_AREA = re.compile(r"US-([A-Z]{2})(?:-([0-9]{5}))?")
_COUNTY = re.compile(r"[0-9]{5}")
AREA_RULE = 'must be a state as "US-IL" or a county as "US-IL-17167" (its FIPS code, in that state)'


class Area(NamedTuple):
    state: str  # USPS code
    county: str | None  # five-digit FIPS code; None: the whole state


def parse_area(extent: str) -> Area | None:
    """The area an extent names; None when it names none."""
    matched = _AREA.fullmatch(extent)
    if matched is None:
        return None
    state, county = matched.group(1), matched.group(2)
    if state not in STATE_FIPS:
        return None
    if county is not None and county[:2] != STATE_FIPS[state]:
        return None
    return Area(state, county)


def is_state(value: str) -> bool:
    return value in STATE_FIPS


def county_state(county: str) -> str | None:
    """The USPS code of a county's state; None when `county` is not a county FIPS code of one."""
    if _COUNTY.fullmatch(county) is None:
        return None
    return FIPS_STATE.get(county[:2])
