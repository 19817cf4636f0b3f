"""The codes of an activity record: kinds, audience sectors, delivery, withdrawal reasons, and
the area served (USPS state codes with their FIPS numbers, county FIPS codes).

Codes are plain strings, stored as such in events, in the style of `domain.codebook`: a code
added later needs no migration, and a stored code always folds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

KINDS: Mapping[str, str] = MappingProxyType(
    {
        "training": "Training",
        "outreach_event": "Outreach event",
        "technical_assistance": "Technical assistance",
        "public_awareness": "Public awareness",
    }
)

SECTORS: Mapping[str, str] = MappingProxyType(
    {
        "law_enforcement": "Law enforcement",
        "prosecution": "Prosecution",
        "courts": "Courts and judiciary",
        "health_care": "Health care",
        "mental_health": "Mental health",
        "education": "Education",
        "child_welfare": "Child welfare",
        "juvenile_justice": "Juvenile justice",
        "labour": "Labour and workforce",
        "legal": "Legal services",
        "faith": "Faith communities",
        "community": "Community members",
        "youth": "Youth",
        "business": "Business and industry",
        "hospitality": "Hospitality",
        "transportation": "Transportation",
        "government": "Government",
        "immigration": "Immigration services",
        "other_service_providers": "Other victim service providers",
        "other": "Other",
    }
)

DELIVERY: Mapping[str, str] = MappingProxyType({"in_person": "In person", "remote": "Remote"})

WITHDRAWAL_REASONS: Mapping[str, str] = MappingProxyType(
    {
        "entered_in_error": "Entered in error",
        "duplicate": "Recorded twice",
        "did_not_take_place": "Did not take place",
    }
)

# USPS code -> two-digit FIPS state code: the states, the District of Columbia and the
# territories (FIPS 5-2).
STATES: Mapping[str, str] = MappingProxyType(
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

_COUNTY_FIPS = re.compile(r"[0-9]{5}")
_LANGUAGE = re.compile(r"[a-z]{2,3}")


def is_county_of(county: object, state: str) -> bool:
    """A five-digit county FIPS code (state + county, "48201") within the state's FIPS number;
    county "000" (the state itself) is no county."""
    return (
        isinstance(county, str)
        and _COUNTY_FIPS.fullmatch(county) is not None
        and STATES.get(state) == county[:2]
        and county[2:] != "000"
    )


def is_language(code: object) -> bool:
    """An ISO 639 language code in lower case: two letters (639-1, "es") or three (639-2/3,
    "ase" for American Sign Language)."""
    return isinstance(code, str) and _LANGUAGE.fullmatch(code) is not None
