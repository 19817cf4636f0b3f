"""The codes of an activity record: kinds, audience sectors, delivery, withdrawal reasons, and
the area served (USPS state codes with their FIPS numbers, county FIPS codes).

Codes are plain strings, stored as such in events, in the style of `domain.codebook`: a code
added later needs no migration, and a stored code always folds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

from domain.us_states import STATE_FIPS

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

STATES = STATE_FIPS  # USPS code -> FIPS state code (`domain.us_states`)

_LANGUAGE = re.compile(r"[a-z]{2,3}")


def is_language(code: object) -> bool:
    """An ISO 639 language code in lower case: two letters (639-1, "es") or three (639-2/3,
    "ase" for American Sign Language)."""
    return isinstance(code, str) and _LANGUAGE.fullmatch(code) is not None
