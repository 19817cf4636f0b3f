"""The states of the United States by their codes: what an area served or a service area names.

`STATE_FIPS`: USPS code -> two-digit FIPS state code (FIPS 5-2), for the states, the District
of Columbia and the territories. A county is named by its five-digit FIPS code, whose first two
digits are its state's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

STATE_FIPS: Mapping[str, str] = MappingProxyType(
    {
        "AL": "01", "AK": "02", "AZ": "04", "AR": "05", "CA": "06", "CO": "08", "CT": "09",
        "DE": "10", "DC": "11", "FL": "12", "GA": "13", "HI": "15", "ID": "16", "IL": "17",
        "IN": "18", "IA": "19", "KS": "20", "KY": "21", "LA": "22", "ME": "23", "MD": "24",
        "MA": "25", "MI": "26", "MN": "27", "MS": "28", "MO": "29", "MT": "30", "NE": "31",
        "NV": "32", "NH": "33", "NJ": "34", "NM": "35", "NY": "36", "NC": "37", "ND": "38",
        "OH": "39", "OK": "40", "OR": "41", "PA": "42", "RI": "44", "SC": "45", "SD": "46",
        "TN": "47", "TX": "48", "UT": "49", "VT": "50", "VA": "51", "WA": "53", "WV": "54",
        "WI": "55", "WY": "56", "AS": "60", "GU": "66", "MP": "69", "PR": "72", "VI": "78",
    }
)  # fmt: skip
FIPS_STATE: Mapping[str, str] = MappingProxyType({f: usps for usps, f in STATE_FIPS.items()})

_COUNTY_FIPS = re.compile(r"[0-9]{5}")


def is_county_of(county: object, state: str) -> bool:
    """A five-digit county FIPS code (state + county, "48201") within the state's FIPS number;
    county "000" (the state itself) is no county."""
    return (
        isinstance(county, str)
        and _COUNTY_FIPS.fullmatch(county) is not None
        and STATE_FIPS.get(state) == county[:2]
        and county[2:] != "000"
    )
