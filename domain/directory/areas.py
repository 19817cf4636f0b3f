"""Service areas: a US state ("US-IL", ISO 3166-2) or a county ("US-IL-17167", the county's
five-digit FIPS code, whose first two digits are its state's FIPS code)."""

from __future__ import annotations

import re
from typing import NamedTuple

# USPS code -> FIPS state code: the states, the District of Columbia and the territories.
STATE_FIPS: dict[str, str] = {
    "AL": "01", "AK": "02", "AZ": "04", "AR": "05", "CA": "06", "CO": "08", "CT": "09",
    "DE": "10", "DC": "11", "FL": "12", "GA": "13", "HI": "15", "ID": "16", "IL": "17",
    "IN": "18", "IA": "19", "KS": "20", "KY": "21", "LA": "22", "ME": "23", "MD": "24",
    "MA": "25", "MI": "26", "MN": "27", "MS": "28", "MO": "29", "MT": "30", "NE": "31",
    "NV": "32", "NH": "33", "NJ": "34", "NM": "35", "NY": "36", "NC": "37", "ND": "38",
    "OH": "39", "OK": "40", "OR": "41", "PA": "42", "RI": "44", "SC": "45", "SD": "46",
    "TN": "47", "TX": "48", "UT": "49", "VT": "50", "VA": "51", "WA": "53", "WV": "54",
    "WI": "55", "WY": "56", "AS": "60", "GU": "66", "MP": "69", "PR": "72", "VI": "78",
}  # fmt: skip
FIPS_STATE = {fips: usps for usps, fips in STATE_FIPS.items()}

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
