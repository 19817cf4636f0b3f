"""Generalisation (REFERENCE §3.8): how a client's facts become the codes a report counts.

One definition of the age bands, the age groups and the folding of rare gender and citizenship
categories, for the projection that codes each client and the codebook that lists every code.
"""

from __future__ import annotations

AGE_BANDS: tuple[tuple[str, int, int], ...] = (  # (code, lowest age, highest age)
    ("0-11", 0, 11),
    ("12-17", 12, 17),
    ("18-24", 18, 24),
    ("25-34", 25, 34),
    ("35-49", 35, 49),
    ("50+", 50, 200),
)
NOT_TRACKED = "not_tracked"
AGE_BAND_CODES: tuple[str, ...] = (*(band for band, _, _ in AGE_BANDS), NOT_TRACKED)
AGE_GROUP_CODES: tuple[str, ...] = ("adult", "minor", NOT_TRACKED)
ADULT_AGE = 18

GENDER_REPORTED: dict[str, str] = {  # rare categories collapsed to "another"
    "woman": "woman",
    "man": "man",
    "transgender_woman": "another",
    "transgender_man": "another",
    "non_binary": "another",
    "another": "another",
    "not_reported": "not_reported",
}
GENDER_CODES: tuple[str, ...] = ("woman", "man", "another", "not_reported")
CITIZENSHIP_REPORTED: dict[str, str] = {
    "us_citizen": "citizen_or_lpr",
    "lawful_permanent_resident": "citizen_or_lpr",
    "foreign_national": "foreign_national",
}


def age_band(age: int | None) -> str:
    """The band of an age at intake (`not_tracked` without a date of birth)."""
    if age is None:
        return NOT_TRACKED
    return next((band for band, _, high in AGE_BANDS if age <= high), AGE_BANDS[-1][0])


def age_group(age: int | None) -> str:
    return NOT_TRACKED if age is None else ("minor" if age < ADULT_AGE else "adult")


def _group_of_band(low: int, high: int) -> str:
    group = age_group(low)
    if age_group(high) != group:
        raise ValueError("an age band must not straddle the age of majority")
    return group


# The age group of every age band: a band lies within one group.
AGE_GROUP_OF_BAND: dict[str, str] = {
    **{band: _group_of_band(low, high) for band, low, high in AGE_BANDS},
    NOT_TRACKED: NOT_TRACKED,
}


def gender(identity: str) -> str:
    return GENDER_REPORTED.get(identity, "another")


def citizenship(status: str | None) -> str:
    return CITIZENSHIP_REPORTED.get(status or "", "not_reported")
